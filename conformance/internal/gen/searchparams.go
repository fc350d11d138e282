package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// searchParameter is the part of a SearchParameter the tables use.
type searchParameter struct {
	ID           string   `json:"id"`
	URL          string   `json:"url"`
	Experimental bool     `json:"experimental"`
	Code         string   `json:"code"`
	Type         string   `json:"type"`
	Base         []string `json:"base"`
	Expression   string   `json:"expression"`
	XPathUsage   string   `json:"xpathUsage"`
	Target       []string `json:"target"`
	MultipleOr   *bool    `json:"multipleOr"`
	MultipleAnd  *bool    `json:"multipleAnd"`
	Comparator   []string `json:"comparator"`
	Modifier     []string `json:"modifier"`
	Chain        []string `json:"chain"`
	Component    []struct {
		Definition string `json:"definition"`
		Expression string `json:"expression"`
	} `json:"component"`
}

// searchParamTable reads the SearchParameters and renders searchParamData.
func searchParamTable(dir string) (string, error) {
	sps, err := readAll[searchParameter](dir, "SearchParameter-")
	if err != nil {
		return "", err
	}
	slices.SortFunc(sps, func(a, b searchParameter) int { return strings.Compare(a.URL, b.URL) })
	var (
		lines  []string
		shared []string           // long target lists, written once
		index  = map[string]int{} // shared list → position
	)
	for i, sp := range sps {
		if i > 0 && sps[i-1].URL == sp.URL {
			return "", fmt.Errorf("SearchParameter %s defined twice", sp.URL)
		}
		if sp.URL == "" || sp.Code == "" || sp.Type == "" {
			return "", fmt.Errorf("SearchParameter %s: url, code or type missing", sp.ID)
		}
		var ls [5]string
		for j, items := range [][]string{sp.Base, sp.Target, sp.Modifier, sp.Comparator, sp.Chain} {
			if ls[j], err = list(items); err != nil {
				return "", fmt.Errorf("SearchParameter %s: %w", sp.URL, err)
			}
		}
		if len(sp.Target) > sharedTargets {
			n, ok := index[ls[1]]
			if !ok {
				shared = append(shared, ls[1])
				n = len(shared)
				index[ls[1]] = n
			}
			ls[1] = "@" + strconv.Itoa(n)
		}
		fs := []string{
			short(sp.URL, spPrefix), sp.Code, sp.Type,
			ls[0], ls[1], ls[2], ls[3], ls[4],
			optBool(sp.MultipleOr), optBool(sp.MultipleAnd), experimental(sp.Experimental), sp.XPathUsage,
			sp.Expression,
		}
		for _, c := range sp.Component {
			if c.Definition == "" || c.Expression == "" {
				return "", fmt.Errorf("SearchParameter %s: incomplete component", sp.URL)
			}
			fs = append(fs, short(c.Definition, spPrefix), c.Expression)
		}
		line, err := fields(fs...)
		if err != nil {
			return "", fmt.Errorf("SearchParameter %s: %w", sp.URL, err)
		}
		lines = append(lines, line)
	}
	doc := `// searchParamData lists every SearchParameter of the R4 package, one a line,
// sorted by URL. Tab-separated fields: URL (without the prefix
// "http://hl7.org/fhir/SearchParameter/" when it has it), code, type, bases,
// targets, modifiers, comparators, chains (lists comma-separated), multipleOr,
// multipleAnd ("true", "false" or empty when absent), "experimental" or empty,
// xpathUsage, expression,
// then the definition and expression of each composite component. Trailing
// empty fields are left out. Targets "@n" stand for line n of
// searchParamTargets.
`
	data, err := rawConst(doc, "searchParamData", lines)
	if err != nil {
		return "", err
	}
	doc = `// searchParamTargets lists the long target lists of searchParamData, such
// as "any resource", once each, one a line, comma-separated.
`
	targets, err := rawConst(doc, "searchParamTargets", shared)
	if err != nil {
		return "", err
	}
	return data + "\n" + targets, nil
}

// sharedTargets is the length above which a target list is written once in
// searchParamTargets and referred to by number.
const sharedTargets = 20

// optBool renders an optional boolean.
func optBool(b *bool) string {
	if b == nil {
		return ""
	}
	return strconv.FormatBool(*b)
}

// experimental renders the experimental flag.
func experimental(b bool) string {
	if b {
		return "experimental"
	}
	return ""
}

// compartmentDefinition is the part of a CompartmentDefinition the tables use.
type compartmentDefinition struct {
	URL      string `json:"url"`
	Code     string `json:"code"`
	Resource []struct {
		Code  string   `json:"code"`
		Param []string `json:"param"`
	} `json:"resource"`
}

// compartmentTable reads the compartment definitions and renders
// compartmentData.
func compartmentTable(dir string) (string, error) {
	var defs []compartmentDefinition
	for _, id := range compartments {
		var cd compartmentDefinition
		if err := readJSON(filepath.Join(dir, "CompartmentDefinition-"+id+".json"), &cd); err != nil {
			return "", err
		}
		defs = append(defs, cd)
	}
	slices.SortFunc(defs, func(a, b compartmentDefinition) int { return strings.Compare(a.Code, b.Code) })
	var lines []string
	for _, cd := range defs {
		h, err := fields(cd.Code, cd.URL)
		if err != nil {
			return "", err
		}
		lines = append(lines, h)
		for _, r := range cd.Resource {
			if len(r.Param) == 0 {
				continue
			}
			ps, err := list(r.Param)
			if err != nil {
				return "", fmt.Errorf("compartment %s: %w", cd.Code, err)
			}
			l, err := fields(r.Code, ps)
			if err != nil {
				return "", err
			}
			lines = append(lines, "\t"+l)
		}
	}
	doc := `// compartmentData lists the Device, Encounter, Patient, Practitioner and
// RelatedPerson compartments. A compartment's line holds its code and URL; a
// line per member resource type follows, indented by a tab: the type and the
// search parameters that link it, comma-separated ("{def}" when the
// compartment's own resource is a member by its id). Types the definition lists
// without parameters are not members and are left out.
`
	return rawConst(doc, "compartmentData", lines)
}
