package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
	"github.com/meizhou-yiyang/yiyang/resources"
)

const preassignedKey ctxKey = 100

// maxBundleEntries bounds the work one bundle may ask for.
const maxBundleEntries = 10000

// inEntry is a request entry of a batch or transaction Bundle.
type inEntry struct {
	FullURL  string          `json:"fullUrl"`
	Resource json.RawMessage `json:"resource"`
	Request  *struct {
		Method          string `json:"method"`
		URL             string `json:"url"`
		IfMatch         string `json:"ifMatch"`
		IfNoneMatch     string `json:"ifNoneMatch"`
		IfModifiedSince string `json:"ifModifiedSince"`
		IfNoneExist     string `json:"ifNoneExist"`
	} `json:"request"`
}

// entryWork is one entry being processed.
type entryWork struct {
	index  int
	method string
	path   string // e.g. /Patient/123, with query
	typ    string // target resource type
	id     string // pre-assigned (POST) or target id (PUT/PATCH/DELETE)
	body   []byte
	ctype  string
	full   string // the entry's fullUrl
	// conditional marks PUT and DELETE entries that target Type?criteria.
	conditional bool
	ifNoneExist string
	req         *http.Request
}

var methodOrder = map[string]int{http.MethodDelete: 0, http.MethodPost: 1, http.MethodPut: 2, http.MethodPatch: 2, http.MethodGet: 3, http.MethodHead: 3}

// bundle processes a batch or transaction Bundle posted to the base URL.
func (s *Server) bundle(w http.ResponseWriter, r *http.Request) (*response, error) {
	if _, err := checkContentType(r); err != nil {
		return nil, err
	}
	raw, err := readBody(r)
	if err != nil {
		return nil, err
	}
	var b struct {
		ResourceType string          `json:"resourceType"`
		Type         string          `json:"type"`
		Entry        json.RawMessage `json:"entry"`
	}
	if err := json.Unmarshal(raw, &b); err != nil {
		if _, perr := s.parser.Parse(raw); perr != nil {
			return nil, perr // precise syntax location
		}
		return nil, errorf(http.StatusBadRequest, "structure", "the body is not a Bundle: %v", err)
	}
	if b.ResourceType != "Bundle" {
		return nil, errorAt(http.StatusBadRequest, "invalid", "resourceType",
			"POST to the base URL takes a batch or transaction Bundle, not %q", b.ResourceType)
	}
	if b.Type != "batch" && b.Type != "transaction" {
		return nil, errorAt(http.StatusBadRequest, "invalid", "Bundle.type",
			"Bundle.type must be batch or transaction to be processed, not %q", b.Type)
	}
	var entries []json.RawMessage
	if len(b.Entry) > 0 && string(b.Entry) != "null" {
		if err := json.Unmarshal(b.Entry, &entries); err != nil {
			return nil, errorAt(http.StatusBadRequest, "structure", "Bundle.entry", "Bundle.entry must be an array of objects")
		}
	}
	if len(entries) > maxBundleEntries {
		return nil, errorAt(http.StatusRequestEntityTooLarge, "too-costly", "Bundle.entry",
			"a bundle may hold at most %d entries; this one has %d", maxBundleEntries, len(entries))
	}
	if b.Type == "transaction" {
		return s.transaction(r, entries)
	}
	return s.batch(r, entries)
}

