package server

import (
	"context"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/meizhou-yiyang/yiyang/conformance"
	"github.com/meizhou-yiyang/yiyang/conformance/r4"
	"github.com/meizhou-yiyang/yiyang/operations"
	"github.com/meizhou-yiyang/yiyang/resources"
	"github.com/meizhou-yiyang/yiyang/resources/search"
)

// typeInteractions are the interactions every resource type supports.
var typeInteractions = []string{"read", "vread", "update", "patch", "delete", "history-instance", "history-type", "create", "search-type"}

// capabilities serves /metadata from what is registered.
func (s *Server) capabilities(w http.ResponseWriter, r *http.Request) (*response, error) {
	d := conformance.Description{
		Software: "Yiyang", Version: s.cfg.Version, Started: s.started, BaseURL: s.base(r),
		System:   []string{"transaction", "batch", "history-system", "search-system"},
		Insecure: s.cfg.AuthDisabled,
	}
	if s.cfg.Auth != nil {
		d.Security = s.cfg.Auth.CapabilitySecurity()
	}
	ops := s.cfg.Operations.All()
	for _, op := range ops {
		if op.System {
			d.Operations = append(d.Operations, conformance.OperationDescription{Name: op.Name, Definition: op.Definition})
		}
	}
	types := resources.ResourceTypes()
	sort.Strings(types)
	for _, t := range types {
		td := conformance.TypeDescription{Type: t, Interactions: typeInteractions}
		for _, sp := range r4.SearchParamsFor(t) {
			if searchable(sp) {
				td.SearchParams = append(td.SearchParams, conformance.SearchParamDescription{Name: sp.Name, Definition: sp.URL, Type: sp.Type})
			}
		}
		// _list has no SearchParameter in R4; it is searchable on every type.
		td.SearchParams = append(td.SearchParams, conformance.SearchParamDescription{Name: "_list", Type: "special"})
		for _, op := range ops {
			if (op.Type || op.Instance) && op.Applies(t) {
				td.Operations = append(td.Operations, conformance.OperationDescription{Name: op.Name, Definition: op.Definition})
			}
		}
		d.Types = append(d.Types, td)
	}
	body, err := conformance.CapabilityStatement(d)
	return &response{body: body}, err
}

// operation invokes a registered $operation at system, type or instance level.
func (s *Server) operation(w http.ResponseWriter, r *http.Request) (*response, error) {
	typ, id, name := chi.URLParam(r, "type"), chi.URLParam(r, "id"), chi.URLParam(r, "op")
	var level string
	switch {
	case strings.HasPrefix(typ, "$") && id == "":
		level, name, typ = "system", typ, ""
	case strings.HasPrefix(id, "$") && name == "":
		level, name, id = "type", id, ""
	case strings.HasPrefix(name, "$"):
		level = "instance"
	default:
		return s.methodNotAllowed(w, r)
	}
	if typ != "" {
		if _, err := pathType(r); err != nil {
			return nil, err
		}
	}
	if id != "" && !resources.ValidID(id) {
		return nil, errorAt(http.StatusBadRequest, "value", "id", "%q is not a valid id", id)
	}
	op, ok := s.cfg.Operations.Lookup(strings.TrimPrefix(name, "$"))
	if !ok || (level == "system" && !op.System) || (level == "type" && !op.Type) || (level == "instance" && !op.Instance) || (typ != "" && !op.Applies(typ)) {
		return nil, errorf(http.StatusNotFound, "not-supported", "operation %s is not supported at %s level%s", name, level, onType(typ))
	}
	in := operations.Invocation{Type: typ, ID: id, Method: r.Method, Query: r.URL.Query(), Ops: checkedOps{s.ops(r.Context()), s, r}, Parser: s.parser, Terminology: s.terms,
		Search: func(ctx context.Context, q *search.Query, params url.Values) (operations.Result, error) {
			resp, err := s.searchBundle(r.WithContext(ctx), q, params)
			if err != nil {
				return operations.Result{}, err
			}
			return operations.Result{Status: http.StatusOK, Body: resp.body}, nil
		}}
	if r.Method == http.MethodPost {
		if _, err := checkContentType(r); err != nil {
			return nil, err
		}
		body, err := readBody(r)
		if err != nil {
			return nil, err
		}
		in.Body = body
	}
	res, err := op.Invoke(r.Context(), in)
	if err != nil {
		return nil, err
	}
	if loc := res.Header.Get("Content-Location"); strings.HasPrefix(loc, "/") {
		res.Header.Set("Content-Location", s.base(r)+loc)
	}
	return &response{status: res.Status, body: res.Body, header: res.Header}, nil
}

// searchable reports whether the server can search by sp: the index holds
// its values (or it is _id / _lastUpdated, searched on the resource row).
func searchable(sp r4.SearchParam) bool {
	switch {
	case sp.Name == "_id" || sp.Name == "_lastUpdated" || sp.Name == "_text" || sp.Name == "_content":
		return true // searched without an expression: on the row or in idx_text
	case sp.Type == "special" || sp.Expression == "":
		return false
	}
	return true
}

func onType(t string) string {
	if t == "" {
		return ""
	}
	return " on " + t
}
