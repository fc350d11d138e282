package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// loadSpec describes one measured phase: Connections workers share Client, each
// sending the requests its NewWorker function builds, back to back, for
// Warmup (not measured) and then Duration (measured).
type loadSpec struct {
	Client      *http.Client
	Connections int
	Warmup      time.Duration
	Duration    time.Duration
	// NewWorker returns the request builder of worker w; each builder is used
	// by one goroutine only, so it may keep state (a counter, a random source).
	NewWorker func(w int) func(ctx context.Context) (*http.Request, error)
}

// phaseResult is what one phase measured. Latencies and throughput count the
// successful (2xx) requests started in the measured window; Errors counts
// every failed request, warmup included.
type phaseResult struct {
	OK            int
	Errors        int
	FirstError    string
	Elapsed       time.Duration
	P50, P95, P99 time.Duration
}

// RPS is the throughput of successful requests.
func (r phaseResult) RPS() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.OK) / r.Elapsed.Seconds()
}

// loadWorker is one connection's tally.
type loadWorker struct {
	lat     []time.Duration
	errors  int
	lastEnd time.Time
}

// runLoad runs the phase. It fails only when ctx is cancelled or a request
// cannot be built; HTTP failures are counted in the result.
func runLoad(ctx context.Context, l loadSpec) (phaseResult, error) {
	if l.Connections < 1 || l.Duration <= 0 || l.Client == nil || l.NewWorker == nil {
		return phaseResult{}, fmt.Errorf("load: need a client, a request builder, connections >= 1 and a duration")
	}
	start := time.Now()
	from := start.Add(l.Warmup)
	stop := from.Add(l.Duration)
	// Room for ~60k req/s in total without growing, beyond any figure here.
	hint := min(int(l.Duration.Seconds()*60000)/l.Connections+1024, 1<<20)

	var (
		mu       sync.Mutex
		firstErr string
		buildErr error
	)
	fail := func(msg string) {
		mu.Lock()
		if firstErr == "" {
			firstErr = msg
		}
		mu.Unlock()
	}
	workers := make([]loadWorker, l.Connections)
	var wg sync.WaitGroup
	for i := range workers {
		next := l.NewWorker(i)
		w := &workers[i]
		w.lat = make([]time.Duration, 0, hint)
		wg.Go(func() {
			for ctx.Err() == nil {
				t0 := time.Now()
				if !t0.Before(stop) {
					return
				}
				req, err := next(ctx)
				if err != nil {
					mu.Lock()
					buildErr = err
					mu.Unlock()
					return
				}
				status, body, err := doRequest(l.Client, req)
				end := time.Now()
				switch {
				case ctx.Err() != nil:
					return
				case err != nil:
					w.errors++
					fail(fmt.Sprintf("%s %s: %v", req.Method, req.URL.Path, err))
				case status < 200 || status > 299:
					w.errors++
					fail(fmt.Sprintf("%s %s: HTTP %d: %s", req.Method, req.URL.Path, status, body))
				case !t0.Before(from):
					w.lat = append(w.lat, end.Sub(t0))
					w.lastEnd = end
				}
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return phaseResult{}, err
	}
	if buildErr != nil {
		return phaseResult{}, buildErr
	}
	res := phaseResult{FirstError: firstErr, Elapsed: l.Duration}
	var all []time.Duration
	var last time.Time
	for _, w := range workers {
		all = append(all, w.lat...)
		res.Errors += w.errors
		if w.lastEnd.After(last) {
			last = w.lastEnd
		}
	}
	res.OK = len(all)
	if res.OK > 0 {
		// Requests still in flight at the stop time finish after it.
		res.Elapsed = max(last.Sub(from), l.Duration)
	}
	slices.Sort(all)
	res.P50, res.P95, res.P99 = percentile(all, 50), percentile(all, 95), percentile(all, 99)
	return res, nil
}

// doRequest sends req and reads the whole response; for a failure it returns the
// start of the body.
func doRequest(c *http.Client, req *http.Request) (status int, body string, err error) {
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		_, err = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, "", err
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b)), nil
}

// percentile returns the nearest-rank p-th percentile of sorted (0 when empty).
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// median returns the median of xs (the mean of the middle two for an even
// count; 0 when empty). xs is not modified.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(xs))
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// newClient returns an HTTP client that keeps one connection per worker.
func newLoadClient(connections int) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = connections
	t.MaxIdleConnsPerHost = connections
	t.MaxConnsPerHost = connections
	t.DisableCompression = true
	t.ForceAttemptHTTP2 = false
	return &http.Client{Transport: t, Timeout: 30 * time.Second}
}
