package fhirpath

import (
	"strings"
)

func (e *binExpr) eval(ec *evalCtx, focus []Value) ([]Value, error) {
	switch e.op {
	case "and", "or", "xor", "implies":
		return e.logic(ec, focus)
	}
	l, err := e.l.eval(ec, focus)
	if err != nil {
		return nil, err
	}
	r, err := e.r.eval(ec, focus)
	if err != nil {
		return nil, err
	}
	switch e.op {
	case "|":
		if err := ec.spend(len(l)+len(r), e.p); err != nil {
			return nil, err
		}
		return union(l, r), nil
	case "=", "!=":
		if len(l) == 0 || len(r) == 0 {
			return nil, nil
		}
		eq, ok := collectionsEqual(l, r)
		if !ok {
			return nil, nil
		}
		return []Value{Boolean(eq == (e.op == "="))}, nil
	case "~", "!~":
		eq := collectionsEquivalent(l, r)
		return []Value{Boolean(eq == (e.op == "~"))}, nil
	case "in", "contains":
		item, coll := l, r
		if e.op == "contains" {
			item, coll = r, l
		}
		if len(item) == 0 {
			return nil, nil
		}
		if len(item) > 1 {
			return nil, execErr(e.p, "'%s' requires a single item", e.op)
		}
		return []Value{Boolean(containsValue(coll, item[0]))}, nil
	case "&":
		ls, err := concatOperand(l, e.p)
		if err != nil {
			return nil, err
		}
		rs, err := concatOperand(r, e.p)
		if err != nil {
			return nil, err
		}
		if len(ls)+len(rs) > maxStringLen {
			return nil, execErr(e.p, "string too long")
		}
		return []Value{String(ls + rs)}, nil
	}
	if len(l) == 0 || len(r) == 0 {
		return nil, nil
	}
	if len(l) > 1 || len(r) > 1 {
		return nil, execErr(e.p, "operator %s requires single values", e.op)
	}
	a, _ := system(l[0])
	b, _ := system(r[0])
	switch e.op {
	case "<", ">", "<=", ">=":
		c, ok, err := compareValues(a, b, e.p)
		if err != nil || !ok {
			return nil, err
		}
		var res bool
		switch e.op {
		case "<":
			res = c < 0
		case ">":
			res = c > 0
		case "<=":
			res = c <= 0
		default:
			res = c >= 0
		}
		return []Value{Boolean(res)}, nil
	}
	v, err := arithmetic(e.op, a, b, e.p)
	if err != nil || v == nil {
		return nil, err
	}
	return []Value{v}, nil
}

func concatOperand(c []Value, pos int) (string, error) {
	if len(c) == 0 {
		return "", nil
	}
	if len(c) > 1 {
		return "", execErr(pos, "'&' requires single values")
	}
	v, _ := system(c[0])
	s, ok := v.(String)
	if !ok {
		return "", execErr(pos, "'&' requires strings, got %s", typeName(v))
	}
	return string(s), nil
}

// toBool implements the singleton evaluation of a collection as a Boolean:
// known is false for an empty collection; a single non-Boolean item is true.
func toBool(c []Value, pos int) (val, known bool, err error) {
	if len(c) == 0 {
		return false, false, nil
	}
	if len(c) > 1 {
		return false, false, execErr(pos, "expected a single Boolean, got %d items", len(c))
	}
	v, _ := system(c[0])
	if b, ok := v.(Boolean); ok {
		return bool(b), true, nil
	}
	return true, true, nil
}

func (e *binExpr) logic(ec *evalCtx, focus []Value) ([]Value, error) {
	lc, err := e.l.eval(ec, focus)
	if err != nil {
		return nil, err
	}
	l, lk, err := toBool(lc, e.p)
	if err != nil {
		return nil, err
	}
	// short cuts that do not need the right side
	switch {
	case e.op == "and" && lk && !l:
		return []Value{Boolean(false)}, nil
	case e.op == "or" && lk && l:
		return []Value{Boolean(true)}, nil
	case e.op == "implies" && lk && !l:
		return []Value{Boolean(true)}, nil
	}
	rc, err := e.r.eval(ec, focus)
	if err != nil {
		return nil, err
	}
	r, rk, err := toBool(rc, e.p)
	if err != nil {
		return nil, err
	}
	switch e.op {
	case "and":
		if rk && !r {
			return []Value{Boolean(false)}, nil
		}
		if lk && rk {
			return []Value{Boolean(true)}, nil
		}
	case "or":
		if rk && r {
			return []Value{Boolean(true)}, nil
		}
		if lk && rk {
			return []Value{Boolean(false)}, nil
		}
	case "xor":
		if lk && rk {
			return []Value{Boolean(l != r)}, nil
		}
	case "implies":
		if rk && r {
			return []Value{Boolean(true)}, nil
		}
		if lk && rk {
			return []Value{Boolean(false)}, nil
		}
	}
	return nil, nil
}

