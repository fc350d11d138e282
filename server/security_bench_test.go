package server_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/meizhou-yiyang/yiyang/resources"
	"github.com/meizhou-yiyang/yiyang/resources/postgres"
	"github.com/meizhou-yiyang/yiyang/resources/postgres/pgtest"
	"github.com/meizhou-yiyang/yiyang/server"
	"github.com/meizhou-yiyang/yiyang/server/policy"
)

// BenchmarkSecurityOverhead measures what authentication (bearer JWT from an
// OIDC issuer), the OPA policy and the audit trail (batched AuditEvents)
// cost on read and search throughput, against the same server with auth off,
// on one store (PostgreSQL when TEST_DATABASE_URL is set, else SQLite). The
// configurations alternate over several rounds so that drift affects them
// alike; the medians and the loss are reported (target: under 15%).
func BenchmarkSecurityOverhead(b *testing.B) {
	st := backends()[0].open(b)
	store := "sqlite"
	// analyze refreshes PostgreSQL's statistics, as autovacuum does in
	// service: without it the planner scans tables it believes empty.
	analyze := func() {}
	if os.Getenv("TEST_DATABASE_URL") != "" {
		dsn := pgtest.DSN(b)
		pg, err := postgres.Open(context.Background(), postgres.Config{DSN: dsn, MaxConns: 8})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { pg.Close() })
		st, store = pg, "postgres"
		analyze = func() {
			conn, err := pgx.Connect(context.Background(), dsn)
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close(context.Background())
			if _, err := conn.Exec(context.Background(), "ANALYZE"); err != nil {
				b.Fatal(err)
			}
		}
	}
	iss, v := testIssuer(b)
	pol, err := policy.New(context.Background(), "")
	if err != nil {
		b.Fatal(err)
	}
	parser, _ := resources.NewParser()
	off, err := server.New(server.Config{Store: st, Parser: parser, Logger: testLogger(b), AuthDisabled: true})
	if err != nil {
		b.Fatal(err)
	}
	on, err := server.New(server.Config{Store: st, Parser: parser, Logger: testLogger(b), Auth: v, Authorizer: pol,
		Audit: &server.AuditConfig{}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { on.Close() })
	noAudit, err := server.New(server.Config{Store: st, Parser: parser, Logger: testLogger(b), Auth: v, Authorizer: pol})
	if err != nil {
		b.Fatal(err)
	}
	offURL, onURL, noAuditURL := serveBench(b, off), serveBench(b, on), serveBench(b, noAudit)

	const patients = 500
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	for i := range patients {
		body := fmt.Appendf(nil, `{"resourceType":"Patient","id":"p%d","gender":"female","name":[{"family":"Li%d"}],"birthDate":"1950-01-0%d"}`, i, i%50, 1+i%9)
		req, _ := http.NewRequest(http.MethodPut, fmt.Sprintf("%s/Patient/p%d", offURL, i), bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/fhir+json")
		if _, err := do(hc, req); err != nil {
			b.Fatal(err)
		}
	}
	token := "Bearer " + iss.Sign(iss.Claims("dr-li", "user/*.cruds", map[string]any{"roles": []string{"doctor"},
		"exp": time.Now().Add(time.Hour).Unix()}))

	type config struct {
		name, base, authz string
		path              func(i int64) string
	}
	read := func(i int64) string { return fmt.Sprintf("/Patient/p%d", i%patients) }
	search := func(i int64) string { return fmt.Sprintf("/Patient?name=Li%d&_count=10", i%50) }
	configs := []config{
		{"read/auth-off", offURL, "", read},
		{"read/auth+policy", noAuditURL, token, read},
		{"read/auth+policy+audit", onURL, token, read},
		{"search/auth-off", offURL, "", search},
		{"search/auth+policy", noAuditURL, token, search},
		{"search/auth+policy+audit", onURL, token, search},
	}
	const rounds = 5
	rps := map[string][]float64{}
	// cpu is this process's CPU time per request (server and load
	// generator; the database's is not in it); db the local PostgreSQL
	// processes' and machine the whole machine's, where /proc tells.
	cpu, db, machine := map[string][]float64{}, map[string][]float64{}, map[string][]float64{}
	for round := range rounds {
		analyze()
		for _, c := range configs {
			b.Run(fmt.Sprintf("%s/round-%d", c.name, round+1), func(pb *testing.B) {
				var n, failed atomic.Int64
				pb.SetParallelism(8) // 8 × GOMAXPROCS concurrent clients
				cpu0, db0, machine0 := processCPU(), postgresCPU(), machineCPU()
				pb.ResetTimer()
				pb.RunParallel(func(p *testing.PB) {
					for p.Next() {
						req, _ := http.NewRequest(http.MethodGet, c.base+c.path(n.Add(1)), nil)
						if c.authz != "" {
							req.Header.Set("Authorization", c.authz)
						}
						if status, err := do(hc, req); err != nil || status != http.StatusOK {
							failed.Add(1)
						}
					}
				})
				// The events of the run are written in the run: what the
				// writer still holds would otherwise be paid for in the
				// next configuration's time.
				if err := on.FlushAudit(context.Background()); err != nil {
					pb.Fatal(err)
				}
				if failed.Load() > 0 {
					pb.Fatalf("%s: %d requests failed", c.name, failed.Load())
				}
				// The last call of this function has the final b.N.
				r := float64(pb.N) / pb.Elapsed().Seconds()
				pb.ReportMetric(r, "req/s")
				perReq := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(pb.N) }
				us, dbUS, machineUS := perReq(processCPU()-cpu0), perReq(postgresCPU()-db0), perReq(machineCPU()-machine0)
				pb.ReportMetric(us, "proc-µs/req")
				if store == "postgres" {
					pb.ReportMetric(dbUS, "db-µs/req")
				}
				pb.ReportMetric(machineUS, "machine-µs/req")
				if xs := rps[c.name]; len(xs) > round {
					xs[round], cpu[c.name][round], db[c.name][round], machine[c.name][round] = r, us, dbUS, machineUS
				} else {
					rps[c.name] = append(xs, r)
					cpu[c.name] = append(cpu[c.name], us)
					db[c.name] = append(db[c.name], dbUS)
					machine[c.name] = append(machine[c.name], machineUS)
				}
			})
		}
	}
	for _, c := range configs {
		if len(rps[c.name]) < rounds {
			return // a -bench filter ran only some configurations: no comparison
		}
	}
	median := func(m map[string][]float64, name string) float64 {
		xs := slices.Clone(m[name])
		slices.Sort(xs)
		return xs[len(xs)/2]
	}
	med := func(name string) float64 { return median(rps, name) }
	fmt.Printf("security overhead, store %s, median of %d rounds: requests/s; CPU per request of this process (server and load\n"+
		"generator), of the local PostgreSQL processes and of the whole machine (0 where /proc does not tell):\n", store, rounds)
	fmt.Printf("  %-26s %8s  %9s  %9s  %9s\n", "", "req/s", "process", "database", "machine")
	for _, c := range configs {
		fmt.Printf("  %-26s %8.0f  %6.1f µs  %6.1f µs  %6.1f µs  runs %v\n", c.name, med(c.name), median(cpu, c.name),
			median(db, c.name), median(machine, c.name), rounds3(rps[c.name]))
	}
	for _, kind := range []string{"read", "search"} {
		for _, with := range []string{"auth+policy", "auth+policy+audit"} {
			loss := 100 * (1 - med(kind+"/"+with)/med(kind+"/auth-off"))
			verdict := "ok"
			if loss >= 15 {
				verdict = "ABOVE TARGET"
			}
			fmt.Printf("  %s loss with %s: %.1f%% (target < 15%%) %s\n", kind, with, loss, verdict)
			b.ReportMetric(loss, kind+"-"+with+"-loss-%")
		}
	}
	b.ReportMetric(med("read/auth+policy+audit"), "read-auth-req/s")
	b.ReportMetric(med("search/auth+policy+audit"), "search-auth-req/s")
}

