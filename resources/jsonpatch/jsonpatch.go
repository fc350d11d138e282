// Package jsonpatch applies RFC 6902 JSON Patch documents to JSON values.
//
// Numbers are kept exactly as written and object members keep the order they
// have in the input document; members created by a patch are appended. The
// input document must not contain duplicate member names.
package jsonpatch

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"

	"github.com/meizhou-yiyang/yiyang/resources/jsontree"
)

// Limits that bound the work a single call to Apply can be made to do.
const (
	// MaxOperations is the largest number of operations a patch may hold.
	MaxOperations = 10000
	// MaxDepth is the deepest nesting of arrays and objects accepted in the
	// document, in the patch, and in the document a patch produces.
	MaxDepth = 200
	// MaxCopiedValues bounds the total number of JSON values (counting every
	// nested value) that the copy operations of one patch may duplicate,
	// unless the input document holds more values: then that number is the
	// bound. Either way the result stays linear in the size of the input.
	MaxCopiedValues = 100_000
)

// Error describes why a patch could not be applied.
type Error struct {
	// Op is the index of the failing operation in the patch, or -1 when the
	// patch or the document as a whole is unusable (not JSON, not an array,
	// too large, ...).
	Op int
	// Path is the JSON pointer involved, if any: the operation's "path", or
	// its "from" when that is what failed.
	Path string
	// Msg describes the problem.
	Msg string
	// Malformed is true when the patch document itself is ill-formed (not an
	// array, an operation missing a member, an unknown op, a bad pointer), and
	// false when a well-formed operation cannot be applied to this document.
	Malformed bool

	opName string // the failing operation's "op", when known
}

// Error returns a message such as
// `operation 2 (remove): path "/name/5" does not exist`.
func (e *Error) Error() string {
	switch {
	case e.Op < 0:
		return "json patch: " + e.Msg
	case e.opName != "":
		return fmt.Sprintf("operation %d (%s): %s", e.Op, e.opName, e.Msg)
	default:
		return fmt.Sprintf("operation %d: %s", e.Op, e.Msg)
	}
}

// operation is one decoded member of a patch document.
type operation struct {
	name     string
	path     string
	toks     []string
	from     string
	fromToks []string
	value    any
}

// Apply applies the JSON Patch document patch (a JSON array of operations) to
// doc and returns the new document, compact. Operations are applied in order
// and the first one that fails stops the patch; the error is then an *Error.
// Any JSON value is accepted as doc.
func Apply(doc, patch []byte) ([]byte, error) {
	ops, err := parsePatch(patch)
	if err != nil {
		err.Malformed = true
		return nil, err
	}
	root, perr := jsontree.Parse(doc, MaxDepth)
	if perr != nil {
		return nil, &Error{Op: -1, Msg: "invalid document: " + perr.Error()}
	}
	limit := max(MaxCopiedValues, jsontree.Count(root, math.MaxInt))
	s := &state{root: root, copyLimit: limit, copyBudget: limit}
	for i, raw := range ops {
		op, err := decodeOperation(raw)
		if err != nil {
			err.Malformed = true
		} else {
			err = s.apply(op)
		}
		if err != nil {
			err.Op = i
			return nil, err
		}
	}
	return jsontree.Encode(nil, s.root), nil
}

// parsePatch parses the patch document into its (still undecoded) operations.
func parsePatch(data []byte) ([]any, *Error) {
	invalid := func(err error) *Error {
		return &Error{Op: -1, Msg: "invalid patch document: " + err.Error()}
	}
	p := jsontree.NewDecoder(data, MaxDepth)
	tok, err := p.Token()
	if err != nil {
		return nil, invalid(err)
	}
	if tok != json.Delim('[') {
		v, err := p.Value(tok, 0)
		if err != nil {
			return nil, invalid(err)
		}
		return nil, &Error{Op: -1, Msg: "invalid patch document: must be a JSON array, not " + kindArticle(v)}
	}
	var ops []any
	for p.More() {
		if len(ops) == MaxOperations {
			return nil, &Error{Op: -1, Msg: fmt.Sprintf("patch document has more than %d operations", MaxOperations)}
		}
		tok, err := p.Token()
		if err != nil {
			return nil, invalid(err)
		}
		v, err := p.Value(tok, 1)
		if err != nil {
			return nil, invalid(err)
		}
		ops = append(ops, v)
	}
	if err := p.ReadDelim(']'); err != nil {
		return nil, invalid(err)
	}
	if err := p.End(); err != nil {
		return nil, invalid(err)
	}
	return ops, nil
}

