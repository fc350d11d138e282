package fhirpath

import "fmt"

// funcDef describes a built-in function.
type funcDef struct {
	min, max int
	typeArg  bool // the argument is a type specifier (is, as, ofType)
	fn       func(ec *evalCtx, c *callExpr, focus []Value) ([]Value, error)
}

var functions map[string]*funcDef

func init() {
	functions = map[string]*funcDef{}
	addConversions()
	for _, table := range []map[string]*funcDef{collectionFuncs, stringFuncs, mathFuncs, conversionFuncs, otherFuncs, extFuncs} {
		for k, v := range table {
			functions[k] = v
		}
	}
}

func newCall(target expr, name string, args []expr, pos int) (expr, error) {
	def, ok := functions[name]
	if !ok {
		return nil, semErr(pos, "unknown function %s()", name)
	}
	if len(args) < def.min || len(args) > def.max {
		if def.min == def.max {
			return nil, semErr(pos, "%s() takes %d argument(s), got %d", name, def.min, len(args))
		}
		return nil, semErr(pos, "%s() takes %d to %d arguments, got %d", name, def.min, def.max, len(args))
	}
	c := &callExpr{target: target, name: name, args: args, fn: def, p: pos}
	if name == "iif" {
		if l, ok := args[0].(*litExpr); ok && len(l.v) == 1 {
			if _, ok := l.v[0].(Boolean); !ok {
				return nil, semErr(args[0].position(), "iif() criterion must be a Boolean")
			}
		}
	}
	if def.typeArg {
		ts, ok := exprTypeSpec(args[0])
		if !ok {
			return nil, semErr(args[0].position(), "%s() expects a type name", name)
		}
		c.typ = ts
	}
	return c, nil
}

// exprTypeSpec reads a type specifier written as an expression argument.
func exprTypeSpec(e expr) (typeSpec, bool) {
	m, ok := e.(*memberExpr)
	if !ok {
		return typeSpec{}, false
	}
	if m.target == nil {
		return typeSpec{name: m.name}, true
	}
	ns, ok := m.target.(*memberExpr)
	if !ok || ns.target != nil {
		return typeSpec{}, false
	}
	return typeSpec{ns: ns.name, name: m.name}, true
}

func (c *callExpr) eval(ec *evalCtx, focus []Value) ([]Value, error) {
	if c.target != nil {
		var err error
		if focus, err = c.target.eval(ec, focus); err != nil {
			return nil, err
		}
	}
	if ec.depth > maxEvalDepth {
		return nil, execErr(c.p, "evaluation nested too deeply")
	}
	if err := ec.spend(len(focus), c.p); err != nil {
		return nil, err
	}
	return c.fn.fn(ec, c, focus)
}

// arg evaluates argument i in the context of the invocation ($this).
func (c *callExpr) arg(ec *evalCtx, i int) ([]Value, error) {
	if i >= len(c.args) {
		return nil, nil
	}
	return c.args[i].eval(ec, ec.this)
}

// argSingle evaluates argument i and requires at most one item.
func (c *callExpr) argSingle(ec *evalCtx, i int) (Value, error) {
	v, err := c.arg(ec, i)
	if err != nil || len(v) == 0 {
		return nil, err
	}
	if len(v) > 1 {
		return nil, execErr(c.args[i].position(), "argument %d of %s() must be a single value", i+1, c.name)
	}
	s, _ := system(v[0])
	return s, nil
}

func (c *callExpr) argInt(ec *evalCtx, i int) (int64, bool, error) {
	v, err := c.argSingle(ec, i)
	if err != nil || v == nil {
		return 0, false, err
	}
	n, ok := v.(Integer)
	if !ok {
		return 0, false, execErr(c.args[i].position(), "argument %d of %s() must be an integer", i+1, c.name)
	}
	return int64(n), true, nil
}

func (c *callExpr) argString(ec *evalCtx, i int) (string, bool, error) {
	v, err := c.argSingle(ec, i)
	if err != nil || v == nil {
		return "", false, err
	}
	s, ok := v.(String)
	if !ok {
		return "", false, execErr(c.args[i].position(), "argument %d of %s() must be a string", i+1, c.name)
	}
	return string(s), true, nil
}

// lambda evaluates argument i for each item of focus with $this and $index set.
func (c *callExpr) lambda(ec *evalCtx, i int, coll []Value, idx int) ([]Value, error) {
	sub := ec.withThis(coll, idx)
	return c.args[i].eval(&sub, sub.this)
}

// single returns the only item of focus as a system value, nil for empty.
func (c *callExpr) single(focus []Value) (Value, error) {
	if len(focus) == 0 {
		return nil, nil
	}
	if len(focus) > 1 {
		return nil, execErr(c.p, "%s() requires a single input item, got %d", c.name, len(focus))
	}
	v, _ := system(focus[0])
	return v, nil
}

func boolResult(b bool) []Value { return []Value{Boolean(b)} }

func errorf(c *callExpr, format string, args ...any) error {
	return execErr(c.p, "%s(): %s", c.name, fmt.Sprintf(format, args...))
}
