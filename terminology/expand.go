package terminology

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/meizhou-yiyang/yiyang/resources"
)

// Expansion is an expanded ValueSet.
type Expansion struct {
	// URL and Version identify the ValueSet (URL is empty for one without).
	URL, Version string
	// Contains are the codes, each once, in compose order.
	Contains []Concept
}

// valueSetJSON is the part of a ValueSet resource used here.
type valueSetJSON struct {
	ResourceType string `json:"resourceType"`
	ID           string `json:"id"`
	URL          string `json:"url"`
	Version      string `json:"version"`
	Compose      *struct {
		Include []includeJSON `json:"include"`
		Exclude []includeJSON `json:"exclude"`
	} `json:"compose"`
	Expansion *struct {
		Contains []containsJSON `json:"contains"`
	} `json:"expansion"`
}

type includeJSON struct {
	System  string `json:"system"`
	Version string `json:"version"`
	Concept []struct {
		Code    string `json:"code"`
		Display string `json:"display"`
	} `json:"concept"`
	Filter   []filter `json:"filter"`
	ValueSet []string `json:"valueSet"`
}

type containsJSON struct {
	System   string         `json:"system"`
	Version  string         `json:"version"`
	Code     string         `json:"code"`
	Display  string         `json:"display"`
	Contains []containsJSON `json:"contains"`
}

// conceptSet is an ordered set of codes keyed by system and code.
type conceptSet struct {
	list []Concept
	at   map[[2]string]bool
}

func newSet() *conceptSet { return &conceptSet{at: map[[2]string]bool{}} }

// add appends c unless present; growing past limit is errTooMany.
func (s *conceptSet) add(c Concept, limit int) error {
	k := [2]string{c.System, c.Code}
	if s.at[k] {
		return nil
	}
	if len(s.list) >= limit {
		return errTooMany
	}
	s.at[k] = true
	s.list = append(s.list, c)
	return nil
}

func (s *conceptSet) has(c Concept) bool { return s.at[[2]string{c.System, c.Code}] }

// keep returns the members that pass ok, in order.
func (s *conceptSet) keep(ok func(Concept) bool) *conceptSet {
	out := newSet()
	for _, c := range s.list {
		if ok(c) {
			out.at[[2]string{c.System, c.Code}] = true
			out.list = append(out.list, c)
		}
	}
	return out
}

// Expand expands the ValueSet that ref names: a canonical url, optionally
// with |version, or a relative reference ValueSet/id.
func (s *Service) Expand(ctx context.Context, ref string) (*Expansion, error) {
	x := s.session(ctx)
	r, err := x.valueSet(ref, "")
	if err != nil {
		return nil, err
	}
	return x.expansion(r.Data, ref)
}

// ExpandResource expands a ValueSet resource given as JSON (a stored one
// read by id, or one sent to $expand).
func (s *Service) ExpandResource(ctx context.Context, data []byte) (*Expansion, error) {
	return s.session(ctx).expansion(data, "")
}

func (x *session) expansion(data []byte, ref string) (*Expansion, error) {
	vs, err := parseValueSet(data)
	if err != nil {
		return nil, err
	}
	if ref == "" || !strings.Contains(ref, "://") {
		ref = vs.name()
	}
	set, err := x.expand(vs, ref)
	if err != nil {
		return nil, err
	}
	return &Expansion{URL: vs.URL, Version: vs.Version, Contains: set.list}, nil
}

func parseValueSet(data []byte) (*valueSetJSON, error) {
	var vs valueSetJSON
	if err := json.Unmarshal(data, &vs); err != nil {
		return nil, invalid("invalid", "the ValueSet cannot be read: %v", err)
	}
	if vs.ResourceType != "ValueSet" {
		return nil, invalid("invalid", "a %s is not a ValueSet", vs.ResourceType)
	}
	return &vs, nil
}

// name identifies a ValueSet in messages: its url, else ValueSet/id.
func (vs *valueSetJSON) name() string {
	switch {
	case vs.URL != "":
		return vs.URL
	case vs.ID != "":
		return "ValueSet/" + vs.ID
	}
	return "the ValueSet"
}

