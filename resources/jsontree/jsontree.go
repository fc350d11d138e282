// Package jsontree is an ordered, mutable JSON value tree: objects keep member
// order, numbers keep their text; used by the JSON Patch and FHIRPath Patch
// implementations.
//
// A value is one of:
//
//	nil          null
//	bool         true, false
//	json.Number  a number, kept exactly as written
//	string       a string
//	*Object      an object, members in document order
//	*Array       an array
//
// Containers are pointers so that callers can modify them in place.
package jsontree

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"unicode/utf8"
)

// Member is one name/value pair of an object.
type Member struct {
	Key string
	Val any
}

// Object is a JSON object that remembers the order of its members. Member
// names are unique.
type Object struct {
	Members []Member
}

// Index returns the position of member key in o, or -1.
func (o *Object) Index(key string) int {
	for i := range o.Members {
		if o.Members[i].Key == key {
			return i
		}
	}
	return -1
}

// Get returns the value of member key, and whether it is present.
func (o *Object) Get(key string) (any, bool) {
	if i := o.Index(key); i >= 0 {
		return o.Members[i].Val, true
	}
	return nil, false
}

// Set replaces the value of member key in place, or appends the member when
// it is absent.
func (o *Object) Set(key string, v any) {
	if i := o.Index(key); i >= 0 {
		o.Members[i].Val = v
		return
	}
	o.Members = append(o.Members, Member{Key: key, Val: v})
}

// Delete removes member key if present, keeping the order of the others.
func (o *Object) Delete(key string) {
	if i := o.Index(key); i >= 0 {
		o.Members = slices.Delete(o.Members, i, i+1)
	}
}

// Array is a JSON array.
type Array struct {
	Elems []any
}

// Encode appends the compact JSON encoding of v to dst. Numbers are written
// as they were read, strings escape only what JSON requires (no HTML
// escaping) and invalid UTF-8 becomes U+FFFD. Encode panics if v holds a
// type that is not a value of this package.
func Encode(dst []byte, v any) []byte {
	switch t := v.(type) {
	case nil:
		return append(dst, "null"...)
	case bool:
		return strconv.AppendBool(dst, t)
	case json.Number:
		return append(dst, t...)
	case string:
		return encodeString(dst, t)
	case *Array:
		dst = append(dst, '[')
		for i, e := range t.Elems {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = Encode(dst, e)
		}
		return append(dst, ']')
	case *Object:
		dst = append(dst, '{')
		for i, m := range t.Members {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = encodeString(dst, m.Key)
			dst = append(dst, ':')
			dst = Encode(dst, m.Val)
		}
		return append(dst, '}')
	}
	panic(fmt.Sprintf("jsontree: unexpected value type %T", v))
}

const hexDigits = "0123456789abcdef"

// encodeString appends s as a JSON string.
func encodeString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c < 0x20:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, "\ufffd"...)
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}

// Depth returns the number of nested containers in v: 0 for a scalar, 1 for
// an array of scalars, and so on.
func Depth(v any) int {
	d := 0
	switch t := v.(type) {
	case *Array:
		for _, e := range t.Elems {
			d = max(d, Depth(e))
		}
		return d + 1
	case *Object:
		for _, m := range t.Members {
			d = max(d, Depth(m.Val))
		}
		return d + 1
	}
	return 0
}

// Count returns the number of values in v (v itself included), giving up
// and returning a number above limit as soon as that is exceeded.
func Count(v any, limit int) int {
	n := 1
	switch t := v.(type) {
	case *Array:
		for _, e := range t.Elems {
			if n > limit {
				break
			}
			n += Count(e, limit-n)
		}
	case *Object:
		for _, m := range t.Members {
			if n > limit {
				break
			}
			n += Count(m.Val, limit-n)
		}
	}
	return n
}

// Copy returns a deep copy of v.
func Copy(v any) any {
	switch t := v.(type) {
	case *Array:
		c := &Array{Elems: make([]any, len(t.Elems))}
		for i, e := range t.Elems {
			c.Elems[i] = Copy(e)
		}
		return c
	case *Object:
		c := &Object{Members: make([]Member, len(t.Members))}
		for i, m := range t.Members {
			c.Members[i] = Member{Key: m.Key, Val: Copy(m.Val)}
		}
		return c
	}
	return v
}
