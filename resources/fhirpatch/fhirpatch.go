// Package fhirpatch applies FHIRPath Patch documents (a Parameters resource)
// to FHIR resources.
//
// A patch is a Parameters resource whose parameters are all called
// "operation"; the parts of each give its type (add, insert, delete, replace
// or move), a FHIRPath path and the type's other arguments (name, value,
// index, source, destination). Paths are evaluated with resources/fhirpath,
// typed by the R4 model of conformance/r4, which also decides the JSON name
// of choice elements (adding "deceased" with a valueBoolean writes
// "deceasedBoolean") and whether an added element is a list.
//
// The result keeps the member order of the input; members created by a patch
// are appended, and list items are inserted, moved and deleted in place
// together with the "_name" primitive extensions that sit beside them.
// Objects left empty by a delete are removed. Operations act on whole
// elements: replacing or deleting a primitive replaces or deletes its id and
// extensions too.
//
// Errors are *Error values. Malformed marks defects of the Parameters
// document, including paths that are not valid FHIRPath or name elements the
// resource type does not have; otherwise the operation does not fit this
// resource (a path that selects nothing or too much, an index out of range,
// adding a single element that exists).
package fhirpatch

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/meizhou-yiyang/yiyang/conformance/r4"
	"github.com/meizhou-yiyang/yiyang/resources/fhirpath"
	"github.com/meizhou-yiyang/yiyang/resources/jsontree"
)

// Limits that bound the work a single call to Apply can be made to do.
const (
	// MaxOperations is the largest number of operations a patch may hold.
	MaxOperations = 1000
	// MaxPathSteps is the FHIRPath work budget of one operation's path.
	MaxPathSteps = 100_000
)

// maxDepth bounds the nesting of arrays and objects in the resource, in the
// patch, and in the values a patch builds.
const maxDepth = 200

// Error describes why a patch could not be applied.
type Error struct {
	// Op is the index of the failing operation parameter in the patch, or
	// -1 when the patch or the resource as a whole is unusable.
	Op int
	// Msg describes the problem.
	Msg string
	// Malformed is true when the Parameters document itself is ill-formed
	// (not a Parameters resource, a missing or unknown part, a path that is
	// not valid FHIRPath), and false when a well-formed operation cannot be
	// applied to this resource.
	Malformed bool

	opType string // the failing operation's type, when known
}

// Error returns a message such as
// `operation 1 (add): no content found at Patient.contact.period`.
func (e *Error) Error() string {
	switch {
	case e.Op < 0:
		return "fhirpath patch: " + e.Msg
	case e.opType != "":
		return fmt.Sprintf("operation %d (%s): %s", e.Op, e.opType, e.Msg)
	default:
		return fmt.Sprintf("operation %d: %s", e.Op, e.Msg)
	}
}

// operation is one decoded "operation" parameter.
type operation struct {
	typ  string
	path string
	expr *fhirpath.Expression
	name string
	val  *value
	// index, source and destination of insert and move
	index, source, dest int
}

// value is the "value" argument of an operation, or a part of a value
// built from parts.
type value struct {
	json  any    // a typed value (value[x] or resource); nil for parts
	ext   any    // the "_value[x]" object of a primitive value, or nil
	typ   string // the FHIR type of json: "string", "HumanName", "Patient"
	parts []part // the parts of a complex value built from parts
}

// part is one named part of a value built from parts.
type part struct {
	name string
	val  *value
}

// Apply applies the FHIRPath Patch patch (a Parameters resource in JSON) to
// resource (a FHIR resource in JSON) and returns the patched resource,
// compact. Operations are applied in order; the first one that fails stops
// the patch and the error is an *Error.
func Apply(resource, patch []byte) ([]byte, error) {
	ops, err := parsePatch(patch)
	if err != nil {
		return nil, err
	}
	v, err := decode(resource)
	if err != nil {
		return nil, &Error{Op: -1, Msg: "resource: " + err.Error()}
	}
	root, ok := v.(*jsontree.Object)
	if !ok {
		return nil, &Error{Op: -1, Msg: "resource is not a JSON object"}
	}
	if rt, ok := mustGet(root, "resourceType").(string); !ok || rt == "" {
		return nil, &Error{Op: -1, Msg: "resource has no resourceType"}
	}
	d := &doc{root: root}
	for i, op := range ops {
		if err := d.index(); err != nil {
			return nil, &Error{Op: i, opType: op.typ, Msg: err.Error()}
		}
		if err := d.apply(op); err != nil {
			var e *Error
			if errors.As(err, &e) {
				e.Op, e.opType = i, op.typ
				return nil, e
			}
			return nil, &Error{Op: i, opType: op.typ, Msg: err.Error()}
		}
	}
	if jsontree.Depth(root) > maxDepth {
		return nil, &Error{Op: len(ops) - 1, Msg: fmt.Sprintf("the result nests deeper than %d levels", maxDepth)}
	}
	return jsontree.Encode(nil, root), nil
}

