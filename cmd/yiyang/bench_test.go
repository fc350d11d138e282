package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meizhou-yiyang/yiyang/resources"
)

func TestPercentile(t *testing.T) {
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one", []time.Duration{7}, 99, 7},
		{"p50 of 100", hundred, 50, 50 * time.Millisecond},
		{"p95 of 100", hundred, 95, 95 * time.Millisecond},
		{"p99 of 100", hundred, 99, 99 * time.Millisecond},
		{"p100 of 100", hundred, 100, 100 * time.Millisecond},
		{"p0 is the minimum", hundred, 0, time.Millisecond},
		{"p50 of 4 is the 2nd", []time.Duration{1, 2, 3, 4}, 50, 2},
		{"p99 of 4 is the 4th", []time.Duration{1, 2, 3, 4}, 99, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.sorted, tt.p); got != tt.want {
				t.Errorf("percentile(p%v) = %v, want %v", tt.p, got, tt.want)
			}
		})
	}
}

func TestMedian(t *testing.T) {
	tests := []struct {
		xs   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{9, 1, 5}, 5},
		{[]float64{4, 1, 3, 2}, 2.5},
	}
	for _, tt := range tests {
		in := append([]float64(nil), tt.xs...)
		if got := median(tt.xs); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", tt.xs, got, tt.want)
		}
		for i := range in {
			if in[i] != tt.xs[i] {
				t.Errorf("median modified its input: %v", tt.xs)
			}
		}
	}
}

func TestMedianFigures(t *testing.T) {
	rs := []phaseResult{
		{OK: 100, Elapsed: time.Second, P50: 3, P95: 30, P99: 300},
		{OK: 300, Elapsed: time.Second, P50: 1, P95: 10, P99: 100, Errors: 2, FirstError: "HTTP 500"},
		{OK: 200, Elapsed: time.Second, P50: 2, P95: 20, P99: 200},
	}
	f := medianFigures(rs)
	if f.rps != 200 || f.p50 != 2 || f.p95 != 20 || f.p99 != 200 || f.errors != 2 || f.firstError != "HTTP 500" {
		t.Errorf("medianFigures = %+v", f)
	}
}

// getLoad is a load of GET requests to url.
func getLoad(url string, conns int) loadSpec {
	return loadSpec{
		Client:      newLoadClient(conns),
		Connections: conns,
		Warmup:      20 * time.Millisecond,
		Duration:    200 * time.Millisecond,
		NewWorker: func(int) func(context.Context) (*http.Request, error) {
			return func(ctx context.Context) (*http.Request, error) {
				return http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			}
		},
	}
}

func TestRunLoad(t *testing.T) {
	var served atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		w.Write([]byte(`{"ok":true}`))
	}))
	defer ts.Close()
	res, err := runLoad(context.Background(), getLoad(ts.URL, 4))
	if err != nil {
		t.Fatal(err)
	}
	if res.OK == 0 || res.Errors != 0 || res.FirstError != "" {
		t.Fatalf("result = %+v, want successes and no errors", res)
	}
	if int64(res.OK) > served.Load() {
		t.Errorf("%d requests measured but the server saw only %d", res.OK, served.Load())
	}
	if res.Elapsed < 200*time.Millisecond || res.RPS() <= 0 {
		t.Errorf("elapsed %v, %v req/s", res.Elapsed, res.RPS())
	}
	if !(0 < res.P50 && res.P50 <= res.P95 && res.P95 <= res.P99) {
		t.Errorf("percentiles not ordered: p50 %v p95 %v p99 %v", res.P50, res.P95, res.P99)
	}
}

func TestRunLoadCountsErrors(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "database on fire", http.StatusServiceUnavailable)
	}))
	defer ts.Close()
	res, err := runLoad(context.Background(), getLoad(ts.URL, 2))
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors == 0 || res.OK != 0 {
		t.Fatalf("result = %+v, want only errors", res)
	}
	if !strings.Contains(res.FirstError, "HTTP 503") || !strings.Contains(res.FirstError, "database on fire") {
		t.Errorf("first error %q lacks the status and body", res.FirstError)
	}
	if f := res.figures(); !strings.Contains(benchRow("x", "read", f), "ERRORS") {
		t.Errorf("a phase with errors is not flagged: %s", benchRow("x", "read", f))
	}
}

