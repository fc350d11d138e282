package fhirpath

import (
	"encoding/base64"
	"encoding/hex"
	"html"
	"math/big"
	"sort"
	"strconv"
	"strings"
)

// Functions from FHIRPath 2.1 (R5) that the R4 suite also exercises.
var extFuncs = map[string]*funcDef{
	"matchesFull": {min: 1, max: 1, fn: func(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
		s, ok, err := stringInput(c, f)
		if err != nil || !ok {
			return nil, err
		}
		pat, ok, err := c.argString(ec, 0)
		if err != nil || !ok {
			return nil, err
		}
		re, err := compileRegex(c, "^(?:"+pat+")$")
		if err != nil {
			return nil, err
		}
		return boolResult(re.MatchString(s)), nil
	}},
	"encode": {min: 1, max: 1, fn: codec(func(s, enc string) (string, bool) {
		switch enc {
		case "base64":
			return base64.StdEncoding.EncodeToString([]byte(s)), true
		case "urlbase64":
			return base64.URLEncoding.EncodeToString([]byte(s)), true
		case "hex":
			return hex.EncodeToString([]byte(s)), true
		}
		return "", false
	})},
	"decode": {min: 1, max: 1, fn: codec(func(s, enc string) (string, bool) {
		var b []byte
		var err error
		switch enc {
		case "base64":
			b, err = base64.StdEncoding.DecodeString(s)
		case "urlbase64":
			b, err = base64.URLEncoding.DecodeString(s)
		case "hex":
			b, err = hex.DecodeString(s)
		default:
			return "", false
		}
		return string(b), err == nil
	})},
	"escape": {min: 1, max: 1, fn: codec(func(s, enc string) (string, bool) {
		switch enc {
		case "html":
			return htmlEscaper.Replace(s), true
		case "json":
			q := strconv.Quote(s)
			return q[1 : len(q)-1], true
		}
		return "", false
	})},
	"unescape": {min: 1, max: 1, fn: codec(func(s, enc string) (string, bool) {
		switch enc {
		case "html":
			return html.UnescapeString(s), true
		case "json":
			return unescapeJSON(s), true
		}
		return "", false
	})},
	"comparable": {min: 1, max: 1, fn: func(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
		v, err := c.single(f)
		if err != nil || v == nil {
			return nil, err
		}
		o, err := c.argSingle(ec, 0)
		if err != nil || o == nil {
			return nil, err
		}
		a, ok1 := v.(Quantity)
		b, ok2 := o.(Quantity)
		if !ok1 || !ok2 {
			return nil, errorf(c, "requires quantities")
		}
		_, ok := convertQuantity(b, a.Unit)
		return boolResult(ok), nil
	}},
	"precision": {fn: func(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
		v, err := c.single(f)
		if err != nil || v == nil {
			return nil, err
		}
		digits := [...]int{0, 4, 6, 8, 10, 12, 14, 17}
		switch x := v.(type) {
		case Decimal:
			return []Value{Integer(x.scale)}, nil
		case Integer:
			return []Value{Integer(0)}, nil
		case Date:
			return []Value{Integer(digits[x.prec])}, nil
		case DateTime:
			return []Value{Integer(digits[x.prec])}, nil
		case Time:
			return []Value{Integer(digits[x.prec] - 8)}, nil
		}
		return nil, errorf(c, "not defined for %s", typeName(v))
	}},
	"lowBoundary":  {max: 1, fn: boundary(false)},
	"highBoundary": {max: 1, fn: boundary(true)},
	"sort":         {max: 8, fn: sortFunc},
}

func codec(fn func(s, enc string) (string, bool)) func(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
	return strFunc(func(s, enc string) Value {
		r, ok := fn(s, enc)
		if !ok {
			return nil
		}
		return String(r)
	})
}

func boundary(high bool) func(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
	return func(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
		v, err := c.single(f)
		if err != nil || v == nil {
			return nil, err
		}
		p, hasP := int64(-1), false
		if len(c.args) > 0 {
			n, ok, err := c.argInt(ec, 0)
			if err != nil || !ok {
				return nil, err
			}
			p, hasP = n, true
		}
		switch x := v.(type) {
		case Integer, Decimal:
			d, ok := decimalBoundary(toDecimalValue(x), p, hasP, high)
			if !ok {
				return nil, nil
			}
			return []Value{d}, nil
		case Quantity:
			d, ok := decimalBoundary(x.Value, p, hasP, high)
			if !ok {
				return nil, nil
			}
			return []Value{Quantity{Value: d, Unit: x.Unit}}, nil
		case Date:
			t, ok := temporalBoundary(x.temporal, p, hasP, high, false)
			if !ok {
				return nil, nil
			}
			return []Value{Date{t}}, nil
		case DateTime:
			t, ok := temporalBoundary(x.temporal, p, hasP, high, false)
			if !ok {
				return nil, nil
			}
			if t.prec <= precDay {
				return []Value{Date{t}}, nil
			}
			return []Value{DateTime{t}}, nil
		case Time:
			if hasP {
				p += 8
			}
			t, ok := temporalBoundary(x.temporal, p, hasP, high, true)
			if !ok {
				return nil, nil
			}
			return []Value{Time{t}}, nil
		}
		return nil, errorf(c, "not defined for %s", typeName(v))
	}
}

