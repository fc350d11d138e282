package search

import (
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/meizhou-yiyang/yiyang/resources"
)

// Options tune parsing.
type Options struct {
	// Lenient ignores unknown or unsupported parameters (Prefer:
	// handling=lenient) instead of refusing the request; they are listed in
	// Query.Ignored.
	Lenient bool
	// Base is this server's base URL: an absolute reference under it is a
	// local one; any other absolute reference matches only by URL.
	Base string
}

// resultParams are the parameters that shape the result rather than filter.
var resultParams = map[string]bool{
	"_count": true, "_sort": true, "_include": true, "_revinclude": true, "_total": true,
	"_summary": true, "_elements": true, "_cursor": true, "_format": true, "_pretty": true,
	"_contained": true, "_containedType": true,
}

// modifiers allowed per parameter type; a reference may also take a type.
var modifiers = map[string]map[string]bool{
	"string":    {"exact": true, "contains": true, "missing": true},
	"token":     {"text": true, "not": true, "above": true, "below": true, "in": true, "not-in": true, "of-type": true, "missing": true},
	"reference": {"identifier": true, "missing": true, "above": true, "below": true},
	"uri":       {"above": true, "below": true, "missing": true},
	"date":      {"missing": true},
	"number":    {"missing": true},
	"quantity":  {"missing": true},
	"composite": {"missing": true},
}

// parser accumulates problems so that one answer names them all.
type parser struct {
	reg     Registry
	opt     Options
	issues  []resources.Issue
	filters int
}

func (p *parser) fail(param, format string, args ...any) {
	if len(p.issues) < 20 {
		p.issues = append(p.issues, resources.Issue{Severity: "error", Code: "invalid",
			Diagnostics: fmt.Sprintf(format, args...), Expression: []string{param}})
	}
}

// Parse turns the query parameters of a search on resourceType ("" for a
// system-level search) into a Query. Every problem is reported in one
// *resources.InvalidError that names the parameters concerned.
func Parse(reg Registry, resourceType string, params url.Values, opt Options) (*Query, error) {
	p := &parser{reg: reg, opt: opt}
	q := &Query{Type: resourceType, Count: DefaultCount}
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		for _, raw := range params[key] {
			// Text the databases cannot hold never reaches them (it was a
			// database error, a 500, on PostgreSQL).
			if !utf8.ValidString(key) || !utf8.ValidString(raw) || strings.ContainsRune(key, 0) || strings.ContainsRune(raw, 0) {
				p.fail(strings.ToValidUTF8(strings.ReplaceAll(key, "\x00", ""), "\uFFFD"),
					"the parameter's name or value is not valid UTF-8 text (or holds a NUL character)")
				continue
			}
			p.param(q, key, raw)
		}
	}
	if len(p.issues) > 0 {
		return nil, &resources.InvalidError{Issues: p.issues}
	}
	return q, nil
}

// unsupported reports (or, when lenient, records) a parameter the server
// cannot honour.
func (p *parser) unsupported(q *Query, key, format string, args ...any) {
	if p.opt.Lenient {
		q.Ignored = append(q.Ignored, key)
		return
	}
	p.issues = append(p.issues, resources.Issue{Severity: "error", Code: "not-supported",
		Diagnostics: fmt.Sprintf(format, args...) + "; send Prefer: handling=lenient to ignore it", Expression: []string{key}})
}

func (p *parser) param(q *Query, key, raw string) {
	if len(raw) > MaxValueLength*MaxOrValues {
		p.fail(key, "the value of %s is too long", key)
		return
	}
	if strings.IndexByte(raw, 0) >= 0 {
		// FHIR strings exclude control characters; PostgreSQL refuses NUL.
		p.fail(key, "the value of %s contains a NUL character", key)
		return
	}
	base, mod, _ := strings.Cut(key, ":")
	if resultParams[base] {
		p.result(q, key, base, mod, raw)
		return
	}
	if raw == "" {
		return // an empty parameter is ignored (R4 search.html)
	}
	var f Filter
	var ok bool
	if base == "_has" {
		f, ok = p.has(q, key, q.Type, strings.TrimPrefix(key, "_has:"), raw, 1)
	} else if base == "_list" {
		f, ok = p.list(q, key, mod, raw)
	} else {
		f, ok = p.filter(q, key, q.Type, key, raw, 0)
	}
	if ok {
		p.filters++
		if p.filters > MaxFilters {
			p.fail(key, "a search may have at most %d parameters", MaxFilters)
			return
		}
		q.Filters = append(q.Filters, f)
	}
}

