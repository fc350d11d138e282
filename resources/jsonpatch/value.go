package jsonpatch

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"
)

// A JSON value in this package is one of:
//
//	nil          null
//	bool         true, false
//	json.Number  a number, kept exactly as written
//	string       a string
//	*object      an object, members in document order
//	*array       an array
//
// Containers are pointers so that operations can modify them in place.

// member is one name/value pair of an object.
type member struct {
	key string
	val any
}

// object is a JSON object that remembers the order of its members.
type object struct {
	members []member
}

// index returns the position of key in o, or -1.
func (o *object) index(key string) int {
	for i := range o.members {
		if o.members[i].key == key {
			return i
		}
	}
	return -1
}

// array is a JSON array.
type array struct {
	elems []any
}

// maxDuplicateScan is the object size above which the parser switches from a
// linear scan to a map when checking for duplicate member names.
const maxDuplicateScan = 16

// parser builds values from a json.Decoder token stream.
type parser struct {
	dec *json.Decoder
}

func newParser(data []byte) *parser {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return &parser{dec: dec}
}

// parseDocument parses data as exactly one JSON value.
func parseDocument(data []byte) (any, error) {
	p := newParser(data)
	tok, err := p.token()
	if err != nil {
		return nil, err
	}
	v, err := p.value(tok, 0)
	if err != nil {
		return nil, err
	}
	if err := p.end(); err != nil {
		return nil, err
	}
	return v, nil
}

// token reads the next token, turning a premature end of input into an error.
func (p *parser) token() (json.Token, error) {
	tok, err := p.dec.Token()
	if err == io.EOF {
		return nil, io.ErrUnexpectedEOF
	}
	return tok, err
}

// end checks that nothing but white space follows the top-level value.
func (p *parser) end() error {
	if _, err := p.dec.Token(); err != io.EOF {
		if err == nil {
			err = errors.New("unexpected data after top-level value")
		}
		return err
	}
	return nil
}

// value converts tok, and for a container the tokens that follow it, into a
// value. depth is the number of containers enclosing the value.
func (p *parser) value(tok json.Token, depth int) (any, error) {
	switch t := tok.(type) {
	case nil, bool, string, json.Number:
		return t, nil
	case json.Delim:
		if t != '[' && t != '{' {
			return nil, fmt.Errorf("unexpected %q", rune(t))
		}
		if depth+1 > maxDepth {
			return nil, fmt.Errorf("nesting deeper than %d levels", maxDepth)
		}
		if t == '[' {
			return p.array(depth + 1)
		}
		return p.object(depth + 1)
	}
	return nil, fmt.Errorf("unexpected token %v", tok)
}

func (p *parser) array(depth int) (*array, error) {
	a := &array{}
	for p.dec.More() {
		tok, err := p.token()
		if err != nil {
			return nil, err
		}
		v, err := p.value(tok, depth)
		if err != nil {
			return nil, err
		}
		a.elems = append(a.elems, v)
	}
	return a, p.closing(']')
}

func (p *parser) object(depth int) (*object, error) {
	o := &object{}
	var seen map[string]bool
	for p.dec.More() {
		tok, err := p.token()
		if err != nil {
			return nil, err
		}
		key, ok := tok.(string)
		if !ok {
			return nil, errors.New("object member name is not a string")
		}
		if seen != nil {
			if seen[key] {
				return nil, fmt.Errorf("duplicate object member %q", key)
			}
			seen[key] = true
		} else {
			if o.index(key) >= 0 {
				return nil, fmt.Errorf("duplicate object member %q", key)
			}
			if len(o.members) >= maxDuplicateScan {
				seen = make(map[string]bool, 2*len(o.members))
				for _, m := range o.members {
					seen[m.key] = true
				}
				seen[key] = true
			}
		}
		tok, err = p.token()
		if err != nil {
			return nil, err
		}
		v, err := p.value(tok, depth)
		if err != nil {
			return nil, err
		}
		o.members = append(o.members, member{key: key, val: v})
	}
	return o, p.closing('}')
}

// closing consumes the delimiter that ends the current container.
func (p *parser) closing(want json.Delim) error {
	tok, err := p.token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("expected %q", rune(want))
	}
	return nil
}

// encode appends the compact JSON encoding of v to buf.
func encode(buf []byte, v any) []byte {
	switch t := v.(type) {
	case nil:
		return append(buf, "null"...)
	case bool:
		return strconv.AppendBool(buf, t)
	case json.Number:
		return append(buf, t...)
	case string:
		return encodeString(buf, t)
	case *array:
		buf = append(buf, '[')
		for i, e := range t.elems {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = encode(buf, e)
		}
		return append(buf, ']')
	case *object:
		buf = append(buf, '{')
		for i, m := range t.members {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = encodeString(buf, m.key)
			buf = append(buf, ':')
			buf = encode(buf, m.val)
		}
		return append(buf, '}')
	}
	panic(fmt.Sprintf("jsonpatch: unexpected value type %T", v)) // unreachable: values come from the parser
}

const hexDigits = "0123456789abcdef"

