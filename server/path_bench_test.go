package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"testing"

	"github.com/meizhou-yiyang/yiyang/resources/postgres/pgtest"
	"github.com/meizhou-yiyang/yiyang/server"
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
	sv := newSecurityServers(b, st)
	configs := []struct {
		name  string
		srv   *server.Server
		authz string
	}{
		{"auth-off", sv.off, ""},
		{"auth+policy", sv.noAudit, sv.token},
		{"auth+policy+audit", sv.on, sv.token},
	}
	for _, k := range securityKinds {
		for _, c := range configs {
			b.Run(k.name+"/"+c.name, func(b *testing.B) {
				h := c.srv.Handler()
				b.ReportAllocs()
				b.SetParallelism(4)
				var n atomic.Int64
				cpu0, db0 := processCPU(), pgtest.CPU()
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
				b.ReportMetric(float64(db0.Since().Nanoseconds())/ops/1000, "db-µs/op")
			})
		}
	}
}
