package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/meizhou-yiyang/yiyang/server"
)

// Targets of DESIGN.md for typical searches at 1M Observations.
const (
	searchP95Target    = 50 * time.Millisecond
	searchGrowthTarget = 2.0
)

// benchSearchFlags are the settings of `yiyang bench-search`.
type benchSearchFlags struct {
	pg            string
	observations  int
	patients      int
	practitioners int
	scales        []float64
	queries       int
	connections   int
	seed          uint64
	explain       bool
	keep          bool
}

func parseBenchSearchFlags(args []string) (benchSearchFlags, error) {
	var f benchSearchFlags
	var scales string
	fs := flag.NewFlagSet("yiyang bench-search", flag.ContinueOnError)
	fs.StringVar(&f.pg, "pg", "", "PostgreSQL URL (default $TEST_DATABASE_URL, else $YIYANG_BENCH_PG)")
	fs.IntVar(&f.observations, "observations", 1_000_000, "Observations at scale 1")
	fs.IntVar(&f.patients, "patients", 10_000, "Patients at scale 1 (each with 5 Encounters)")
	fs.IntVar(&f.practitioners, "practitioners", 200, "Practitioners (not scaled)")
	fs.StringVar(&scales, "scales", "0.1,1", "comma-separated scales, each run on a fresh schema in this order")
	fs.IntVar(&f.queries, "queries", 200, "measured requests per search kind and scale")
	fs.IntVar(&f.connections, "connections", 8, "concurrent HTTP connections")
	fs.Uint64Var(&f.seed, "seed", 1, "seed of the generated data and of the query parameters")
	fs.BoolVar(&f.explain, "explain", false, "print EXPLAIN (ANALYZE, BUFFERS) of every kind, not only of those above target")
	fs.BoolVar(&f.keep, "keep", false, "keep the schema of the last scale for inspection (its name is printed; drop it by hand)")
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	if fs.NArg() > 0 {
		return f, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	pgSet := false
	fs.Visit(func(fl *flag.Flag) { pgSet = pgSet || fl.Name == "pg" })
	if !pgSet {
		if f.pg = os.Getenv("TEST_DATABASE_URL"); f.pg == "" {
			f.pg = os.Getenv("YIYANG_BENCH_PG")
		}
	}
	var errs []error
	if backend, _, err := parseDB(f.pg); f.pg == "" || err != nil || backend != "postgres" {
		errs = append(errs, errors.New("--pg (or TEST_DATABASE_URL): a postgres:// URL is required, e.g. "+benchPGHelp))
	}
	for _, s := range strings.Split(scales, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || v <= 0 || v > 10 {
			errs = append(errs, fmt.Errorf("--scales: %q must be a number in (0, 10]", s))
			continue
		}
		f.scales = append(f.scales, v)
	}
	if f.observations < 1 || f.patients < 1 || f.practitioners < 1 {
		errs = append(errs, errors.New("--observations, --patients and --practitioners must be positive"))
	}
	if f.queries < 1 {
		errs = append(errs, fmt.Errorf("--queries %d: must be at least 1", f.queries))
	}
	if f.connections < 1 || f.connections > 1024 {
		errs = append(errs, fmt.Errorf("--connections %d: must be 1-1024", f.connections))
	}
	return f, errors.Join(errs...)
}

// benchSearch is `yiyang bench-search`: search latency at 1M Observations
// and at a fraction of it, against DESIGN.md's targets.
func benchSearch(ctx context.Context, args []string) error {
	f, err := parseBenchSearchFlags(args)
	if err != nil {
		return err
	}
	return runBenchSearch(ctx, f, os.Stdout)
}

// scaleResult is the outcome of one scale.
type scaleResult struct {
	scale float64
	data  searchData
	load  loadStats
	kinds []kindResult
}

func runBenchSearch(ctx context.Context, f benchSearchFlags, out io.Writer) error {
	log := slog.New(server.LogHandler(limitedHandler{
		Handler: slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}), n: new(atomic.Int64)}))
	settings, err := pgSettings(ctx, f.pg)
	if err != nil {
		return fmt.Errorf("bench-search: PostgreSQL: %w", err)
	}
	fmt.Fprintf(out, "yiyang bench-search %s, %s %s/%s, GOMAXPROCS=%d (NumCPU=%d)\n%s\n", buildVersion(), runtime.Version(),
		runtime.GOOS, runtime.GOARCH, runtime.GOMAXPROCS(0), runtime.NumCPU(), settings)
	fmt.Fprintf(out, "queries=%d per kind and scale (after %d unmeasured), connections=%d, seed=%d; server, database and load generator share this machine\n",
		f.queries, max(f.queries/5, 10), f.connections, f.seed)
	var results []scaleResult
	for i, s := range f.scales {
		res, err := runSearchScale(ctx, f, s, f.keep && i == len(f.scales)-1, log, out)
		if err != nil {
			return err
		}
		results = append(results, res)
		printScale(out, res)
	}
	return searchSummary(out, results)
}

