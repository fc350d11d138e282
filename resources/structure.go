package resources

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// frame is one open object or array while scanning a JSON document.
type frame struct {
	object    bool
	expectKey bool
	key       string // current member name (objects)
	index     int    // current element index (arrays)
	keys      []string
	keySet    map[string]bool
	empty     bool // nothing seen inside yet
}

// checkStructure enforces, in one pass over valid compact JSON, what the
// R4 JSON format requires beyond JSON syntax and what jsonformat lets through:
// nesting of at most MaxDepth levels, no duplicate member names at any level,
// and no empty strings, objects or arrays (FHIR elements must have a value or
// children: ele-1 and the string pattern). Problems carry their location.
func checkStructure(data []byte) error {
	var stack []*frame
	var issues []Issue
	add := func(msg string, at []*frame) {
		if len(issues) < 20 {
			issues = append(issues, Issue{Severity: "error", Code: "structure", Diagnostics: msg, Expression: []string{location(at)}})
		}
	}
	for i := 0; i < len(data); i++ {
		c := data[i]
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch c {
		case '{', '[':
			if top != nil {
				top.empty = false
			}
			if len(stack) >= MaxDepth {
				return Invalid("structure", location(stack), fmt.Sprintf("JSON nested deeper than %d levels", MaxDepth))
			}
			stack = append(stack, &frame{object: c == '{', expectKey: c == '{', empty: true})
		case '}', ']':
			if top.empty && len(stack) > 1 {
				if top.object {
					add("empty object: an element must have a value or children", stack[:len(stack)-1])
				} else {
					add("empty array: leave the element out instead", stack[:len(stack)-1])
				}
			}
			stack = stack[:len(stack)-1]
		case ',':
			if top.object {
				top.expectKey = true
			} else {
				top.index++
			}
		case ':':
			top.expectKey = false
		case '"':
			end := stringEnd(data, i)
			raw := data[i : end+1]
			if top != nil {
				top.empty = false
			}
			if top != nil && top.object && top.expectKey {
				key := string(raw[1 : len(raw)-1])
				if strings.IndexByte(key, '\\') >= 0 {
					_ = json.Unmarshal(raw, &key)
				}
				if top.has(key) {
					top.key = key
					add(fmt.Sprintf("duplicate property %q", key), stack)
				}
				top.key = key
			} else if len(raw) == 2 {
				add("empty string: a FHIR string must contain at least one character", stack)
			}
			i = end
		default:
			if top != nil && c != ' ' {
				top.empty = false
			}
		}
	}
	if len(issues) > 0 {
		return &InvalidError{Issues: issues}
	}
	return nil
}

// has records key in the frame and reports whether it was already there.
func (f *frame) has(key string) bool {
	if f.keySet != nil {
		if f.keySet[key] {
			return true
		}
		f.keySet[key] = true
		return false
	}
	for _, k := range f.keys {
		if k == key {
			return true
		}
	}
	f.keys = append(f.keys, key)
	if len(f.keys) > 16 {
		f.keySet = map[string]bool{}
		for _, k := range f.keys {
			f.keySet[k] = true
		}
	}
	return false
}

// stringEnd returns the index of the closing quote of the string at start.
func stringEnd(data []byte, start int) int {
	for j := start + 1; j < len(data); j++ {
		switch data[j] {
		case '\\':
			j++
		case '"':
			return j
		}
	}
	return len(data) - 1
}

// location renders the open frames as a FHIRPath-like location.
func location(stack []*frame) string {
	var b strings.Builder
	for n, f := range stack {
		if f.object {
			if f.key == "" {
				continue
			}
			if n > 0 {
				b.WriteByte('.')
			}
			b.WriteString(f.key)
		} else {
			b.WriteString("[" + strconv.Itoa(f.index) + "]")
		}
	}
	return b.String()
}
