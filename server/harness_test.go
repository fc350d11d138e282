package server_test

import (
	"context"
	"github.com/meizhou-yiyang/yiyang/conformance/fhirdata"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meizhou-yiyang/yiyang/operations"
	"github.com/meizhou-yiyang/yiyang/resources"
	"github.com/meizhou-yiyang/yiyang/resources/postgres"
	"github.com/meizhou-yiyang/yiyang/resources/postgres/pgtest"
	"github.com/meizhou-yiyang/yiyang/resources/sqlite"
	"github.com/meizhou-yiyang/yiyang/server"
	"github.com/meizhou-yiyang/yiyang/server/auth"
	"github.com/meizhou-yiyang/yiyang/server/auth/authtest"
)

// backend opens a fresh, empty store.
type backend struct {
	name string
	open func(t testing.TB) resources.Store
}

func backends() []backend {
	return []backend{
		{"sqlite", func(t testing.TB) resources.Store {
			s, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "y.db"), Synchronous: "NORMAL"})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}},
		{"postgres", func(t testing.TB) resources.Store {
			dsn := pgtest.DSN(t)
			s, err := postgres.Open(context.Background(), postgres.Config{DSN: dsn, MaxConns: 8})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}},
	}
}

// eachBackend runs fn against a test server on every backend.
func eachBackend(t *testing.T, fn func(t *testing.T, c *client)) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			fn(t, newClient(t, b.open(t)))
		})
	}
}

// testLogger sends server logs to t.Log.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func newServer(t testing.TB, st resources.Store) *server.Server {
	parser, err := resources.NewParser()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{Store: st, Parser: parser, Logger: testLogger(t), Operations: newOperations(t),
		MaxBodyBytes: 4 << 20, AuthDisabled: true, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

// newOperations registers the operations the tests use.
func newOperations(t testing.TB) *operations.Registry {
	ops := operations.NewRegistry()
	for _, op := range []operations.Operation{operations.Validate, operations.Everything} {
		if err := ops.Register(op); err != nil {
			t.Fatal(err)
		}
	}
	return ops
}

// client talks to a test server over real HTTP.
type client struct {
	t    testing.TB
	base string
	hc   *http.Client
}

func newClient(t testing.TB, st resources.Store) *client {
	ts := httptest.NewServer(newServer(t, st).Handler())
	t.Cleanup(ts.Close)
	return &client{t: t, base: ts.URL, hc: ts.Client()}
}

// serve starts a server with cfg (its Parser and Logger filled in when
// unset) over real HTTP.
func serve(t testing.TB, cfg server.Config) (*server.Server, *client) {
	t.Helper()
	if cfg.Parser == nil {
		parser, err := resources.NewParser()
		if err != nil {
			t.Fatal(err)
		}
		cfg.Parser = parser
	}
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return srv, &client{t: t, base: ts.URL, hc: ts.Client()}
}

// result is a response with its body read.
type result struct {
	status int
	header http.Header
	body   []byte
}

// fixture is a resource a test writes before it starts: its path and JSON.
type fixture struct{ path, body string }

// putAll PUTs the fixtures with the Authorization header authz, failing the
// test at the first one refused.
func (c *client) putAll(authz string, fixtures ...fixture) {
	c.t.Helper()
	for _, f := range fixtures {
		if res := c.do(http.MethodPut, f.path, []byte(f.body), "Authorization", authz); res.status >= 300 {
			c.t.Fatalf("fixture %s: %d %s", f.path, res.status, res.body)
		}
	}
}

// do sends a request; headers come in name, value pairs.
func (c *client) do(method, path string, body []byte, headers ...string) result {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = strings.NewReader(string(body))
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return result{resp.StatusCode, resp.Header, b}
}

// fhirData returns the shared FHIR test data folder, or skips.
func fhirData(t testing.TB) string { return fhirdata.Require(t) }

// testIssuer starts an in-process OIDC provider and a Verifier trusting it.
func testIssuer(t testing.TB) (*authtest.Issuer, *auth.Verifier) {
	t.Helper()
	iss := authtest.NewIssuer(t)
	v, err := auth.New(context.Background(), auth.Config{
		Issuers:    []auth.Issuer{{URL: iss.URL(), Audience: iss.Audience}},
		HTTPClient: iss.Client(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return iss, v
}