func TestRunLoadStopsOnCancel(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer ts.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := runLoad(ctx, getLoad(ts.URL, 2)); err != context.Canceled {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestBenchLocationID(t *testing.T) {
	for loc, want := range map[string]string{
		"http://127.0.0.1:1/Patient/abc-1/_history/1": "abc-1",
		"/bare/0190-x": "0190-x",
		"/bare":        "",
		"":             "",
	} {
		if got := benchLocationID(loc); got != want {
			t.Errorf("benchLocationID(%q) = %q, want %q", loc, got, want)
		}
	}
}

func TestPatientJSONIsValid(t *testing.T) {
	p, err := resources.NewParser()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []uint64{0, 1, 12345, 1<<40 | 7<<28 | 99} {
		data := patientJSON(n)
		parsed, err := p.Parse(data)
		if err != nil {
			t.Fatalf("patientJSON(%d) is not a valid Patient: %v\n%s", n, err, data)
		}
		if parsed.Type != "Patient" || len(data) < 500 || len(data) > 1000 {
			t.Errorf("patientJSON(%d): type %s, %d bytes", n, parsed.Type, len(data))
		}
	}
}

func TestParseBenchFlags(t *testing.T) {
	t.Setenv("TEST_DATABASE_URL", "")
	t.Setenv("YIYANG_BENCH_PG", "postgres://example/db")
	f, err := parseBenchFlags(nil)
	if err != nil {
		t.Fatal(err)
	}
	if f.pg != "postgres://example/db" || f.duration != 5*time.Second || f.connections != 32 || f.runs != 3 || f.seedReads != 2000 {
		t.Errorf("defaults = %+v", f)
	}
	t.Setenv("TEST_DATABASE_URL", "postgres://first/db")
	if f, err := parseBenchFlags(nil); err != nil || f.pg != "postgres://first/db" {
		t.Errorf("TEST_DATABASE_URL is not preferred: %q, %v", f.pg, err)
	}
	if f, err := parseBenchFlags([]string{"--pg", ""}); err != nil || f.pg != "" {
		t.Errorf("--pg \"\" does not turn PostgreSQL off: %q, %v", f.pg, err)
	}
	for _, args := range [][]string{{"--runs", "0"}, {"--connections", "0"}, {"--pg", "mysql://x"}, {"--duration", "0s"}, {"extra"}} {
		if _, err := parseBenchFlags(args); err == nil {
			t.Errorf("parseBenchFlags(%q) succeeded", args)
		}
	}
}

// TestBenchSmoke runs the whole bench briefly: SQLite always, PostgreSQL and
// the bare baseline when TEST_DATABASE_URL is set.
func TestBenchSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	f := benchFlags{pg: os.Getenv("TEST_DATABASE_URL"), duration: 150 * time.Millisecond, warmup: 20 * time.Millisecond,
		connections: 4, runs: 1, seedReads: 20, sqliteDir: t.TempDir()}
	var out bytes.Buffer
	if err := runBench(context.Background(), f, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	t.Log("\n" + out.String())
	want := []string{"yiyang-sqlite     create", "yiyang-sqlite     read", "median of 1 run(s)"}
	if f.pg == "" {
		want = append(want, "SKIPPED")
	} else {
		want = append(want, "bare-pgx          insert", "bare-pgx          pk-read", "yiyang-postgres   create",
			"yiyang-postgres read   / bare-pgx pk-read")
	}
	for _, w := range want {
		if !strings.Contains(out.String(), w) {
			t.Errorf("output lacks %q", w)
		}
	}
}

func BenchmarkParsePatient(b *testing.B) {
	p, err := resources.NewParser()
	if err != nil {
		b.Fatal(err)
	}
	data := patientJSON(42)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStamp(b *testing.B) {
	p, err := resources.NewParser()
	if err != nil {
		b.Fatal(err)
	}
	parsed, err := p.Parse(patientJSON(42))
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	b.SetBytes(int64(len(parsed.JSON)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := resources.Stamp(parsed.JSON, "0190a3c4-5b6d-7e8f-9a0b-1c2d3e4f5a6b", 1, now); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPatientJSON(b *testing.B) {
	b.ReportAllocs()
	var n uint64
	for b.Loop() {
		n++
		_ = patientJSON(n)
	}
}
