package r4

import (
	"slices"
	"strconv"
	"strings"
)

// Element is one element of a core resource or datatype.
type Element struct {
	// Path is the element's path, e.g. "Patient.name.given"; a choice
	// element's name ends in [x] ("Observation.value[x]").
	Path string
	// Types are the FHIR type codes ("HumanName", "string", "Reference"), all
	// of them for a choice element. The value of a primitive type has a
	// FHIRPath system type ("System.String"). Empty for an element defined
	// by ContentRef.
	Types []string
	// Targets are the resource types a Reference or canonical may point to,
	// when the definition restricts them; for a choice element, those of
	// all its types.
	Targets []string
	Min     int
	// Max is the maximum cardinality: "0", "1" or "*".
	Max string
	// Choice marks a choice element (its name ends in [x]).
	Choice bool
	// ContentRef is the element whose definition this one reuses, e.g.
	// "#Questionnaire.item" for Questionnaire.item.item.
	ContentRef string
	// Summary marks an element of the summary view (isSummary in the
	// definition): what _summary=true returns.
	Summary bool
}

// Repeats reports whether the element may occur more than once.
func (e Element) Repeats() bool { return e.Max != "0" && e.Max != "1" }

// typeDef is one core type.
type typeDef struct {
	name, kind, base string
	abstract         bool
	elems            []Element      // own elements, Path relative to the type
	index            map[string]int // relative path → elems index
	children         map[string][]int
	// choiceTargets holds the targets of each type of a choice element
	// (elems index → per type), for type-suffixed names.
	choiceTargets map[int][][]string
}

// node is a place in a type where child elements are looked up: the type's
// root (prefix "") or an element with inline children (a backbone element).
type node struct {
	def    *typeDef
	prefix string
	// of is the element at prefix, whose type supplies inherited children.
	of *Element
}

func (t *tables) parseTypes(data string) {
	t.types = map[string]*typeDef{}
	var cur *typeDef
	for _, l := range lines(data) {
		if rest, ok := strings.CutPrefix(l, "\t"); ok {
			if cur == nil {
				badTable("typeData", l, "element before any type")
			}
			cur.add(l, rest)
			continue
		}
		f := strings.Split(l, "\t")
		if len(f) < 2 {
			badTable("typeData", l, "short type line")
		}
		cur = &typeDef{name: f[0], kind: f[1], index: map[string]int{}, children: map[string][]int{}, choiceTargets: map[int][][]string{}}
		if len(f) > 2 {
			cur.base = f[2]
		}
		cur.abstract = len(f) > 3 && f[3] == "abstract"
		t.types[cur.name] = cur
		if cur.kind == "resource" && !cur.abstract {
			t.resourceTypes = append(t.resourceTypes, cur.name)
		}
	}
	slices.Sort(t.resourceTypes)
}

// add parses an element line "path\tmin..max\ttypes[\tΣ]" of the type.
func (d *typeDef) add(line, rest string) {
	f := strings.Split(rest, "\t")
	summary := len(f) == 4 && f[3] == "Σ"
	if len(f) != 3 && !summary {
		badTable("typeData", line, "element line needs 3 fields and an optional Σ")
	}
	lo, hi, ok := strings.Cut(f[1], "..")
	n, err := strconv.Atoi(lo)
	if !ok || err != nil {
		badTable("typeData", line, "bad cardinality")
	}
	e := Element{Path: f[0], Min: n, Max: hi, Choice: strings.HasSuffix(f[0], "[x]"), Summary: summary}
	if strings.HasPrefix(f[2], "#") {
		e.ContentRef = f[2]
	} else {
		var perType [][]string
		for _, typ := range splitTop(f[2], '|') {
			code, targets, hasTargets := strings.Cut(typ, "(")
			e.Types = append(e.Types, code)
			var own []string
			if hasTargets {
				own = strings.Split(strings.TrimSuffix(targets, ")"), "|")
				for _, tg := range own {
					if !slices.Contains(e.Targets, tg) {
						e.Targets = append(e.Targets, tg)
					}
				}
			}
			perType = append(perType, own)
		}
		if e.Choice && e.Targets != nil {
			d.choiceTargets[len(d.elems)] = perType
		}
	}
	parent, _, _ := cutLast(e.Path)
	d.index[e.Path] = len(d.elems)
	d.children[parent] = append(d.children[parent], len(d.elems))
	d.elems = append(d.elems, e)
}

