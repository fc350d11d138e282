package fhirpath

import (
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// nodeKind is the JSON shape of a Node.
type nodeKind uint8

const (
	kindNull nodeKind = iota
	kindObject
	kindArray
	kindString
	kindNumber
	kindBool
)

// Node is one decoded JSON value of a resource. Numbers keep their decimal
// text so that no precision is lost. A Node tree is immutable after decoding
// and may be shared by concurrent evaluations.
type Node struct {
	kind   nodeKind
	b      bool
	str    string  // string value or number text
	fields []field // object members in document order
	items  []*Node // array items
}

type field struct {
	name string
	val  *Node
}

// maxJSONDepth bounds nesting of decoded documents.
const maxJSONDepth = 200

// DecodeJSON decodes a FHIR JSON document (usually a resource) into a Node
// tree. It is the only place where JSON is parsed; evaluation works on the tree.
func DecodeJSON(data []byte) (*Node, error) {
	d := decoder{data: data}
	d.skipSpace()
	n, err := d.value(0)
	if err != nil {
		return nil, err
	}
	d.skipSpace()
	if d.pos != len(d.data) {
		return nil, d.errorf("unexpected data after JSON value")
	}
	return n, nil
}

// get returns the member named name of an object node, or nil.
func (n *Node) get(name string) *Node {
	if n == nil || n.kind != kindObject {
		return nil
	}
	for i := range n.fields {
		if n.fields[i].name == name {
			return n.fields[i].val
		}
	}
	return nil
}

// getString returns the string member name, or "".
func (n *Node) getString(name string) string {
	v := n.get(name)
	if v == nil || v.kind != kindString {
		return ""
	}
	return v.str
}

// ResourceType returns the "resourceType" member of an object node.
func (n *Node) ResourceType() string { return n.getString("resourceType") }

type decoder struct {
	data []byte
	pos  int
}

func (d *decoder) errorf(format string, args ...any) error {
	return fmt.Errorf("fhirpath: JSON offset %d: %s", d.pos, fmt.Sprintf(format, args...))
}

func (d *decoder) skipSpace() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

func (d *decoder) value(depth int) (*Node, error) {
	if depth > maxJSONDepth {
		return nil, d.errorf("document nested too deeply")
	}
	if d.pos >= len(d.data) {
		return nil, d.errorf("unexpected end of input")
	}
	switch c := d.data[d.pos]; {
	case c == '{':
		return d.object(depth)
	case c == '[':
		return d.array(depth)
	case c == '"':
		s, err := d.string()
		if err != nil {
			return nil, err
		}
		return &Node{kind: kindString, str: s}, nil
	case c == 't':
		return d.literal("true", &Node{kind: kindBool, b: true})
	case c == 'f':
		return d.literal("false", &Node{kind: kindBool})
	case c == 'n':
		return d.literal("null", &Node{kind: kindNull})
	case c == '-' || (c >= '0' && c <= '9'):
		return d.number()
	default:
		return nil, d.errorf("unexpected character %q", c)
	}
}

func (d *decoder) literal(word string, n *Node) (*Node, error) {
	if len(d.data)-d.pos < len(word) || string(d.data[d.pos:d.pos+len(word)]) != word {
		return nil, d.errorf("invalid literal")
	}
	d.pos += len(word)
	return n, nil
}

func (d *decoder) object(depth int) (*Node, error) {
	d.pos++ // {
	n := &Node{kind: kindObject}
	d.skipSpace()
	if d.pos < len(d.data) && d.data[d.pos] == '}' {
		d.pos++
		return n, nil
	}
	for {
		d.skipSpace()
		if d.pos >= len(d.data) || d.data[d.pos] != '"' {
			return nil, d.errorf("expected object key")
		}
		key, err := d.string()
		if err != nil {
			return nil, err
		}
		d.skipSpace()
		if d.pos >= len(d.data) || d.data[d.pos] != ':' {
			return nil, d.errorf("expected ':'")
		}
		d.pos++
		d.skipSpace()
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		n.fields = append(n.fields, field{name: key, val: v})
		d.skipSpace()
		if d.pos >= len(d.data) {
			return nil, d.errorf("unexpected end of object")
		}
		if d.data[d.pos] == ',' {
			d.pos++
			continue
		}
		if d.data[d.pos] == '}' {
			d.pos++
			return n, nil
		}
		return nil, d.errorf("expected ',' or '}'")
	}
}

func (d *decoder) array(depth int) (*Node, error) {
	d.pos++ // [
	n := &Node{kind: kindArray}
	d.skipSpace()
	if d.pos < len(d.data) && d.data[d.pos] == ']' {
		d.pos++
		return n, nil
	}
	for {
		d.skipSpace()
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		n.items = append(n.items, v)
		d.skipSpace()
		if d.pos >= len(d.data) {
			return nil, d.errorf("unexpected end of array")
		}
		if d.data[d.pos] == ',' {
			d.pos++
			continue
		}
		if d.data[d.pos] == ']' {
			d.pos++
			return n, nil
		}
		return nil, d.errorf("expected ',' or ']'")
	}
}

func (d *decoder) number() (*Node, error) {
	start := d.pos
	if d.data[d.pos] == '-' {
		d.pos++
	}
	digits := func() int {
		s := d.pos
		for d.pos < len(d.data) && d.data[d.pos] >= '0' && d.data[d.pos] <= '9' {
			d.pos++
		}
		return d.pos - s
	}
	if digits() == 0 {
		return nil, d.errorf("invalid number")
	}
	if d.pos < len(d.data) && d.data[d.pos] == '.' {
		d.pos++
		if digits() == 0 {
			return nil, d.errorf("invalid number")
		}
	}
	if d.pos < len(d.data) && (d.data[d.pos] == 'e' || d.data[d.pos] == 'E') {
		d.pos++
		if d.pos < len(d.data) && (d.data[d.pos] == '+' || d.data[d.pos] == '-') {
			d.pos++
		}
		if digits() == 0 {
			return nil, d.errorf("invalid number")
		}
	}
	return &Node{kind: kindNumber, str: string(d.data[start:d.pos])}, nil
}

func (d *decoder) string() (string, error) {
	d.pos++ // opening quote
	start := d.pos
	// Fast path: no escapes.
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		if c == '"' {
			s := string(d.data[start:d.pos])
			d.pos++
			return s, nil
		}
		if c == '\\' || c < 0x20 {
			break
		}
		d.pos++
	}
	buf := make([]byte, 0, d.pos-start+16)
	buf = append(buf, d.data[start:d.pos]...)
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		switch {
		case c == '"':
			d.pos++
			return string(buf), nil
		case c < 0x20:
			return "", d.errorf("control character in string")
		case c != '\\':
			buf = append(buf, c)
			d.pos++
			continue
		}
		d.pos++
		if d.pos >= len(d.data) {
			break
		}
		e := d.data[d.pos]
		d.pos++
		switch e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, ok := d.hex4()
			if !ok {
				return "", d.errorf("invalid \\u escape")
			}
			if utf16.IsSurrogate(r) {
				r2 := rune(utf8.RuneError)
				if d.pos+1 < len(d.data) && d.data[d.pos] == '\\' && d.data[d.pos+1] == 'u' {
					d.pos += 2
					if lo, ok := d.hex4(); ok {
						r2 = utf16.DecodeRune(r, lo)
					}
				}
				r = r2
			}
			buf = utf8.AppendRune(buf, r)
		default:
			return "", d.errorf("invalid escape \\%c", e)
		}
	}
	return "", d.errorf("unterminated string")
}