// processCPU is the CPU time this process has used (user and system).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// postgresCPU is the CPU time (user and system) of the processes named
// postgres that this machine's /proc shows: the database's share when it
// runs here, as it does in the benchmark's set-up. 0 without /proc.
func postgresCPU() time.Duration {
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	var ticks int64
	for _, d := range dirs {
		if d.Name()[0] < '0' || d.Name()[0] > '9' {
			continue
		}
		stat, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil || !bytes.Contains(stat, []byte("(postgres)")) {
			continue
		}
		ticks += statTicks(stat)
	}
	return ticksToDuration(ticks)
}

// statTicks is utime + stime of a /proc/<pid>/stat line: fields 14 and 15,
// counted after the parenthesised command name.
func statTicks(stat []byte) int64 {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return u + s
}

// machineCPU is the busy CPU time of the whole machine (all but idle and
// iowait in /proc/stat's cpu line). 0 without /proc.
func machineCPU() time.Duration {
	stat, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(stat), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0
	}
	var ticks int64
	for i, v := range f[1:] {
		if i == 3 || i == 4 || i >= 8 { // idle, iowait; guest time is in user already
			continue
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		ticks += n
	}
	return ticksToDuration(ticks)
}

// ticksToDuration converts clock ticks of /proc (USER_HZ, 100 on Linux).
func ticksToDuration(ticks int64) time.Duration { return time.Duration(ticks) * 10 * time.Millisecond }

func rounds3(xs []float64) []int {
	out := make([]int, len(xs))
	for i, x := range xs {
		out[i] = int(x)
	}
	return out
}

func serveBench(b *testing.B, srv *server.Server) string {
	ts := httptest.NewServer(srv.Handler())
	b.Cleanup(ts.Close)
	return ts.URL
}

func do(hc *http.Client, req *http.Request) (int, error) {
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}