// filter parses name[:modifier][.chain]=raw on resource type typ.
func (p *parser) filter(q *Query, key, typ, spec, raw string, depth int) (Filter, bool) {
	head, rest, chained := strings.Cut(spec, ".")
	name, mod, _ := strings.Cut(head, ":")
	def, ok := p.reg.Lookup(typ, name)
	if !ok {
		on := typ
		if on == "" {
			on = "all resource types"
		}
		p.unsupported(q, key, "unknown search parameter %q on %s", name, on)
		return Filter{}, false
	}
	f := Filter{Param: def}
	if mod != "" {
		switch {
		case def.Type == "reference" && resources.IsResourceType(mod):
			if !contains(def.Targets, mod) && len(def.Targets) > 0 {
				p.fail(key, "%s cannot refer to %s (it refers to %s)", name, mod, strings.Join(def.Targets, ", "))
				return Filter{}, false
			}
			f.TargetType = mod
		case modifiers[def.Type][mod]:
			f.Modifier = mod
		default:
			p.fail(key, "modifier :%s is not valid on %s parameter %s", mod, def.Type, name)
			return Filter{}, false
		}
	}
	if def.Type == "special" {
		p.unsupported(q, key, "search parameter %s (type special) is not supported", name)
		return Filter{}, false
	}
	if chained {
		return p.chain(q, key, typ, f, rest, raw, depth)
	}
	if f.Modifier == "missing" {
		switch raw {
		case "true", "false":
			f.Missing = raw == "true"
			return f, true
		}
		p.fail(key, ":missing takes true or false, not %q", raw)
		return Filter{}, false
	}
	parts := splitEscaped(raw, ',')
	if len(parts) > MaxOrValues {
		p.fail(key, "%s has %d values; at most %d may be ORed", name, len(parts), MaxOrValues)
		return Filter{}, false
	}
	for _, part := range parts {
		v, err := parseValue(def, f, part, p.opt.Base)
		if err != nil {
			p.fail(key, "%s: %v", name, err)
			return Filter{}, false
		}
		f.Values = append(f.Values, v)
	}
	return f, true
}

func (p *parser) chain(q *Query, key, typ string, f Filter, rest, raw string, depth int) (Filter, bool) {
	if f.Param.Type != "reference" {
		p.fail(key, "%s is a %s parameter; only reference parameters can be chained", f.Param.Code, f.Param.Type)
		return Filter{}, false
	}
	if f.Modifier != "" {
		p.fail(key, "modifier :%s cannot be used on a chain", f.Modifier)
		return Filter{}, false
	}
	if depth+1 > MaxChainDepth {
		p.fail(key, "chains may be at most %d levels deep", MaxChainDepth)
		return Filter{}, false
	}
	target := f.TargetType
	if target == "" {
		switch len(f.Param.Targets) {
		case 1:
			target = f.Param.Targets[0]
		case 0:
			p.fail(key, "%s has no known target type; name one, e.g. %s:Patient.%s", f.Param.Code, f.Param.Code, rest)
			return Filter{}, false
		default:
			p.fail(key, "%s may refer to %s; name the type to chain through, e.g. %s:%s.%s",
				f.Param.Code, strings.Join(f.Param.Targets, ", "), f.Param.Code, f.Param.Targets[0], rest)
			return Filter{}, false
		}
	}
	inner, ok := p.filter(q, key, target, rest, raw, depth+1)
	if !ok {
		return Filter{}, false
	}
	f.Chain = &Chain{Type: target, Filter: inner}
	return f, true
}

// has parses Type:refParam:rest of a _has parameter on resource type typ.
func (p *parser) has(q *Query, key, typ, spec, raw string, depth int) (Filter, bool) {
	if depth > MaxHasDepth {
		p.fail(key, "_has may be nested at most %d levels deep", MaxHasDepth)
		return Filter{}, false
	}
	parts := strings.SplitN(spec, ":", 3)
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		p.fail(key, "_has must read _has:Type:reference-parameter:parameter, e.g. _has:Observation:patient:code")
		return Filter{}, false
	}
	src, ref, rest := parts[0], parts[1], parts[2]
	if !resources.IsResourceType(src) {
		p.fail(key, "_has: %q is not a resource type", src)
		return Filter{}, false
	}
	def, ok := p.reg.Lookup(src, ref)
	if !ok || def.Type != "reference" {
		p.fail(key, "_has: %s has no reference parameter %q", src, ref)
		return Filter{}, false
	}
	if typ != "" && len(def.Targets) > 0 && !contains(def.Targets, typ) {
		p.fail(key, "_has: %s.%s cannot refer to %s", src, ref, typ)
		return Filter{}, false
	}
	var inner Filter
	if strings.HasPrefix(rest, "_has:") {
		inner, ok = p.has(q, key, src, strings.TrimPrefix(rest, "_has:"), raw, depth+1)
	} else {
		inner, ok = p.filter(q, key, src, rest, raw, 0)
	}
	if !ok {
		return Filter{}, false
	}
	return Filter{Has: &Has{Type: src, Param: def, Filter: inner}}, true
}

