package fhirpath

import (
	"math"
	"strings"
)

// numInput returns the single numeric input (Integer, Decimal or Quantity).
func numInput(c *callExpr, f []Value) (Value, error) {
	v, err := c.single(f)
	if err != nil || v == nil {
		return nil, err
	}
	switch v.(type) {
	case Integer, Decimal, Quantity:
		return v, nil
	}
	return nil, errorf(c, "requires a number, got %s", typeName(v))
}

func toDecimalValue(v Value) Decimal {
	switch n := v.(type) {
	case Integer:
		return DecimalFromInt(int64(n))
	case Decimal:
		return n
	case Quantity:
		return n.Value
	}
	return Decimal{}
}

// floatFunc builds exp, ln, sqrt: computed in float64, empty when undefined.
func floatFunc(fn func(float64) float64) func(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
	return func(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
		v, err := numInput(c, f)
		if err != nil || v == nil {
			return nil, err
		}
		r, ok := DecimalFromFloat(fn(toDecimalValue(v).Float64()))
		if !ok {
			return nil, nil
		}
		return []Value{r}, nil
	}
}

var mathFuncs = map[string]*funcDef{
	"abs": {fn: func(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
		v, err := numInput(c, f)
		if err != nil || v == nil {
			return nil, err
		}
		switch n := v.(type) {
		case Integer:
			if n < 0 {
				n = -n
			}
			return []Value{n}, nil
		case Decimal:
			if n.Sign() < 0 {
				n = n.Neg()
			}
			return []Value{n}, nil
		case Quantity:
			if n.Value.Sign() < 0 {
				n.Value = n.Value.Neg()
			}
			return []Value{n}, nil
		}
		return nil, nil
	}},
	"ceiling": {fn: intResult(func(d Decimal) Decimal { return d.Ceiling() })},
	"floor":   {fn: intResult(func(d Decimal) Decimal { return d.Floor() })},
	"truncate": {fn: intResult(func(d Decimal) Decimal {
		return d.truncScale(0)
	})},
	"exp":  {fn: floatFunc(math.Exp)},
	"ln":   {fn: floatFunc(math.Log)},
	"sqrt": {fn: floatFunc(math.Sqrt)},
	"log": {min: 1, max: 1, fn: func(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
		v, err := numInput(c, f)
		if err != nil || v == nil {
			return nil, err
		}
		b, err := c.argSingle(ec, 0)
		if err != nil || b == nil {
			return nil, err
		}
		r, ok := DecimalFromFloat(math.Log(toDecimalValue(v).Float64()) / math.Log(toDecimalValue(b).Float64()))
		if !ok {
			return nil, nil
		}
		return []Value{r}, nil
	}},
	"power": {min: 1, max: 1, fn: func(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
		v, err := numInput(c, f)
		if err != nil || v == nil {
			return nil, err
		}
		e, err := c.argSingle(ec, 0)
		if err != nil || e == nil {
			return nil, err
		}
		x, y := toDecimalValue(v).Float64(), toDecimalValue(e).Float64()
		r := math.Pow(x, y)
		if math.IsNaN(r) || math.IsInf(r, 0) {
			return nil, nil
		}
		_, vi := v.(Integer)
		_, ei := e.(Integer)
		if vi && ei && r == math.Trunc(r) && math.Abs(r) < 1<<62 {
			return []Value{Integer(int64(r))}, nil
		}
		d, ok := DecimalFromFloat(r)
		if !ok {
			return nil, nil
		}
		return []Value{d}, nil
	}},
	"round": {max: 1, fn: func(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
		v, err := numInput(c, f)
		if err != nil || v == nil {
			return nil, err
		}
		prec := int64(0)
		if len(c.args) > 0 {
			p, ok, err := c.argInt(ec, 0)
			if err != nil || !ok {
				return nil, err
			}
			if p < 0 {
				return nil, errorf(c, "precision must not be negative")
			}
			prec = min(p, 100)
		}
		return []Value{toDecimalValue(v).rescale(int32(prec))}, nil
	}},
}

func intResult(fn func(Decimal) Decimal) func(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
	return func(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
		v, err := numInput(c, f)
		if err != nil || v == nil {
			return nil, err
		}
		if i, ok := v.(Integer); ok {
			return []Value{i}, nil
		}
		r := fn(toDecimalValue(v))
		if i, ok := r.Int64(); ok {
			return []Value{Integer(i)}, nil
		}
		return []Value{r}, nil
	}
}

// stringToBool converts the strings accepted by toBoolean.
func stringToBool(s string) (bool, bool) {
	switch strings.ToLower(s) {
	case "true", "t", "yes", "y", "1", "1.0":
		return true, true
	case "false", "f", "no", "n", "0", "0.0":
		return false, true
	}
	return false, false
}

