package fhirpatch

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
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

// get returns the value of member key, and whether it is present.
func (o *object) get(key string) (any, bool) {
	if i := o.index(key); i >= 0 {
		return o.members[i].val, true
	}
	return nil, false
}

// set replaces member key, or appends it when absent.
func (o *object) set(key string, v any) {
	if i := o.index(key); i >= 0 {
		o.members[i].val = v
		return
	}
	o.members = append(o.members, member{key, v})
}

// remove deletes member key if present.
func (o *object) remove(key string) {
	if i := o.index(key); i >= 0 {
		o.members = append(o.members[:i], o.members[i+1:]...)
	}
}

// array is a JSON array.
type array struct {
	elems []any
}

// maxDepth bounds the nesting of arrays and objects in the resource, in the
// patch, and in the values a patch builds.
const maxDepth = 200

// decode parses data as exactly one JSON value. Duplicate member names are
// rejected: they make the meaning of a FHIR resource ambiguous.
func decode(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, syntaxError(err)
	}
	v, err := decodeValue(dec, tok, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("unexpected data after the JSON value")
	}
	return v, nil
}

func syntaxError(err error) error {
	if err == io.EOF {
		return errors.New("unexpected end of JSON input")
	}
	return fmt.Errorf("invalid JSON: %v", err)
}

func decodeValue(dec *json.Decoder, tok json.Token, depth int) (any, error) {
	d, ok := tok.(json.Delim)
	if !ok {
		if s, ok := tok.(string); ok && !utf8.ValidString(s) {
			return nil, errors.New("invalid UTF-8 in string")
		}
		return tok, nil // nil, bool, json.Number or string
	}
	if depth >= maxDepth {
		return nil, fmt.Errorf("JSON nested deeper than %d levels", maxDepth)
	}
	switch d {
	case '{':
		o := &object{}
		for {
			tok, err := dec.Token()
			if err != nil {
				return nil, syntaxError(err)
			}
			if tok == json.Delim('}') {
				return o, nil
			}
			key := tok.(string) // the decoder only yields strings as keys
			if o.index(key) >= 0 {
				return nil, fmt.Errorf("duplicate member %q", key)
			}
			if tok, err = dec.Token(); err != nil {
				return nil, syntaxError(err)
			}
			v, err := decodeValue(dec, tok, depth+1)
			if err != nil {
				return nil, err
			}
			o.members = append(o.members, member{key, v})
		}
	default: // '['
		a := &array{}
		for {
			tok, err := dec.Token()
			if err != nil {
				return nil, syntaxError(err)
			}
			if tok == json.Delim(']') {
				return a, nil
			}
			v, err := decodeValue(dec, tok, depth+1)
			if err != nil {
				return nil, err
			}
			a.elems = append(a.elems, v)
		}
	}
}

// encode appends the compact JSON text of v to b.
func encode(b []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...)
	case bool:
		return strconv.AppendBool(b, v)
	case json.Number:
		return append(b, v...)
	case string:
		return appendString(b, v)
	case *object:
		b = append(b, '{')
		for i, m := range v.members {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, m.key)
			b = append(b, ':')
			b = encode(b, m.val)
		}
		return append(b, '}')
	case *array:
		b = append(b, '[')
		for i, e := range v.elems {
			if i > 0 {
				b = append(b, ',')
			}
			b = encode(b, e)
		}
		return append(b, ']')
	}
	panic(fmt.Sprintf("fhirpatch: unexpected JSON value %T", v))
}

// appendString appends s as a JSON string, escaping only what JSON requires.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