func (d *decoder) hex4() (rune, bool) {
	if d.pos+4 > len(d.data) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(d.data[d.pos:d.pos+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	d.pos += 4
	return rune(v), true
}

// Get returns the member name of an object node, or nil.
func (n *Node) Get(name string) *Node { return n.get(name) }

// Text returns the text of a string or number node.
func (n *Node) Text() (string, bool) {
	if n == nil || (n.kind != kindString && n.kind != kindNumber) {
		return "", false
	}
	return n.str, true
}

// Bool returns the value of a boolean node.
func (n *Node) Bool() (bool, bool) {
	if n == nil || n.kind != kindBool {
		return false, false
	}
	return n.b, true
}

// Items returns the items of an array node.
func (n *Node) Items() []*Node {
	if n == nil {
		return nil
	}
	return n.items
}

// IsObject reports whether n is a JSON object.
func (n *Node) IsObject() bool { return n != nil && n.kind == kindObject }

// IsNumber reports whether n is a JSON number.
func (n *Node) IsNumber() bool { return n != nil && n.kind == kindNumber }

// Fields calls fn for each member of an object node in document order.
func (n *Node) Fields(fn func(name string, value *Node)) {
	if n == nil {
		return
	}
	for _, f := range n.fields {
		fn(f.name, f.val)
	}
}