func mustGet(o *jsontree.Object, key string) any {
	v, _ := o.Get(key)
	return v
}

// decode parses data as exactly one JSON value. Duplicate member names are
// rejected: they make the meaning of a FHIR resource ambiguous.
func decode(data []byte) (any, error) {
	v, err := jsontree.Parse(data, maxDepth)
	if err == nil {
		return v, nil
	}
	var pe *jsontree.ParseError
	if !errors.As(err, &pe) {
		return nil, err
	}
	switch pe.Kind {
	case jsontree.Truncated:
		return nil, errors.New("unexpected end of JSON input")
	case jsontree.Trailing:
		return nil, errors.New("unexpected data after the JSON value")
	case jsontree.Duplicate:
		return nil, fmt.Errorf("duplicate member %q", pe.Key)
	case jsontree.TooDeep:
		return nil, fmt.Errorf("JSON nested deeper than %d levels", pe.MaxDepth)
	}
	return nil, fmt.Errorf("invalid JSON: %v", pe.Err)
}

// malformed returns an *Error for a defect of the patch document.
func malformed(op int, format string, args ...any) *Error {
	return &Error{Op: op, Msg: fmt.Sprintf(format, args...), Malformed: true}
}

// parsePatch decodes and checks a Parameters resource of operations.
func parsePatch(patch []byte) ([]operation, error) {
	v, err := decode(patch)
	if err != nil {
		return nil, malformed(-1, "%v", err)
	}
	doc, ok := v.(*jsontree.Object)
	if !ok {
		return nil, malformed(-1, "the patch is not a JSON object")
	}
	if rt, _ := doc.Get("resourceType"); rt != "Parameters" {
		return nil, malformed(-1, "the patch is not a Parameters resource")
	}
	pv, ok := doc.Get("parameter")
	if !ok {
		return nil, nil
	}
	params, ok := pv.(*jsontree.Array)
	if !ok {
		return nil, malformed(-1, "parameter is not an array")
	}
	if len(params.Elems) > MaxOperations {
		return nil, malformed(-1, "the patch has more than %d operations", MaxOperations)
	}
	ops := make([]operation, len(params.Elems))
	for i, p := range params.Elems {
		op, err := parseOperation(p)
		if err != nil {
			return nil, malformed(i, "%v", err)
		}
		ops[i] = op
	}
	return ops, nil
}

// operationParts lists the parts each operation type requires; it may have
// no others.
var operationParts = map[string][]string{
	"add":     {"type", "path", "name", "value"},
	"insert":  {"type", "path", "value", "index"},
	"delete":  {"type", "path"},
	"replace": {"type", "path", "value"},
	"move":    {"type", "path", "source", "destination"},
}

