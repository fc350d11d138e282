package server

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"

	"github.com/meizhou-yiyang/yiyang/resources"
	"github.com/meizhou-yiyang/yiyang/resources/search"
	"github.com/meizhou-yiyang/yiyang/server/auth"
	"github.com/meizhou-yiyang/yiyang/server/policy"
	"github.com/meizhou-yiyang/yiyang/terminology"
)

// termSource finds CodeSystems and ValueSets in the server's own store for
// package terminology. Terminology is reference data: it is read with the
// server's authority, outside the caller's scope, to answer the caller's
// search (the caller sees only the resources the search returns); but
// terminology labelled sensitive is left out for callers who may not read
// it (without the sensitive-access role; break-the-glass is not consulted
// here), or $expand, $lookup and code:in would tell what it holds.
type termSource struct{ s *Server }

// hiddenFrom is the labels ctx's caller may not see (sensitiveLabels), or
// nil.
func (t termSource) hiddenFrom(ctx context.Context) []string {
	p, ok := auth.FromContext(ctx)
	if !ok || t.s.cfg.Authorizer == nil || len(p.Roles) == 0 || slices.Contains(p.Roles, "sensitive-access") {
		return nil
	}
	return sensitiveLabels
}

// Canonical searches typ?url=url[&version=version], newest first.
func (t termSource) Canonical(ctx context.Context, typ, url, version string) (resources.Resource, error) {
	st, ok := t.s.cfg.Store.(searcher)
	if !ok {
		return resources.Resource{}, resources.ErrNotFound
	}
	q := &search.Query{Type: typ, Count: 1,
		Filters:       []search.Filter{{Param: search.ParamDef{Code: "url", Type: "uri"}, Values: []search.Value{{Raw: url, Text: url}}}},
		Sort:          []search.SortKey{{Param: search.ParamDef{Code: "_lastUpdated", Type: "date"}, Descending: true}},
		ExcludeLabels: t.hiddenFrom(ctx)}
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

// Read reads typ/id; one labelled for whom the caller may not see is not
// found.
func (t termSource) Read(ctx context.Context, typ, id string) (resources.Resource, error) {
	r, err := t.s.store.Read(search.WithScope(ctx, nil), typ, id)
	if err == nil && carriesAny(r.Data, t.hiddenFrom(ctx)) {
		return resources.Resource{}, resources.ErrNotFound
	}
	return r, err
}

// carriesAny reports whether a resource's meta.security holds one of
// labels (system|code).
func carriesAny(data []byte, labels []string) bool {
	if len(labels) == 0 || (!bytes.Contains(data, []byte(`"security"`)) && !bytes.Contains(data, []byte(`\u`))) {
		return false
	}
	var head struct {
		Meta struct {
			Security []policy.Coding `json:"security"`
		} `json:"meta"`
	}
	if json.Unmarshal(data, &head) != nil {
		return true // unreadable labels: treat as sensitive
	}
	for _, c := range head.Meta.Security {
		if slices.Contains(labels, resources.Label(c.System, c.Code)) {
			return true
		}
	}
	return false
}

// checkedOps is the store as operations see it: reads of resources the
// request may not read for their labels are refused as direct reads are
// ($expand of a labelled ValueSet, $everything of a labelled Patient).
type checkedOps struct {
	resources.Ops
	s *Server
	r *http.Request
}

func (o checkedOps) Read(ctx context.Context, typ, id string) (resources.Resource, error) {
	res, err := o.Ops.Read(ctx, typ, id)
	if err == nil {
		err = o.s.checkLabels(o.r, "read", &res)
	}
	return res, err
}

func (o checkedOps) VRead(ctx context.Context, typ, id string, version int64) (resources.Resource, error) {
	res, err := o.Ops.VRead(ctx, typ, id, version)
	if err == nil {
		err = o.s.checkLabels(o.r, "vread", &res)
	}
	return res, err
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