// encodeString appends s as a JSON string, escaping only what JSON requires
// (no HTML escaping) and replacing invalid UTF-8 with U+FFFD.
func encodeString(buf []byte, s string) []byte {
	buf = append(buf, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				buf = append(buf, '\\', c)
			case c == '\n':
				buf = append(buf, '\\', 'n')
			case c == '\r':
				buf = append(buf, '\\', 'r')
			case c == '\t':
				buf = append(buf, '\\', 't')
			case c < 0x20:
				buf = append(buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				buf = append(buf, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			buf = append(buf, "\ufffd"...)
		} else {
			buf = append(buf, s[i:i+size]...)
		}
		i += size
	}
	return append(buf, '"')
}

// depth returns the number of nested containers in v: 0 for a scalar, 1 for
// an array of scalars, and so on.
func depth(v any) int {
	d := 0
	switch t := v.(type) {
	case *array:
		for _, e := range t.elems {
			d = max(d, depth(e))
		}
		return d + 1
	case *object:
		for _, m := range t.members {
			d = max(d, depth(m.val))
		}
		return d + 1
	}
	return 0
}

// countNodes returns the number of values in v (v itself included), giving up
// and returning a number above limit as soon as that is exceeded.
func countNodes(v any, limit int) int {
	n := 1
	switch t := v.(type) {
	case *array:
		for _, e := range t.elems {
			if n > limit {
				break
			}
			n += countNodes(e, limit-n)
		}
	case *object:
		for _, m := range t.members {
			if n > limit {
				break
			}
			n += countNodes(m.val, limit-n)
		}
	}
	return n
}

// clone returns a deep copy of v.
func clone(v any) any {
	switch t := v.(type) {
	case *array:
		c := &array{elems: make([]any, len(t.elems))}
		for i, e := range t.elems {
			c.elems[i] = clone(e)
		}
		return c
	case *object:
		c := &object{members: make([]member, len(t.members))}
		for i, m := range t.members {
			c.members[i] = member{key: m.key, val: clone(m.val)}
		}
		return c
	}
	return v
}

// equal reports whether a and b are the same JSON value: numbers compare by
// their decimal value, objects regardless of member order, arrays in order.
func equal(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case string:
		y, ok := b.(string)
		return ok && x == y
	case json.Number:
		y, ok := b.(json.Number)
		return ok && numbersEqual(x, y)
	case *array:
		y, ok := b.(*array)
		if !ok || len(x.elems) != len(y.elems) {
			return false
		}
		for i := range x.elems {
			if !equal(x.elems[i], y.elems[i]) {
				return false
			}
		}
		return true
	case *object:
		y, ok := b.(*object)
		if !ok || len(x.members) != len(y.members) {
			return false
		}
		// Member names are unique, so equal sizes plus every member of x
		// having an equal counterpart in y means the objects are equal.
		ym := make(map[string]any, len(y.members))
		for _, m := range y.members {
			ym[m.key] = m.val
		}
		for _, m := range x.members {
			v, ok := ym[m.key]
			if !ok || !equal(m.val, v) {
				return false
			}
		}
		return true
	}
	return false
}

// decimal is a JSON number in the normalised form ±0.digits × 10^exp, where
// digits has neither leading nor trailing zeros. Zero has empty digits.
type decimal struct {
	neg    bool
	digits string
	exp    big.Int
}

// parseDecimal normalises a JSON number literal. It works on the text so that
// numbers of any size or precision compare exactly and cheaply.
func parseDecimal(s string) (decimal, bool) {
	var d decimal
	if strings.HasPrefix(s, "-") {
		d.neg = true
		s = s[1:]
	}
	mant, expText, hasExp := strings.Cut(s, "e")
	if !hasExp {
		mant, expText, hasExp = strings.Cut(s, "E")
	}
	intPart, fracPart, _ := strings.Cut(mant, ".")
	if intPart == "" || !allDigits(intPart) || !allDigits(fracPart) {
		return d, false
	}
	if hasExp {
		if _, ok := d.exp.SetString(strings.TrimPrefix(expText, "+"), 10); !ok {
			return d, false
		}
	}
	digits := intPart + fracPart
	trimmed := strings.TrimLeft(digits, "0")
	// value = 0.digits × 10^(len(intPart)+exp); each leading zero dropped
	// from digits lowers the exponent by one.
	shift := int64(len(intPart)) - int64(len(digits)-len(trimmed))
	d.exp.Add(&d.exp, big.NewInt(shift))
	d.digits = strings.TrimRight(trimmed, "0")
	if d.digits == "" {
		d.neg = false
		d.exp.SetInt64(0)
	}
	return d, true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// numbersEqual reports whether two number literals have the same value.
// Literals that do not parse (impossible for parser output) compare as text.
func numbersEqual(a, b json.Number) bool {
	if a == b {
		return true
	}
	x, okx := parseDecimal(string(a))
	y, oky := parseDecimal(string(b))
	if !okx || !oky {
		return false
	}
	return x.neg == y.neg && x.digits == y.digits && x.exp.Cmp(&y.exp) == 0
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
	case *array:
		return "array"
	case *object:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}