// LookupElement returns the element at a path such as "Patient.birthDate" or
// "Patient.name.given". Paths walk into datatypes (HumanName.given), backbone
// elements, contentReferences (Questionnaire.item.item) and base types
// (Patient.id, Patient.contact.extension). A choice element is found by its
// FHIRPath name ("Observation.value") or with [x]; a type-suffixed name
// ("Observation.valueQuantity") gives the element with that one type and its
// targets, Choice false. Below a choice element with several types, the first type with the
// child wins.
func LookupElement(path string) (Element, bool) {
	t := load()
	e, _, ok := t.walk(path)
	return e, ok
}

// Children returns the child elements of a type ("HumanName") or of the
// element at a path ("Patient.contact"), inherited ones first as in a
// snapshot, with paths under the argument.
func Children(typeOrPath string) []Element {
	t := load()
	var at []node
	if d := t.types[typeOrPath]; d != nil {
		at = []node{{def: d}}
	} else {
		var ok bool
		if _, at, ok = t.walk(typeOrPath); !ok {
			return nil
		}
	}
	if len(at) == 0 {
		return nil
	}
	kids := t.children(at[0])
	for i := range kids {
		_, name, _ := cutLast(kids[i].Path)
		kids[i].Path = typeOrPath + "." + name
	}
	return kids
}

// walk resolves path and returns its element and the nodes below it.
func (t *tables) walk(path string) (Element, []node, bool) {
	root, rest, ok := strings.Cut(path, ".")
	d := t.types[root]
	if !ok || d == nil {
		return Element{}, nil, false
	}
	at := []node{{def: d}}
	var e Element
	for seg := range strings.SplitSeq(rest, ".") {
		if len(at) == 0 {
			return Element{}, nil, false
		}
		var home node
		found := false
		for _, n := range at {
			if e, home, found = t.child(n, seg); found {
				break
			}
		}
		if !found {
			return Element{}, nil, false
		}
		at = t.below(home, e)
	}
	e.Path = path
	if e.Choice && !strings.HasSuffix(path, "[x]") {
		e.Path += "[x]"
	}
	return e, at, true
}

// child finds the child named seg of n, returning it with the node of the
// type that defines it.
func (t *tables) child(n node, seg string) (Element, node, bool) {
	for {
		rel := join(n.prefix, seg)
		if i, ok := n.def.index[rel]; ok {
			return n.def.elems[i], n, true
		}
		if i, ok := n.def.index[rel+"[x]"]; ok {
			return n.def.elems[i], n, true
		}
		if e, ok := n.def.typedChoice(n.prefix, seg); ok {
			return e, n, true
		}
		// Not defined here: inherited through the base type (at a type's
		// root) or through the backbone element's own type.
		var next string
		if n.prefix == "" {
			next = n.def.base
		} else if n.of != nil && len(n.of.Types) == 1 {
			next = n.of.Types[0]
		}
		d := t.types[next]
		if d == nil {
			return Element{}, node{}, false
		}
		n = node{def: d}
	}
}

// typedChoice finds a choice element by a type-suffixed name such as
// "valueQuantity", returning it restricted to that type.
func (d *typeDef) typedChoice(prefix, seg string) (Element, bool) {
	for k := 1; k < len(seg); k++ {
		c := seg[k]
		if c < 'A' || c > 'Z' {
			continue
		}
		i, ok := d.index[join(prefix, seg[:k]+"[x]")]
		if !ok {
			continue
		}
		e := d.elems[i]
		for j, typ := range e.Types {
			if upperFirst(typ) == seg[k:] {
				e.Types = []string{typ}
				e.Targets = nil
				if tt, ok := d.choiceTargets[i]; ok {
					e.Targets = tt[j]
				}
				e.Choice = false
				return e, true
			}
		}
	}
	return Element{}, false
}