// kind names the JSON type of v for error messages.
func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case json.Number:
		return "number"
	case string:
		return "string"
	case *jsontree.Array:
		return "array"
	case *jsontree.Object:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// kindArticle names the JSON type of v with an indefinite article.
func kindArticle(v any) string {
	k := kind(v)
	if k == "array" || k == "object" {
		return "an " + k
	}
	return "a " + k
}

// decodeOperation checks the members of one operation object.
func decodeOperation(raw any) (*operation, *Error) {
	obj, ok := raw.(*jsontree.Object)
	if !ok {
		return nil, &Error{Msg: "operation must be a JSON object, not " + kindArticle(raw)}
	}
	getString := func(key string) (string, *Error) {
		v, ok := obj.Get(key)
		if !ok {
			return "", &Error{Msg: fmt.Sprintf("missing %q member", key)}
		}
		s, ok := v.(string)
		if !ok {
			return "", &Error{Msg: fmt.Sprintf("%q must be a string, not %s", key, kindArticle(v))}
		}
		return s, nil
	}

	name, err := getString("op")
	if err != nil {
		return nil, err
	}
	switch name {
	case "add", "remove", "replace", "move", "copy", "test":
	default:
		return nil, &Error{Msg: fmt.Sprintf("unknown operation %q", name)}
	}
	op := &operation{name: name}
	fail := func(e *Error) (*operation, *Error) {
		e.opName = name
		return nil, e
	}

	if op.path, err = getString("path"); err != nil {
		return fail(err)
	}
	var why reason
	if op.toks, why = parsePointer(op.path); why != "" {
		return fail(&Error{Path: op.path, Msg: fmt.Sprintf("path %q %s", op.path, why)})
	}
	if name == "move" || name == "copy" {
		if op.from, err = getString("from"); err != nil {
			return fail(err)
		}
		if op.fromToks, why = parsePointer(op.from); why != "" {
			return fail(&Error{Path: op.from, Msg: fmt.Sprintf("from %q %s", op.from, why)})
		}
	}
	if name == "add" || name == "replace" || name == "test" {
		if op.value, ok = obj.Get("value"); !ok {
			return fail(&Error{Path: op.path, Msg: `missing "value" member`})
		}
	}
	return op, nil
}

// state is the document being patched.
type state struct {
	root       any
	copyLimit  int // values copy operations may duplicate in total
	copyBudget int // values copy operations may still duplicate
}

