package jsonpatch

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/meizhou-yiyang/yiyang/resources/jsontree"
)

// A reason explains why a pointer cannot be used; it completes the sentence
// `path "/a/b" ...`. The empty reason means success.
type reason = string

// parsePointer splits an RFC 6901 JSON pointer into its unescaped reference
// tokens. The empty pointer refers to the whole document.
func parsePointer(ptr string) ([]string, reason) {
	if ptr == "" {
		return nil, ""
	}
	if ptr[0] != '/' {
		return nil, `is not a valid JSON pointer: it must be empty or start with "/"`
	}
	toks := strings.Split(ptr[1:], "/")
	for i, tok := range toks {
		if !strings.Contains(tok, "~") {
			continue
		}
		var b strings.Builder
		for j := 0; j < len(tok); j++ {
			if tok[j] != '~' {
				b.WriteByte(tok[j])
				continue
			}
			if j+1 == len(tok) || (tok[j+1] != '0' && tok[j+1] != '1') {
				return nil, `is not a valid JSON pointer: "~" must be followed by "0" or "1"`
			}
			if tok[j+1] == '0' {
				b.WriteByte('~')
			} else {
				b.WriteByte('/')
			}
			j++
		}
		toks[i] = b.String()
	}
	return toks, ""
}

// isProperPrefix reports whether the pointer made of p is a proper prefix of
// the one made of q, i.e. q names a location inside the value p names.
func isProperPrefix(p, q []string) bool {
	if len(p) >= len(q) {
		return false
	}
	for i := range p {
		if p[i] != q[i] {
			return false
		}
	}
	return true
}

// arrayIndex interprets tok as an index into an array of length n. With
// forAdd, n itself (spelled as a number or as "-") is accepted as the
// position after the last element.
func arrayIndex(tok string, n int, forAdd bool) (int, reason) {
	if tok == "-" {
		if forAdd {
			return n, ""
		}
		return 0, `does not exist: "-" refers to the nonexistent element after the last`
	}
	if tok == "" {
		return 0, `is invalid: "" is not an array index`
	}
	for i := 0; i < len(tok); i++ {
		if tok[i] < '0' || tok[i] > '9' {
			return 0, fmt.Sprintf("is invalid: %q is not an array index", tok)
		}
	}
	if len(tok) > 1 && tok[0] == '0' {
		return 0, fmt.Sprintf("is invalid: array index %q has leading zeros", tok)
	}
	i, err := strconv.Atoi(tok)
	limit := n - 1
	if forAdd {
		limit = n
	}
	if err != nil || i > limit {
		return 0, fmt.Sprintf("does not exist: index %s is out of range for an array of length %d", tok, n)
	}
	return i, ""
}

// lookup returns the value that toks refers to within root.
func lookup(root any, toks []string) (any, reason) {
	cur := root
	for _, tok := range toks {
		switch c := cur.(type) {
		case *jsontree.Object:
			v, ok := c.Get(tok)
			if !ok {
				return nil, "does not exist"
			}
			cur = v
		case *jsontree.Array:
			i, why := arrayIndex(tok, len(c.Elems), false)
			if why != "" {
				return nil, why
			}
			cur = c.Elems[i]
		default:
			return nil, fmt.Sprintf("does not exist: cannot descend into a %s", kind(cur))
		}
	}
	return cur, ""
}

// container returns the object or array that holds the location toks refers
// to; toks must not be empty.
func container(root any, toks []string) (any, reason) {
	parent, why := lookup(root, toks[:len(toks)-1])
	if why != "" {
		return nil, why
	}
	switch parent.(type) {
	case *jsontree.Object, *jsontree.Array:
		return parent, ""
	}
	return nil, fmt.Sprintf("does not exist: cannot descend into a %s", kind(parent))
}
