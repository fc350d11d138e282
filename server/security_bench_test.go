package server_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
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
// on one store (PostgreSQL when TEST_DATABASE_URL is set, else SQLite), in
// interleaved rounds of short slots (compareOverhead); the loss is the
// median over the rounds of each round's loss (target: under 15%). It runs
// a fixed number of rounds whatever b.N.
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
	sv := newSecurityServers(b, st)
	offURL, onURL, noAuditURL := serveBench(b, sv.off), serveBench(b, sv.on), serveBench(b, sv.noAudit)
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var configs []overheadConfig
	for _, k := range securityKinds {
		configs = append(configs,
			overheadConfig{k.name + "/auth-off", offURL, "", k.path},
			overheadConfig{k.name + "/auth+policy", noAuditURL, sv.token, k.path},
			overheadConfig{k.name + "/auth+policy+audit", onURL, sv.token, k.path})
	}
	for _, kind := range []string{"read", "search"} {
		b.Run(kind, func(b *testing.B) {
			var cs []overheadConfig
			for _, c := range configs {
				if strings.HasPrefix(c.name, kind+"/") {
					cs = append(cs, c)
				}
			}
			compareOverhead(b, kind, store, cs, hc, sv.on, analyze)
		})
	}
}

// securityServers are the servers the security benchmarks compare, on one
// store seeded with benchPatients patients: auth off, authentication and
// policy, and the same with the audit trail; token is the bearer token
// (a doctor's, user/*.cruds) of the two with auth.
type securityServers struct {
	off, noAudit, on *server.Server
	token            string
}

// benchPatients is the number of patients the security benchmarks read.
const benchPatients = 500

// securityKinds are the requests the security benchmarks make: reads by id
// and name searches.
var securityKinds = []struct {
	name string
	path func(i int64) string
}{
	{"read", func(i int64) string { return fmt.Sprintf("/Patient/p%d", i%benchPatients) }},
	{"search", func(i int64) string { return fmt.Sprintf("/Patient?name=Li%d&_count=10", i%50) }},
}

