package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/meizhou-yiyang/yiyang/server"
)

// benchFlags are the settings of `yiyang bench`.
type benchFlags struct {
	pg          string
	duration    time.Duration
	warmup      time.Duration
	connections int
	runs        int
	seedReads   int
	pool        int
	sqliteDir   string
	cpuProfile  string
}

const benchPGHelp = "TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test?sslmode=disable make bench (or --pg URL)"

func parseBenchFlags(args []string) (benchFlags, error) {
	var f benchFlags
	fs := flag.NewFlagSet("yiyang bench", flag.ContinueOnError)
	fs.StringVar(&f.pg, "pg", "", "PostgreSQL URL for yiyang-postgres and the bare baseline; empty runs SQLite only (default $TEST_DATABASE_URL, else $YIYANG_BENCH_PG)")
	fs.DurationVar(&f.duration, "duration", 5*time.Second, "measured time of each phase")
	fs.DurationVar(&f.warmup, "warmup", time.Second, "unmeasured load before each phase")
	fs.IntVar(&f.connections, "connections", 32, "concurrent HTTP connections (one worker each)")
	fs.IntVar(&f.runs, "runs", 3, "runs of every phase; the report gives the median of each figure")
	fs.IntVar(&f.seedReads, "seed-reads", 2000, "resources created in each system before the runs; read phases pick among them")
	fs.IntVar(&f.pool, "pool", 0, "PostgreSQL pool size of both Yiyang and the bare baseline; 0 = pgx default")
	fs.StringVar(&f.sqliteDir, "sqlite-dir", os.TempDir(), "directory for the temporary SQLite database (use a real disk: fsync matters)")
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of the measured runs (servers and load generator) to this file")
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	if fs.NArg() > 0 {
		return f, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	// The environment is read here rather than as the flag's default, so
	// that -h does not print a URL that may hold a password.
	pgSet := false
	fs.Visit(func(fl *flag.Flag) { pgSet = pgSet || fl.Name == "pg" })
	if !pgSet {
		if f.pg = os.Getenv("TEST_DATABASE_URL"); f.pg == "" {
			f.pg = os.Getenv("YIYANG_BENCH_PG")
		}
	}
	var errs []error
	if f.pg != "" {
		if backend, _, err := parseDB(f.pg); err != nil || backend != "postgres" {
			errs = append(errs, errors.New("--pg: must be a postgres:// or postgresql:// URL"))
		}
	}
	if f.duration <= 0 || f.warmup < 0 {
		errs = append(errs, errors.New("--duration must be positive and --warmup not negative"))
	}
	if f.connections < 1 || f.connections > 4096 {
		errs = append(errs, fmt.Errorf("--connections %d: must be 1-4096", f.connections))
	}
	if f.runs < 1 {
		errs = append(errs, fmt.Errorf("--runs %d: must be at least 1", f.runs))
	}
	if f.seedReads < 1 {
		errs = append(errs, fmt.Errorf("--seed-reads %d: must be at least 1", f.seedReads))
	}
	if f.pool < 0 {
		errs = append(errs, fmt.Errorf("--pool %d: must not be negative", f.pool))
	}
	return f, errors.Join(errs...)
}

// bench is `yiyang bench`: create and read-by-id throughput and latency of
// Yiyang on PostgreSQL and SQLite, and of a bare chi + pgx baseline measured
// in the same process and run, with the ratios DESIGN.md sets targets for.
func bench(ctx context.Context, args []string) error {
	f, err := parseBenchFlags(args)
	if err != nil {
		return err
	}
	return runBench(ctx, f, os.Stdout)
}

// benchTarget is one system under test, served over HTTP on a loopback port.
type benchTarget struct {
	name       string
	ops        [2]string // labels of the create and the read phase
	createPath string
	readPrefix string // the id is appended
	url        string
	client     *http.Client
	ids        []string
	results    [2][]phaseResult // per op, one per run
}

// bencher holds what a bench run set up; close undoes it in reverse order.
type bencher struct {
	f        benchFlags
	log      *slog.Logger
	targets  []*benchTarget
	cleanups []func()
}

func (b *bencher) onClose(fn func()) { b.cleanups = append(b.cleanups, fn) }

func (b *bencher) close() {
	for i := len(b.cleanups) - 1; i >= 0; i-- {
		b.cleanups[i]()
	}
}

func runBench(ctx context.Context, f benchFlags, out io.Writer) error {
	// Server logs: warnings and errors, at most a few, so that a failing
	// phase shows its cause without flooding the terminal.
	b := &bencher{f: f, log: slog.New(server.LogHandler(limitedHandler{
		Handler: slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}), n: new(atomic.Int64)}))}
	defer b.close()

	fmt.Fprintf(out, "yiyang bench %s, %s %s/%s, GOMAXPROCS=%d (NumCPU=%d)\n", buildVersion(), runtime.Version(),
		runtime.GOOS, runtime.GOARCH, runtime.GOMAXPROCS(0), runtime.NumCPU())
	fmt.Fprintf(out, "connections=%d duration=%s warmup=%s runs=%d seed-reads=%d; servers, databases and load generator share this machine\n",
		f.connections, f.duration, f.warmup, f.runs, f.seedReads)
	if la, err := os.ReadFile("/proc/loadavg"); err == nil && len(strings.Fields(string(la))) >= 3 {
		// Other work on the machine skews every figure; this shows it.
		fmt.Fprintf(out, "load average before the bench: %s (1, 5, 15 min)\n", strings.Join(strings.Fields(string(la))[:3], " "))
	}
	if f.pg == "" {
		fmt.Fprintf(out, "\n*** PostgreSQL AND THE BARE chi+pgx BASELINE WERE SKIPPED: no --pg, TEST_DATABASE_URL or YIYANG_BENCH_PG.\n"+
			"*** Only SQLite is measured and no ratio can be computed. To measure them run:\n***   %s\n\n", benchPGHelp)
	} else if err := b.setupPostgres(ctx, out); err != nil {
		return err
	}
	if err := b.setupSQLite(ctx, out); err != nil {
		return err
	}
	for _, t := range b.targets {
		start := time.Now()
		var err error
		if t.ids, err = seedTarget(ctx, t, f.seedReads, f.connections); err != nil {
			return fmt.Errorf("bench: seeding %s: %w", t.name, err)
		}
		fmt.Fprintf(out, "seeded %s with %d resources in %s\n", t.name, len(t.ids), time.Since(start).Round(time.Millisecond))
	}
	if f.cpuProfile != "" {
		pf, err := os.Create(f.cpuProfile)
		if err != nil {
			return fmt.Errorf("bench: --cpuprofile: %w", err)
		}
		if err := pprof.StartCPUProfile(pf); err != nil {
			pf.Close()
			return fmt.Errorf("bench: --cpuprofile: %w", err)
		}
		b.onClose(func() { pprof.StopCPUProfile(); pf.Close() })
	}

	// Every run measures every system, and a phase of each system right
	// after the same phase of the others, so that drift over time (other
	// load on the machine, autovacuum, table growth) affects them alike.
	fmt.Fprintf(out, "\n%-7s %s\n", "run", tableHeader)
	for run := range f.runs {
		for op := range 2 {
			for _, t := range b.targets {
				res, err := runLoad(ctx, loadSpec{Client: t.client, Connections: f.connections, Warmup: f.warmup,
					Duration: f.duration, NewWorker: t.worker(op, run)})
				if err != nil {
					return fmt.Errorf("bench: %s %s: %w", t.name, t.ops[op], err)
				}
				t.results[op] = append(t.results[op], res)
				fmt.Fprintf(out, "%-7s %s\n", fmt.Sprintf("%d/%d", run+1, f.runs), benchRow(t.name, t.ops[op], res.figures()))
			}
		}
	}
	return benchReport(out, b.targets, f.runs)
}

