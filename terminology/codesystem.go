package terminology

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Concept is one code of a code system, as an expansion or a lookup returns it.
type Concept struct {
	System  string `json:"system"`
	Version string `json:"version,omitempty"`
	Code    string `json:"code"`
	Display string `json:"display,omitempty"`
}

// codeSystem is a parsed CodeSystem: its concepts in document order and
// their hierarchy, from nested concepts and the parent and child properties.
type codeSystem struct {
	url, version, content, name string
	concepts                    []*concept
	byCode                      map[string]*concept
}

// concept is a node of a code system's hierarchy. A concept may have several
// parents (the v3 code systems list extra ones in child properties).
type concept struct {
	code, display string
	// props holds the concept's property values as strings, by property code.
	props             map[string][]string
	parents, children []*concept
}

// codeSystemJSON is the part of a CodeSystem resource used here.
type codeSystemJSON struct {
	ResourceType string        `json:"resourceType"`
	URL          string        `json:"url"`
	Version      string        `json:"version"`
	Name         string        `json:"name"`
	Content      string        `json:"content"`
	Concept      []conceptJSON `json:"concept"`
}

type conceptJSON struct {
	Code     string         `json:"code"`
	Display  string         `json:"display"`
	Property []propertyJSON `json:"property"`
	Concept  []conceptJSON  `json:"concept"`
}

// propertyJSON holds a concept property; exactly one value[x] is set.
type propertyJSON struct {
	Code          string                 `json:"code"`
	ValueCode     *string                `json:"valueCode"`
	ValueString   *string                `json:"valueString"`
	ValueBoolean  *bool                  `json:"valueBoolean"`
	ValueInteger  *int64                 `json:"valueInteger"`
	ValueDecimal  json.Number            `json:"valueDecimal"`
	ValueDateTime *string                `json:"valueDateTime"`
	ValueCoding   *struct{ Code string } `json:"valueCoding"`
}

func (p propertyJSON) value() (string, bool) {
	switch {
	case p.ValueCode != nil:
		return *p.ValueCode, true
	case p.ValueString != nil:
		return *p.ValueString, true
	case p.ValueBoolean != nil:
		return strconv.FormatBool(*p.ValueBoolean), true
	case p.ValueInteger != nil:
		return strconv.FormatInt(*p.ValueInteger, 10), true
	case p.ValueDecimal != "":
		return p.ValueDecimal.String(), true
	case p.ValueDateTime != nil:
		return *p.ValueDateTime, true
	case p.ValueCoding != nil:
		return p.ValueCoding.Code, true
	}
	return "", false
}

// maxConcepts bounds the concepts of one code system this package reads.
const maxConcepts = 1_000_000