// valueSet reads the ValueSet ref names; from is the ValueSet including it
// ("" at the top).
func (x *session) valueSet(ref, from string) (resources.Resource, error) {
	by := ""
	if from != "" {
		by = " (included by " + from + ")"
	}
	if err := x.read("ValueSet " + ref); err != nil {
		return resources.Resource{}, err
	}
	var r resources.Resource
	var err error
	if id, ok := strings.CutPrefix(ref, "ValueSet/"); ok && from == "" {
		if !resources.ValidID(id) {
			return r, invalid("value", "%q is neither a ValueSet url nor ValueSet/id", ref)
		}
		r, err = x.s.src.Read(x.ctx, "ValueSet", id)
	} else {
		if !strings.Contains(ref, ":") {
			return r, invalid("value", "%q%s is neither a ValueSet url nor ValueSet/id", ref, by)
		}
		url, version := splitCanonical(ref)
		r, err = x.s.src.Canonical(x.ctx, "ValueSet", url, version)
	}
	if errors.Is(err, resources.ErrNotFound) || errors.Is(err, resources.ErrGone) {
		return r, invalid("not-found", "ValueSet %s%s is not stored on this server; POST it (or a transaction Bundle with it) first", ref, by)
	}
	return r, err
}

// expand expands vs, known as ref, within the session's limits.
func (x *session) expand(vs *valueSetJSON, ref string) (*conceptSet, error) {
	key, _ := splitCanonical(ref)
	if set, ok := x.memo[key]; ok {
		return set, nil
	}
	if err := x.enter(key); err != nil {
		return nil, err
	}
	x.stack = append(x.stack, key)
	defer func() { x.stack = x.stack[:len(x.stack)-1] }()

	var set *conceptSet
	var err error
	var missing *missingError
	switch {
	case vs.Compose != nil:
		set, err = x.compose(vs, key)
		if errors.As(err, &missing) && vs.Expansion != nil && len(vs.Expansion.Contains) > 0 {
			set, err = x.contained(vs.Expansion.Contains)
		}
	case vs.Expansion != nil:
		set, err = x.contained(vs.Expansion.Contains)
	default:
		return nil, invalid("not-supported", "ValueSet %s has neither compose nor expansion: there is nothing to expand", key)
	}
	if errors.Is(err, errTooMany) {
		return nil, invalid("too-costly", "ValueSet %s has more than %d codes, the limit of one expansion", key, x.s.cfg.MaxExpansion)
	}
	if err != nil {
		return nil, err
	}
	x.memo[key] = set
	return set, nil
}

// enter checks that expanding ValueSet key now would not close a cycle or
// nest too deeply.
func (x *session) enter(key string) error {
	for i, k := range x.stack {
		if k == key {
			chain := append(append([]string(nil), x.stack[i:]...), key)
			return invalid("processing", "ValueSet %s includes itself: %s", key, strings.Join(chain, " → "))
		}
	}
	if len(x.stack) >= x.s.cfg.MaxDepth {
		return invalid("too-costly", "ValueSet %s nests value sets more than %d deep: %s", x.stack[0], x.s.cfg.MaxDepth, strings.Join(append(x.stack, key), " → "))
	}
	return nil
}

// compose applies compose.include, then compose.exclude. The limit applies
// to the result: what the includes of stored code systems yield before the
// excludes is bounded by those code systems, already in memory.
func (x *session) compose(vs *valueSetJSON, key string) (*conceptSet, error) {
	set := newSet()
	for _, inc := range vs.Compose.Include {
		part, err := x.include(inc, key, maxConcepts)
		if err != nil {
			return nil, err
		}
		for _, c := range part.list {
			if err := set.add(c, maxConcepts); err != nil {
				return nil, err
			}
		}
	}
	for _, exc := range vs.Compose.Exclude {
		part, err := x.include(exc, key, maxConcepts)
		if err != nil {
			return nil, err
		}
		set = set.keep(func(c Concept) bool { return !part.has(c) })
	}
	if len(set.list) > x.s.cfg.MaxExpansion {
		return nil, errTooMany
	}
	return set, nil
}

