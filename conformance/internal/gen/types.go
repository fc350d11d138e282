package main

import (
	"fmt"
	"strings"
)

// structureDefinition is the part of a StructureDefinition the tables use.
type structureDefinition struct {
	ID             string `json:"id"`
	URL            string `json:"url"`
	Name           string `json:"name"`
	Kind           string `json:"kind"`
	Abstract       bool   `json:"abstract"`
	Type           string `json:"type"`
	BaseDefinition string `json:"baseDefinition"`
	Derivation     string `json:"derivation"`
	Snapshot       struct {
		Element []elementDefinition `json:"element"`
	} `json:"snapshot"`
}

type elementDefinition struct {
	Path             string `json:"path"`
	Min              int    `json:"min"`
	Max              string `json:"max"`
	IsSummary        bool   `json:"isSummary"`
	ContentReference string `json:"contentReference"`
	Base             struct {
		Path string `json:"path"`
	} `json:"base"`
	Type []elementType `json:"type"`
}

type elementType struct {
	Code      string `json:"code"`
	Extension []struct {
		URL      string `json:"url"`
		ValueURL string `json:"valueUrl"`
	} `json:"extension"`
	TargetProfile []string `json:"targetProfile"`
}

// coreType is one core resource or datatype with its encoded elements.
type coreType struct {
	sd   *structureDefinition
	base string
	// lines maps a relative element path to its encoded "card\ttypes".
	lines map[string]string
	// order lists the relative paths in snapshot order.
	order []string
	// emitted are the relative paths written to the table: all but
	// inherited elements that resolve identically through a base type.
	emitted map[string]bool
	done    bool
}

// typeTable reads the core StructureDefinitions and renders typeData.
func typeTable(dir string) (string, error) {
	sds, err := readAll[structureDefinition](dir, "StructureDefinition-")
	if err != nil {
		return "", err
	}
	types := map[string]*coreType{}
	for i := range sds {
		sd := &sds[i]
		switch sd.Kind {
		case "resource", "complex-type", "primitive-type":
		default:
			continue
		}
		if sd.Derivation == "constraint" || sd.URL != sdPrefix+sd.Type {
			continue // profiles, extensions
		}
		if sd.Derivation != "specialization" && sd.BaseDefinition != "" {
			return "", fmt.Errorf("StructureDefinition %s: derivation %q", sd.ID, sd.Derivation)
		}
		if _, dup := types[sd.Type]; dup {
			return "", fmt.Errorf("type %s defined twice", sd.Type)
		}
		ct := &coreType{sd: sd, base: short(sd.BaseDefinition, sdPrefix), lines: map[string]string{}, emitted: map[string]bool{}}
		if strings.Contains(ct.base, "/") {
			return "", fmt.Errorf("type %s: base %s is not a core type", sd.Type, sd.BaseDefinition)
		}
		for _, e := range sd.Snapshot.Element {
			if e.Path == sd.Type {
				continue
			}
			rel, ok := strings.CutPrefix(e.Path, sd.Type+".")
			if !ok {
				return "", fmt.Errorf("type %s: element %s outside the type", sd.Type, e.Path)
			}
			enc, err := encodeElement(sd.Type, e)
			if err != nil {
				return "", err
			}
			if _, dup := ct.lines[rel]; dup {
				return "", fmt.Errorf("type %s: element %s twice", sd.Type, e.Path)
			}
			ct.lines[rel] = enc
			ct.order = append(ct.order, rel)
		}
		types[sd.Type] = ct
	}
	for _, ct := range types {
		if ct.base != "" && types[ct.base] == nil {
			return "", fmt.Errorf("type %s: unknown base %s", ct.sd.Type, ct.base)
		}
	}
	var lines []string
	for _, name := range sortedKeys(types) {
		ct := types[name]
		ct.prune(types)
		abstract := ""
		if ct.sd.Abstract {
			abstract = "abstract"
		}
		h, err := fields(name, ct.sd.Kind, ct.base, abstract)
		if err != nil {
			return "", err
		}
		lines = append(lines, h)
		for _, rel := range ct.order {
			if ct.emitted[rel] {
				lines = append(lines, "\t"+rel+"\t"+ct.lines[rel])
			}
		}
	}
	doc := `// typeData lists the core resources and datatypes of the R4 package, sorted
// by name. A type's line holds its name, kind, base type and "abstract" when
// it is abstract; its element lines follow, indented by a tab, in snapshot
// order: path relative to the type, cardinality, and the types
// ("Reference(Group|Patient)", "boolean|dateTime" for a choice) or the
// contentReference ("#Questionnaire.item"), then "Σ" when the element is
// marked isSummary (returned by _summary=true). Elements inherited unchanged from
// a base type (Patient.id, Patient.contact.extension, Age.value) are left out:
// they resolve through the base type. The value of a primitive type has a
// FHIRPath system type ("System.String").
`
	return rawConst(doc, "typeData", lines)
}