// apply performs one operation, modifying the document in place.
func (s *state) apply(op *operation) *Error {
	pathErr := func(why reason) *Error {
		return &Error{Path: op.path, Msg: fmt.Sprintf("path %q %s", op.path, why), opName: op.name}
	}
	fromErr := func(why reason) *Error {
		return &Error{Path: op.from, Msg: fmt.Sprintf("from %q %s", op.from, why), opName: op.name}
	}

	switch op.name {
	case "add":
		if why := s.add(op.toks, op.value); why != "" {
			return pathErr(why)
		}
	case "remove":
		if why := s.remove(op.toks); why != "" {
			return pathErr(why)
		}
	case "replace":
		if why := s.replace(op.toks, op.value); why != "" {
			return pathErr(why)
		}
	case "move":
		v, why := lookup(s.root, op.fromToks)
		if why != "" {
			return fromErr(why)
		}
		if slices.Equal(op.fromToks, op.toks) {
			return nil
		}
		if isProperPrefix(op.fromToks, op.toks) {
			return pathErr(fmt.Sprintf("is inside %q: a value cannot be moved into itself", op.from))
		}
		// The value already sits fromToks deep, so only a deeper target can
		// exceed the nesting limit.
		if len(op.toks) > len(op.fromToks) {
			if why := checkDepth(op.toks, v); why != "" {
				return pathErr(why)
			}
		}
		if why := s.remove(op.fromToks); why != "" {
			return fromErr(why)
		}
		if why := s.insert(op.toks, v); why != "" {
			return pathErr(why)
		}
	case "copy":
		v, why := lookup(s.root, op.fromToks)
		if why != "" {
			return fromErr(why)
		}
		n := jsontree.Count(v, s.copyBudget)
		if n > s.copyBudget {
			return fromErr(fmt.Sprintf("cannot be copied: the patch would copy more than %d values in total", s.copyLimit))
		}
		s.copyBudget -= n
		if why := checkDepth(op.toks, v); why != "" {
			return pathErr(why)
		}
		if why := s.insert(op.toks, jsontree.Copy(v)); why != "" {
			return pathErr(why)
		}
	case "test":
		v, why := lookup(s.root, op.toks)
		if why != "" {
			return pathErr(why)
		}
		if !jsontree.Equal(v, op.value) {
			if kind(v) != kind(op.value) {
				return pathErr(fmt.Sprintf("test failed: found %s, expected %s", kindArticle(v), kindArticle(op.value)))
			}
			return pathErr("test failed: value differs from the expected " + kind(v))
		}
	}
	return nil
}

// checkDepth reports whether placing v at toks keeps the document within
// MaxDepth levels of nesting.
func checkDepth(toks []string, v any) reason {
	if len(toks)+jsontree.Depth(v) > MaxDepth {
		return fmt.Sprintf("cannot hold the value: the document would nest deeper than %d levels", MaxDepth)
	}
	return ""
}

// add implements the "add" operation.
func (s *state) add(toks []string, v any) reason {
	if why := checkDepth(toks, v); why != "" {
		return why
	}
	return s.insert(toks, v)
}

// insert adds v at toks: it replaces the document or an existing object
// member, creates a new member at the end of an object, or inserts into an
// array.
func (s *state) insert(toks []string, v any) reason {
	if len(toks) == 0 {
		s.root = v
		return ""
	}
	parent, why := container(s.root, toks)
	if why != "" {
		return why
	}
	key := toks[len(toks)-1]
	switch c := parent.(type) {
	case *jsontree.Object:
		c.Set(key, v)
	case *jsontree.Array:
		i, why := arrayIndex(key, len(c.Elems), true)
		if why != "" {
			return why
		}
		c.Elems = slices.Insert(c.Elems, i, v)
	}
	return ""
}

// remove implements the "remove" operation.
func (s *state) remove(toks []string) reason {
	if len(toks) == 0 {
		return "refers to the whole document, which cannot be removed"
	}
	parent, why := container(s.root, toks)
	if why != "" {
		return why
	}
	key := toks[len(toks)-1]
	switch c := parent.(type) {
	case *jsontree.Object:
		i := c.Index(key)
		if i < 0 {
			return "does not exist"
		}
		c.Members = slices.Delete(c.Members, i, i+1)
	case *jsontree.Array:
		i, why := arrayIndex(key, len(c.Elems), false)
		if why != "" {
			return why
		}
		c.Elems = slices.Delete(c.Elems, i, i+1)
	}
	return ""
}

// replace implements the "replace" operation: the target must exist.
func (s *state) replace(toks []string, v any) reason {
	if _, why := lookup(s.root, toks); why != "" {
		return why
	}
	if why := checkDepth(toks, v); why != "" {
		return why
	}
	if len(toks) == 0 {
		s.root = v
		return ""
	}
	parent, _ := container(s.root, toks)
	key := toks[len(toks)-1]
	switch c := parent.(type) {
	case *jsontree.Object:
		c.Members[c.Index(key)].Val = v
	case *jsontree.Array:
		i, _ := arrayIndex(key, len(c.Elems), false)
		c.Elems[i] = v
	}
	return ""
}