// union merges two collections removing duplicates.
func union(a, b []Value) []Value { return dedupe(a, b) }

func containsValue(coll []Value, v Value) bool {
	for _, x := range coll {
		if eq, ok := valuesEqual(x, v); ok && eq {
			return true
		}
	}
	return false
}

func collectionsEqual(a, b []Value) (bool, bool) {
	if len(a) != len(b) {
		return false, true
	}
	for i := range a {
		eq, ok := valuesEqual(a[i], b[i])
		if !ok {
			return false, false
		}
		if !eq {
			return false, true
		}
	}
	return true, true
}

func collectionsEquivalent(a, b []Value) bool {
	if len(a) != len(b) {
		return false
	}
	used := make([]bool, len(b))
outer:
	for _, x := range a {
		for j, y := range b {
			if !used[j] && valuesEquivalent(x, y) {
				used[j] = true
				continue outer
			}
		}
		return false
	}
	return true
}

// valuesEqual implements '=' for single items; ok is false when the result
// is empty (for example dates of different precision).
func valuesEqual(x, y Value) (eq, ok bool) {
	ex, xIsEl := x.(*Element)
	ey, yIsEl := y.(*Element)
	a, _ := system(x)
	b, _ := system(y)
	_, aEl := a.(*Element)
	_, bEl := b.(*Element)
	if aEl || bEl {
		if xIsEl && yIsEl && aEl && bEl {
			return nodesEqual(ex.node, ey.node, false), true
		}
		return false, true
	}
	a, b = promote(a, b)
	switch av := a.(type) {
	case Boolean:
		bv, ok := b.(Boolean)
		return ok && av == bv, true
	case String:
		bv, ok := b.(String)
		return ok && av == bv, true
	case Integer:
		bv, ok := b.(Integer)
		return ok && av == bv, true
	case Decimal:
		bv, ok := b.(Decimal)
		return ok && av.Cmp(bv) == 0, true
	case Quantity:
		bv, ok := b.(Quantity)
		if !ok {
			return false, true
		}
		c, ok := compareQuantities(av, bv)
		if !ok {
			return false, false
		}
		return c == 0, true
	case Date, DateTime, Time:
		c, ok, err := compareValues(a, b, -1)
		if err != nil {
			return false, true
		}
		if !ok {
			return false, false
		}
		return c == 0, true
	case TypeInfo:
		bv, ok := b.(TypeInfo)
		return ok && av == bv, true
	}
	return false, true
}

// promote converts mixed operands to a common type: Integer→Decimal,
// Date→DateTime, String→Date/DateTime/Time when the other side is temporal.
func promote(a, b Value) (Value, Value) {
	switch av := a.(type) {
	case Integer:
		switch b.(type) {
		case Decimal:
			return DecimalFromInt(int64(av)), b
		case Quantity:
			return Quantity{Value: DecimalFromInt(int64(av)), Unit: "1"}, b
		}
	case Decimal:
		switch bv := b.(type) {
		case Integer:
			return a, DecimalFromInt(int64(bv))
		case Quantity:
			return Quantity{Value: av, Unit: "1"}, b
		}
	case Quantity:
		switch bv := b.(type) {
		case Integer:
			return a, Quantity{Value: DecimalFromInt(int64(bv)), Unit: "1"}
		case Decimal:
			return a, Quantity{Value: bv, Unit: "1"}
		}
	case Date:
		switch b.(type) {
		case DateTime:
			return DateTime{av.temporal}, b
		case String:
			return promoteString(b, a), a
		}
	case DateTime:
		switch bv := b.(type) {
		case Date:
			return a, DateTime{bv.temporal}
		case String:
			return a, promoteString(b, a)
		}
	case Time:
		if _, ok := b.(String); ok {
			return a, promoteString(b, a)
		}
	case String:
		switch b.(type) {
		case Date, DateTime, Time:
			p := promoteString(a, b)
			if _, ok := p.(String); ok {
				return a, b
			}
			return promote(p, b)
		}
	}
	return a, b
}

