package fhirpath

var collectionFuncs = map[string]*funcDef{
	"empty": {fn: func(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
		return boolResult(len(f) == 0), nil
	}},
	"exists": {max: 1, fn: func(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
		if len(c.args) == 0 {
			return boolResult(len(f) > 0), nil
		}
		w, err := where(ec, c, f)
		return boolResult(len(w) > 0), err
	}},
	"all": {min: 1, max: 1, fn: func(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
		for i := range f {
			r, err := c.lambda(ec, 0, f, i)
			if err != nil {
				return nil, err
			}
			b, known, err := toBool(r, c.p)
			if err != nil {
				return nil, err
			}
			if !known || !b {
				return boolResult(false), nil
			}
		}
		return boolResult(true), nil
	}},
	"allTrue":  {fn: boolAgg(true, true)},
	"anyTrue":  {fn: boolAgg(false, true)},
	"allFalse": {fn: boolAgg(true, false)},
	"anyFalse": {fn: boolAgg(false, false)},
	"subsetOf": {min: 1, max: 1, fn: func(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
		other, err := c.arg(ec, 0)
		if err != nil {
			return nil, err
		}
		return boolResult(subset(f, other)), nil
	}},
	"supersetOf": {min: 1, max: 1, fn: func(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
		other, err := c.arg(ec, 0)
		if err != nil {
			return nil, err
		}
		return boolResult(subset(other, f)), nil
	}},
	"count": {fn: func(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
		return []Value{Integer(len(f))}, nil
	}},
	"distinct": {fn: func(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
		return union(f, nil), nil
	}},
	"isDistinct": {fn: func(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
		return boolResult(len(union(f, nil)) == len(f)), nil
	}},
	"where": {min: 1, max: 1, fn: where},
	"select": {min: 1, max: 1, fn: func(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
		var out []Value
		for i := range f {
			r, err := c.lambda(ec, 0, f, i)
			if err != nil {
				return nil, err
			}
			out = append(out, r...)
			if len(out) > maxCollection {
				return nil, tooLarge(c.p)
			}
		}
		return out, nil
	}},
	"repeat": {min: 1, max: 1, fn: func(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
		var seen valueSet
		queue := f
		for rounds := 0; len(queue) > 0; rounds++ {
			if rounds > 1000 || len(seen.items) > maxCollection {
				return nil, errorf(c, "too many iterations")
			}
			var next []Value
			for i := range queue {
				r, err := c.lambda(ec, 0, queue, i)
				if err != nil {
					return nil, err
				}
				for _, x := range r {
					if seen.add(x) {
						next = append(next, x)
					}
				}
			}
			queue = next
		}
		return seen.items, nil
	}},
	"ofType": {min: 1, max: 1, typeArg: true, fn: func(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
		if err := ec.checkType(c.typ, c.p); err != nil {
			return nil, err
		}
		var out []Value
		for _, v := range f {
			if ec.isType(v, c.typ, true) {
				out = append(out, v)
			}
		}
		return out, nil
	}},
	"is": {min: 1, max: 1, typeArg: true, fn: func(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
		if len(f) == 0 {
			return nil, nil
		}
		if len(f) > 1 {
			return nil, errorf(c, "requires a single item")
		}
		if err := ec.checkType(c.typ, c.p); err != nil {
			return nil, err
		}
		return boolResult(ec.isType(f[0], c.typ, false)), nil
	}},
	"as": {min: 1, max: 1, typeArg: true, fn: func(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
		if len(f) == 0 {
			return nil, nil
		}
		if len(f) > 1 {
			return nil, errorf(c, "requires a single item")
		}
		if err := ec.checkType(c.typ, c.p); err != nil {
			return nil, err
		}
		if ec.isType(f[0], c.typ, true) {
			return f, nil
		}
		return nil, nil
	}},
	"single": {fn: func(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
		if len(f) > 1 {
			return nil, errorf(c, "input has %d items", len(f))
		}
		return f, nil
	}},
	"first": {fn: func(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
		if len(f) == 0 {
			return nil, nil
		}
		return f[:1], nil
	}},
	"last": {fn: func(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
		if len(f) == 0 {
			return nil, nil
		}
		return f[len(f)-1:], nil
	}},
	"tail": {fn: func(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
		if len(f) == 0 {
			return nil, nil
		}
		return f[1:], nil
	}},
	"skip": {min: 1, max: 1, fn: func(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
		n, ok, err := c.argInt(ec, 0)
		if err != nil || !ok {
			return nil, err
		}
		if n <= 0 {
			return f, nil
		}
		if n >= int64(len(f)) {
			return nil, nil
		}
		return f[n:], nil
	}},
	"take": {min: 1, max: 1, fn: func(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
		n, ok, err := c.argInt(ec, 0)
		if err != nil || !ok || n <= 0 {
			return nil, err
		}
		if n >= int64(len(f)) {
			return f, nil
		}
		return f[:n], nil
	}},
	"intersect": {min: 1, max: 1, fn: func(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
		other, err := c.arg(ec, 0)
		if err != nil {
			return nil, err
		}
		var out []Value
		for _, v := range f {
			if containsValue(other, v) && !containsValue(out, v) {
				out = append(out, v)
			}
		}
		return out, nil
	}},
	"exclude": {min: 1, max: 1, fn: func(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
		other, err := c.arg(ec, 0)
		if err != nil {
			return nil, err
		}
		var out []Value
		for _, v := range f {
			if !containsValue(other, v) {
				out = append(out, v)
			}
		}
		return out, nil
	}},
	"union": {min: 1, max: 1, fn: func(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
		other, err := c.arg(ec, 0)
		if err != nil {
			return nil, err
		}
		return union(f, other), nil
	}},
	"combine": {min: 1, max: 1, fn: func(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
		other, err := c.arg(ec, 0)
		if err != nil {
			return nil, err
		}
		if len(f)+len(other) > maxCollection {
			return nil, tooLarge(c.p)
		}
		out := make([]Value, 0, len(f)+len(other))
		return append(append(out, f...), other...), nil
	}},
	"iif": {min: 2, max: 3, fn: func(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
		sub := *ec
		if c.target != nil {
			if len(f) > 1 {
				return nil, errorf(c, "requires a single input item")
			}
			sub.this = f
		}
		cond, err := c.args[0].eval(&sub, sub.this)
		if err != nil {
			return nil, err
		}
		b, known, err := toBool(cond, c.p)
		if err != nil {
			return nil, err
		}
		if known && b {
			return c.args[1].eval(&sub, sub.this)
		}
		if len(c.args) > 2 {
			return c.args[2].eval(&sub, sub.this)
		}
		return nil, nil
	}},
	"aggregate": {min: 1, max: 2, fn: func(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
		var total []Value
		if len(c.args) > 1 {
			var err error
			if total, err = c.arg(ec, 1); err != nil {
				return nil, err
			}
		}
		for i := range f {
			sub := ec.withThis(f, i)
			sub.total = total
			r, err := c.args[0].eval(&sub, sub.this)
			if err != nil {
				return nil, err
			}
			total = r
		}
		return total, nil
	}},
}

func where(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
	var out []Value
	for i, v := range f {
		r, err := c.lambda(ec, 0, f, i)
		if err != nil {
			return nil, err
		}
		b, known, err := toBool(r, c.p)
		if err != nil {
			return nil, err
		}
		if known && b {
			out = append(out, v)
		}
	}
	return out, nil
}

func subset(a, b []Value) bool {
	for _, v := range a {
		if !containsValue(b, v) {
			return false
		}
	}
	return true
}

// boolAgg builds allTrue/anyTrue/allFalse/anyFalse.
func boolAgg(all, want bool) func(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
	return func(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
		for _, v := range f {
			s, _ := system(v)
			b, ok := s.(Boolean)
			if !ok {
				return nil, errorf(c, "input must contain only Booleans, found %s", typeName(s))
			}
			if all && bool(b) != want {
				return boolResult(false), nil
			}
			if !all && bool(b) == want {
				return boolResult(true), nil
			}
		}
		return boolResult(all), nil
	}
}