func runSearchScale(ctx context.Context, f benchSearchFlags, scale float64, keep bool, log *slog.Logger, out io.Writer) (res scaleResult, err error) {
	d := newSearchData(f.seed, int(float64(f.observations)*scale+0.5), int(float64(f.patients)*scale+0.5), f.practitioners)
	res = scaleResult{scale: scale, data: d}
	schema, err := newBenchSchema(ctx, f.pg, "benchs_")
	if err != nil {
		return res, fmt.Errorf("bench-search: %w", err)
	}
	defer func() {
		if keep && err == nil {
			fmt.Fprintf(out, "schema %s kept (--keep): DROP SCHEMA %s CASCADE when done\n", schema.name, schema.name)
			return
		}
		// Also after an interrupt, so not on ctx.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if derr := schema.Drop(cctx); derr != nil {
			fmt.Fprintln(os.Stderr, "yiyang bench-search:", derr)
		}
	}()
	fmt.Fprintf(out, "\n== scale %g: %d Observations, %d Patients, %d Encounters, %d Practitioners (schema %s)\n",
		scale, d.observations, d.patients, d.count(genEncounter), d.practitioners, schema.name)

	cfg := DefaultConfig()
	cfg.DB, cfg.LogLevel, cfg.AuthDisabled = schema.DSN, "warn", true
	st, err := cfg.openStore(ctx, log) // applies the migrations
	if err != nil {
		return res, fmt.Errorf("bench-search: open store: %w", err)
	}
	defer st.Close()

	pcfg, err := pgxpool.ParseConfig(schema.DSN)
	if err != nil {
		return res, fmt.Errorf("bench-search: %w", err)
	}
	pcfg.MaxConns = 4
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return res, fmt.Errorf("bench-search: %w", err)
	}
	defer pool.Close()
	lastPct := -1
	res.load, err = bulkLoad(ctx, pool, d, 2, func(done, total int) {
		if pct := done * 10 / total; pct != lastPct {
			lastPct = pct
			fmt.Fprintf(os.Stderr, "  loading: %d%% (%d/%d)\n", pct*10, done, total)
		}
	})
	if err != nil {
		return res, fmt.Errorf("bench-search: load: %w", err)
	}
	fmt.Fprintf(out, "load: %d resources and %d index rows in %s = %.0f resources/s (COPY, 2 generators + 2 writers); VACUUM ANALYZE %s\n",
		res.load.resources, res.load.indexRows, res.load.elapsed.Round(time.Millisecond),
		float64(res.load.resources)/res.load.elapsed.Seconds(), res.load.analyze.Round(time.Millisecond))
	var sizes string
	if err := pool.QueryRow(ctx, `SELECT pg_size_pretty(sum(pg_total_relation_size(c.oid))) FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND c.relkind = 'r'`).Scan(&sizes); err == nil {
		fmt.Fprintf(out, "schema size: %s (tables with their indexes)\n", sizes)
	}

	cfg.Audit = "off" // searches are measured without the audit trail, as in bench
	srv, err := newServer(ctx, cfg, st, log)
	if err != nil {
		return res, fmt.Errorf("bench-search: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return res, fmt.Errorf("bench-search: %w", err)
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	client := newLoadClient(f.connections)
	defer func() {
		client.CloseIdleConnections()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		hs.Shutdown(sctx)
	}()
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(out, "searching; load average %s\n", loadAverage())
	defer func() { fmt.Fprintf(out, "searches done; load average %s\n", loadAverage()) }()
	for i, k := range searchKinds {
		kr, err := runSearchKind(ctx, client, base, d, k, i, f.queries, f.connections)
		if err != nil {
			return res, fmt.Errorf("bench-search: %s: %w", k.name, err)
		}
		res.kinds = append(res.kinds, kr)
		if f.explain || kr.p95 > searchP95Target {
			st, args, err := explainSearch(ctx, pool, d, k, i)
			if err != nil {
				fmt.Fprintf(out, "explain %s: %v\n", k.name, err)
				continue
			}
			fmt.Fprintf(out, "\n-- %s: slowest statement of %s (%s alone)\n%s\n-- args: %v\n-- custom plan (for these values):\n%s-- generic plan (plan_cache_mode=force_generic_plan):\n%s\n",
				k.name, kr.example, st.elapsed.Round(10*time.Microsecond), st.sql, args, st.plan, st.generic)
		}
	}
	return res, nil
}

// searchHeader heads the table of a scale: matches are those on the first
// page (at most _count), median and mean per request, incl. the mean
// _include/_revinclude resources.
const searchHeader = "kind                            n  req/s   p50 ms   p95 ms   p99 ms   max ms  matches p50/mean  incl.  empty  errors"

func printScale(out io.Writer, r scaleResult) {
	fmt.Fprintf(out, "\nscale %g (%d Observations)\n%s\n", r.scale, r.data.observations, searchHeader)
	for i, k := range r.kinds {
		line := fmt.Sprintf("%-28s %5d %6.0f %8.2f %8.2f %8.2f %8.2f %11d/%-5.1f %6.1f %5.1f%% %7d", searchKinds[i].name, k.n,
			k.rps, millis(k.p50), millis(k.p95), millis(k.p99), millis(k.maxLat), k.medianMatches, k.matches, k.included,
			100*float64(k.empty)/float64(max(k.n-k.errors, 1)), k.errors)
		if k.errors > 0 {
			line += "  <- ERRORS; first: " + k.firstError
		}
		fmt.Fprintln(out, line)
	}
	fmt.Fprintln(out, "examples:")
	for i, k := range r.kinds {
		fmt.Fprintf(out, "  %-28s GET %s\n", searchKinds[i].name, k.example)
	}
}

// searchSummary prints, per kind, the latencies at the smallest and the
// largest scale, p95 against the target at the largest, the growth of p95
// and of the median matches between them; it returns an error when any
// request failed.
func searchSummary(out io.Writer, rs []scaleResult) error {
	if len(rs) == 0 {
		return nil
	}
	lo, hi := rs[0], rs[0]
	for _, r := range rs {
		if r.scale < lo.scale {
			lo = r
		}
		if r.scale > hi.scale {
			hi = r
		}
	}
	fmt.Fprintf(out, "\nsummary: p95 at %d Observations (target < %d ms) and growth of p95 from %d (target < %.0fx); latencies in ms; matches p50/mean per request\n",
		hi.data.observations, searchP95Target.Milliseconds(), lo.data.observations, searchGrowthTarget)
	fmt.Fprintf(out, "%-28s %-22s %-22s %-13s %-22s %s\n", "", fmt.Sprintf("%d obs", lo.data.observations),
		fmt.Sprintf("%d obs", hi.data.observations), "p95", "growth", "matches")
	fmt.Fprintf(out, "%-28s %6s %7s %7s  %6s %7s %7s  %-12s %-22s %-10s %s\n", "kind", "p50", "p95", "p99", "p50", "p95", "p99",
		"verdict", "p95", "low", "high")
	failed := 0
	for i, k := range searchKinds {
		a, b := lo.kinds[i], hi.kinds[i]
		failed += a.errors + b.errors
		verdict := "ok"
		if b.p95 >= searchP95Target {
			verdict = "ABOVE TARGET"
		}
		growth := "-"
		if lo.scale != hi.scale && a.p95 > 0 {
			g := float64(b.p95) / float64(a.p95)
			growth = fmt.Sprintf("%.2fx ok", g)
			if g >= searchGrowthTarget {
				growth = fmt.Sprintf("%.2fx ABOVE TARGET", g)
			}
		}
		fmt.Fprintf(out, "%-28s %6.2f %7.2f %7.2f  %6.2f %7.2f %7.2f  %-12s %-22s %-10s %s\n", k.name,
			millis(a.p50), millis(a.p95), millis(a.p99), millis(b.p50), millis(b.p95), millis(b.p99), verdict, growth,
			fmt.Sprintf("%d/%.1f", a.medianMatches, a.matches), fmt.Sprintf("%d/%.1f", b.medianMatches, b.matches))
	}
	if failed > 0 {
		return fmt.Errorf("bench-search: %d requests failed; see the ERRORS lines", failed)
	}
	return nil
}

// loadAverage is the 1, 5 and 15 minute load average: other work on the
// machine skews every figure.
func loadAverage() string {
	la, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(la)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "unknown"
}
