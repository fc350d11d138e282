package fhirpath

import (
	"strings"
	"time"
)

var otherFuncs = map[string]*funcDef{
	"not": {fn: func(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
		b, known, err := toBool(f, c.p)
		if err != nil || !known {
			return nil, err
		}
		return boolResult(!b), nil
	}},
	"now": {fn: func(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
		return []Value{dateTimeFromTime(ec.instant())}, nil
	}},
	"today": {fn: func(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
		dt := dateTimeFromTime(ec.instant())
		return []Value{convert("Date", dt)}, nil
	}},
	"timeOfDay": {fn: func(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
		dt := dateTimeFromTime(ec.instant())
		t := dt.temporal
		t.year, t.month, t.day, t.hasTZ, t.tzMin = 0, 0, 0, false, 0
		return []Value{Time{t}}, nil
	}},
	"type": {fn: func(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
		out := make([]Value, 0, len(f))
		for _, v := range f {
			out = append(out, typeOf(v))
		}
		return out, nil
	}},
	"children": {fn: func(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
		var out []Value
		for _, v := range f {
			out = ec.children(v, out)
		}
		return out, nil
	}},
	"descendants": {fn: func(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
		var out []Value
		queue := f
		for len(queue) > 0 {
			var next []Value
			for _, v := range queue {
				next = ec.children(v, next)
			}
			out = append(out, next...)
			if len(out) > maxCollection {
				return nil, tooLarge(c.p)
			}
			if err := ec.spend(len(next), c.p); err != nil {
				return nil, err
			}
			queue = next
		}
		return out, nil
	}},
	"trace": {min: 1, max: 2, fn: func(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
		if ec.ctx.Trace == nil {
			return f, nil
		}
		name, _, err := c.argString(ec, 0)
		if err != nil {
			return nil, err
		}
		vals := f
		if len(c.args) > 1 {
			vals = nil
			for i := range f {
				r, err := c.lambda(ec, 1, f, i)
				if err != nil {
					return nil, err
				}
				vals = append(vals, r...)
			}
		}
		ec.ctx.Trace(name, vals)
		return f, nil
	}},
	"extension": {min: 1, max: 1, fn: extensionFunc},
	"hasExtension": {min: 1, max: 1, fn: func(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
		r, err := extensionFunc(ec, c, f)
		return boolResult(len(r) > 0), err
	}},
	"hasValue": {fn: func(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
		if len(f) != 1 {
			return boolResult(false), nil
		}
		el, ok := f[0].(*Element)
		if !ok {
			return boolResult(true), nil
		}
		return boolResult(el.node != nil && el.node.kind != kindObject && el.node.kind != kindArray), nil
	}},
	"getValue": {fn: func(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
		if len(f) != 1 {
			return nil, nil
		}
		el, ok := f[0].(*Element)
		if !ok {
			return f, nil
		}
		if el.node == nil || el.node.kind == kindObject || el.node.kind == kindArray {
			return nil, nil
		}
		v, _ := system(el)
		return []Value{v}, nil
	}},
	"resolve": {fn: func(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
		var out []Value
		for _, v := range f {
			ref := ""
			switch x := v.(type) {
			case *Element:
				if x.node == nil {
					continue
				}
				if x.node.kind == kindObject {
					ref = x.node.getString("reference")
				} else if x.node.kind == kindString {
					ref = x.node.str
				}
			case String:
				ref = string(x)
			}
			if ref == "" {
				continue
			}
			if n := ec.resolve(ref); n != nil {
				out = append(out, NewElement(n, ""))
			}
		}
		return out, nil
	}},
	"memberOf": {min: 1, max: 1, fn: func(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
		// Terminology is not available to the engine: the result is unknown.
		return nil, nil
	}},
	"conformsTo": {min: 1, max: 1, fn: func(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
		url, ok, err := c.argString(ec, 0)
		if err != nil || !ok || len(f) == 0 {
			return nil, err
		}
		const core = "http://hl7.org/fhir/StructureDefinition/"
		if !strings.HasPrefix(url, core) {
			return nil, errorf(c, "cannot resolve profile %q", url)
		}
		el, ok := f[0].(*Element)
		if !ok || len(f) > 1 {
			return nil, errorf(c, "requires a single resource")
		}
		return boolResult(ec.derivesFrom(el.typ, url[len(core):])), nil
	}},
	"htmlChecks": {fn: func(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
		return boolResult(true), nil
	}},
}

func (ec *evalCtx) instant() time.Time {
	if !ec.now.IsZero() {
		return ec.now
	}
	return time.Now()
}

// children appends the child elements of v in document order.
func (ec *evalCtx) children(v Value, out []Value) []Value {
	el, ok := v.(*Element)
	if !ok || el.node == nil || el.node.kind != kindObject {
		if ok && el.ext != nil {
			out = appendField(out, el.ext, "id", el.ext.get("id"), "string")
			out = appendField(out, el.ext, "extension", el.ext.get("extension"), "Extension")
		}
		return out
	}
	n := el.node
	for i := range n.fields {
		name := n.fields[i].name
		if name == "resourceType" {
			continue
		}
		if name[0] == '_' {
			if n.get(name[1:]) != nil {
				continue
			}
			name = name[1:]
		}
		out = appendField(out, n, name, n.get(name), ec.fieldType(el.typ, name))
	}
	return out
}

// fieldType returns the type of a JSON member of an object of type t,
// resolving choice suffixes.
func (ec *evalCtx) fieldType(t, name string) string {
	m := ec.ctx.Model
	if m == nil || t == "" {
		return ""
	}
	if types, choice, ok := m.ElementType(t, name); ok && !choice && len(types) > 0 {
		return types[0]
	}
	for i := 1; i < len(name); i++ {
		if name[i] < 'A' || name[i] > 'Z' {
			continue
		}
		if types, choice, ok := m.ElementType(t, name[:i]); ok && choice {
			suffix := name[i:]
			for _, ty := range types {
				if upperFirst(ty) == suffix {
					return ty
				}
			}
		}
	}
	return ""
}

// extensionFunc implements extension(url).
func extensionFunc(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
	url, ok, err := c.argString(ec, 0)
	if err != nil || !ok {
		return nil, err
	}
	var out []Value
	for _, v := range f {
		el, ok := v.(*Element)
		if !ok {
			continue
		}
		exts, err := ec.child(el, "extension", c.p, nil)
		if err != nil {
			return nil, err
		}
		for _, x := range exts {
			if xe := x.(*Element); xe.node.getString("url") == url {
				out = append(out, x)
			}
		}
	}
	return out, nil
}
