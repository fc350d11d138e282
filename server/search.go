package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/meizhou-yiyang/yiyang/conformance/r4"
	"github.com/meizhou-yiyang/yiyang/resources"
	"github.com/meizhou-yiyang/yiyang/resources/search"
)

// searcher is what the server needs from a store to search; both stores
// implement it.
type searcher interface {
	Search(ctx context.Context, q *search.Query) (search.Page, error)
}

// searchParams returns the search's parameters: the query string, plus the
// form body of POST _search.
func searchParams(r *http.Request) (url.Values, error) {
	q := r.URL.Query()
	if r.Method != http.MethodPost {
		return q, nil
	}
	ct := r.Header.Get("Content-Type")
	if ct != "" && !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		return nil, errorf(http.StatusUnsupportedMediaType, "not-supported", "POST _search takes application/x-www-form-urlencoded, not %q", ct)
	}
	if err := r.ParseForm(); err != nil {
		if big := bodyTooLarge(err); big != nil {
			return nil, big
		}
		return nil, errorf(http.StatusBadRequest, "structure", "the form body cannot be read: %v", err)
	}
	for k, vs := range r.PostForm {
		q[k] = append(q[k], vs...)
	}
	return q, nil
}

// searchType serves GET /{type} and POST /{type}/_search.
func (s *Server) searchType(w http.ResponseWriter, r *http.Request) (*response, error) {
	typ, err := pathType(r)
	if err != nil {
		return nil, err
	}
	return s.runSearch(r, typ, nil)
}

// searchSystem serves GET / (all resource types).
func (s *Server) searchSystem(w http.ResponseWriter, r *http.Request) (*response, error) {
	return s.runSearch(r, "", nil)
}

// searchCompartment serves GET /{compartment}/{id}/{type} and /{compartment}/{id}/*.
func (s *Server) searchCompartment(w http.ResponseWriter, r *http.Request, owner, id, typ string) (*response, error) {
	c, ok := search.CompartmentOf(owner, id, false)
	if !ok {
		return nil, errorf(http.StatusNotFound, "not-found", "%s is not a compartment", owner)
	}
	if !resources.ValidID(id) {
		return nil, errorAt(http.StatusBadRequest, "value", "id", "%q is not a valid id", id)
	}
	if typ == "*" {
		typ = ""
	} else {
		if !resources.IsResourceType(typ) {
			return nil, errorf(http.StatusNotFound, "not-supported", "%q is not a resource type", typ)
		}
		ps, ok := c.Params[typ]
		if !ok {
			return nil, errorf(http.StatusBadRequest, "not-supported", "%s resources are not in the %s compartment", typ, owner)
		}
		c.Params = map[string][]string{typ: ps}
	}
	return s.runSearch(r, typ, c)
}

func (s *Server) runSearch(r *http.Request, typ string, c *search.Compartment) (*response, error) {
	params, err := searchParams(r)
	if err != nil {
		return nil, err
	}
	q, err := search.Parse(s.registry(), typ, params, search.Options{Lenient: handlingLenient(r), Base: s.base(r)})
	if err != nil {
		return nil, err
	}
	q.Compartment = c
	return s.searchBundle(r, q, params)
}