// prepare checks an entry's shape and builds its work item.
func prepare(i int, raw json.RawMessage) (*entryWork, error) {
	at := fmt.Sprintf("Bundle.entry[%d]", i)
	var e inEntry
	if err := json.Unmarshal(raw, &e); err != nil {
		return nil, errorAt(http.StatusBadRequest, "structure", at, "entry is not a valid Bundle entry: %v", err)
	}
	if e.Request == nil {
		return nil, errorAt(http.StatusBadRequest, "required", at+".request", "entry has no request")
	}
	m := strings.ToUpper(e.Request.Method)
	if _, ok := methodOrder[m]; !ok {
		return nil, errorAt(http.StatusBadRequest, "value", at+".request.method", "request.method %q is not GET, HEAD, POST, PUT, PATCH or DELETE", e.Request.Method)
	}
	u, err := url.Parse(e.Request.URL)
	if err != nil || e.Request.URL == "" {
		return nil, errorAt(http.StatusBadRequest, "value", at+".request.url", "request.url %q is not a relative URL", e.Request.URL)
	}
	if u.IsAbs() {
		return nil, errorAt(http.StatusBadRequest, "value", at+".request.url", "request.url %q must be relative to this server's base", e.Request.URL)
	}
	p := strings.Trim(u.Path, "/")
	parts := strings.Split(p, "/")
	if p == "" || !resources.IsResourceType(parts[0]) {
		return nil, errorAt(http.StatusBadRequest, "value", at+".request.url", "request.url %q does not name a resource type", e.Request.URL)
	}
	w := &entryWork{index: i, method: m, path: "/" + p, typ: parts[0], ctype: "application/fhir+json"}
	if u.RawQuery != "" {
		w.path += "?" + u.RawQuery
	}
	if len(parts) > 1 {
		w.id = parts[1]
	}
	switch m {
	case http.MethodPost, http.MethodPut:
		if len(e.Resource) == 0 || string(e.Resource) == "null" {
			return nil, errorAt(http.StatusBadRequest, "required", at+".resource", "%s entry has no resource", m)
		}
		w.body = e.Resource
	case http.MethodPatch:
		if err := w.patchBody(e.Resource, at); err != nil {
			return nil, err
		}
	}
	if m == http.MethodPost && (len(parts) != 1 || u.RawQuery != "") {
		return nil, errorAt(http.StatusBadRequest, "value", at+".request.url", "POST entry url must be a resource type, not %q", e.Request.URL)
	}
	conditional := len(parts) == 1 && u.RawQuery != ""
	if (m == http.MethodPut || m == http.MethodDelete) && !(len(parts) == 2 && u.RawQuery == "" || conditional) {
		return nil, errorAt(http.StatusBadRequest, "value", at+".request.url", "%s entry url must be Type/id or Type?criteria, not %q", m, e.Request.URL)
	}
	if m == http.MethodPatch && (len(parts) != 2 || u.RawQuery != "") {
		return nil, errorAt(http.StatusBadRequest, "not-supported", at+".request.url", "PATCH entry url must be Type/id (conditional patch is not supported), not %q", e.Request.URL)
	}
	w.conditional = conditional
	method := m
	if m == http.MethodHead {
		method = http.MethodGet // answered like GET; the body is dropped
	}
	req, err := http.NewRequest(method, w.path, bytes.NewReader(w.body))
	if err != nil {
		return nil, errorAt(http.StatusBadRequest, "value", at+".request.url", "request.url %q: %v", e.Request.URL, err)
	}
	req.Header.Set("Content-Type", w.ctype)
	req.Header.Set("Prefer", "return=representation")
	for h, v := range map[string]string{"If-Match": e.Request.IfMatch, "If-None-Match": e.Request.IfNoneMatch,
		"If-Modified-Since": e.Request.IfModifiedSince, "If-None-Exist": e.Request.IfNoneExist} {
		if v != "" {
			req.Header.Set(h, v)
		}
	}
	w.req, w.full, w.ifNoneExist = req, e.FullURL, e.Request.IfNoneExist
	return w, nil
}

// patchBody takes a PATCH entry's patch: a Parameters resource (FHIRPath
// Patch) or a Binary holding a JSON Patch.
func (w *entryWork) patchBody(res json.RawMessage, at string) error {
	var bin struct {
		ResourceType string `json:"resourceType"`
		ContentType  string `json:"contentType"`
		Data         string `json:"data"`
	}
	if json.Unmarshal(res, &bin) == nil && bin.ResourceType == "Parameters" {
		w.body, w.ctype = res, "application/fhir+json"
		return nil
	}
	if bin.ResourceType != "Binary" || bin.ContentType != "application/json-patch+json" {
		return errorAt(http.StatusBadRequest, "not-supported", at+".resource",
			"a PATCH entry needs a Parameters resource (FHIRPath Patch) or a Binary with contentType application/json-patch+json")
	}
	body, err := base64.StdEncoding.DecodeString(bin.Data)
	if err != nil {
		return errorAt(http.StatusBadRequest, "value", at+".resource.data", "Binary.data is not base64")
	}
	w.body, w.ctype = body, "application/json-patch+json"
	return nil
}

// run executes one entry of the bundle request parent against the FHIR
// routes and records the result.
func (s *Server) run(ctx context.Context, parent *http.Request, w *entryWork) *recorder {
	rec := newRecorder()
	// A fresh route context: the bundle's own routing state must not steer the entry.
	req := w.req.WithContext(context.WithValue(ctx, chi.RouteCtxKey, chi.NewRouteContext()))
	// The entry comes from where the bundle came, for the audit trail, and
	// under the bundle's break-the-glass, as its own request would.
	req.RemoteAddr, req.TLS = parent.RemoteAddr, parent.TLS
	if reason := parent.Header.Get(BreakGlassHeader); reason != "" {
		req.Header.Set(BreakGlassHeader, reason)
	}
	req.Body = http.NoBody
	if w.body != nil {
		req.Body = readCloser{bytes.NewReader(w.body)}
		req.ContentLength = int64(len(w.body))
	}
	s.api.ServeHTTP(rec, req)
	return rec
}