// parseCodeSystem reads a CodeSystem resource and links its hierarchy.
func parseCodeSystem(data []byte) (*codeSystem, error) {
	var j codeSystemJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return nil, fmt.Errorf("the CodeSystem cannot be read: %v", err)
	}
	if j.ResourceType != "CodeSystem" {
		return nil, fmt.Errorf("a %s is not a CodeSystem", j.ResourceType)
	}
	cs := &codeSystem{url: j.URL, version: j.Version, content: j.Content, name: j.Name, byCode: map[string]*concept{}}
	var links [][2]string // parent code, child code from properties
	var walk func(list []conceptJSON, parent *concept, depth int) error
	walk = func(list []conceptJSON, parent *concept, depth int) error {
		if depth > 1000 {
			return fmt.Errorf("CodeSystem %s nests concepts more than 1000 levels deep", j.URL)
		}
		for _, cj := range list {
			c := cs.byCode[cj.Code]
			if c == nil {
				if len(cs.concepts) == maxConcepts {
					return fmt.Errorf("CodeSystem %s has more than %d concepts", j.URL, maxConcepts)
				}
				c = &concept{code: cj.Code, display: cj.Display}
				cs.byCode[cj.Code] = c
				cs.concepts = append(cs.concepts, c)
			}
			for _, p := range cj.Property {
				v, ok := p.value()
				if !ok {
					continue
				}
				if c.props == nil {
					c.props = map[string][]string{}
				}
				c.props[p.Code] = append(c.props[p.Code], v)
				switch p.Code {
				case "parent":
					links = append(links, [2]string{v, c.code})
				case "child":
					links = append(links, [2]string{c.code, v})
				}
			}
			if parent != nil {
				link(parent, c)
			}
			if err := walk(cj.Concept, c, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(j.Concept, nil, 0); err != nil {
		return nil, err
	}
	for _, l := range links {
		p, c := cs.byCode[l[0]], cs.byCode[l[1]]
		if p != nil && c != nil && p != c {
			link(p, c)
		}
	}
	return cs, nil
}

// link records parent → child once.
func link(parent, child *concept) {
	for _, c := range parent.children {
		if c == child {
			return
		}
	}
	parent.children = append(parent.children, child)
	child.parents = append(child.parents, parent)
}

// closure returns c and every concept reachable through next (children for
// descendants, parents for ancestors), each once, in breadth-first order;
// cycles in a malformed hierarchy end there. More than limit concepts is
// errTooMany.
func closure(c *concept, next func(*concept) []*concept, limit int) ([]*concept, error) {
	seen := map[*concept]bool{c: true}
	out := []*concept{c}
	for i := 0; i < len(out); i++ {
		for _, n := range next(out[i]) {
			if seen[n] {
				continue
			}
			if len(out) == limit {
				return nil, errTooMany
			}
			seen[n] = true
			out = append(out, n)
		}
	}
	return out, nil
}

func children(c *concept) []*concept { return c.children }
func parents(c *concept) []*concept  { return c.parents }

// filter is one ValueSet compose filter.
type filter struct {
	Property string `json:"property"`
	Op       string `json:"op"`
	Value    string `json:"value"`
}

// apply returns the concepts of cs that pass f, in document order.
func (cs *codeSystem) apply(f filter, limit int) ([]*concept, error) {
	switch f.Op {
	case "is-a", "descendent-of", "is-not-a", "generalizes":
		if f.Property != "concept" && f.Property != "code" {
			return nil, fmt.Errorf("filter %s %s is only defined on the property concept", f.Property, f.Op)
		}
		root := cs.byCode[f.Value]
		if root == nil {
			if f.Op == "is-not-a" {
				return cs.concepts, nil
			}
			return nil, nil
		}
		next := children
		if f.Op == "generalizes" {
			next = parents
		}
		// is-not-a keeps everything else, so the closure itself may exceed limit.
		lim := limit + 1
		if f.Op == "is-not-a" {
			lim = len(cs.concepts) + 1
		}
		set, err := closure(root, next, lim)
		if err != nil {
			return nil, err
		}
		switch f.Op {
		case "descendent-of":
			return set[1:], nil
		case "is-not-a":
			in := map[*concept]bool{}
			for _, c := range set {
				in[c] = true
			}
			return cs.keep(func(c *concept) bool { return !in[c] }), nil
		}
		return set, nil
	case "=", "in", "not-in", "regex", "exists":
	default:
		return nil, fmt.Errorf("filter operator %q is not supported", f.Op)
	}
	var match func(string) bool
	switch f.Op {
	case "=":
		match = func(v string) bool { return v == f.Value }
	case "in", "not-in":
		want := map[string]bool{}
		for _, v := range strings.Split(f.Value, ",") {
			want[strings.TrimSpace(v)] = true
		}
		match = func(v string) bool { return want[v] }
	case "regex":
		if len(f.Value) > 1000 {
			return nil, fmt.Errorf("the regex filter is longer than 1000 characters")
		}
		re, err := regexp.Compile("^(?:" + f.Value + ")$")
		if err != nil {
			return nil, fmt.Errorf("the regex filter %q is not a valid expression: %v", f.Value, err)
		}
		match = re.MatchString
	case "exists":
		if f.Value != "true" && f.Value != "false" {
			return nil, fmt.Errorf("the exists filter takes true or false, not %q", f.Value)
		}
		want := f.Value == "true"
		return cs.keep(func(c *concept) bool { return (len(cs.values(c, f.Property)) > 0) == want }), nil
	}
	negate := f.Op == "not-in"
	return cs.keep(func(c *concept) bool {
		for _, v := range cs.values(c, f.Property) {
			if match(v) {
				return !negate
			}
		}
		return negate
	}), nil
}

// values are a concept's values of a filter property: its code for code and
// concept, its display, the codes of its parents or children, or its
// property values.
func (cs *codeSystem) values(c *concept, property string) []string {
	switch property {
	case "code", "concept":
		return []string{c.code}
	case "display":
		return []string{c.display}
	case "parent":
		return codes(c.parents)
	case "child":
		return codes(c.children)
	}
	return c.props[property]
}

func codes(list []*concept) []string {
	out := make([]string, len(list))
	for i, c := range list {
		out[i] = c.code
	}
	return out
}

// keep returns the concepts that pass ok, in document order.
func (cs *codeSystem) keep(ok func(*concept) bool) []*concept {
	var out []*concept
	for _, c := range cs.concepts {
		if ok(c) {
			out = append(out, c)
		}
	}
	return out
}