// searchBundle runs q and renders the searchset Bundle; params are the
// request's parameters, repeated in the self and next links.
func (s *Server) searchBundle(r *http.Request, q *search.Query, params url.Values) (*response, error) {
	if err := s.authorizeReach(r, q); err != nil {
		return nil, err
	}
	s.excludeSensitive(r, q)
	st, ok := s.cfg.Store.(searcher)
	if !ok {
		return nil, errorf(http.StatusNotImplemented, "not-supported", "this store cannot search")
	}
	if err := s.resolveTerms(r.Context(), q); err != nil {
		return nil, err
	}
	page, err := st.Search(r.Context(), q)
	if err != nil {
		return nil, err
	}
	b := newBundle("searchset")
	if page.Total >= 0 {
		t := int(page.Total)
		b.Total = &t
	}
	self := s.base(r) + r.URL.Path
	if strings.HasSuffix(self, "/_search") {
		self = strings.TrimSuffix(self, "/_search")
	}
	kept := url.Values{}
	ignored := map[string]bool{}
	for _, k := range q.Ignored {
		ignored[k] = true
	}
	for k, v := range params {
		if !ignored[k] {
			kept[k] = v
		}
	}
	b.Link = append(b.Link, bundleLink{"self", self + sortedQuery(kept, "")})
	if page.Next != "" {
		b.Link = append(b.Link, bundleLink{"next", self + sortedQuery(kept, page.Next)})
	}
	base := s.base(r)
	for _, m := range page.Matches {
		data, err := shape(q, m.Type, m.Data)
		if err != nil {
			return nil, err
		}
		b.Entry = append(b.Entry, bundleEntry{FullURL: base + "/" + m.Type + "/" + m.ID, Resource: data, Search: &entrySearch{Mode: "match"}})
	}
	for _, m := range page.Included {
		b.Entry = append(b.Entry, bundleEntry{FullURL: base + "/" + m.Type + "/" + m.ID, Resource: m.Data, Search: &entrySearch{Mode: "include"}})
	}
	body, err := json.Marshal(b)
	return &response{body: body}, err
}

// shapeRead applies _summary and _elements to the resource of a read or
// vread, as a search does to its matches; _summary=count is refused.
func (s *Server) shapeRead(r *http.Request, res *resources.Resource) error {
	params := url.Values{}
	for _, k := range []string{"_summary", "_elements"} {
		if v, ok := r.URL.Query()[k]; ok {
			params[k] = v
		}
	}
	if len(params) == 0 {
		return nil
	}
	q, err := search.Parse(s.registry(), res.Type, params, search.Options{})
	if err != nil {
		return err
	}
	if q.Summary == "count" {
		return errorAt(http.StatusBadRequest, "not-supported", "_summary", "_summary=count applies to searches, not to a read")
	}
	data, err := shape(q, res.Type, res.Data)
	if err != nil {
		return err
	}
	res.Data = data
	return nil
}

// shape applies _elements and _summary to a match of type typ: true keeps
// the summary elements (resources.Summarize), text the narrative and the
// mandatory top-level elements, data all but the narrative; false and ""
// keep everything. resourceType, id and meta always stay.
func shape(q *search.Query, typ string, data []byte) ([]byte, error) {
	var keep func(string) bool
	switch {
	case len(q.Elements) == 0 && q.Summary == "true":
		return resources.Summarize(data)
	case len(q.Elements) > 0:
		want := map[string]bool{}
		for _, e := range q.Elements {
			want[e] = true
		}
		keep = func(name string) bool { return want[name] || want[strings.TrimPrefix(name, "_")] }
	case q.Summary == "data":
		keep = func(name string) bool { return name != "text" }
	case q.Summary == "text":
		keep = func(name string) bool {
			e, ok := r4.LookupElement(typ + "." + strings.TrimPrefix(name, "_"))
			return name == "text" || (ok && e.Min > 0)
		}
	default:
		return data, nil
	}
	out, err := resources.FilterElements(data, keep)
	if err != nil {
		return nil, err
	}
	return resources.WithSubsettedTag(out)
}

// sortedQuery renders a query with keys in order (stable self links) and
// the given cursor.
func sortedQuery(q url.Values, cursor string) string {
	out := url.Values{}
	for k, v := range q {
		if k != "_cursor" {
			out[k] = v
		}
	}
	if cursor != "" {
		out.Set("_cursor", cursor)
	}
	if len(out) == 0 {
		return ""
	}
	keys := make([]string, 0, len(out))
	for k := range out {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		for _, v := range out[k] {
			parts = append(parts, url.QueryEscape(k)+"="+url.QueryEscape(v))
		}
	}
	return "?" + strings.Join(parts, "&")
}

// compartmentOrOperation routes GET /{type}/{id}/{x}: a compartment search
// when x is a resource type or *, else an operation.
func (s *Server) compartmentOrOperation(w http.ResponseWriter, r *http.Request) (*response, error) {
	x := chi.URLParam(r, "op")
	if r.Method == http.MethodGet && (x == "*" || resources.IsResourceType(x)) {
		return s.searchCompartment(w, r, chi.URLParam(r, "type"), chi.URLParam(r, "id"), x)
	}
	return s.operation(w, r)
}