// setupPostgres creates the bench schema and serves the bare baseline and
// yiyang-postgres in it.
func (b *bencher) setupPostgres(ctx context.Context, out io.Writer) error {
	schema, err := newBenchSchema(ctx, b.f.pg, "bench_")
	if err != nil {
		return fmt.Errorf("bench: PostgreSQL: %w", err)
	}
	b.onClose(func() {
		// Also after an interrupt, so not on ctx.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := schema.Drop(cctx); err != nil {
			fmt.Fprintln(os.Stderr, "yiyang bench:", err)
		}
	})
	settings, err := pgSettings(ctx, b.f.pg)
	if err != nil {
		return fmt.Errorf("bench: PostgreSQL: %w", err)
	}
	pool := int32(b.f.pool)
	if pool == 0 {
		pcfg, err := pgxpool.ParseConfig(schema.DSN)
		if err != nil {
			return fmt.Errorf("bench: --pg: %w", err)
		}
		pool = pcfg.MaxConns
	}
	fmt.Fprintf(out, "%s; pool of %d connections for each of bare-pgx and yiyang-postgres; schema %s (dropped at the end)\n",
		settings, pool, schema.name)
	bare, err := openBare(ctx, schema.DSN, pool)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	b.onClose(bare.Close)
	if err := b.serve("bare-pgx", "insert", "pk-read", "/bare", "/bare/", bare.Handler()); err != nil {
		return err
	}
	cfg := DefaultConfig()
	cfg.DB, cfg.DBMaxConns, cfg.LogLevel = schema.DSN, int(pool), "warn"
	return b.serveYiyang(ctx, "yiyang-postgres", cfg)
}