func (s *Server) batch(r *http.Request, entries []json.RawMessage) (*response, error) {
	out := newBundle("batch-response")
	out.Entry = make([]bundleEntry, len(entries))
	representation := preferReturn(r) == "representation"
	for i, raw := range entries {
		w, err := prepare(i, raw)
		if err != nil {
			status, issues, _ := statusOf(err)
			out.Entry[i] = bundleEntry{Response: &entryResponse{Status: statusLine(status), Outcome: outcomeJSON(issues)}}
			// An entry refused before it ran is audited too.
			s.audit.record(r, "batch-entry", "", "", status)
			continue
		}
		if w.method == http.MethodPost {
			w.id = uuid.NewString()
		}
		rec := s.run(context.WithValue(r.Context(), preassignedKey, w.id), r, w)
		out.Entry[i] = s.entryResult(r, w, rec, representation)
	}
	body, err := json.Marshal(out)
	return &response{body: body, interaction: "batch"}, err
}

func (s *Server) transaction(r *http.Request, entries []json.RawMessage) (*response, error) {
	works := make([]*entryWork, len(entries))
	fullURLs := map[string]bool{}
	targets := map[string]int{}
	for i, raw := range entries {
		w, err := prepare(i, raw)
		if err != nil {
			return nil, err
		}
		if w.method == http.MethodPost || (w.method == http.MethodPut && w.conditional) {
			w.id = uuid.NewString() // replaced below if a condition matches
		}
		if w.full != "" && w.method != http.MethodGet && w.method != http.MethodHead {
			if fullURLs[w.full] {
				return nil, errorAt(http.StatusBadRequest, "invalid", fmt.Sprintf("Bundle.entry[%d].fullUrl", i), "fullUrl %q appears twice", w.full)
			}
			fullURLs[w.full] = true
		}
		if w.method != http.MethodGet && w.method != http.MethodHead && !w.conditional {
			key := w.typ + "/" + w.id
			if j, dup := targets[key]; dup {
				return nil, errorAt(http.StatusBadRequest, "invalid", fmt.Sprintf("Bundle.entry[%d]", i),
					"entries %d and %d both change %s; a transaction may touch each resource once", j, i, key)
			}
			targets[key] = i
		}
		works[i] = w
	}
	order := append([]*entryWork(nil), works...)
	sort.SliceStable(order, func(i, j int) bool { return methodOrder[order[i].method] < methodOrder[order[j].method] })
	out := newBundle("transaction-response")
	out.Entry = make([]bundleEntry, len(works))
	representation := preferReturn(r) == "representation"
	ctx, deferred := deferAudit(r.Context())
	err := s.store.WithTx(ctx, func(ctx context.Context, tx resources.Ops) error {
		ctx = context.WithValue(ctx, txKey, tx)
		if err := s.resolveEntries(ctx, r, tx, works); err != nil {
			return err
		}
		for _, w := range order {
			rec := s.run(context.WithValue(ctx, preassignedKey, w.id), r, w)
			if rec.status >= 400 {
				return entryFailure(w, rec)
			}
			out.Entry[w.index] = s.entryResult(r, w, rec, representation)
		}
		return nil
	})
	failed := 0
	if err != nil {
		failed, _, _ = statusOf(err)
	}
	s.audit.recordDeferred(deferred, failed)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(out)
	return &response{body: body, interaction: "transaction"}, err
}

// resolveEntries settles, inside the transaction, the ids that conditional
// entries will act on (ifNoneExist creates and conditional updates that
// match an existing resource take its id), then rewrites every reference to
// an entry's fullUrl and every conditional reference (Type?criteria).
func (s *Server) resolveEntries(ctx context.Context, r *http.Request, tx resources.Ops, works []*entryWork) error {
	refs := map[string]string{}
	for _, w := range works {
		at := fmt.Sprintf("Bundle.entry[%d].request", w.index)
		cond := ""
		switch {
		case w.method == http.MethodPost && w.ifNoneExist != "":
			cond = w.ifNoneExist
		case w.method == http.MethodPut && w.conditional:
			cond = w.req.URL.RawQuery
		}
		if cond != "" {
			found, err := s.match(ctx, r, tx, w.typ, cond, at, false)
			if err != nil {
				return err
			}
			switch len(found) {
			case 0:
			case 1:
				w.id = found[0].ID
			default:
				return errMultiple
			}
		}
		if w.full != "" && (w.method == http.MethodPost || w.method == http.MethodPut) {
			refs[w.full] = w.typ + "/" + w.id
		}
	}
	for _, w := range works {
		if w.method != http.MethodPost && w.method != http.MethodPut {
			continue
		}
		body, err := s.resolveConditionalRefs(ctx, r, tx, rewriteRefs(w.body, refs), fmt.Sprintf("Bundle.entry[%d].resource", w.index))
		if err != nil {
			return err
		}
		w.body = body
	}
	return nil
}

