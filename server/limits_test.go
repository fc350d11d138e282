package server_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meizhou-yiyang/yiyang/resources"
	"github.com/meizhou-yiyang/yiyang/resources/search"
	"github.com/meizhou-yiyang/yiyang/resources/storetest"
	"github.com/meizhou-yiyang/yiyang/server"
	"github.com/meizhou-yiyang/yiyang/server/auth"
	"github.com/meizhou-yiyang/yiyang/server/auth/authtest"
)

// fakeClock is the rate limiter's clock in tests: it moves only when told.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// limitsServer builds a server on SQLite with cfg's security settings;
// authenticated is whether it verifies tokens from the returned issuer.
func limitsServer(t *testing.T, authenticated bool, cfg server.Config) (*server.Server, *authtest.Issuer) {
	t.Helper()
	parser, err := resources.NewParser()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Store == nil {
		cfg.Store = backends()[0].open(t)
	}
	cfg.Parser, cfg.Logger, cfg.Version = parser, testLogger(t), "test"
	var iss *authtest.Issuer
	if authenticated {
		iss = authtest.NewIssuer(t)
		v, err := auth.New(context.Background(), auth.Config{
			Issuers:    []auth.Issuer{{URL: iss.URL(), Audience: iss.Audience}},
			HTTPClient: iss.Client(),
		})
		if err != nil {
			t.Fatal(err)
		}
		cfg.Auth = v
	} else {
		cfg.AuthDisabled = true
	}
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv, iss
}