func promoteString(s, like Value) Value {
	str := string(s.(String))
	switch like.(type) {
	case Date, DateTime:
		if d, ok := ParseDate(str); ok {
			if _, isDT := like.(DateTime); isDT {
				return DateTime{d.temporal}
			}
			return d
		}
		if dt, ok := ParseDateTime(str); ok {
			return dt
		}
	case Time:
		if t, ok := ParseTime(str); ok {
			return t
		}
	}
	return s
}

func normalizeSpace(s string) string {
	return strings.ToLower(strings.Join(strings.Fields(s), " "))
}

func valuesEquivalent(x, y Value) bool {
	a, _ := system(x)
	b, _ := system(y)
	ea, aEl := a.(*Element)
	eb, bEl := b.(*Element)
	if aEl || bEl {
		return aEl && bEl && nodesEqual(ea.node, eb.node, true)
	}
	a, b = promote(a, b)
	switch av := a.(type) {
	case String:
		bv, ok := b.(String)
		return ok && normalizeSpace(string(av)) == normalizeSpace(string(bv))
	case Decimal:
		bv, ok := b.(Decimal)
		return ok && decimalsEquivalent(av, bv)
	case Quantity:
		bv, ok := b.(Quantity)
		if !ok {
			return false
		}
		conv, ok := convertQuantity(bv, av.Unit)
		if !ok {
			return false
		}
		if conv.scale > bv.Value.scale {
			conv = conv.rescale(max(bv.Value.scale, 0)).trim(0)
		}
		return decimalsEquivalent(av.Value, conv)
	case Date, DateTime, Time:
		c, ok, err := compareValues(a, b, -1)
		return err == nil && ok && c == 0
	}
	eq, ok := valuesEqual(a, b)
	return ok && eq
}

func decimalsEquivalent(a, b Decimal) bool {
	s := min(a.scale, b.scale)
	return a.Round(int(s)).Cmp(b.Round(int(s))) == 0
}

// nodesEqual compares JSON trees; equivalence ignores case and whitespace in
// strings and the id members.
func nodesEqual(a, b *Node, equiv bool) bool {
	if a == nil || b == nil {
		return a == b
	}
	if a.kind != b.kind {
		return false
	}
	switch a.kind {
	case kindString:
		if equiv {
			return normalizeSpace(a.str) == normalizeSpace(b.str)
		}
		return a.str == b.str
	case kindNumber:
		da, ok1 := ParseDecimal(a.str)
		db, ok2 := ParseDecimal(b.str)
		return ok1 && ok2 && da.Cmp(db) == 0
	case kindBool:
		return a.b == b.b
	case kindArray:
		if len(a.items) != len(b.items) {
			return false
		}
		for i := range a.items {
			if !nodesEqual(a.items[i], b.items[i], equiv) {
				return false
			}
		}
		return true
	case kindObject:
		count := func(n *Node) int {
			c := 0
			for _, f := range n.fields {
				if !(equiv && f.name == "id") {
					c++
				}
			}
			return c
		}
		if count(a) != count(b) {
			return false
		}
		for _, f := range a.fields {
			if equiv && f.name == "id" {
				continue
			}
			if !nodesEqual(f.val, b.get(f.name), equiv) {
				return false
			}
		}
		return true
	}
	return true
}

// compareValues orders two system values. ok is false when the order is
// unknown (dates of different precision, incompatible units).
func compareValues(a, b Value, pos int) (int, bool, error) {
	a, b = promote(a, b)
	switch av := a.(type) {
	case Integer:
		if bv, ok := b.(Integer); ok {
			switch {
			case av < bv:
				return -1, true, nil
			case av > bv:
				return 1, true, nil
			}
			return 0, true, nil
		}
	case Decimal:
		if bv, ok := b.(Decimal); ok {
			return av.Cmp(bv), true, nil
		}
	case String:
		if bv, ok := b.(String); ok {
			return strings.Compare(string(av), string(bv)), true, nil
		}
	case Quantity:
		if bv, ok := b.(Quantity); ok {
			c, ok := compareQuantities(av, bv)
			return c, ok, nil
		}
	case Date:
		if bv, ok := b.(Date); ok {
			c, ok := compareTemporal(av.temporal, bv.temporal, false)
			return c, ok, nil
		}
	case DateTime:
		if bv, ok := b.(DateTime); ok {
			c, ok := compareTemporal(av.temporal, bv.temporal, false)
			return c, ok, nil
		}
	case Time:
		if bv, ok := b.(Time); ok {
			c, ok := compareTemporal(av.temporal, bv.temporal, true)
			return c, ok, nil
		}
	}
	return 0, false, execErr(pos, "cannot compare %s with %s", typeName(a), typeName(b))
}