// entryFailure turns a failed transaction entry into the transaction's error,
// locating each issue inside Bundle.entry[i].
func entryFailure(w *entryWork, rec *recorder) error {
	var oo struct {
		Issue []struct {
			Severity    string   `json:"severity"`
			Code        string   `json:"code"`
			Diagnostics string   `json:"diagnostics"`
			Expression  []string `json:"expression"`
		} `json:"issue"`
	}
	_ = json.Unmarshal(rec.body.Bytes(), &oo)
	at := fmt.Sprintf("Bundle.entry[%d]", w.index)
	he := &httpError{status: rec.status}
	for _, is := range oo.Issue {
		ri := resources.Issue{Severity: is.Severity, Code: is.Code,
			Diagnostics: fmt.Sprintf("transaction failed at %s (%s %s): %s", at, w.method, w.path, is.Diagnostics)}
		for _, e := range is.Expression {
			if rest, ok := strings.CutPrefix(e, w.typ); ok && (rest == "" || rest[0] == '.' || rest[0] == '[') {
				e = at + ".resource" + rest
			}
			ri.Expression = append(ri.Expression, e)
		}
		if len(ri.Expression) == 0 {
			ri.Expression = []string{at}
		}
		he.issues = append(he.issues, ri)
	}
	if len(he.issues) == 0 {
		he.issues = issue("processing", fmt.Sprintf("transaction failed at %s with status %d", at, rec.status))
	}
	return he
}

// entryResult builds the response entry of a processed entry.
func (s *Server) entryResult(r *http.Request, w *entryWork, rec *recorder, representation bool) bundleEntry {
	resp := &entryResponse{Status: statusLine(rec.status), Etag: rec.header.Get("ETag")}
	if loc := rec.header.Get("Location"); loc != "" {
		resp.Location = strings.TrimPrefix(loc, s.base(w.req)+"/")
	} else if (w.method == http.MethodPut || w.method == http.MethodPatch) && rec.status < 300 && w.id != "" && resp.Etag != "" {
		resp.Location = w.typ + "/" + w.id + "/_history/" + strings.Trim(strings.TrimPrefix(resp.Etag, "W/"), `"`)
	}
	if lm := rec.header.Get("Last-Modified"); lm != "" {
		if t, err := http.ParseTime(lm); err == nil {
			resp.LastModified = resources.FormatInstant(t)
		}
	}
	e := bundleEntry{Response: resp}
	body := rec.body.Bytes()
	switch {
	case rec.status >= 400:
		resp.Outcome = json.RawMessage(body)
	case len(body) > 0 && (representation || w.method == http.MethodGet):
		e.Resource = json.RawMessage(body)
	}
	if w.method != http.MethodGet && w.method != http.MethodDelete && rec.status < 300 && w.id != "" {
		e.FullURL = s.base(r) + "/" + w.typ + "/" + w.id
	}
	return e
}

func statusLine(code int) string { return strconv.Itoa(code) + " " + http.StatusText(code) }

// rewriteRefs replaces every JSON string equal to a bundle fullUrl by the
// reference of the resource that entry became. urn: fullUrls (the common
// case) are found in one scan; other fullUrls are replaced one by one.
func rewriteRefs(body []byte, refs map[string]string) []byte {
	if len(refs) == 0 {
		return body
	}
	var out []byte
	rest := body
	for {
		i := bytes.Index(rest, []byte(`"urn:`))
		if i < 0 {
			break
		}
		end := bytes.IndexByte(rest[i+1:], '"')
		if end < 0 {
			break
		}
		full := string(rest[i+1 : i+1+end])
		if ref, ok := refs[full]; ok && (i == 0 || rest[i-1] != '\\') {
			out = append(out, rest[:i+1]...)
			out = append(out, ref...)
		} else {
			out = append(out, rest[:i+1+end]...)
		}
		rest = rest[i+1+end:]
	}
	if out != nil {
		body = append(out, rest...)
	}
	for full, ref := range refs {
		if full == "" || strings.HasPrefix(full, "urn:") {
			continue
		}
		q, _ := json.Marshal(full)
		if bytes.Contains(body, q) {
			r, _ := json.Marshal(ref)
			body = bytes.ReplaceAll(body, q, r)
		}
	}
	return body
}

// recorder is an in-memory ResponseWriter for bundle entries.
type recorder struct {
	status int
	header http.Header
	body   bytes.Buffer
}

func newRecorder() *recorder { return &recorder{header: http.Header{}} }

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }
