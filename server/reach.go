package server

import (
	"net/http"
	"slices"
	"strings"

	"github.com/meizhou-yiyang/yiyang/resources"
	"github.com/meizhou-yiyang/yiyang/resources/search"
	"github.com/meizhou-yiyang/yiyang/server/auth"
)

// authorizeReach holds what a search reads beyond the type it searches to
// the principal's scopes and role policy, as reading those resources
// directly would be:
//   - chains, _has and _list go through resources of other types: their
//     types must be searchable by the principal, else 403 (a match would
//     tell what those resources hold);
//   - _revinclude returns resources of its source type, which must be
//     searchable, else 403;
//   - _include returns the resources referred to: an explicit target type
//     the principal may not search is 403; an open one (Observation:subject,
//     Observation:*) is narrowed to the types the principal may search, in
//     the query (search.Include.Types), and 403 when none is left;
//   - a compartment across types ($everything) is narrowed to the types
//     the principal may search.
//
// The search's own type was authorized with the route.
func (s *Server) authorizeReach(r *http.Request, q *search.Query) error {
	if s.cfg.Auth == nil {
		return nil
	}
	p, ok := auth.FromContext(r.Context())
	if !ok {
		return nil
	}
	may := func(typ string) bool { return s.maySearch(r, p, typ) }
	refuse := func(what, typ string) error {
		return forbidden("%s reads %s resources, which this token or role may not search", what, typ)
	}
	var through func(fs []search.Filter) error
	through = func(fs []search.Filter) error {
		for _, f := range fs {
			switch {
			case f.Chain != nil:
				if !may(f.Chain.Type) {
					return refuse("the chain "+f.Param.Code+"."+f.Chain.Filter.Param.Code, f.Chain.Type)
				}
				if err := through([]search.Filter{f.Chain.Filter}); err != nil {
					return err
				}
			case f.Has != nil:
				if !may(f.Has.Type) {
					return refuse("_has:"+f.Has.Type, f.Has.Type)
				}
				if err := through([]search.Filter{f.Has.Filter}); err != nil {
					return err
				}
			case f.Param.Code == "_list":
				if !may("List") {
					return refuse("_list", "List")
				}
			}
		}
		return nil
	}
	if err := through(q.Filters); err != nil {
		return err
	}
	if c := q.Compartment; c != nil && q.Type == "" {
		kept := make(map[string][]string, len(c.Params))
		for t, ps := range c.Params {
			if may(t) {
				kept[t] = ps
			}
		}
		if len(kept) < len(c.Params) {
			narrowed := *c
			narrowed.Params = kept
			q.Compartment = &narrowed
		}
	}
	for _, inc := range q.RevIncludes {
		if !may(inc.Source) {
			return refuse("_revinclude="+inc.Source+":"+includeParam(inc), inc.Source)
		}
	}
	for i := range q.Includes {
		inc := &q.Includes[i]
		if inc.Target != "" {
			if !may(inc.Target) {
				return refuse("_include="+inc.Source+":"+inc.Param.Code+":"+inc.Target, inc.Target)
			}
			continue
		}
		candidates := inc.Param.Targets
		if inc.Wildcard || len(candidates) == 0 {
			candidates = resources.ResourceTypes()
		}
		allowed := make([]string, 0, len(candidates))
		for _, t := range candidates {
			if may(t) {
				allowed = append(allowed, t)
			}
		}
		switch {
		case len(allowed) == 0:
			return refuse("_include="+inc.Source+":"+includeParam(*inc), strings.Join(candidates, ", "))
		case len(allowed) < len(candidates):
			inc.Types = slices.Clip(allowed)
		}
	}
	return nil
}

// maySearch reports whether the principal's scopes and roles let it search
// resources of typ.
func (s *Server) maySearch(r *http.Request, p *auth.Principal, typ string) bool {
	return p.Authorize(auth.Search, typ) == nil && s.decide(r, p, "search", typ, nil) == nil
}

// includeParam names an include's parameter as the request did.
func includeParam(inc search.Include) string {
	if inc.Wildcard {
		return "*"
	}
	return inc.Param.Code
}