func decimalBoundary(d Decimal, p int64, hasP, high bool) (Decimal, bool) {
	if !hasP {
		p = 8
	}
	if p < 0 || p > 28 {
		return Decimal{}, false
	}
	// half a unit in the last place of the input
	half := Decimal{u: big.NewInt(5), scale: d.scale + 1}
	if high {
		d = d.Add(half)
	} else {
		d = d.Sub(half)
	}
	if int32(p) >= d.scale {
		return d.rescale(int32(p)), true
	}
	t := d.truncScale(int32(p))
	if high && t.Cmp(d) < 0 {
		t = t.Add(Decimal{u: big.NewInt(1), scale: int32(p)})
	}
	if !high && t.Cmp(d) > 0 {
		t = t.Sub(Decimal{u: big.NewInt(1), scale: int32(p)})
	}
	return t, true
}

func temporalBoundary(t temporal, p int64, hasP, high, isTime bool) (temporal, bool) {
	if !hasP {
		p = 17
	}
	var prec precision
	switch p {
	case 4:
		prec = precYear
	case 6:
		prec = precMonth
	case 8:
		prec = precDay
	case 10:
		prec = precHour
	case 12:
		prec = precMinute
	case 14:
		prec = precSecond
	case 17:
		prec = precMillis
	default:
		return t, false
	}
	if t.prec == precHour && !isTime {
		t.prec = precMinute
	}
	r := t
	for q := t.prec + 1; q <= prec; q++ {
		switch q {
		case precMonth:
			r.month = map[bool]int{false: 1, true: 12}[high]
		case precDay:
			r.day = 1
			if high {
				r.day = daysIn(r.year, r.month)
			}
		case precHour:
			r.hour = map[bool]int{false: 0, true: 23}[high]
		case precMinute:
			r.minute = map[bool]int{false: 0, true: 59}[high]
		case precSecond:
			r.second = map[bool]int{false: 0, true: 59}[high]
		case precMillis:
			r.millis = map[bool]int{false: 0, true: 999}[high]
		}
	}
	r.prec = prec
	if prec >= precHour && !isTime && !r.hasTZ {
		r.hasTZ = true
		r.tzMin = 14 * 60
		if high {
			r.tzMin = -12 * 60
		}
	}
	if prec < precHour {
		r.hasTZ, r.tzMin = false, 0
	}
	clearBelow(&r)
	return r, true
}

// sortFunc implements sort(keys...): a key written -expr sorts descending.
func sortFunc(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
	type item struct {
		v    Value
		keys []Value
	}
	items := make([]item, len(f))
	for i, v := range f {
		items[i].v = v
		if len(c.args) == 0 {
			s, _ := system(v)
			items[i].keys = []Value{s}
			continue
		}
		for _, a := range c.args {
			if u, ok := a.(*unaryExpr); ok && u.neg {
				a = u.x
			}
			sub := ec.withThis(f, i)
			r, err := a.eval(&sub, sub.this)
			if err != nil {
				return nil, err
			}
			var k Value
			if len(r) > 0 {
				k, _ = system(r[0])
			}
			items[i].keys = append(items[i].keys, k)
		}
	}
	var sortErr error
	sort.SliceStable(items, func(i, j int) bool {
		for k := range items[i].keys {
			desc := false
			if k < len(c.args) {
				if u, ok := c.args[k].(*unaryExpr); ok && u.neg {
					desc = true
				}
			}
			a, b := items[i].keys[k], items[j].keys[k]
			if a == nil || b == nil {
				// empty keys sort first
				if a == nil && b != nil {
					return true
				}
				if b == nil && a != nil {
					return false
				}
				continue
			}
			cmp, ok, err := compareValues(a, b, c.p)
			if err != nil {
				sortErr = err
				return false
			}
			if !ok || cmp == 0 {
				continue
			}
			return (cmp < 0) != desc
		}
		return false
	})
	if sortErr != nil {
		return nil, sortErr
	}
	out := make([]Value, len(items))
	for i := range items {
		out[i] = items[i].v
	}
	return out, nil
}

var htmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#39;")

func unescapeJSON(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch e := s[i]; e {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'u':
			if i+4 < len(s) {
				if v, err := strconv.ParseUint(s[i+1:i+5], 16, 32); err == nil {
					b.WriteRune(rune(v))
					i += 4
					continue
				}
			}
			b.WriteString(`\u`)
		default:
			b.WriteByte(e)
		}
	}
	return b.String()
}