// below returns the nodes under element e, found at home: its inline
// children, the target of its contentReference, or the root of each of its
// types.
func (t *tables) below(home node, e Element) []node {
	if ref, ok := strings.CutPrefix(e.ContentRef, "#"); ok {
		root, rest, _ := strings.Cut(ref, ".")
		d := t.types[root]
		if d == nil {
			return nil
		}
		i, ok := d.index[rest]
		if !ok {
			return nil
		}
		return []node{{def: d, prefix: rest, of: &d.elems[i]}}
	}
	rel := join(home.prefix, lastSeg(e.Path))
	if len(home.def.children[rel]) > 0 {
		i := home.def.index[rel]
		return []node{{def: home.def, prefix: rel, of: &home.def.elems[i]}}
	}
	var at []node
	for _, typ := range e.Types {
		if d := t.types[typ]; d != nil {
			at = append(at, node{def: d})
		}
	}
	return at
}

// children lists the direct children of n, inherited ones first; an own
// element replaces an inherited one of the same name.
func (t *tables) children(n node) []Element {
	var inherited []Element
	if n.prefix == "" {
		if d := t.types[n.def.base]; d != nil {
			inherited = t.children(node{def: d})
		}
	} else if n.of != nil && len(n.of.Types) == 1 {
		if d := t.types[n.of.Types[0]]; d != nil {
			inherited = t.children(node{def: d})
		}
	}
	out := slices.Clone(inherited)
	for _, i := range n.def.children[n.prefix] {
		e := n.def.elems[i]
		name := lastSeg(e.Path)
		j := slices.IndexFunc(out, func(o Element) bool { return lastSeg(o.Path) == name })
		if j >= 0 {
			out[j] = e
		} else {
			out = append(out, e)
		}
	}
	return out
}

// IsResourceType reports whether name is a concrete resource type
// ("Patient"; not the abstract "Resource" or "DomainResource").
func IsResourceType(name string) bool {
	d := load().types[name]
	return d != nil && d.kind == "resource" && !d.abstract
}

// IsType reports whether name is a core resource or datatype, abstract ones
// included.
func IsType(name string) bool { return load().types[name] != nil }

// IsPrimitive reports whether name is a primitive datatype ("string", "code").
func IsPrimitive(name string) bool {
	d := load().types[name]
	return d != nil && d.kind == "primitive-type"
}

// BaseType returns the type name derives from, per its baseDefinition:
// "Patient" → "DomainResource", "Age" → "Quantity", "code" → "string". It
// returns "" for the roots Resource and Element and for unknown names.
func BaseType(name string) string {
	if d := load().types[name]; d != nil {
		return d.base
	}
	return ""
}

// IsA reports whether typ is ancestor or derives from it: IsA("Age",
// "Quantity"), IsA("Patient", "DomainResource").
func IsA(typ, ancestor string) bool {
	t := load()
	for d := t.types[typ]; d != nil; d = t.types[d.base] {
		if d.name == ancestor {
			return true
		}
	}
	return false
}

// ResourceTypes returns the concrete resource types, sorted.
func ResourceTypes() []string { return slices.Clone(load().resourceTypes) }

// join appends seg to a relative path.
func join(prefix, seg string) string {
	if prefix == "" {
		return seg
	}
	return prefix + "." + seg
}

// cutLast splits a dotted path at its last dot.
func cutLast(p string) (parent, last string, ok bool) {
	i := strings.LastIndexByte(p, '.')
	if i < 0 {
		return "", p, false
	}
	return p[:i], p[i+1:], true
}

// lastSeg returns the last segment of a dotted path.
func lastSeg(p string) string {
	_, last, _ := cutLast(p)
	return last
}

// upperFirst upper-cases the first letter of a type code, as in JSON
// choice names (dateTime → DateTime).
func upperFirst(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// splitTop splits s at sep outside parentheses, brackets and quotes.
func splitTop(s string, sep byte) []string {
	var out []string
	depth, start := 0, 0
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"' || c == '`':
			quote = c
		case c == '(' || c == '[':
			depth++
		case c == ')' || c == ']':
			depth--
		case c == sep && depth == 0:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}
