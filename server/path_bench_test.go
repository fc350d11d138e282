package server_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meizhou-yiyang/yiyang/resources"
	"github.com/meizhou-yiyang/yiyang/server"
	"github.com/meizhou-yiyang/yiyang/server/policy"
)

// BenchmarkRequestPath: the server's own CPU per read and per name search
// (as BenchmarkSecurityOverhead makes them) through its whole handler (no
// network, no load generator), with auth off, with
// authentication and policy, and with the audit trail too, on the store of
// BenchmarkSecurityOverhead (PostgreSQL when TEST_DATABASE_URL is set, else
// SQLite). The differences between the sub-benchmarks are the security
// overhead that BenchmarkSecurityOverhead measures under load, without its
// HTTP client and loopback network: B/op and allocs/op are exact, and
// cpu-µs/op (this process's CPU per read) and db-µs/op (the local
// PostgreSQL processes') are free of the load generator, though they still
// vary by a tenth or more from run to run on a shared machine. Eight
// requests run at a time; the audit trail's last batch is flushed inside
// the measurement.
func BenchmarkRequestPath(b *testing.B) {
	st := backends()[0].open(b)
	if os.Getenv("TEST_DATABASE_URL") != "" {
		st = backends()[1].open(b)
	}
	iss, v := testIssuer(b)
	pol, err := policy.New(context.Background(), "")
	if err != nil {
		b.Fatal(err)
	}
	parser, _ := resources.NewParser()
	newServer := func(cfg server.Config) *server.Server {
		cfg.Store, cfg.Parser, cfg.Logger = st, parser, testLogger(b)
		s, err := server.New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return s
	}
	off := newServer(server.Config{AuthDisabled: true})
	const patients = 500
	for i := range patients {
		body := fmt.Appendf(nil, `{"resourceType":"Patient","id":"p%d","gender":"female","name":[{"family":"Li%d"}],"birthDate":"1950-01-0%d"}`, i, i%50, 1+i%9)
		req := httptest.NewRequest(http.MethodPut, fmt.Sprintf("/Patient/p%d", i), bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/fhir+json")
		w := httptest.NewRecorder()
		off.Handler().ServeHTTP(w, req)
		if w.Code >= 300 {
			b.Fatalf("seed: %d %s", w.Code, w.Body)
		}
	}
	token := "Bearer " + iss.Sign(iss.Claims("dr-li", "user/*.cruds", map[string]any{"roles": []string{"doctor"},
		"exp": time.Now().Add(time.Hour).Unix()}))
	kinds := []struct {
		name string
		path func(i int64) string
	}{
		{"read", func(i int64) string { return fmt.Sprintf("/Patient/p%d", i%patients) }},
		{"search", func(i int64) string { return fmt.Sprintf("/Patient?name=Li%d&_count=10", i%50) }},
	}
	configs := []struct {
		name  string
		srv   *server.Server
		authz string
	}{
		{"auth-off", off, ""},
		{"auth+policy", newServer(server.Config{Auth: v, Authorizer: pol}), token},
		{"auth+policy+audit", newServer(server.Config{Auth: v, Authorizer: pol, Audit: &server.AuditConfig{}}), token},
	}
	for _, k := range kinds {
		for _, c := range configs {
			b.Run(k.name+"/"+c.name, func(b *testing.B) {
				h := c.srv.Handler()
				b.ReportAllocs()
				b.SetParallelism(4)
				var n atomic.Int64
				cpu0, db0 := processCPU(), postgresCPU()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						req := httptest.NewRequest(http.MethodGet, k.path(n.Add(1)), nil)
						req.RemoteAddr = "10.1.2.3:4567"
						if c.authz != "" {
							req.Header.Set("Authorization", c.authz)
						}
						w := httptest.NewRecorder()
						h.ServeHTTP(w, req)
						if w.Code != http.StatusOK {
							b.Errorf("%d %s", w.Code, w.Body)
							return
						}
					}
				})
				if err := c.srv.FlushAudit(context.Background()); err != nil {
					b.Fatal(err)
				}
				ops := float64(b.N)
				b.ReportMetric(float64((processCPU()-cpu0).Nanoseconds())/ops/1000, "cpu-µs/op")
				b.ReportMetric(float64(postgresSince(db0).Nanoseconds())/ops/1000, "db-µs/op")
			})
		}
	}
}