func isIntegerText(s string) bool {
	if s != "" && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

func isDecimalText(s string) bool {
	if s != "" && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	i, f, found := strings.Cut(s, ".")
	return isIntegerText(i) && i[0] != '+' && i[0] != '-' && (!found || isIntegerText(f) && f[0] != '+' && f[0] != '-')
}

// convert implements the to* functions; nil means not convertible.
func convert(to string, v Value) Value {
	switch to {
	case "Boolean":
		switch x := v.(type) {
		case Boolean:
			return x
		case Integer:
			if x == 0 || x == 1 {
				return Boolean(x == 1)
			}
		case Decimal:
			if x.Cmp(DecimalFromInt(0)) == 0 || x.Cmp(DecimalFromInt(1)) == 0 {
				return Boolean(x.Sign() != 0)
			}
		case String:
			if b, ok := stringToBool(string(x)); ok {
				return Boolean(b)
			}
		}
	case "Integer":
		switch x := v.(type) {
		case Integer:
			return x
		case Boolean:
			if x {
				return Integer(1)
			}
			return Integer(0)
		case String:
			if isIntegerText(string(x)) {
				if i, ok := parseInt(string(x)); ok {
					return Integer(i)
				}
			}
		}
	case "Decimal":
		switch x := v.(type) {
		case Integer:
			return DecimalFromInt(int64(x))
		case Decimal:
			return x
		case Boolean:
			if x {
				return Decimal{u: DecimalFromInt(10).u, scale: 1}
			}
			return Decimal{scale: 1}
		case String:
			if isDecimalText(string(x)) {
				if d, ok := ParseDecimal(string(x)); ok {
					return d
				}
			}
		}
	case "String":
		switch x := v.(type) {
		case String:
			return x
		case Boolean:
			if x {
				return String("true")
			}
			return String("false")
		case Integer:
			return String(Decimal{u: DecimalFromInt(int64(x)).u}.String())
		case Decimal:
			return String(x.String())
		case Quantity:
			return String(x.String())
		case Date:
			return String(x.String())
		case DateTime:
			return String(x.String())
		case Time:
			return String(x.String())
		}
	case "Quantity":
		switch x := v.(type) {
		case Quantity:
			return x
		case Integer:
			return Quantity{Value: DecimalFromInt(int64(x)), Unit: "1"}
		case Decimal:
			return Quantity{Value: x, Unit: "1"}
		case Boolean:
			if x {
				return Quantity{Value: Decimal{u: DecimalFromInt(10).u, scale: 1}, Unit: "1"}
			}
			return Quantity{Value: Decimal{scale: 1}, Unit: "1"}
		case String:
			if q, ok := parseQuantityString(string(x)); ok {
				return q
			}
		}
	case "Date":
		switch x := v.(type) {
		case Date:
			return x
		case DateTime:
			t := x.temporal
			t.prec = min(t.prec, precDay)
			t.hasTZ, t.tzMin = false, 0
			clearBelow(&t)
			return Date{t}
		case String:
			if d, ok := ParseDate(string(x)); ok {
				return d
			}
			if dt, ok := ParseDateTime(string(x)); ok {
				return convert("Date", dt)
			}
		}
	case "DateTime":
		switch x := v.(type) {
		case DateTime:
			return x
		case Date:
			return DateTime{x.temporal}
		case String:
			if dt, ok := ParseDateTime(string(x)); ok {
				return dt
			}
		}
	case "Time":
		switch x := v.(type) {
		case Time:
			return x
		case String:
			if t, ok := ParseTime(string(x)); ok {
				return t
			}
		}
	}
	return nil
}

// parseQuantityString parses "1.5 'mg'", "1 day" or "1".
func parseQuantityString(s string) (Quantity, bool) {
	s = strings.TrimSpace(s)
	num, unit, _ := strings.Cut(s, " ")
	if !isDecimalText(num) {
		return Quantity{}, false
	}
	d, ok := ParseDecimal(num)
	if !ok {
		return Quantity{}, false
	}
	unit = strings.TrimSpace(unit)
	switch {
	case unit == "":
		unit = "1"
	case len(unit) >= 2 && unit[0] == '\'' && unit[len(unit)-1] == '\'':
		unit = unit[1 : len(unit)-1]
	case calendarUnits[unit] != "":
	default:
		return Quantity{}, false
	}
	return Quantity{Value: d, Unit: unit}, true
}

var conversionFuncs = map[string]*funcDef{}

func addConversions() {
	for _, to := range []string{"Boolean", "Integer", "Decimal", "String", "Quantity", "Date", "DateTime", "Time"} {
		to := to
		conversionFuncs["to"+to] = &funcDef{max: 1, fn: func(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
			v, err := c.single(f)
			if err != nil || v == nil {
				return nil, err
			}
			r := convert(to, v)
			if r == nil {
				return nil, nil
			}
			if q, ok := r.(Quantity); ok && len(c.args) > 0 {
				unit, ok, err := c.argString(ec, 0)
				if err != nil || !ok {
					return nil, err
				}
				d, ok := convertQuantity(q, unit)
				if !ok {
					return nil, nil
				}
				r = Quantity{Value: d, Unit: unit}
			}
			return []Value{r}, nil
		}}
		conversionFuncs["convertsTo"+to] = &funcDef{fn: func(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
			v, err := c.single(f)
			if err != nil || v == nil {
				return nil, err
			}
			return boolResult(convert(to, v) != nil), nil
		}}
	}
}