func newSecurityServers(b *testing.B, st resources.Store) securityServers {
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
	sv := securityServers{
		off:     newServer(server.Config{AuthDisabled: true}),
		noAudit: newServer(server.Config{Auth: v, Authorizer: pol}),
		on:      newServer(server.Config{Auth: v, Authorizer: pol, Audit: &server.AuditConfig{}}),
		token: "Bearer " + iss.Sign(iss.Claims("dr-li", "user/*.cruds", map[string]any{"roles": []string{"doctor"},
			"exp": time.Now().Add(time.Hour).Unix()})),
	}
	for i := range benchPatients {
		body := fmt.Appendf(nil, `{"resourceType":"Patient","id":"p%d","gender":"female","name":[{"family":"Li%d"}],"birthDate":"1950-01-0%d"}`, i, i%50, 1+i%9)
		req := httptest.NewRequest(http.MethodPut, fmt.Sprintf("/Patient/p%d", i), bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/fhir+json")
		w := httptest.NewRecorder()
		sv.off.Handler().ServeHTTP(w, req)
		if w.Code >= 300 {
			b.Fatalf("seed: %d %s", w.Code, w.Body)
		}
	}
	return sv
}

// overheadConfig is one configuration compareOverhead measures: requests
// to path(i) at base, with the Authorization header authz.
type overheadConfig struct {
	name, base, authz string
	path              func(i int64) string
}

// Rounds and slots of compareOverhead: every round gives each
// configuration one slot of load, in the listed order in odd rounds and in
// reverse in even ones. Short slots, many rounds and a loss judged per
// round against the auth-off slot of the same round (seconds apart) keep
// the comparison from measuring the machine's drift: on a shared machine
// the speed of the same configuration varies by a fifth from one minute
// to the next. The slot ends when the audit writer has stored the slot's
// events; the part of that wait that leaves the machine idle (the final
// commit) weighs on the audit trail by about 1% of a 1 s slot.
const (
	overheadRounds = 15
	overheadSlot   = time.Second
	overheadUsers  = 16 // concurrent clients
)

// compareOverhead measures the throughput of the configurations (the first
// with auth off) in interleaved rounds, after a warm-up round that is not
// counted, and reports the median loss of each against the first.
func compareOverhead(b *testing.B, kind, store string, cs []overheadConfig, hc *http.Client, on *server.Server, analyze func()) {
	rps := map[string][]float64{}
	// cpu is this process's CPU time per request (server and load
	// generator; the database's is not in it); db the local PostgreSQL
	// processes' and machine the whole machine's, where /proc tells.
	cpu, db, machine := map[string][]float64{}, map[string][]float64{}, map[string][]float64{}
	flushes := map[string][]float64{}
	for round := -1; round < overheadRounds; round++ {
		analyze()
		order := slices.Clone(cs)
		if round%2 != 0 {
			slices.Reverse(order)
		}
		for _, c := range order {
			var n, failed atomic.Int64
			cpu0, db0, machine0 := processCPU(), pgtest.CPU(), machineCPU()
			start := time.Now()
			deadline := start.Add(overheadSlot)
			var wg sync.WaitGroup
			for range overheadUsers {
				wg.Go(func() {
					for time.Now().Before(deadline) {
						req, _ := http.NewRequest(http.MethodGet, c.base+c.path(n.Add(1)), nil)
						if c.authz != "" {
							req.Header.Set("Authorization", c.authz)
						}
						if status, err := do(hc, req); err != nil || status != http.StatusOK {
							failed.Add(1)
						}
					}
				})
			}
			wg.Wait()
			flushStart := time.Now()
			// The events of the slot are written in the slot: what the
			// writer still holds would otherwise be paid for in the next
			// configuration's time.
			if err := on.FlushAudit(context.Background()); err != nil {
				b.Fatal(err)
			}
			elapsed, flushed := time.Since(start), time.Since(flushStart)
			if failed.Load() > 0 {
				b.Fatalf("%s: %d requests failed", c.name, failed.Load())
			}
			if round < 0 {
				continue // warm-up
			}
			done := float64(n.Load())
			perReq := func(d time.Duration) float64 { return float64(d.Microseconds()) / done }
			rps[c.name] = append(rps[c.name], done/elapsed.Seconds())
			flushes[c.name] = append(flushes[c.name], float64(flushed.Microseconds())/1000)
			cpu[c.name] = append(cpu[c.name], perReq(processCPU()-cpu0))
			db[c.name] = append(db[c.name], perReq(db0.Since()))
			machine[c.name] = append(machine[c.name], perReq(machineCPU()-machine0))
		}
	}
	median := func(xs []float64) float64 {
		xs = slices.Clone(xs)
		slices.Sort(xs)
		return xs[len(xs)/2]
	}
	fmt.Printf("security overhead of %s, store %s, %d rounds of %v slots (%d clients): median requests/s; median CPU per request\n"+
		"of this process (server and load generator), of the local PostgreSQL processes and of the whole machine (0 where /proc does not tell);\n"+
		"median time the slot's last audit flush took (counted in the slot: the machine is part idle then):\n",
		kind, store, overheadRounds, overheadSlot, overheadUsers)
	fmt.Printf("  %-26s %8s  %9s  %9s  %9s  %9s\n", "", "req/s", "process", "database", "machine", "flush")
	for _, c := range cs {
		fmt.Printf("  %-26s %8.0f  %6.1f µs  %6.1f µs  %6.1f µs  %6.1f ms\n", c.name, median(rps[c.name]), median(cpu[c.name]),
			median(db[c.name]), median(machine[c.name]), median(flushes[c.name]))
	}
	// The loss is judged per round, against the auth-off slot of the same
	// round: the median of those paired losses. The loss of the medians,
	// which pairs slots of different rounds, is shown beside it.
	off := rps[cs[0].name]
	for _, c := range cs[1:] {
		on := rps[c.name]
		losses := make([]float64, overheadRounds)
		for r := range losses {
			losses[r] = 100 * (1 - on[r]/off[r])
		}
		loss := median(losses)
		verdict := "ok"
		if loss >= 15 {
			verdict = "ABOVE TARGET"
		}
		with := strings.TrimPrefix(c.name, kind+"/")
		fmt.Printf("  %s loss with %s: %.1f%% (target < 15%%) %s; loss of the medians %.1f%%; per round %v\n",
			kind, with, loss, verdict, 100*(1-median(on)/median(off)), rounds1(losses))
		b.ReportMetric(loss, with+"-loss-%")
	}
	b.ReportMetric(median(rps[cs[len(cs)-1].name]), "req/s")
}

// processCPU is the CPU time this process has used (user and system).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
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
	return pgtest.TicksToDuration(ticks)
}

// rounds1 rounds to one decimal, for printing.
func rounds1(xs []float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = math.Round(x*10) / 10
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
