package server

import (
	"context"

	"github.com/meizhou-yiyang/yiyang/resources"
	"github.com/meizhou-yiyang/yiyang/resources/search"
	"github.com/meizhou-yiyang/yiyang/terminology"
)

// termSource finds CodeSystems and ValueSets in the server's own store for
// package terminology. Terminology is reference data: it is read with the
// server's authority, outside the caller's scope, to answer the caller's
// search (the caller sees only the resources the search returns).
type termSource struct{ s *Server }

// Canonical searches typ?url=url[&version=version], newest first.
func (t termSource) Canonical(ctx context.Context, typ, url, version string) (resources.Resource, error) {
	st, ok := t.s.cfg.Store.(searcher)
	if !ok {
		return resources.Resource{}, resources.ErrNotFound
	}
	q := &search.Query{Type: typ, Count: 1,
		Filters: []search.Filter{{Param: search.ParamDef{Code: "url", Type: "uri"}, Values: []search.Value{{Raw: url, Text: url}}}},
		Sort:    []search.SortKey{{Param: search.ParamDef{Code: "_lastUpdated", Type: "date"}, Descending: true}}}
	if version != "" {
		q.Filters = append(q.Filters, search.Filter{Param: search.ParamDef{Code: "version", Type: "token"},
			Values: []search.Value{{Raw: version, Code: version}}})
	}
	page, err := st.Search(search.WithScope(ctx, nil), q)
	if err != nil {
		return resources.Resource{}, err
	}
	if len(page.Matches) == 0 {
		return resources.Resource{}, resources.ErrNotFound
	}
	return page.Matches[0], nil
}

// Read reads typ/id.
func (t termSource) Read(ctx context.Context, typ, id string) (resources.Resource, error) {
	return t.s.store.Read(search.WithScope(ctx, nil), typ, id)
}

// searchTerms adapts a terminology.Service to what search.Resolve needs.
type searchTerms struct{ svc *terminology.Service }

func (t searchTerms) Expand(ctx context.Context, ref string) ([]search.Coding, error) {
	e, err := t.svc.Expand(ctx, ref)
	if err != nil {
		return nil, err
	}
	return codings(e.Contains), nil
}

func (t searchTerms) Below(ctx context.Context, system, code string) ([]search.Coding, error) {
	cs, err := t.svc.Descendants(ctx, system, code)
	return codings(cs), err
}

func (t searchTerms) Above(ctx context.Context, system, code string) ([]search.Coding, error) {
	cs, err := t.svc.Ancestors(ctx, system, code)
	return codings(cs), err
}

func codings(cs []terminology.Concept) []search.Coding {
	out := make([]search.Coding, len(cs))
	for i, c := range cs {
		out[i] = search.Coding{System: c.System, Code: c.Code}
	}
	return out
}

// resolveTerms resolves the terminology filters of q (:in, :not-in, :below,
// :above) before it runs; every search the server runs for a client passes
// here.
func (s *Server) resolveTerms(ctx context.Context, q *search.Query) error {
	return search.Resolve(ctx, q, searchTerms{s.terms})
}
