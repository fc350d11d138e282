package r4

import (
	"fmt"
	"slices"
	"strings"
)

// CompositePart is one component of a composite search parameter, resolved:
// the component's own SearchParameter (whose type says how its values are
// normalised and searched) and the expression to evaluate on each node the
// composite's expression selects.
type CompositePart struct {
	Param      SearchParam
	Expression string
}

// SearchParamByURL returns the parameter with the given canonical URL.
func SearchParamByURL(url string) (SearchParam, bool) {
	ps := load().params
	i, ok := slices.BinarySearchFunc(ps, url, func(p SearchParam, u string) int { return strings.Compare(p.URL, u) })
	if !ok {
		return SearchParam{}, false
	}
	return ps[i], true
}

// CompositeParts resolves the components of composite parameter p on
// resourceType, in the order of the definition (the order of the parts of a
// search value, code$value).
//
// The R4 package crosses the expressions of one parameter:
// DocumentReference-relationship pairs the definition relatesto (a
// reference, DocumentReference.relatesTo.target) with the expression "code"
// and relation (a token, DocumentReference.relatesTo.code) with "target".
// When the components' expressions match none of their own definitions'
// paths but a permutation of them matches every one, the expressions are
// reordered to follow the definitions (as R5 publishes it).
//
// It also writes value.as(DateTime) (Observation-code-value-date) as
// value.as(dateTime): Observation.value[x] is a FHIR dateTime, which the
// System type DateTime does not name, so the published expression would
// select nothing where the component's own parameter (value-date, "value as
// dateTime") selects the value.
func (p SearchParam) CompositeParts(resourceType string) ([]CompositePart, error) {
	if p.Type != "composite" {
		return nil, fmt.Errorf("%s is a %s parameter, not a composite", p.Name, p.Type)
	}
	if len(p.Components) == 0 {
		return nil, fmt.Errorf("composite %s has no components", p.Name)
	}
	parts := make([]CompositePart, len(p.Components))
	for i, c := range p.Components {
		d, ok := SearchParamByURL(c.Definition)
		if !ok {
			return nil, fmt.Errorf("component %d of %s: definition %s is not in the package", i+1, p.Name, c.Definition)
		}
		parts[i] = CompositePart{Param: d, Expression: strings.ReplaceAll(c.Expression, ".as(DateTime)", ".as(dateTime)")}
	}
	fixCrossedExpressions(parts, resourceType)
	return parts, nil
}

// fixCrossedExpressions reorders the parts' expressions when each one fits
// the path of exactly one other definition and none fits its own.
func fixCrossedExpressions(parts []CompositePart, resourceType string) {
	fits := func(d SearchParam, expr string) bool {
		return strings.HasSuffix(d.ExpressionFor(resourceType), "."+strings.TrimSpace(expr))
	}
	var wrong []int
	for i, p := range parts {
		if !fits(p.Param, p.Expression) {
			wrong = append(wrong, i)
		}
	}
	if len(wrong) < 2 {
		return
	}
	exprs := make([]string, len(parts))
	used := map[int]bool{}
	for _, i := range wrong {
		match := -1
		for _, j := range wrong {
			if j != i && fits(parts[i].Param, parts[j].Expression) {
				if match >= 0 {
					return // ambiguous
				}
				match = j
			}
		}
		if match < 0 || used[match] {
			return
		}
		used[match] = true
		exprs[i] = parts[match].Expression
	}
	for _, i := range wrong {
		parts[i].Expression = exprs[i]
	}
}