// call serves one request in process from remote address addr (host:port);
// headers come in name, value pairs.
func call(t *testing.T, h http.Handler, addr, method, path string, body []byte, headers ...string) *httptest.ResponseRecorder {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = strings.NewReader(string(body))
	}
	req := httptest.NewRequest(method, path, rd)
	req.RemoteAddr = addr
	if body != nil {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] != "" {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// issueCode is the code of the first issue of an OperationOutcome body.
func issueCode(t *testing.T, body []byte) string {
	t.Helper()
	var oo struct {
		ResourceType string
		Issue        []struct{ Code string }
	}
	if err := json.Unmarshal(body, &oo); err != nil || oo.ResourceType != "OperationOutcome" || len(oo.Issue) == 0 {
		t.Fatalf("not an OperationOutcome: %s", body)
	}
	return oo.Issue[0].Code
}

func TestSecurityHeaders(t *testing.T) {
	srv, _ := limitsServer(t, false, server.Config{MaxBodyBytes: 2048})
	h := srv.Handler()
	const addr = "192.0.2.1:40000"
	if rec := call(t, h, addr, "PUT", "/Patient/p1", []byte(`{"resourceType":"Patient","id":"p1"}`)); rec.Code != http.StatusCreated {
		t.Fatalf("setup: %d %s", rec.Code, rec.Body)
	}
	want := map[string]string{
		"X-Content-Type-Options":  "nosniff",
		"X-Frame-Options":         "DENY",
		"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
		"Referrer-Policy":         "no-referrer",
		"Cache-Control":           "no-store",
	}
	for _, tc := range []struct {
		name, method, path string
		body               []byte
		headers            []string
		status             int
	}{
		{"read", "GET", "/Patient/p1", nil, nil, 200},
		{"conditional read", "GET", "/Patient/p1", nil, []string{"If-None-Match", `W/"1"`}, 304},
		{"search", "GET", "/Patient?_id=p1", nil, nil, 200},
		{"create", "POST", "/Patient", []byte(`{"resourceType":"Patient"}`), nil, 201},
		{"not found", "GET", "/Patient/nobody", nil, nil, 404},
		{"invalid", "POST", "/Patient", []byte(`{"resourceType":"Patient","active":"yes"}`), nil, 400},
		{"not acceptable", "GET", "/Patient/p1", nil, []string{"Accept", "application/xml"}, 406},
		{"too large", "POST", "/Patient", []byte(strings.Repeat(" ", 4096)), nil, 413},
		{"capabilities", "GET", "/metadata", nil, nil, 200},
		{"health", "GET", "/healthz", nil, nil, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := call(t, h, addr, tc.method, tc.path, tc.body, tc.headers...)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			for k, v := range want {
				if got := rec.Header().Values(k); len(got) != 1 || got[0] != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
			if v := rec.Header().Get("Strict-Transport-Security"); v != "" {
				t.Errorf("HSTS over plain HTTP: %q", v)
			}
			if tc.name == "read" || tc.name == "conditional read" {
				// no-store keeps versioning: the ETag is still sent.
				if rec.Header().Get("ETag") != `W/"1"` {
					t.Errorf("ETag %q", rec.Header().Get("ETag"))
				}
			}
		})
	}

	// Over TLS, HSTS is added.
	req := httptest.NewRequest("GET", "/Patient/p1", nil)
	req.TLS = &tls.ConnectionState{Version: tls.VersionTLS13, HandshakeComplete: true}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 || rec.Header().Get("Strict-Transport-Security") != "max-age=31536000" {
		t.Fatalf("TLS read: %d, HSTS %q", rec.Code, rec.Header().Get("Strict-Transport-Security"))
	}
}

func TestCORS(t *testing.T) {
	const app = "https://app.example.cn"
	srv, iss := limitsServer(t, true, server.Config{CORSOrigins: []string{app, "https://Portal.Example.cn:8443"}})
	h := srv.Handler()
	const addr = "192.0.2.1:40000"
	token := "Bearer " + iss.Token(t, "dr-li", "user/*.cruds", nil)
	if rec := call(t, h, addr, "PUT", "/Patient/p1", []byte(`{"resourceType":"Patient","id":"p1"}`), "Authorization", token); rec.Code != 201 {
		t.Fatalf("setup: %d %s", rec.Code, rec.Body)
	}
	preflight := func(origin string) *httptest.ResponseRecorder {
		return call(t, h, addr, "OPTIONS", "/Patient/p1", nil, "Origin", origin,
			"Access-Control-Request-Method", "PUT", "Access-Control-Request-Headers", "authorization, content-type, if-match")
	}
	noCORS := func(t *testing.T, hd http.Header) {
		t.Helper()
		for k := range hd {
			if strings.HasPrefix(k, "Access-Control-") {
				t.Errorf("unexpected %s: %q", k, hd.Get(k))
			}
		}
	}

	t.Run("preflight from an allowed origin needs no token", func(t *testing.T) {
		rec := preflight(app)
		hd := rec.Header()
		if rec.Code != http.StatusNoContent || hd.Get("Access-Control-Allow-Origin") != app {
			t.Fatalf("%d, Allow-Origin %q", rec.Code, hd.Get("Access-Control-Allow-Origin"))
		}
		for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"} {
			if !strings.Contains(hd.Get("Access-Control-Allow-Methods"), m) {
				t.Errorf("Allow-Methods %q lacks %s", hd.Get("Access-Control-Allow-Methods"), m)
			}
		}
		for _, x := range []string{"Authorization", "Content-Type", "Accept", "Prefer", "If-Match", "If-None-Match",
			"If-None-Exist", "If-Modified-Since", "X-Request-Id", "X-Break-Glass-Reason"} {
			if !strings.Contains(hd.Get("Access-Control-Allow-Headers"), x) {
				t.Errorf("Allow-Headers %q lacks %s", hd.Get("Access-Control-Allow-Headers"), x)
			}
		}
		if hd.Get("Access-Control-Max-Age") == "" || !strings.Contains(hd.Get("Vary"), "Origin") {
			t.Errorf("Max-Age %q, Vary %q", hd.Get("Access-Control-Max-Age"), hd.Get("Vary"))
		}
		if hd.Get("Access-Control-Allow-Credentials") != "" {
			t.Error("credentials must not be allowed")
		}
	})
	t.Run("origins compare case-insensitively after normalising", func(t *testing.T) {
		if rec := preflight("https://portal.example.cn:8443"); rec.Code != 204 ||
			rec.Header().Get("Access-Control-Allow-Origin") != "https://portal.example.cn:8443" {
			t.Fatalf("%d %v", rec.Code, rec.Header())
		}
	})
	for _, origin := range []string{"https://evil.example", "http://app.example.cn", "https://app.example.cn.evil.example", "null"} {
		t.Run("preflight from "+origin+" is not approved", func(t *testing.T) {
			rec := preflight(origin)
			if rec.Code == http.StatusNoContent || rec.Code == http.StatusOK {
				t.Fatalf("preflight answered %d", rec.Code)
			}
			noCORS(t, rec.Header())
			if !strings.Contains(rec.Header().Get("Vary"), "Origin") {
				t.Errorf("Vary %q", rec.Header().Get("Vary"))
			}
		})
	}
	t.Run("request from an allowed origin", func(t *testing.T) {
		rec := call(t, h, addr, "GET", "/Patient/p1", nil, "Origin", app, "Authorization", token)
		hd := rec.Header()
		if rec.Code != 200 || hd.Get("Access-Control-Allow-Origin") != app || hd.Get("Vary") != "Origin" {
			t.Fatalf("%d %v", rec.Code, hd)
		}
		for _, x := range []string{"Location", "Content-Location", "ETag", "Last-Modified", "X-Request-Id"} {
			if !strings.Contains(hd.Get("Access-Control-Expose-Headers"), x) {
				t.Errorf("Expose-Headers %q lacks %s", hd.Get("Access-Control-Expose-Headers"), x)
			}
		}
	})
	t.Run("errors to an allowed origin are readable", func(t *testing.T) {
		rec := call(t, h, addr, "GET", "/Patient/p1", nil, "Origin", app)
		if rec.Code != 401 || rec.Header().Get("Access-Control-Allow-Origin") != app {
			t.Fatalf("%d %v", rec.Code, rec.Header())
		}
	})
	t.Run("request from another origin", func(t *testing.T) {
		rec := call(t, h, addr, "GET", "/Patient/p1", nil, "Origin", "https://evil.example", "Authorization", token)
		if rec.Code != 200 {
			t.Fatalf("%d", rec.Code)
		}
		noCORS(t, rec.Header())
	})

	t.Run("off without origins", func(t *testing.T) {
		srv, _ := limitsServer(t, false, server.Config{})
		for _, method := range []string{"OPTIONS", "GET"} {
			rec := call(t, srv.Handler(), addr, method, "/Patient", nil, "Origin", app, "Access-Control-Request-Method", "GET")
			noCORS(t, rec.Header())
			if method == "OPTIONS" && rec.Code < 400 {
				t.Errorf("preflight answered %d with CORS off", rec.Code)
			}
		}
	})
}

