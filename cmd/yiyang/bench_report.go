package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// figures are the reported numbers of a phase, or their medians over runs.
type figures struct {
	rps           float64
	p50, p95, p99 time.Duration
	errors        int
	firstError    string
}

func (r phaseResult) figures() figures {
	return figures{rps: r.RPS(), p50: r.P50, p95: r.P95, p99: r.P99, errors: r.Errors, firstError: r.FirstError}
}

// medianFigures takes the median of each figure over runs and the sum of
// their errors.
func medianFigures(rs []phaseResult) figures {
	var f figures
	rps, p50, p95, p99 := make([]float64, len(rs)), make([]float64, len(rs)), make([]float64, len(rs)), make([]float64, len(rs))
	for i, r := range rs {
		rps[i], p50[i], p95[i], p99[i] = r.RPS(), float64(r.P50), float64(r.P95), float64(r.P99)
		f.errors += r.Errors
		if f.firstError == "" {
			f.firstError = r.FirstError
		}
	}
	f.rps = median(rps)
	f.p50, f.p95, f.p99 = time.Duration(median(p50)), time.Duration(median(p95)), time.Duration(median(p99))
	return f
}

const tableHeader = "system            op            req/s   p50 ms   p95 ms   p99 ms   errors"

func benchRow(system, op string, f figures) string {
	s := fmt.Sprintf("%-17s %-9s %9.0f %8.2f %8.2f %8.2f %8d", system, op, f.rps, millis(f.p50), millis(f.p95), millis(f.p99), f.errors)
	if f.errors > 0 {
		s += "  <- ERRORS: figures not valid"
	}
	return s
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// ratioTargets are DESIGN.md's performance targets for PostgreSQL; SQLite
// is held to the same for comparison.
var ratioTargets = []struct {
	system, op, base string
	min              float64
}{
	{"yiyang-postgres", "read", "bare-pgx pk-read", 0.50},
	{"yiyang-postgres", "create", "bare-pgx insert", 0.40},
	{"yiyang-sqlite", "read", "bare-pgx pk-read", 0.50},
	{"yiyang-sqlite", "create", "bare-pgx insert", 0.40},
}

// benchReport prints the medians over runs and the ratios to the baseline; it
// returns an error when any phase had errors.
func benchReport(out io.Writer, targets []*benchTarget, runs int) error {
	med := map[string]figures{}
	perRun := map[string][]phaseResult{}
	var failed []string
	fmt.Fprintf(out, "\nmedian of %d run(s)\n%s\n", runs, tableHeader)
	for _, t := range targets {
		for op, rs := range t.results {
			f := medianFigures(rs)
			med[t.name+" "+t.ops[op]] = f
			perRun[t.name+" "+t.ops[op]] = rs
			fmt.Fprintln(out, benchRow(t.name, t.ops[op], f))
			if f.errors > 0 {
				failed = append(failed, fmt.Sprintf("%s %s: %d errors; first: %s", t.name, t.ops[op], f.errors, f.firstError))
			}
		}
	}
	fmt.Fprintln(out)
	if _, ok := med["bare-pgx insert"]; !ok {
		fmt.Fprintf(out, "ratios: SKIPPED, there is no bare baseline without PostgreSQL; run %s\n", benchPGHelp)
	}
	for _, r := range ratioTargets {
		a, ok1 := med[r.system+" "+r.op]
		b, ok2 := med[r.base]
		if !ok1 || !ok2 {
			continue
		}
		ratio := 0.0
		if b.rps > 0 {
			ratio = a.rps / b.rps
		}
		verdict := "ok"
		switch {
		case a.errors > 0 || b.errors > 0:
			verdict = "INVALID: a phase had errors"
		case ratio < r.min:
			verdict = "BELOW TARGET"
		}
		line := fmt.Sprintf("%-22s / %-16s = %.2f  (target >= %.2f)  %-12s%s", r.system+" "+r.op, r.base, ratio, r.min, verdict,
			runRatios(perRun[r.system+" "+r.op], perRun[r.base]))
		fmt.Fprintln(out, strings.TrimRight(line, " "))
	}
	for _, s := range failed {
		fmt.Fprintln(out, "ERRORS in", s)
	}
	if len(failed) > 0 {
		return fmt.Errorf("bench: %d phase(s) had errors; their figures are not valid", len(failed))
	}
	return nil
}

// runRatios lists the ratio of each run, when there are several.
func runRatios(a, b []phaseResult) string {
	if len(a) < 2 || len(a) != len(b) {
		return ""
	}
	s := "  runs:"
	for i := range a {
		if rb := b[i].RPS(); rb > 0 {
			s += fmt.Sprintf(" %.2f", a[i].RPS()/rb)
		} else {
			s += " -"
		}
	}
	return s
}
