// Package server is Yiyang's HTTP layer: the FHIR R4 REST interactions on
// go-chi, content negotiation, Prefer and ETag handling, batch and
// transaction bundles, the CapabilityStatement, and the mapping of every
// error to a status code and an OperationOutcome in one place.
package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/google/uuid"
	"github.com/meizhou-yiyang/yiyang/operations"
	"github.com/meizhou-yiyang/yiyang/resources"
	"github.com/meizhou-yiyang/yiyang/resources/index"
	"github.com/meizhou-yiyang/yiyang/server/auth"
	"github.com/meizhou-yiyang/yiyang/terminology"
	"github.com/prometheus/client_golang/prometheus"
)

// Config configures a Server.
type Config struct {
	Store  resources.Store
	Parser *resources.Parser
	// Indexer extracts search index entries on every write; nil means a new
	// extractor over the R4 core search parameters.
	Indexer *index.Extractor
	Logger  *slog.Logger
	// Operations are the $operations to serve and advertise; nil means none.
	Operations *operations.Registry
	// BaseURL is the public base of the FHIR endpoint (e.g.
	// https://fhir.example.org); empty derives it from each request.
	BaseURL string
	// MaxBodyBytes bounds request bodies; larger ones get 413. 0 means 16 MiB.
	MaxBodyBytes int64
	// Registerer receives the server's metrics; nil means a private registry.
	Registerer prometheus.Registerer
	// Version is reported in the CapabilityStatement.
	Version string
	// Auth verifies bearer tokens; every FHIR request but /metadata needs
	// one, and its scopes must permit the interaction.
	Auth *auth.Verifier
	// Authorizer, when set, decides by the token's roles (OPA policy) after
	// the scope check.
	Authorizer Authorizer
	// Audit, when set, records an AuditEvent for every interaction.
	Audit *AuditConfig
	// AuthDisabled runs without authentication. It must be chosen explicitly
	// (Auth nil and AuthDisabled false is an error); the server says so in its
	// CapabilityStatement.
	AuthDisabled bool
	// CORSOrigins are the exact origins (https://app.example.cn) of browser
	// apps allowed to call the API; empty turns CORS off.
	CORSOrigins []string
	// RateLimit is the sustained number of requests per second each client
	// may make (the authenticated principal, else the remote address); more
	// get 429 with Retry-After. 0 turns rate limiting off.
	RateLimit float64
	// RateBurst is how many requests a client may make at once above
	// RateLimit; 0 means twice RateLimit.
	RateBurst int
}

// Server serves the FHIR REST API.
type Server struct {
	cfg       Config
	store     resources.Store
	parser    *resources.Parser
	indexer   *index.Extractor
	log       *slog.Logger
	metrics   *metrics
	api       chi.Router // the FHIR routes, also the target of bundle entries
	root      http.Handler
	started   time.Time
	reg       atomic.Pointer[registryBox]
	jobs      jobs
	audit     *auditor
	decisions decisions
	limits    *limiter // nil when rate limiting is off
	terms     *terminology.Service
}