// include evaluates one include (or exclude) of ValueSet key: its system
// part and its value sets, intersected.
func (x *session) include(inc includeJSON, key string, limit int) (*conceptSet, error) {
	var result *conceptSet
	if inc.System != "" {
		part, err := x.system(inc, key, limit)
		if err != nil {
			return nil, err
		}
		result = part
	} else if len(inc.Concept) > 0 || len(inc.Filter) > 0 {
		return nil, invalid("invalid", "ValueSet %s: an include with concepts or filters needs a system", key)
	}
	for _, ref := range inc.ValueSet {
		nkey, _ := splitCanonical(ref)
		var part *conceptSet
		if set, ok := x.memo[nkey]; ok {
			part = set
		} else {
			if err := x.enter(nkey); err != nil {
				return nil, err
			}
			r, err := x.valueSet(ref, key)
			if err != nil {
				return nil, err
			}
			vs, err := parseValueSet(r.Data)
			if err != nil {
				return nil, err
			}
			if part, err = x.expand(vs, ref); err != nil {
				return nil, err
			}
		}
		if result == nil {
			result = part
		} else {
			result = result.keep(part.has)
		}
	}
	if result == nil {
		return nil, invalid("invalid", "ValueSet %s: an include needs a system or a valueSet", key)
	}
	return result, nil
}

// system evaluates the code system part of an include: listed concepts, or
// the stored code system's concepts passing every filter.
func (x *session) system(inc includeJSON, key string, limit int) (*conceptSet, error) {
	set := newSet()
	if len(inc.Concept) > 0 {
		if len(inc.Filter) > 0 {
			return nil, invalid("invalid", "ValueSet %s: an include of %s has both concepts and filters", key, inc.System)
		}
		for _, c := range inc.Concept {
			if err := set.add(Concept{System: inc.System, Version: inc.Version, Code: c.Code, Display: c.Display}, limit); err != nil {
				return nil, err
			}
		}
		return set, nil
	}
	cs, err := x.codeSystem(inc.System, inc.Version)
	if err != nil {
		var missing *missingError
		if errors.As(err, &missing) {
			return nil, &missingError{invalid("not-found", "ValueSet %s includes CodeSystem %s, which is not stored on this server; POST it first", key, inc.System)}
		}
		return nil, err
	}
	if cs.content == "not-present" {
		return nil, &missingError{invalid("not-supported", "ValueSet %s includes CodeSystem %s, whose concepts are not in its resource (content not-present)", key, inc.System)}
	}
	members := cs.concepts
	for _, f := range inc.Filter {
		passed, err := cs.apply(f, limit)
		if errors.Is(err, errTooMany) {
			return nil, err
		}
		if err != nil {
			return nil, invalid("not-supported", "ValueSet %s, CodeSystem %s: %v", key, inc.System, err)
		}
		in := make(map[*concept]bool, len(passed))
		for _, c := range passed {
			in[c] = true
		}
		var kept []*concept
		for _, c := range members {
			if in[c] {
				kept = append(kept, c)
			}
		}
		members = kept
	}
	for _, c := range members {
		if err := set.add(Concept{System: inc.System, Version: cs.version, Code: c.code, Display: c.display}, limit); err != nil {
			return nil, err
		}
	}
	return set, nil
}

// contained flattens a precomputed expansion.contains (entries without a
// code only group others).
func (x *session) contained(list []containsJSON) (*conceptSet, error) {
	set := newSet()
	var walk func(list []containsJSON, depth int) error
	walk = func(list []containsJSON, depth int) error {
		if depth > 100 {
			return invalid("too-costly", "expansion.contains nests more than 100 levels deep")
		}
		for _, c := range list {
			if c.Code != "" {
				if err := set.add(Concept{System: c.System, Version: c.Version, Code: c.Code, Display: c.Display}, x.s.cfg.MaxExpansion); err != nil {
					return err
				}
			}
			if err := walk(c.Contains, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	return set, walk(list, 0)
}