// setupSQLite serves yiyang-sqlite on a new database in a temporary directory.
func (b *bencher) setupSQLite(ctx context.Context, out io.Writer) error {
	dir, err := os.MkdirTemp(b.f.sqliteDir, "yiyang-bench-")
	if err != nil {
		return fmt.Errorf("bench: SQLite: %w", err)
	}
	b.onClose(func() { os.RemoveAll(dir) })
	cfg := DefaultConfig()
	cfg.DB, cfg.LogLevel = "sqlite:"+filepath.Join(dir, "yiyang.db"), "warn"
	fmt.Fprintf(out, "SQLite: journal_mode=WAL synchronous=%s, database in %s (removed at the end)\n", cfg.SQLiteSync, dir)
	return b.serveYiyang(ctx, "yiyang-sqlite", cfg)
}

// serveYiyang opens the store of cfg, as `yiyang serve` does, and serves
// Yiyang on it.
func (b *bencher) serveYiyang(ctx context.Context, name string, cfg Config) error {
	st, err := cfg.openStore(ctx, b.log)
	if err != nil {
		return fmt.Errorf("bench: %s: %w", name, err)
	}
	b.onClose(func() { st.Close() })
	cfg.AuthDisabled = true // the auth-on comparison comes with the security benchmark
	cfg.Audit = "off"
	srv, err := newServer(ctx, cfg, st, b.log)
	if err != nil {
		return fmt.Errorf("bench: %s: %w", name, err)
	}
	return b.serve(name, "create", "read", "/Patient", "/Patient/", srv.Handler())
}

// serve starts an HTTP server for h on a loopback port and adds it to the
// targets.
func (b *bencher) serve(name, create, read, createPath, readPrefix string, h http.Handler) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("bench: %s: %w", name, err)
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	t := &benchTarget{name: name, ops: [2]string{create, read}, createPath: createPath, readPrefix: readPrefix,
		url: "http://" + ln.Addr().String(), client: newLoadClient(b.f.connections)}
	b.onClose(func() {
		t.client.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hs.Shutdown(ctx)
	})
	b.targets = append(b.targets, t)
	return nil
}