// New builds a Server.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil || cfg.Parser == nil {
		return nil, errors.New("server: Store and Parser are required")
	}
	if (cfg.Auth == nil) != cfg.AuthDisabled {
		return nil, errors.New("server: configure Auth, or set AuthDisabled to run without authentication (not both)")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 16 << 20
	}
	if cfg.Indexer == nil {
		cfg.Indexer = index.New()
	}
	cfg.Indexer.SetBase(strings.TrimRight(cfg.BaseURL, "/"))
	if cfg.Operations == nil {
		cfg.Operations = operations.NewRegistry()
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	s := &Server{cfg: cfg, parser: cfg.Parser, indexer: cfg.Indexer, log: cfg.Logger, started: time.Now(),
		jobs: jobs{byID: map[string]*job{}}}
	if _, ok := cfg.Operations.Lookup("reindex"); !ok {
		if err := cfg.Operations.Register(operations.Reindex(s)); err != nil {
			return nil, err
		}
	}
	if cfg.Authorizer != nil {
		sd, ok := cfg.Authorizer.(subjectDecider)
		s.decisions.bySubject = !ok || sd.DecidesBySubject()
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	s.metrics = m
	s.store = s.instrument(cfg.Store)
	s.terms = terminology.New(termSource{s}, terminology.Config{})
	if cfg.Audit != nil {
		s.audit = newAuditor(s, *cfg.Audit)
	}
	s.api = s.fhirRoutes()
	origins, err := ParseCORSOrigins(cfg.CORSOrigins)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	if cfg.RateLimit < 0 || cfg.RateBurst < 0 {
		return nil, errors.New("server: RateLimit and RateBurst must not be negative")
	}
	if cfg.RateLimit > 0 {
		s.limits = newLimiter(cfg.RateLimit, cfg.RateBurst, 0, nil)
	}
	r := chi.NewRouter()
	r.Use(securityHeaders)
	if len(origins) > 0 {
		r.Use(func(next http.Handler) http.Handler { return cors(origins, next) })
	}
	r.Use(s.requestID, s.recoverer, s.limitBody)
	r.Get("/healthz", s.healthz)
	r.Get("/readyz", s.readyz)
	r.Handle("/metrics", m.handler())
	r.Get("/.well-known/smart-configuration", s.smartConfiguration)
	r.Mount("/", s.guard(s.api))
	s.root = r
	return s, nil
}

// Handler returns the root HTTP handler.
func (s *Server) Handler() http.Handler { return s.root }

func (s *Server) fhirRoutes() chi.Router {
	r := chi.NewRouter()
	r.Use(middleware.GetHead) // HEAD is answered like GET, without the body
	r.NotFound(s.handle("unknown", s.notFound))
	r.MethodNotAllowed(s.handle("unknown", s.methodNotAllowed))
	r.Get("/metadata", s.handle("capabilities", s.capabilities))
	r.Post("/", s.handle("batch", s.bundle))
	r.Get("/", s.handle("search-system", s.searchSystem))
	r.Get("/_history", s.handle("history-system", s.history))
	r.Get("/_jobs/{id}", s.handle("job-status", s.jobStatus))
	r.Route("/{type}", func(r chi.Router) {
		// Again: the parent's GetHead finds the mounted router, which
		// matches any method, and leaves HEAD to it.
		r.Use(middleware.GetHead)
		r.Post("/", s.handle("create", s.create))
		r.Get("/", s.handle("search-type", s.searchType))
		r.Post("/_search", s.handle("search-type", s.searchType))
		r.Put("/", s.handle("update", s.conditionalUpdate))
		r.Delete("/", s.handle("delete", s.conditionalDelete))
		r.Post("/{id}", s.handle("operation", s.operation))
		r.Get("/{id}/{op}", s.handle("compartment-or-operation", s.compartmentOrOperation))
		r.Post("/{id}/{op}", s.handle("operation", s.operation))
		r.Get("/_history", s.handle("history-type", s.history))
		r.Get("/{id}", s.handle("read", s.read))
		r.Put("/{id}", s.handle("update", s.update))
		r.Patch("/{id}", s.handle("patch", s.patch))
		r.Delete("/{id}", s.handle("delete", s.delete))
		r.Get("/{id}/_history", s.handle("history-instance", s.history))
		r.Get("/{id}/_history/{vid}", s.handle("vread", s.vread))
	})
	return r
}

// Routes lists the FHIR API's routes as "METHOD pattern", sorted. Tests
// that must cover every access path (the leakage matrix) enumerate them.
func (s *Server) Routes() []string {
	var out []string
	chi.Walk(s.api, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if route = strings.TrimSuffix(route, "/*"); len(route) > 1 {
			route = strings.TrimSuffix(route, "/")
		}
		out = append(out, method+" "+route)
		return nil
	})
	sort.Strings(out)
	return out
}

// response is what a handler returns; handle writes it.
type response struct {
	status int
	// resource, when set, supplies ETag and Last-Modified and is the body
	// unless Prefer says otherwise (prefer) or body is set.
	resource *resources.Resource
	// location adds a Location header for the resource version.
	location bool
	// prefer applies the Prefer: return= header (create, update, patch).
	prefer bool
	// unreadable: the caller may write the resource but not read it, so it
	// is not returned (as with return=minimal): a create, update or patch,
	// or a conditional create that matched, must not read for it.
	unreadable bool
	// body is a raw JSON body (Bundle, OperationOutcome, CapabilityStatement).
	body   []byte
	header http.Header
	// interaction, when set, names the interaction for metrics more precisely
	// than the route did (a POST to the base is a batch or a transaction).
	interaction string
}

