package fhirpath

import "math/bits"

// arithmetic implements + - * / div mod on single system values. A nil
// result with nil error is the empty collection (division by zero, overflow).
func arithmetic(op string, a, b Value, pos int) (Value, error) {
	switch av := a.(type) {
	case String:
		if bv, ok := b.(String); ok && op == "+" {
			if len(av)+len(bv) > maxStringLen {
				return nil, execErr(pos, "string too long")
			}
			return av + bv, nil
		}
	case Date:
		if q, ok := b.(Quantity); ok && (op == "+" || op == "-") {
			r, err := addTemporal(av.temporal, q, op, false, pos)
			if err != nil || r == nil {
				return nil, err
			}
			r.prec = min(r.prec, av.prec)
			return Date{*r}, nil
		}
	case DateTime:
		if q, ok := b.(Quantity); ok && (op == "+" || op == "-") {
			r, err := addTemporal(av.temporal, q, op, false, pos)
			if err != nil || r == nil {
				return nil, err
			}
			return DateTime{*r}, nil
		}
	case Time:
		if q, ok := b.(Quantity); ok && (op == "+" || op == "-") {
			r, err := addTemporal(av.temporal, q, op, true, pos)
			if err != nil || r == nil {
				return nil, err
			}
			return Time{*r}, nil
		}
	}
	a, b = promote(a, b)
	switch av := a.(type) {
	case Integer:
		bv, ok := b.(Integer)
		if !ok {
			break
		}
		return intArith(op, int64(av), int64(bv)), nil
	case Decimal:
		bv, ok := b.(Decimal)
		if !ok {
			break
		}
		return decArith(op, av, bv), nil
	case Quantity:
		bv, ok := b.(Quantity)
		if !ok {
			break
		}
		return quantityArith(op, av, bv, pos)
	}
	return nil, execErr(pos, "operator %s is not defined for %s and %s", op, typeName(a), typeName(b))
}

func intArith(op string, a, b int64) Value {
	switch op {
	case "+":
		s := a + b
		if (s > a) != (b > 0) {
			return nil
		}
		return Integer(s)
	case "-":
		s := a - b
		if (s < a) != (b > 0) {
			return nil
		}
		return Integer(s)
	case "*":
		hi, lo := bits.Mul64(uint64(abs64(a)), uint64(abs64(b)))
		if hi != 0 || lo > 1<<63-1 {
			return nil
		}
		return Integer(a * b)
	case "/":
		d, ok := DecimalFromInt(a).Div(DecimalFromInt(b))
		if !ok {
			return nil
		}
		return d
	case "div":
		if b == 0 {
			return nil
		}
		return Integer(a / b)
	case "mod":
		if b == 0 {
			return nil
		}
		return Integer(a % b)
	}
	return nil
}

func abs64(i int64) int64 {
	if i < 0 {
		return -i
	}
	return i
}

func decArith(op string, a, b Decimal) Value {
	switch op {
	case "+":
		return a.Add(b)
	case "-":
		return a.Sub(b)
	case "*":
		return a.Mul(b)
	case "/":
		if d, ok := a.Div(b); ok {
			return d
		}
	case "div":
		if d, ok := a.DivInt(b); ok {
			if i, ok := d.Int64(); ok {
				return Integer(i)
			}
			return d
		}
	case "mod":
		if d, ok := a.Mod(b); ok {
			return d
		}
	}
	return nil
}

func quantityArith(op string, a, b Quantity, pos int) (Value, error) {
	switch op {
	case "+", "-":
		bv, ok := convertQuantity(b, a.Unit)
		if !ok {
			return nil, execErr(pos, "cannot %s quantities in %q and %q", map[string]string{"+": "add", "-": "subtract"}[op], a.Unit, b.Unit)
		}
		if op == "+" {
			return Quantity{Value: a.Value.Add(bv), Unit: a.Unit}, nil
		}
		return Quantity{Value: a.Value.Sub(bv), Unit: a.Unit}, nil
	case "*":
		return Quantity{Value: a.Value.Mul(b.Value), Unit: mulUnits(a.Unit, b.Unit)}, nil
	case "/":
		d, ok := a.Value.Div(b.Value)
		if !ok {
			return nil, nil
		}
		return Quantity{Value: d, Unit: divUnits(a.Unit, b.Unit)}, nil
	}
	return nil, execErr(pos, "operator %s is not defined for quantities", op)
}

func addTemporal(t temporal, q Quantity, op string, isTime bool, pos int) (*temporal, error) {
	if op == "-" {
		q = Quantity{Value: q.Value.Neg(), Unit: q.Unit}
	}
	r, ok := addDuration(t, q, isTime)
	if !ok {
		return nil, execErr(pos, "cannot add a quantity in %q to a date or time", q.Unit)
	}
	return &r, nil
}
