package r4

import (
	"slices"
	"strconv"
	"strings"
)

// urlPrefix is left out of the table's URLs that start with it.
const urlPrefix = "http://hl7.org/fhir/SearchParameter/"

// SearchParam is one SearchParameter of the core package.
type SearchParam struct {
	// Name is the parameter's code, as used in a search URL ("code", "_id").
	Name string
	URL  string
	// Type is number, date, string, token, reference, composite, quantity,
	// uri or special.
	Type string
	// Base are the resource types the parameter applies to; "Resource" and
	// "DomainResource" stand for every type deriving from them. Empty for the
	// package's extension parameters of CodeSystem and ValueSet, which name
	// no base.
	Base []string
	// Expression is the FHIRPath expression as published, for every base:
	// a union of per-type paths when there are several (see ExpressionFor).
	// Empty when the package gives none (_text, _content, _query, _filter,
	// extension parameters).
	Expression string
	// Targets are the resource types a reference parameter may point to.
	Targets []string
	// Components are the parts of a composite parameter.
	Components []Component
	Modifiers  []string
	// Comparators are the prefixes a number, date or quantity value may
	// take (eq, ne, gt, ...).
	Comparators []string
	Chains      []string
	// MultipleOr and MultipleAnd are false only when the definition says so
	// (the composite parameters say multipleOr false); absent means allowed.
	MultipleOr, MultipleAnd bool
	// Experimental marks the package's examples and extension parameters.
	Experimental bool
	XPathUsage   string
}

// Component is one part of a composite search parameter.
type Component struct {
	// Definition is the URL of the component's own SearchParameter.
	Definition string
	// Expression is evaluated on each node the composite's Expression
	// selects ("code", "value.as(Quantity)").
	Expression string
}

func (t *tables) parseSearchParams(data, targets string) {
	shared := lines(targets)
	for _, l := range lines(data) {
		f := strings.Split(l, "\t")
		for len(f) < 13 {
			f = append(f, "")
		}
		p := SearchParam{
			URL: fullURL(f[0]), Name: f[1], Type: f[2],
			Base: splitList(f[3]), Targets: splitList(f[4]),
			Modifiers: splitList(f[5]), Comparators: splitList(f[6]), Chains: splitList(f[7]),
			MultipleOr: f[8] != "false", MultipleAnd: f[9] != "false",
			Experimental: f[10] == "experimental",
			XPathUsage:   f[11], Expression: f[12],
		}
		if n, ok := strings.CutPrefix(f[4], "@"); ok {
			i, err := strconv.Atoi(n)
			if err != nil || i < 1 || i > len(shared) {
				badTable("searchParamData", l, "bad shared target list")
			}
			p.Targets = splitList(shared[i-1])
		}
		comps := f[13:]
		if len(comps)%2 != 0 {
			badTable("searchParamData", l, "odd component fields")
		}
		for i := 0; i < len(comps); i += 2 {
			p.Components = append(p.Components, Component{Definition: fullURL(comps[i]), Expression: comps[i+1]})
		}
		t.params = append(t.params, p)
	}
	// Index by type: a type's own parameters, then those of its ancestors
	// (Resource, DomainResource) for codes not taken. Where the package
	// defines a code twice for one base (its examples "example" and
	// "example-reference"), the non-experimental definition wins.
	own := map[string]map[string]int{}
	for i, p := range t.params {
		for _, b := range p.Base {
			m := own[b]
			if m == nil {
				m = map[string]int{}
				own[b] = m
			}
			if j, dup := m[p.Name]; !dup || t.params[j].Experimental && !p.Experimental {
				m[p.Name] = i
			}
		}
	}
	t.byType = map[string]map[string]int{}
	for name := range t.types {
		if t.types[name].kind != "resource" {
			continue
		}
		m := map[string]int{}
		for d := t.types[name]; d != nil; d = t.types[d.base] {
			for code, i := range own[d.name] {
				if _, taken := m[code]; !taken {
					m[code] = i
				}
			}
		}
		t.byType[name] = m
	}
}

// fullURL restores a URL shortened in the table.
func fullURL(s string) string {
	if strings.Contains(s, "://") {
		return s
	}
	return urlPrefix + s
}

// SearchParams returns every SearchParameter of the core package, sorted by URL.
func SearchParams() []SearchParam { return slices.Clone(load().params) }

// SearchParamsFor returns the parameters that apply to a resource type,
// sorted by code: those whose base is the type and those of Resource and
// DomainResource (_id, _lastUpdated, _tag, _text, ...) the type derives
// from. Each code appears once.
func SearchParamsFor(resourceType string) []SearchParam {
	t := load()
	m := t.byType[resourceType]
	codes := make([]string, 0, len(m))
	for code := range m {
		codes = append(codes, code)
	}
	slices.Sort(codes)
	out := make([]SearchParam, len(codes))
	for i, code := range codes {
		out[i] = t.params[m[code]]
	}
	return out
}

// LookupSearchParam returns the parameter code of resourceType, one of its
// own or an inherited one such as _id.
func LookupSearchParam(resourceType, code string) (SearchParam, bool) {
	t := load()
	i, ok := t.byType[resourceType][code]
	if !ok {
		return SearchParam{}, false
	}
	return t.params[i], true
}

// ExpressionFor returns the part of p's expression that applies to
// resourceType. A parameter with several bases publishes one union of
// per-type paths ("AllergyIntolerance.patient | CarePlan.subject.where(...)");
// ExpressionFor keeps the terms that start with resourceType or a type it
// derives from ("Resource.id"), possibly inside parentheses, and the terms
// that start with no resource type at all. When nothing is left out, or
// nothing would remain, it returns the whole expression.
func (p SearchParam) ExpressionFor(resourceType string) string {
	terms := splitTop(p.Expression, '|')
	if len(terms) < 2 {
		return p.Expression
	}
	t := load()
	var kept []string
	for _, term := range terms {
		term = strings.TrimSpace(term)
		head := leadingName(term)
		if d := t.types[head]; d == nil || d.kind != "resource" || IsA(resourceType, head) {
			kept = append(kept, term)
		}
	}
	if len(kept) == 0 || len(kept) == len(terms) {
		return p.Expression
	}
	return strings.Join(kept, " | ")
}

// leadingName returns the identifier an expression term starts with, after
// any opening parentheses: "Observation" for "(Observation.value as
// Quantity)".
func leadingName(term string) string {
	term = strings.TrimLeft(term, "( ")
	end := strings.IndexFunc(term, func(r rune) bool {
		return !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	})
	if end < 0 {
		return term
	}
	return term[:end]
}