var elementName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,63}(\[x\])?$`)

// result parses the parameters that shape the result.
func (p *parser) result(q *Query, key, base, mod, raw string) {
	if mod != "" && !(mod == "iterate" && (base == "_include" || base == "_revinclude")) {
		p.fail(key, "%s takes no modifier :%s", base, mod)
		return
	}
	switch base {
	case "_count":
		n, err := strconv.Atoi(raw)
		if err != nil || n < 0 {
			p.fail(key, "_count must be a non-negative integer, not %q", raw)
			return
		}
		q.Count = min(n, MaxCount)
	case "_cursor":
		q.Cursor = raw
	case "_format", "_pretty":
	case "_total":
		if raw != "none" && raw != "estimate" && raw != "accurate" {
			p.fail(key, "_total must be none, estimate or accurate, not %q", raw)
			return
		}
		q.Total = raw
	case "_summary":
		switch raw {
		case "true", "text", "data", "count", "false":
			q.Summary = raw
		default:
			p.fail(key, "_summary must be true, text, data, count or false, not %q", raw)
		}
	case "_elements":
		for _, e := range strings.Split(raw, ",") {
			e = strings.TrimSpace(e)
			if !elementName.MatchString(e) {
				p.fail(key, "_elements: %q is not an element name", e)
				return
			}
			q.Elements = append(q.Elements, e)
		}
	case "_sort":
		p.sort(q, key, raw)
	case "_include", "_revinclude":
		p.include(q, key, base, mod == "iterate", raw)
	case "_contained", "_containedType":
		p.unsupported(q, key, "%s is not supported", base)
	}
}

func (p *parser) sort(q *Query, key, raw string) {
	for _, s := range strings.Split(raw, ",") {
		desc := strings.HasPrefix(s, "-")
		s = strings.TrimPrefix(s, "-")
		def, ok := p.reg.Lookup(q.Type, s)
		if !ok {
			p.unsupported(q, key, "cannot sort by unknown parameter %q", s)
			continue
		}
		if def.Type == "composite" || def.Type == "special" {
			p.fail(key, "cannot sort by %s parameter %s", def.Type, s)
			continue
		}
		if len(q.Sort) == MaxSortKeys {
			p.fail(key, "at most %d sort keys", MaxSortKeys)
			return
		}
		q.Sort = append(q.Sort, SortKey{Param: def, Descending: desc})
	}
}

func (p *parser) include(q *Query, key, base string, iterate bool, raw string) {
	if len(q.Includes)+len(q.RevIncludes) >= MaxIncludes {
		p.fail(key, "at most %d _include and _revinclude parameters", MaxIncludes)
		return
	}
	parts := strings.Split(raw, ":")
	if len(parts) < 2 || len(parts) > 3 || !resources.IsResourceType(parts[0]) {
		p.fail(key, "%s must read Type:parameter[:TargetType] or Type:*, not %q", base, raw)
		return
	}
	inc := Include{Source: parts[0], Iterate: iterate}
	if parts[1] == "*" {
		inc.Wildcard = true
	} else {
		def, ok := p.reg.Lookup(parts[0], parts[1])
		if !ok || def.Type != "reference" {
			p.fail(key, "%s: %s has no reference parameter %q", base, parts[0], parts[1])
			return
		}
		inc.Param = def
	}
	if len(parts) == 3 {
		if !resources.IsResourceType(parts[2]) || (!inc.Wildcard && len(inc.Param.Targets) > 0 && !contains(inc.Param.Targets, parts[2])) {
			p.fail(key, "%s: %q is not a target of %s:%s", base, parts[2], parts[0], parts[1])
			return
		}
		inc.Target = parts[2]
	}
	if base == "_include" {
		q.Includes = append(q.Includes, inc)
	} else {
		q.RevIncludes = append(q.RevIncludes, inc)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