type apiFunc func(w http.ResponseWriter, r *http.Request) (*response, error)

// handle adapts an apiFunc: content negotiation, error → OperationOutcome,
// Prefer, ETag and Last-Modified, metrics and the access log live here.
func (s *Server) handle(interaction string, fn apiFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		audited := false
		// A panic (a bug) is answered 500 by recoverer; the request is
		// audited here, where the principal is known.
		defer func() {
			if v := recover(); v != nil {
				if v != http.ErrAbortHandler && !audited {
					typ := chi.URLParam(r, "type")
					if !resources.IsResourceType(typ) {
						typ = ""
					}
					s.audit.record(r, interaction, typ, chi.URLParam(r, "id"), http.StatusInternalServerError)
				}
				panic(v)
			}
		}()
		codec, err := negotiate(r)
		if err == nil {
			err = s.authorize(r, interaction)
		}
		var resp *response
		if err == nil {
			resp, err = fn(w, r)
		}
		if err == nil && resp != nil && resp.prefer && resp.resource != nil && !s.mayRead(r, resp.resource.Type) {
			resp.unreadable = true
		}
		if codec == nil {
			codec = fhirJSON
		}
		typ := chi.URLParam(r, "type")
		if !resources.IsResourceType(typ) {
			typ = ""
		}
		// The route's interaction is shared by all its requests: a
		// response that names another (a transaction, say) names it for
		// this request only.
		name := interaction
		if resp != nil && resp.interaction != "" {
			name = resp.interaction
		}
		id := chi.URLParam(r, "id")
		if resp != nil && resp.resource != nil && resp.resource.ID != "" {
			id = resp.resource.ID
		}
		status := s.write(w, r, codec, resp, err, func(status int) {
			audited = true
			s.audit.record(s.withAuditPatients(r, name, typ, resp), name, typ, id, status)
		})
		s.metrics.observe(name, typ, status, time.Since(start))
	}
}

// Close flushes the audit events still queued; call it after the HTTP
// server has stopped.
func (s *Server) Close() { s.audit.Close() }

// FlushAudit returns once the AuditEvents of the requests handled so far
// (whose handlers have returned) are stored (batched mode writes them within AuditConfig.FlushInterval
// anyway); an error when the database refused some, which stay queued to
// retry, or when ctx ends first.
func (s *Server) FlushAudit(ctx context.Context) error { return s.audit.Flush(ctx) }

// write answers the request with resp or err and returns the status. audit,
// when not nil, is called with the status before anything is sent: in
// synchronous audit mode the request's AuditEvent is stored before the
// client can have the response.
func (s *Server) write(w http.ResponseWriter, r *http.Request, codec Codec, resp *response, err error, audit func(status int)) int {
	a := s.prepare(w, r, codec, resp, err)
	if audit != nil {
		audit(a.code)
	}
	return a.send(w)
}

// answer is a response ready to send.
type answer struct {
	code int
	body []byte // nil: none
	gone bool   // the client has gone: send nothing
}

func (a answer) send(w http.ResponseWriter) int {
	if a.gone {
		return a.code
	}
	w.WriteHeader(a.code)
	if a.body != nil {
		w.Write(a.body)
	}
	return a.code
}

// prepare sets the headers of the answer to resp or err and renders its body.
func (s *Server) prepare(w http.ResponseWriter, r *http.Request, codec Codec, resp *response, err error) answer {
	h := w.Header()
	pretty := r.URL.Query().Get("_pretty") == "true"
	var body []byte
	status := http.StatusOK
	if err != nil {
		var issues []resources.Issue
		var safe bool
		status, issues, safe = statusOf(err)
		if !safe {
			s.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		} else {
			s.log.DebugContext(r.Context(), "request rejected", "status", status, "err", err)
		}
		body = outcomeJSON(issues)
		var ae *auth.Error
		if errors.As(err, &ae) && ae.Challenge != "" {
			h.Set("WWW-Authenticate", ae.Challenge)
		}
	} else {
		status = resp.status
		if status == 0 {
			status = http.StatusOK
		}
		for k, v := range resp.header {
			h[k] = v
		}
		body = resp.body
		if res := resp.resource; res != nil {
			h.Set("ETag", etag(res.VersionID))
			h.Set("Last-Modified", res.LastUpdated.UTC().Format(http.TimeFormat))
			if resp.location {
				h.Set("Location", s.base(r)+"/"+res.Type+"/"+res.ID+"/_history/"+strconv.FormatInt(res.VersionID, 10))
			}
			if body == nil {
				body = res.Data
				if resp.prefer {
					switch preferReturn(r) {
					case "minimal":
						body = nil
					case "OperationOutcome":
						body = information("ok: " + res.Type + "/" + res.ID + " version " + strconv.FormatInt(res.VersionID, 10))
					default:
						if resp.unreadable {
							body = nil
						}
					}
				}
			}
		}
	}
	if status == 499 {
		return answer{code: status, gone: true}
	}
	if body == nil || status == http.StatusNoContent || status == http.StatusNotModified {
		return answer{code: status}
	}
	var buf bytes.Buffer
	if codec.Encode(&buf, body, pretty) != nil {
		buf.Reset()
		buf.Write(body)
	}
	h.Set("Content-Type", codec.ContentType())
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	return answer{code: status, body: buf.Bytes()}
}