func TestCORSOriginsValidation(t *testing.T) {
	for _, o := range []string{"*", "null", "https://app.example.cn/", "https://app.example.cn/fhir", "ftp://app.example.cn",
		"app.example.cn", "https://", "https://u:p@app.example.cn", "https://app.example.cn?x=1", "https://app.example.cn#x"} {
		if _, err := server.ParseCORSOrigins([]string{o}); err == nil {
			t.Errorf("%q accepted", o)
		}
	}
	set, err := server.ParseCORSOrigins([]string{"https://App.example.cn", "http://localhost:3000"})
	if err != nil || !set["https://app.example.cn"] || !set["http://localhost:3000"] {
		t.Fatalf("%v %v", set, err)
	}
	parser, _ := resources.NewParser()
	if _, err := server.New(server.Config{Store: backends()[0].open(t), Parser: parser, AuthDisabled: true,
		CORSOrigins: []string{"*"}}); err == nil {
		t.Fatal("server.New accepted CORS origin *")
	}
}

func TestRateLimitPerClient(t *testing.T) {
	srv, iss := limitsServer(t, true, server.Config{RateLimit: 1, RateBurst: 3})
	clock := newFakeClock()
	server.SetRateLimitClock(srv, clock.Now, 0)
	h := srv.Handler()
	const addr = "192.0.2.7:50000" // both clients behind one address
	li := "Bearer " + iss.Token(t, "dr-li", "user/*.cruds", nil)
	wang := "Bearer " + iss.Token(t, "nurse-wang", "user/*.rs", nil)
	get := func(token string) *httptest.ResponseRecorder {
		return call(t, h, addr, "GET", "/Patient/nobody", nil, "Authorization", token)
	}
	for i := range 3 {
		if rec := get(li); rec.Code != http.StatusNotFound {
			t.Fatalf("dr-li request %d: %d %s", i+1, rec.Code, rec.Body)
		}
	}
	rec := get(li)
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "1" || issueCode(t, rec.Body.Bytes()) != "throttled" {
		t.Fatalf("dr-li over the limit: %d Retry-After %q %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
	if rec.Header().Get("X-Content-Type-Options") != "nosniff" || rec.Header().Get("Content-Type") != "application/fhir+json; charset=utf-8" {
		t.Fatalf("429 headers: %v", rec.Header())
	}
	// Another principal from the same address has its own bucket.
	for i := range 3 {
		if rec := get(wang); rec.Code != http.StatusNotFound {
			t.Fatalf("nurse-wang request %d: %d", i+1, rec.Code)
		}
	}
	if rec := get(wang); rec.Code != http.StatusTooManyRequests {
		t.Fatalf("nurse-wang over the limit: %d", rec.Code)
	}
	// Authenticated requests do not drain the address: an unauthenticated
	// request from it is still answered (401, not 429).
	if rec := call(t, h, addr, "GET", "/Patient/nobody", nil); rec.Code != http.StatusUnauthorized {
		t.Fatalf("unauthenticated after authenticated traffic: %d", rec.Code)
	}
	// Tokens come back at the rate: one per second.
	clock.Advance(time.Second)
	if rec := get(li); rec.Code != http.StatusNotFound {
		t.Fatalf("after 1 s: %d", rec.Code)
	}
	if rec := get(li); rec.Code != http.StatusTooManyRequests {
		t.Fatalf("second request after 1 s: %d", rec.Code)
	}
	clock.Advance(10 * time.Second) // refills to the burst, not beyond
	for i := range 3 {
		if rec := get(li); rec.Code != http.StatusNotFound {
			t.Fatalf("after 10 s, request %d: %d", i+1, rec.Code)
		}
	}
	if rec := get(li); rec.Code != http.StatusTooManyRequests {
		t.Fatalf("burst exceeded after refill: %d", rec.Code)
	}
}

func TestRateLimitUnauthenticatedFlood(t *testing.T) {
	srv, iss := limitsServer(t, true, server.Config{RateLimit: 0.5, RateBurst: 4})
	clock := newFakeClock()
	server.SetRateLimitClock(srv, clock.Now, 0)
	h := srv.Handler()
	const attacker, other = "198.51.100.66:1234", "198.51.100.67:1234"
	for i := range 4 {
		tok := "Bearer " + iss.Sign(iss.Claims("x", "user/*.rs", nil), authtest.WithForeignKey())
		if i%2 == 0 {
			tok = "" // no token at all
		}
		rec := call(t, h, attacker, "GET", "/Patient/p1", nil, "Authorization", tok)
		if rec.Code != http.StatusUnauthorized {
			t.Fatalf("failed login %d: %d", i+1, rec.Code)
		}
	}
	rec := call(t, h, attacker, "GET", "/Patient/p1", nil, "Authorization", "Bearer abc.def.ghi")
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "2" || issueCode(t, rec.Body.Bytes()) != "throttled" {
		t.Fatalf("flood not throttled: %d Retry-After %q %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
	if rec.Header().Get("WWW-Authenticate") != "" {
		t.Fatal("a throttled request reached authentication")
	}
	// The open CapabilityStatement counts against the address too.
	if rec := call(t, h, attacker, "GET", "/metadata", nil); rec.Code != http.StatusTooManyRequests {
		t.Fatalf("metadata from a throttled address: %d", rec.Code)
	}
	// Another address is not affected, with or without a token.
	if rec := call(t, h, other, "GET", "/metadata", nil); rec.Code != http.StatusOK {
		t.Fatalf("metadata from another address: %d", rec.Code)
	}
	good := "Bearer " + iss.Token(t, "dr-li", "user/*.rs", nil)
	if rec := call(t, h, other, "GET", "/Patient/p1", nil, "Authorization", good); rec.Code != http.StatusNotFound {
		t.Fatalf("valid token from another address: %d", rec.Code)
	}
	// Two seconds later the attacker has one more try.
	clock.Advance(2 * time.Second)
	if rec := call(t, h, attacker, "GET", "/Patient/p1", nil); rec.Code != http.StatusUnauthorized {
		t.Fatalf("after 2 s: %d", rec.Code)
	}
	if rec := call(t, h, attacker, "GET", "/Patient/p1", nil); rec.Code != http.StatusTooManyRequests {
		t.Fatalf("second try after 2 s: %d", rec.Code)
	}
}

func TestRateLimitKeys(t *testing.T) {
	t.Run("addresses without authentication", func(t *testing.T) {
		srv, _ := limitsServer(t, false, server.Config{RateLimit: 1, RateBurst: 1})
		server.SetRateLimitClock(srv, newFakeClock().Now, 0)
		h := srv.Handler()
		for _, tc := range []struct {
			addr   string
			status int
		}{
			{"203.0.113.1:1000", 404},
			{"203.0.113.1:2000", 429}, // same host, other port
			{"203.0.113.2:1000", 404},
			{"[2001:db8::1]:1000", 404},
			{"[2001:db8::ffff]:1000", 429}, // same /64
			{"[2001:db8:0:1::1]:1000", 404},
			{"[::ffff:203.0.113.2]:1000", 429}, // IPv4-mapped is the IPv4 address
		} {
			if rec := call(t, h, tc.addr, "GET", "/Patient/nobody", nil); rec.Code != tc.status {
				t.Errorf("%s: %d, want %d", tc.addr, rec.Code, tc.status)
			}
		}
	})
	t.Run("device certificates", func(t *testing.T) {
		srv, _ := limitsServer(t, true, server.Config{RateLimit: 1, RateBurst: 1})
		server.SetRateLimitClock(srv, newFakeClock().Now, 0)
		h := srv.Handler()
		ca := newCA(t, "Device CA")
		device := func(cn string) int {
			c := ca.issue(t, cn, true)
			cert, err := x509.ParseCertificate(c.Certificate[0])
			if err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest("GET", "/Device/nobody", nil)
			req.RemoteAddr = "10.1.1.1:5000" // one bridge, several devices
			req.TLS = &tls.ConnectionState{HandshakeComplete: true, VerifiedChains: [][]*x509.Certificate{{cert, ca.cert}}}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			return rec.Code
		}
		for i, tc := range []struct {
			cn     string
			status int
		}{{"wristband-1", 404}, {"wristband-1", 429}, {"wristband-2", 404}, {"wristband-2", 429}} {
			if got := device(tc.cn); got != tc.status {
				t.Errorf("request %d from %s: %d, want %d", i+1, tc.cn, got, tc.status)
			}
		}
	})
}

func TestRateLimitBoundedMemory(t *testing.T) {
	srv, _ := limitsServer(t, false, server.Config{RateLimit: 1, RateBurst: 2})
	clock := newFakeClock()
	server.SetRateLimitClock(srv, clock.Now, 128)
	h := srv.Handler()
	const victim = "203.0.113.200:1"
	for _, want := range []int{404, 404, 429} {
		if rec := call(t, h, victim, "GET", "/Patient/nobody", nil); rec.Code != want {
			t.Fatalf("victim: %d, want %d", rec.Code, want)
		}
	}
	for i := range 3000 {
		call(t, h, fmt.Sprintf("10.%d.%d.1:1", i/256, i%256), "GET", "/Patient/nobody", nil)
		if n := server.RateLimitClients(srv); n > 128 {
			t.Fatalf("%d buckets after %d clients, cap 128", n, i+1)
		}
	}
	// Eviction takes the fullest buckets: the throttled client is kept.
	if rec := call(t, h, victim, "GET", "/Patient/nobody", nil); rec.Code != http.StatusTooManyRequests {
		t.Fatalf("throttled client evicted: %d", rec.Code)
	}

	// Idle buckets are swept even below the cap.
	srv, _ = limitsServer(t, false, server.Config{RateLimit: 1, RateBurst: 2})
	server.SetRateLimitClock(srv, clock.Now, 0)
	h = srv.Handler()
	for i := range 1000 {
		call(t, h, fmt.Sprintf("10.0.%d.%d:1", i/250, i%250), "GET", "/Patient/nobody", nil)
	}
	if n := server.RateLimitClients(srv); n != 1000 {
		t.Fatalf("%d buckets for 1000 clients", n)
	}
	clock.Advance(2 * time.Minute)
	for i := range 5000 {
		call(t, h, fmt.Sprintf("10.1.%d.%d:1", i/250, i%250), "GET", "/Patient/nobody", nil)
	}
	if n := server.RateLimitClients(srv); n != 5000 {
		t.Fatalf("%d buckets after the idle ones should have gone; want the 5000 active", n)
	}
}

// TestRefusalsAudited: a throttled client's refusals are audited, the first
// at once and then at most one event per second standing for the refusals
// since the last; a body over the limit is audited too.
func TestRefusalsAudited(t *testing.T) {
	st := backends()[0].open(t)
	srv, iss := limitsServer(t, true, server.Config{Store: st, RateLimit: 1, RateBurst: 1, MaxBodyBytes: 1000,
		Audit: &server.AuditConfig{Sync: true}})
	clock := newFakeClock()
	server.SetRateLimitClock(srv, clock.Now, 0)
	h := srv.Handler()
	li := "Bearer " + iss.Token(t, "dr-li", "user/*.cruds", nil)
	get := func() int {
		return call(t, h, "192.0.2.7:50000", "GET", "/Patient/nobody", nil, "Authorization", li).Code
	}
	refusals := func() []string {
		page, err := st.(storetest.Searcher).Search(context.Background(), &search.Query{Type: search.AuditType, Count: 100})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, m := range page.Matches {
			var ev struct{ OutcomeDesc string }
			json.Unmarshal(m.Data, &ev)
			if strings.Contains(ev.OutcomeDesc, "Too Many") || strings.Contains(ev.OutcomeDesc, "Too Large") {
				out = append(out, ev.OutcomeDesc)
			}
		}
		return out
	}
	if code := get(); code != http.StatusNotFound {
		t.Fatalf("first request: %d", code)
	}
	for range 5 {
		if code := get(); code != http.StatusTooManyRequests {
			t.Fatalf("over the limit: %d", code)
		}
	}
	if got := refusals(); len(got) != 1 {
		t.Fatalf("after 5 refusals in an instant, %d events, want 1: %v", len(got), got)
	}
	clock.Advance(1500 * time.Millisecond) // one token back, and a second since the event
	get()
	if code := get(); code != http.StatusTooManyRequests {
		t.Fatalf("over the limit again: %d", code)
	}
	got := refusals()
	if len(got) != 2 || !slices.ContainsFunc(got, func(d string) bool { return strings.Contains(d, "stands for 5 refused requests") }) {
		t.Fatalf("events %v, want a second one standing for 5 refusals", got)
	}
	big := []byte(`{"resourceType":"Patient","name":[{"family":"` + strings.Repeat("x", 2000) + `"}]}`)
	if rec := call(t, h, "192.0.2.8:50000", "POST", "/Patient", big, "Content-Type", "application/fhir+json", "Authorization", "Bearer "+iss.Token(t, "other", "user/*.cruds", nil)); rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("body over the limit: %d", rec.Code)
	}
	if got := refusals(); len(got) != 3 {
		t.Fatalf("the body over the limit left no event: %v", got)
	}
}