func parseOperation(p any) (operation, error) {
	var op operation
	po, ok := p.(*jsontree.Object)
	if !ok {
		return op, errors.New("parameter is not an object")
	}
	for _, m := range po.Members {
		switch m.Key {
		case "name", "part", "id", "extension", "modifierExtension":
		default:
			return op, fmt.Errorf("an operation parameter may not have %q", m.Key)
		}
	}
	if name, _ := po.Get("name"); name != "operation" {
		return op, errors.New(`parameter name is not "operation"`)
	}
	pv, _ := po.Get("part")
	parts, ok := pv.(*jsontree.Array)
	if !ok {
		return op, errors.New("operation has no part array")
	}
	seen := map[string]*jsontree.Object{}
	for _, e := range parts.Elems {
		pt, ok := e.(*jsontree.Object)
		if !ok {
			return op, errors.New("part is not an object")
		}
		name, ok := mustGet(pt, "name").(string)
		if !ok {
			return op, errors.New("part has no name")
		}
		if _, dup := seen[name]; dup {
			return op, fmt.Errorf("part %q given twice", name)
		}
		seen[name] = pt
	}
	typ, err := primitivePart(seen, "type", "valueCode")
	if err != nil {
		return op, err
	}
	want, ok := operationParts[typ]
	if !ok {
		return op, fmt.Errorf("unknown operation type %q", typ)
	}
	op.typ = typ
	for name := range seen {
		if !contains(want, name) {
			return op, fmt.Errorf("%s operation takes no %q part", typ, name)
		}
	}
	for _, name := range want {
		if seen[name] == nil {
			return op, fmt.Errorf("%s operation needs a %q part", typ, name)
		}
	}
	if op.path, err = primitivePart(seen, "path", "valueString"); err != nil {
		return op, err
	}
	if op.expr, err = fhirpath.Compile(op.path); err != nil {
		return op, fmt.Errorf("path: %v", err)
	}
	if seen["name"] != nil {
		if op.name, err = primitivePart(seen, "name", "valueString"); err != nil {
			return op, err
		}
		if !isName(op.name) {
			return op, fmt.Errorf("name %q is not an element name", op.name)
		}
	}
	for _, n := range []struct {
		part string
		dst  *int
	}{{"index", &op.index}, {"source", &op.source}, {"destination", &op.dest}} {
		if seen[n.part] != nil {
			if *n.dst, err = integerPart(seen, n.part); err != nil {
				return op, err
			}
		}
	}
	if pt := seen["value"]; pt != nil {
		if op.val, err = parseValue(pt, 0); err != nil {
			return op, fmt.Errorf("value: %v", err)
		}
	}
	return op, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// isName reports whether s looks like an element name.
func isName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// primitivePart returns the string value of part name, given as valueType.
func primitivePart(parts map[string]*jsontree.Object, name, valueType string) (string, error) {
	pt := parts[name]
	if pt == nil {
		return "", fmt.Errorf("operation needs a %q part", name)
	}
	s, ok := mustGet(pt, valueType).(string)
	if !ok || s == "" {
		return "", fmt.Errorf("part %q needs a %s", name, valueType)
	}
	return s, nil
}

// integerPart returns the non-negative valueInteger of part name.
func integerPart(parts map[string]*jsontree.Object, name string) (int, error) {
	n, ok := mustGet(parts[name], "valueInteger").(json.Number)
	if !ok {
		return 0, fmt.Errorf("part %q needs a valueInteger", name)
	}
	i, err := strconv.Atoi(string(n))
	if err != nil || i < 0 {
		return 0, fmt.Errorf("part %q is not a non-negative integer: %s", name, n)
	}
	return i, nil
}

// parseValue reads the value of a parameter part: one value[x] (with its
// "_value[x]" extensions), a resource, or a list of parts.
func parseValue(pt *jsontree.Object, depth int) (*value, error) {
	if depth > maxDepth {
		return nil, errors.New("parts nested too deeply")
	}
	var v *value
	var ext any
	var extType string
	set := func(nv *value) error {
		if v != nil {
			return errors.New("more than one value")
		}
		v = nv
		return nil
	}
	for _, m := range pt.Members {
		switch {
		case m.Key == "name" || m.Key == "id" || m.Key == "extension" || m.Key == "modifierExtension":
		case m.Key == "resource":
			r, ok := m.Val.(*jsontree.Object)
			rt, _ := mustGet(r, "resourceType").(string)
			if !ok || rt == "" {
				return nil, errors.New("resource is not a resource")
			}
			if err := set(&value{json: r, typ: rt}); err != nil {
				return nil, err
			}
		case m.Key == "part":
			list, ok := m.Val.(*jsontree.Array)
			if !ok {
				return nil, errors.New("part is not an array")
			}
			nv := &value{}
			for _, e := range list.Elems {
				sub, ok := e.(*jsontree.Object)
				if !ok {
					return nil, errors.New("part is not an object")
				}
				name, ok := mustGet(sub, "name").(string)
				if !ok || !isName(name) {
					return nil, errors.New("part has no valid name")
				}
				sv, err := parseValue(sub, depth+1)
				if err != nil {
					return nil, fmt.Errorf("%s: %v", name, err)
				}
				nv.parts = append(nv.parts, part{name, sv})
			}
			if err := set(nv); err != nil {
				return nil, err
			}
		case strings.HasPrefix(m.Key, "_value") && isTypeSuffix(m.Key[len("_value"):]):
			if _, ok := m.Val.(*jsontree.Object); !ok {
				return nil, fmt.Errorf("%s is not an object", m.Key)
			}
			ext, extType = m.Val, m.Key[len("_value"):]
		case strings.HasPrefix(m.Key, "value") && isTypeSuffix(m.Key[len("value"):]):
			suffix := m.Key[len("value"):]
			if m.Val == nil {
				return nil, fmt.Errorf("%s is null", m.Key)
			}
			if err := set(&value{json: m.Val, typ: typeName(suffix)}); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("unexpected member %q", m.Key)
		}
	}
	if ext != nil {
		if v == nil {
			// a primitive with only extensions
			v = &value{typ: typeName(extType)}
		}
		if v.parts != nil || v.typ != typeName(extType) {
			return nil, errors.New("_value[x] does not match the value")
		}
		v.ext = ext
	}
	if v == nil {
		return nil, errors.New("no value")
	}
	return v, nil
}

// isTypeSuffix reports whether s can be the type suffix of a value[x] name.
func isTypeSuffix(s string) bool { return s != "" && s[0] >= 'A' && s[0] <= 'Z' && isName(s) }

// typeName returns the FHIR type named by a value[x] suffix: primitive types
// start with a lower-case letter ("DateTime" → "dateTime"), others keep theirs.
func typeName(suffix string) string {
	if lower := strings.ToLower(suffix[:1]) + suffix[1:]; r4.IsPrimitive(lower) {
		return lower
	}
	return suffix
}