// worker returns the NewWorker function of phase op (0 create, 1 read).
func (t *benchTarget) worker(op, run int) func(w int) func(ctx context.Context) (*http.Request, error) {
	if op == 0 {
		return func(w int) func(ctx context.Context) (*http.Request, error) {
			n := uint64(run)<<40 | uint64(w)<<28
			return func(ctx context.Context) (*http.Request, error) {
				n++
				return t.createRequest(ctx, n)
			}
		}
	}
	return func(w int) func(ctx context.Context) (*http.Request, error) {
		rng := rand.New(rand.NewPCG(uint64(run), uint64(w)))
		return func(ctx context.Context) (*http.Request, error) {
			return http.NewRequestWithContext(ctx, http.MethodGet, t.url+t.readPrefix+t.ids[rng.IntN(len(t.ids))], nil)
		}
	}
}

func (t *benchTarget) createRequest(ctx context.Context, n uint64) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url+t.createPath, bytes.NewReader(patientJSON(n)))
	if err == nil {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	return req, err
}

// seedTarget creates n resources with up to conns concurrent requests and returns
// their ids.
func seedTarget(ctx context.Context, t *benchTarget, n, conns int) ([]string, error) {
	ids := make([]string, n)
	var next atomic.Int64
	var once sync.Once
	var firstErr error
	var wg sync.WaitGroup
	for range min(conns, n) {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				id, err := t.createOne(ctx, uint64(i))
				if err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				ids[i] = id
			}
		})
	}
	wg.Wait()
	return ids, firstErr
}

// createOne creates one resource and returns its id, taken from Location.
func (t *benchTarget) createOne(ctx context.Context, n uint64) (string, error) {
	req, err := t.createRequest(ctx, n)
	if err != nil {
		return "", err
	}
	resp, err := t.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("POST %s: HTTP %d: %.1024s", t.createPath, resp.StatusCode, body)
	}
	id := benchLocationID(resp.Header.Get("Location"))
	if id == "" {
		return "", fmt.Errorf("POST %s: no id in Location %q", t.createPath, resp.Header.Get("Location"))
	}
	return id, nil
}

// benchLocationID returns the second segment of a Location's path:
// /Patient/{id}/_history/1 and /bare/{id} both give {id}.
func benchLocationID(loc string) string {
	u, err := url.Parse(loc)
	if err != nil {
		return ""
	}
	segs := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(segs) < 2 {
		return ""
	}
	return segs[1]
}

// patientJSON is a realistic small Patient (~800 bytes) that differs with n.
func patientJSON(n uint64) []byte {
	return fmt.Appendf(nil, `{"resourceType":"Patient","active":true,`+
		`"identifier":[{"use":"usual","system":"urn:oid:2.16.156.10011.1.9","value":"MZ-%010d"}],`+
		`"name":[{"use":"official","family":"Zhou","given":["Meiling","Yi"]}],`+
		`"telecom":[{"system":"phone","value":"+86 753 %07d","use":"mobile"},{"system":"email","value":"patient%d@example.org","use":"home"}],`+
		`"gender":"%s","birthDate":"%04d-%02d-%02d",`+
		`"address":[{"use":"home","line":["12 Jiangnan Road","Building 3, Room %d"],"city":"Meizhou","district":"Meijiang","state":"Guangdong","postalCode":"514000","country":"CN"}],`+
		`"maritalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-MaritalStatus","code":"M","display":"Married"}]},`+
		`"communication":[{"language":{"coding":[{"system":"urn:ietf:bcp:47","code":"zh-CN"}]},"preferred":true}]}`,
		n%1e10, n%1e7, n, [2]string{"female", "male"}[n%2], 1930+n%90, 1+n%12, 1+n%28, 100+n%1900)
}

// limitedHandler passes the first 20 records to the wrapped handler, then
// one saying the rest are dropped.
type limitedHandler struct {
	slog.Handler
	n *atomic.Int64
}

func (h limitedHandler) Handle(ctx context.Context, r slog.Record) error {
	switch n := h.n.Add(1); {
	case n == 21:
		r = slog.NewRecord(r.Time, slog.LevelWarn, "yiyang bench: further server log records are suppressed", 0)
	case n > 21:
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h limitedHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return limitedHandler{h.Handler.WithAttrs(as), h.n}
}

func (h limitedHandler) WithGroup(name string) slog.Handler {
	return limitedHandler{h.Handler.WithGroup(name), h.n}
}
