package fhirpath

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Model supplies FHIR type information. Implementations are generated from
// the R4 StructureDefinitions; a nil Model means untyped evaluation, where
// types are inferred from the JSON shape.
//
// Nested structures (BackboneElement or Element members with children, such
// as Patient.contact) are named by their element path: ElementType("Patient",
// "contact") returns ["Patient.contact"], BaseType("Patient.contact") returns
// "BackboneElement", IsType("Patient.contact") is true, and contentReference
// members (Questionnaire.item.item) return the referenced path. Resource.id
// is of type "id" (the R4 snapshots say "string").
type Model interface {
	// ElementType returns the types of element on parentType (a type name
	// or a nested structure path). choice is true for choice elements
	// (value[x]), whose JSON names carry the type as a suffix. ok is false
	// when neither parentType nor its base types have such an element.
	ElementType(parentType, element string) (types []string, choice bool, ok bool)
	// BaseType returns the type t derives from, or "" for a root type.
	BaseType(t string) string
	// IsResource reports whether t is a resource type.
	IsResource(t string) bool
	// IsType reports whether t names a known type.
	IsType(t string) bool
}

// Resolver finds the resource a reference (as written in
// Reference.reference, or a canonical/uri) points to; nil when unknown.
type Resolver func(ref string) *Node

// Context carries everything an evaluation may read besides its input. The
// engine never modifies it: one Context may serve concurrent evaluations if
// its Resolve and Trace functions are safe for concurrent use.
type Context struct {
	// Resource is %resource and %rootResource (and the default input).
	Resource *Node
	// ContextNode is %context; defaults to Resource.
	ContextNode *Node
	// Vars holds additional environment variables by name (without '%').
	Vars map[string][]Value
	// Now is the evaluation instant for now(), today() and timeOfDay();
	// zero means time.Now() once per evaluation.
	Now time.Time
	// Resolve overrides reference resolution; nil resolves "#id" contained
	// resources and references between entries of a Bundle root.
	Resolve Resolver
	// Model types the tree; nil evaluates untyped.
	Model Model
	// Trace receives trace() output; nil discards it.
	Trace func(name string, values []Value)
	// MaxSteps bounds the work of one evaluation (items visited by
	// navigation and function calls); 0 means DefaultMaxSteps.
	MaxSteps int
}

// DefaultMaxSteps is the default work budget of one evaluation.
const DefaultMaxSteps = 5_000_000

// evalCtx is the per-evaluation state.
type evalCtx struct {
	ctx   *Context
	this  []Value
	index int
	total []Value
	now   time.Time
	root  []Value
	depth int
	steps *int // remaining work budget, shared with nested contexts
	left  int  // storage for steps in the root context

	rootEl  Element
	rootBuf [1]Value
}

// spend charges n units of work; it fails when the budget is exhausted.
func (ec *evalCtx) spend(n int, pos int) error {
	*ec.steps -= n + 1
	if *ec.steps < 0 {
		return execErr(pos, "evaluation exceeds its work budget")
	}
	return nil
}

// maxEvalDepth bounds recursion through nested function arguments.
const maxEvalDepth = 512