// preferReturn returns the return= preference: minimal, representation or
// OperationOutcome ("" when absent).
func preferReturn(r *http.Request) string {
	for _, v := range r.Header.Values("Prefer") {
		for _, p := range strings.Split(v, ";") {
			k, val, ok := strings.Cut(strings.TrimSpace(p), "=")
			if ok && strings.EqualFold(k, "return") {
				return strings.Trim(val, `"`)
			}
		}
	}
	return ""
}

func etag(v int64) string { return `W/"` + strconv.FormatInt(v, 10) + `"` }

// base is the absolute base URL of the FHIR endpoint.
func (s *Server) base(r *http.Request) string {
	if s.cfg.BaseURL != "" {
		return s.cfg.BaseURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	host := r.Host
	if host == "" {
		host = "localhost"
	}
	return scheme + "://" + host
}

type ctxKey int

const (
	requestIDKey ctxKey = iota
	txKey
)

// ops returns the transaction of a bundle being processed, or the store.
func (s *Server) ops(ctx context.Context) resources.Ops {
	if tx, ok := ctx.Value(txKey).(resources.Ops); ok {
		return tx
	}
	return s.store
}

func (s *Server) requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if id == "" || len(id) > 128 {
			id = uuid.NewString()
		}
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey, id)))
	})
}

// recoverer turns a panic (a bug, never control flow) into a 500 with a
// generic OperationOutcome and logs the stack.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.ErrorContext(r.Context(), "panic", "value", v, "stack", string(debug.Stack()))
				w.Header().Set("Content-Type", fhirJSON.ContentType())
				w.WriteHeader(http.StatusInternalServerError)
				w.Write(outcomeJSON(issue("exception", "internal server error")))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

func (s *Server) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > s.cfg.MaxBodyBytes {
			s.write(w, r, fhirJSON, nil, errorf(http.StatusRequestEntityTooLarge, "too-costly", "%s", tooLarge(s.cfg.MaxBodyBytes)),
				func(status int) { s.audit.record(r, "refused", "", "", status) })
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
		next.ServeHTTP(w, r)
	})
}

func tooLarge(limit int64) string {
	return "request body larger than the limit of " + strconv.FormatInt(limit, 10) + " bytes"
}

// RequestID returns the id of the request being served, for logs.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok\n"))
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err := s.store.Ping(ctx); err != nil {
		s.log.WarnContext(ctx, "readiness check failed", "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("database unreachable\n"))
		return
	}
	w.Write([]byte("ready\n"))
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) (*response, error) {
	return nil, errorf(http.StatusNotFound, "not-found", "no FHIR endpoint at %s %s", r.Method, r.URL.Path)
}

func (s *Server) methodNotAllowed(w http.ResponseWriter, r *http.Request) (*response, error) {
	var allowed []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		if s.api.Match(chi.NewRouteContext(), m, r.URL.Path) {
			allowed = append(allowed, m)
			if m == http.MethodGet {
				allowed = append(allowed, http.MethodHead)
			}
		}
	}
	if len(allowed) == 0 {
		return s.notFound(w, r)
	}
	w.Header().Set("Allow", strings.Join(allowed, ", "))
	return nil, errorf(http.StatusMethodNotAllowed, "not-supported", "%s is not allowed on %s; allowed: %s",
		r.Method, r.URL.Path, strings.Join(allowed, ", "))
}