// summaryMark is the last field of an element marked isSummary.
const summaryMark = "Σ"

// encodeElement renders an element's cardinality and types as "card\ttypes",
// followed by "\tΣ" when the element is marked isSummary.
func encodeElement(typeName string, e elementDefinition) (string, error) {
	enc, err := encodeTypes(e)
	if err != nil || !e.IsSummary {
		return enc, err
	}
	return enc + "\t" + summaryMark, nil
}

// encodeTypes renders an element's cardinality and types as "card\ttypes".
func encodeTypes(e elementDefinition) (string, error) {
	card := fmt.Sprintf("%d..%s", e.Min, e.Max)
	if e.ContentReference != "" {
		if len(e.Type) != 0 {
			return "", fmt.Errorf("element %s has both types and a contentReference", e.Path)
		}
		if !strings.HasPrefix(e.ContentReference, "#") {
			return "", fmt.Errorf("element %s: contentReference %s is not local", e.Path, e.ContentReference)
		}
		return fields(card, e.ContentReference)
	}
	if len(e.Type) == 0 {
		return "", fmt.Errorf("element %s has no type", e.Path)
	}
	var codes []string
	for _, t := range e.Type {
		code := t.Code
		if rest, ok := strings.CutPrefix(code, fhirpathPrefix); ok {
			code = rest // System.String, ...
			// Element.id, Extension.url and the like name their FHIR type
			// in an extension; primitive values keep the system type.
			if !strings.HasSuffix(e.Path, ".value") {
				for _, x := range t.Extension {
					if x.URL == fhirTypeExt && x.ValueURL != "" {
						code = x.ValueURL
					}
				}
			}
		}
		if strings.ContainsAny(code, "|(),/:") {
			return "", fmt.Errorf("element %s: unexpected type code %s", e.Path, t.Code)
		}
		if len(t.TargetProfile) > 0 {
			var targets []string
			for _, p := range t.TargetProfile {
				targets = append(targets, short(p, sdPrefix))
			}
			ts, err := list(targets)
			if err != nil {
				return "", fmt.Errorf("element %s: %w", e.Path, err)
			}
			code += "(" + strings.ReplaceAll(ts, ",", "|") + ")"
		}
		codes = append(codes, code)
	}
	if len(codes) > 1 && !strings.HasSuffix(e.Path, "[x]") {
		return "", fmt.Errorf("element %s has several types but is no choice", e.Path)
	}
	return fields(card, strings.Join(codes, "|"))
}

// prune decides which of the type's elements are written: an element
// inherited from another type (its base path names a different type) is left
// out when the reader resolves the same cardinality and types through the
// base chain (direct children) or through the parent node's type (children of
// backbone elements).
func (ct *coreType) prune(types map[string]*coreType) {
	if ct.done {
		return
	}
	ct.done = true
	name := ct.sd.Type
	for _, e := range ct.sd.Snapshot.Element {
		if e.Path == name {
			continue
		}
		rel := strings.TrimPrefix(e.Path, name+".")
		ct.emitted[rel] = true
		baseRoot, _, _ := strings.Cut(e.Base.Path, ".")
		if baseRoot == name || e.Base.Path == "" {
			continue
		}
		var via *coreType // where the reader looks next
		seg := rel
		if parent, last, nested := cutLast(rel); nested {
			enc := ct.lines[parent]
			_, typ, _ := strings.Cut(enc, "\t")
			typ, _, _ = strings.Cut(typ, "\t") // drop the summary mark
			if strings.ContainsAny(typ, "|(#") {
				continue
			}
			via = types[typ]
			seg = last
		} else if ct.base != "" {
			via = types[ct.base]
		}
		if via == nil {
			continue
		}
		if got, ok := via.resolve(seg, types); ok && got == ct.lines[rel] {
			ct.emitted[rel] = false
		}
	}
}

// resolve finds the encoded direct child seg of the type as the reader does:
// the type's own written elements, then its base chain.
func (ct *coreType) resolve(seg string, types map[string]*coreType) (string, bool) {
	for t := ct; t != nil; t = types[t.base] {
		t.prune(types)
		if t.emitted[seg] {
			return t.lines[seg], true
		}
		if t.base == "" {
			break
		}
	}
	return "", false
}

// cutLast splits a dotted path at its last dot.
func cutLast(p string) (parent, last string, ok bool) {
	i := strings.LastIndexByte(p, '.')
	if i < 0 {
		return "", p, false
	}
	return p[:i], p[i+1:], true
}