func execErr(pos int, format string, args ...any) *Error {
	return &Error{Kind: ExecutionError, Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

func semErr(pos int, format string, args ...any) *Error {
	return &Error{Kind: SemanticError, Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

// NewElement wraps a JSON node as an element of the given FHIR type (for a
// resource, its resourceType).
func NewElement(n *Node, typ string) *Element {
	if typ == "" && n != nil {
		typ = n.ResourceType()
	}
	return &Element{node: n, typ: typ}
}

// Evaluate runs the expression. With no input, the input is ctx.Resource.
func (e *Expression) Evaluate(ctx *Context, input ...Value) ([]Value, error) {
	if ctx == nil {
		ctx = &Context{}
	}
	ec := evalCtx{ctx: ctx, now: ctx.Now, left: ctx.MaxSteps}
	if ec.left <= 0 {
		ec.left = DefaultMaxSteps
	}
	ec.steps = &ec.left
	if ec.now.IsZero() && e.usesNow {
		ec.now = time.Now()
	}
	if ctx.Resource != nil {
		// the root element lives in ec, which is on the heap anyway
		ec.rootEl = Element{node: ctx.Resource, typ: ctx.Resource.ResourceType()}
		ec.rootBuf[0] = &ec.rootEl
		ec.root = ec.rootBuf[:]
	}
	if len(input) == 0 {
		input = ec.root
	}
	ec.this = input
	return e.root.eval(&ec, input)
}

// EvaluateNode evaluates against a decoded resource that is both the input
// and %resource, with the other settings of ctx.
func (e *Expression) EvaluateNode(ctx Context, resource *Node) ([]Value, error) {
	ctx.Resource = resource
	return e.Evaluate(&ctx)
}

// withThis returns a context whose $this is coll[i] and $index is i.
func (ec *evalCtx) withThis(coll []Value, i int) evalCtx {
	c := *ec
	c.this = coll[i : i+1 : i+1]
	c.index = i
	c.depth++
	return c
}

func (e *litExpr) eval(ec *evalCtx, focus []Value) ([]Value, error) { return e.v, nil }

func (e *varExpr) eval(ec *evalCtx, focus []Value) ([]Value, error) {
	switch e.name {
	case "this":
		return ec.this, nil
	case "index":
		return []Value{Integer(ec.index)}, nil
	case "total":
		return ec.total, nil
	}
	return nil, nil
}

func (e *envExpr) eval(ec *evalCtx, focus []Value) ([]Value, error) {
	switch e.name {
	case "resource", "rootResource":
		return ec.root, nil
	case "context":
		if ec.ctx.ContextNode != nil {
			return []Value{NewElement(ec.ctx.ContextNode, "")}, nil
		}
		return ec.root, nil
	case "ucum":
		return []Value{String("http://unitsofmeasure.org")}, nil
	case "sct":
		return []Value{String("http://snomed.info/sct")}, nil
	case "loinc":
		return []Value{String("http://loinc.org")}, nil
	}
	if v, ok := ec.ctx.Vars[e.name]; ok {
		return v, nil
	}
	if strings.HasPrefix(e.name, "vs-") {
		return []Value{String("http://hl7.org/fhir/ValueSet/" + e.name[3:])}, nil
	}
	if strings.HasPrefix(e.name, "ext-") {
		return []Value{String("http://hl7.org/fhir/StructureDefinition/" + e.name[4:])}, nil
	}
	return nil, execErr(e.p, "unknown environment variable %%%s", e.name)
}

func (e *memberExpr) eval(ec *evalCtx, focus []Value) ([]Value, error) {
	if e.target != nil {
		if m := ec.ctx.Model; m != nil {
			if err := e.checkDeclared(m); err != nil {
				return nil, err
			}
		}
		var err error
		if focus, err = e.target.eval(ec, focus); err != nil {
			return nil, err
		}
	}
	if err := ec.spend(len(focus), e.p); err != nil {
		return nil, err
	}
	if len(focus) == 1 && e.name != "" && e.name[0] >= 'A' && e.name[0] <= 'Z' {
		// fast path for the leading type name of a path (Patient.name)
		if el, ok := focus[0].(*Element); ok && el.typ == e.name && el.node != nil && el.node.kind == kindObject {
			return focus, nil
		}
	}
	var out []Value
	for _, v := range focus {
		el, ok := v.(*Element)
		if !ok {
			if ti, ok := v.(TypeInfo); ok {
				switch e.name {
				case "name":
					out = append(out, String(ti.Name))
				case "namespace":
					out = append(out, String(ti.Namespace))
				}
			}
			continue
		}
		var err error
		out, err = ec.child(el, e.name, e.p, out)
		if err != nil && !e.static {
			err = nil
		}
		if len(out) > maxCollection {
			return nil, tooLarge(e.p)
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (e *indexExpr) eval(ec *evalCtx, focus []Value) ([]Value, error) {
	coll, err := e.target.eval(ec, focus)
	if err != nil {
		return nil, err
	}
	idx, err := e.index.eval(ec, ec.this)
	if err != nil {
		return nil, err
	}
	if len(idx) == 0 {
		return nil, nil
	}
	i, ok := singletonInt(idx)
	if !ok {
		return nil, execErr(e.p, "index must be an integer")
	}
	if i < 0 || i >= int64(len(coll)) {
		return nil, nil
	}
	return coll[i : i+1], nil
}

func (e *unaryExpr) eval(ec *evalCtx, focus []Value) ([]Value, error) {
	x, err := e.x.eval(ec, focus)
	if err != nil || len(x) == 0 {
		return nil, err
	}
	if len(x) > 1 {
		return nil, execErr(e.p, "unary minus requires a single value")
	}
	v, _ := system(x[0])
	switch n := v.(type) {
	case Integer:
		return []Value{-n}, nil
	case Decimal:
		return []Value{n.Neg()}, nil
	case Quantity:
		return []Value{Quantity{Value: n.Value.Neg(), Unit: n.Unit}}, nil
	}
	return nil, execErr(e.p, "cannot negate %s", typeName(v))
}

func (e *typeExpr) eval(ec *evalCtx, focus []Value) ([]Value, error) {
	x, err := e.x.eval(ec, focus)
	if err != nil || len(x) == 0 {
		return nil, err
	}
	if err := ec.checkType(e.t, e.p); err != nil {
		return nil, err
	}
	if e.op == "as" {
		// The R4 SearchParameter expressions apply 'as' to collections
		// ((Observation.component.value as Quantity)): like other engines,
		// the operator filters there; the as() function stays strict.
		var out []Value
		for _, v := range x {
			if ec.isType(v, e.t, true) {
				out = append(out, v)
			}
		}
		return out, nil
	}
	if len(x) > 1 {
		return nil, execErr(e.p, "'%s' requires a single value, got %d", e.op, len(x))
	}
	return []Value{Boolean(ec.isType(x[0], e.t, false))}, nil
}

// child appends the children called name of el to out.
func (ec *evalCtx) child(el *Element, name string, pos int, out []Value) ([]Value, error) {
	n := el.node
	model := ec.ctx.Model
	if n == nil || n.kind != kindObject {
		if el.ext != nil {
			switch name {
			case "extension":
				return appendField(out, el.ext, name, el.ext.get(name), "Extension"), nil
			case "id":
				return appendField(out, el.ext, name, el.ext.get(name), "string"), nil
			}
		}
		return out, nil
	}
	// A type name selects the item itself when it is of that type.
	if name != "" && name[0] >= 'A' && name[0] <= 'Z' {
		if ec.derivesFrom(el.typ, name) {
			return append(out, el), nil
		}
		if model == nil && (name == "Resource" || name == "DomainResource") && n.ResourceType() != "" {
			return append(out, el), nil
		}
	}
	var types []string
	var choice, typed bool
	if model != nil && el.typ != "" {
		var ok bool
		types, choice, ok = model.ElementType(el.typ, name)
		typed = ok
		if !ok && model.IsType(el.typ) {
			if name != "" && name[0] >= 'A' && name[0] <= 'Z' && (model.IsResource(name) || model.IsType(name)) {
				return out, nil
			}
			return out, semErr(pos, "%s has no element %q", el.typ, name)
		}
	}
	if typed {
		if choice {
			for i := range n.fields {
				f := &n.fields[i]
				if len(f.name) <= len(name) || f.name[:len(name)] != name {
					continue
				}
				suffix := f.name[len(name):]
				for _, t := range types {
					if strings.EqualFold(t, suffix) && upperFirst(t) == suffix {
						out = appendField(out, n, f.name, f.val, t)
						break
					}
				}
			}
			// a choice element that only has a primitive extension
			return out, nil
		}
		typ := ""
		if len(types) > 0 {
			typ = types[0]
		}
		return appendField(out, n, name, n.get(name), typ), nil
	}
	// untyped: by JSON shape
	if v := n.get(name); v != nil || n.get("_"+name) != nil {
		return appendField(out, n, name, v, ""), nil
	}
	for i := range n.fields {
		f := &n.fields[i]
		if len(f.name) > len(name) && f.name[:len(name)] == name && choiceSuffixes[f.name[len(name):]] {
			suffix := f.name[len(name):]
			t := suffix
			if isPrimitiveType(lowerFirst(suffix)) {
				t = lowerFirst(suffix)
			}
			out = appendField(out, n, f.name, f.val, t)
		}
	}
	return out, nil
}

func upperFirst(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

func lowerFirst(s string) string {
	if s == "" || s[0] < 'A' || s[0] > 'Z' {
		return s
	}
	return string(s[0]-'A'+'a') + s[1:]
}

// appendField appends the items of member fieldName (value v, possibly an
// array) paired with its "_fieldName" primitive extension.
func appendField(out []Value, parent *Node, fieldName string, v *Node, typ string) []Value {
	ext := parent.get("_" + fieldName)
	if v == nil && ext == nil {
		return out
	}
	elemType := func(n *Node) string {
		if n != nil && n.kind == kindObject {
			if rt := n.ResourceType(); rt != "" {
				return rt
			}
		}
		return typ
	}
	if (v != nil && v.kind == kindArray) || (v == nil && ext.kind == kindArray) {
		var items, exts []*Node
		if v != nil {
			items = v.items
		}
		if ext != nil && ext.kind == kindArray {
			exts = ext.items
		}
		n := max(len(items), len(exts))
		// one allocation for all the elements of the array
		elems := make([]Element, 0, n)
		out = slices.Grow(out, n)
		for i := 0; i < n; i++ {
			var item, x *Node
			if i < len(items) && items[i].kind != kindNull {
				item = items[i]
			}
			if i < len(exts) && exts[i].kind != kindNull {
				x = exts[i]
			}
			if item == nil && x == nil {
				continue
			}
			elems = append(elems, Element{node: item, ext: x, typ: elemType(item)})
			out = append(out, &elems[len(elems)-1])
		}
		return out
	}
	if v != nil && v.kind == kindNull {
		v = nil
	}
	if v == nil && (ext == nil || ext.kind != kindObject) {
		return out
	}
	if ext != nil && ext.kind != kindObject {
		ext = nil
	}
	return append(out, &Element{node: v, ext: ext, typ: elemType(v)})
}

// derivesFrom reports whether type t is name or derives from it.
func (ec *evalCtx) derivesFrom(t, name string) bool {
	for i := 0; t != "" && i < 20; i++ {
		if t == name {
			return true
		}
		t = ec.baseType(t)
	}
	return false
}

func (ec *evalCtx) baseType(t string) string {
	if m := ec.ctx.Model; m != nil {
		return m.BaseType(t)
	}
	if b, ok := primitiveBase[t]; ok {
		return b
	}
	return ""
}

// checkType reports unknown type names when a model is present.
func (ec *evalCtx) checkType(t typeSpec, pos int) error {
	if t.ns == "System" || (t.ns == "" && systemTypes[t.name]) {
		return nil
	}
	if m := ec.ctx.Model; m != nil && !m.IsType(t.name) && !systemTypes[t.name] {
		return execErr(pos, "unknown type %s", t)
	}
	return nil
}

// isType implements is (exact=false) and as/ofType (exact=true for
// primitive types, where only the declared type matches).
func (ec *evalCtx) isType(v Value, t typeSpec, exact bool) bool {
	el, isEl := v.(*Element)
	if !isEl {
		if t.ns == "FHIR" {
			return false
		}
		ti := typeOf(v)
		return ti.Name == t.name
	}
	if t.ns == "System" {
		return false
	}
	if el.typ == "" {
		// untyped: compare by JSON shape
		sv, _ := system(el)
		if _, ok := sv.(*Element); !ok {
			switch typeOf(sv).Name {
			case "String":
				return t.name == "string" || t.name == "code" || t.name == "uri"
			case "Boolean":
				return t.name == "boolean"
			case "Integer":
				return t.name == "integer"
			case "Decimal":
				return t.name == "decimal"
			}
		}
		return false
	}
	if exact && isPrimitiveType(el.typ) {
		return el.typ == t.name
	}
	return ec.derivesFrom(el.typ, t.name)
}

func singletonInt(c []Value) (int64, bool) {
	if len(c) != 1 {
		return 0, false
	}
	v, _ := system(c[0])
	i, ok := v.(Integer)
	return int64(i), ok
}

// checkDeclared reports a semantic error when the target of e has a declared
// type (a leading type name such as Encounter in Encounter.name, or the type
// of an as/ofType) that has no element e.name, whatever the input.
func (e *memberExpr) checkDeclared(m Model) error {
	declared := ""
	switch t := e.target.(type) {
	case *memberExpr:
		if t.target == nil && t.static && t.name != "" && t.name[0] >= 'A' && t.name[0] <= 'Z' && m.IsType(t.name) {
			declared = t.name
		}
	case *typeExpr:
		if t.op == "as" && t.t.ns != "System" {
			declared = t.t.name
		}
	case *callExpr:
		if (t.name == "as" || t.name == "ofType") && t.typ.ns != "System" {
			declared = t.typ.name
		}
	}
	if declared == "" || !m.IsType(declared) || isPrimitiveType(declared) {
		return nil
	}
	if _, _, ok := m.ElementType(declared, e.name); !ok && !(e.name[0] >= 'A' && e.name[0] <= 'Z') {
		return semErr(e.p, "%s has no element %q", declared, e.name)
	}
	return nil
}
