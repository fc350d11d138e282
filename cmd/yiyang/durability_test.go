package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/meizhou-yiyang/yiyang/resources/postgres/pgtest"
)

const (
	// durableCount is how many resources must survive the crash.
	durableCount = 1000
	// durableWorkers is how many clients create them concurrently.
	durableWorkers = 8
	// startTimeout bounds how long the binary may take to log that it listens.
	startTimeout = 30 * time.Second
)

// TestDurability starts the real binary, creates resources, kills it with
// SIGKILL right after the last 201 (no graceful shutdown), restarts it on the
// same database and reads every resource back: an acknowledged write must
// survive a crash on both backends.
func TestDurability(t *testing.T) {
	if testing.Short() {
		t.Skip("durability test builds and runs the binary; skipped in -short mode")
	}
	bin := buildBinary(t)
	cases := []struct {
		name string
		db   func(t *testing.T) string
	}{
		// Default --sqlite-synchronous is FULL: every commit is fsynced.
		{"sqlite", func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "yiyang.db") }},
		{"postgres", func(t *testing.T) string { return pgtest.DSN(t) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			db := tc.db(t)
			ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
			defer cancel()

			first := startBinary(t, bin, db)
			start := time.Now()
			written := createPatients(ctx, t, first.base)
			first.kill(t)
			t.Logf("created %d patients in %v, then SIGKILL", len(written), time.Since(start).Round(time.Millisecond))

			second := startBinary(t, bin, db)
			defer second.kill(t)
			readPatients(ctx, t, second.base, written)
		})
	}
}

// buildBinary compiles this package once for the test run.
func buildBinary(t *testing.T) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("durability test needs the go command on PATH to build the binary: " + err.Error())
	}
	bin := filepath.Join(t.TempDir(), "yiyang")
	cmd := exec.Command(gobin, "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// serverProcess is a running yiyang serve.
type serverProcess struct {
	cmd  *exec.Cmd
	base string
	log  *procLog
	done chan struct{} // closed when stderr is drained
}

// startBinary runs `yiyang serve` on a free port and waits for its
// `listening` log line to learn the address.
func startBinary(t *testing.T, bin, db string) *serverProcess {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--auth-disabled", "--addr", "127.0.0.1:0", "--db", db, "--log-level", "info", "--log-format", "text")
	cmd.Env = cleanEnv()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &serverProcess{cmd: cmd, log: &procLog{}, done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.kill(t) })
	addrc := make(chan string, 1)
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			p.log.WriteLine(line)
			if addr, ok := listeningAddr(line); ok {
				select {
				case addrc <- addr:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	select {
	case addr := <-addrc:
		p.base = "http://" + addr
		return p
	case <-p.done:
		_ = cmd.Wait()
		t.Fatalf("yiyang exited before listening (%v); its log:\n%s", cmd.ProcessState, p.log)
	case <-time.After(startTimeout):
		t.Fatalf("yiyang did not log `msg=listening` within %v; its log:\n%s", startTimeout, p.log)
	}
	return nil
}

// listeningAddr extracts addr=HOST:PORT from the `msg=listening` log line.
func listeningAddr(line string) (string, bool) {
	if !strings.Contains(line, "msg=listening") {
		return "", false
	}
	for _, f := range strings.Fields(line) {
		if a, ok := strings.CutPrefix(f, "addr="); ok && a != "" {
			return strings.Trim(a, `"`), true
		}
	}
	return "", false
}

// kill sends SIGKILL (no graceful shutdown) and reaps the process; it is a
// no-op when the process is already gone.
func (p *serverProcess) kill(t *testing.T) {
	t.Helper()
	if p == nil || p.cmd.ProcessState != nil {
		return
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("SIGKILL: %v", err)
	}
	<-p.done
	err := p.cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Errorf("after SIGKILL, Wait = %v; want the process killed by a signal", err)
		return
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && !(ws.Signaled() && ws.Signal() == syscall.SIGKILL) {
		t.Logf("yiyang ended with %v before SIGKILL; its log:\n%s", ee, p.log)
	}
}

// cleanEnv is the test's environment without YIYANG_* settings, so only the
// flags configure the binary.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "YIYANG_") {
			env = append(env, kv)
		}
	}
	return env
}

func patientName(i int) string { return fmt.Sprintf("Durable%04d", i) }

// createPatients creates durableCount Patients with durableWorkers clients
// and returns name by id. Every create must answer 201 with its id.
func createPatients(ctx context.Context, t *testing.T, base string) map[string]string {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: durableWorkers}, Timeout: 30 * time.Second}
	defer hc.CloseIdleConnections()
	jobs := make(chan int)
	var (
		mu      sync.Mutex
		written = map[string]string{}
		errs    []error
		wg      sync.WaitGroup
	)
	for range durableWorkers {
		wg.Go(func() {
			for i := range jobs {
				name := patientName(i)
				id, err := createPatient(ctx, hc, base, name)
				mu.Lock()
				if err != nil {
					errs = append(errs, fmt.Errorf("patient %d: %w", i, err))
				} else if prev, dup := written[id]; dup {
					errs = append(errs, fmt.Errorf("patient %d: id %s already returned for %s", i, id, prev))
				} else {
					written[id] = name
				}
				mu.Unlock()
			}
		})
	}
feed:
	for i := range durableCount {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("%d of %d creates failed, first: %v", len(errs), durableCount, errs[0])
	}
	if len(written) != durableCount {
		t.Fatalf("created %d patients, want %d (%v)", len(written), durableCount, ctx.Err())
	}
	return written
}

func createPatient(ctx context.Context, hc *http.Client, base, name string) (string, error) {
	body := fmt.Sprintf(`{"resourceType":"Patient","active":true,"name":[{"family":%q,"given":["Crash"]}]}`, name)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/Patient", strings.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/fhir+json")
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("POST /Patient: status %d, want 201: %s", resp.StatusCode, b)
	}
	var res struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(b, &res); err != nil {
		return "", fmt.Errorf("POST /Patient: body is not JSON: %v", err)
	}
	loc := resp.Header.Get("Location")
	locID := idFromLocation(loc)
	switch {
	case res.ID == "" && locID == "":
		return "", fmt.Errorf("POST /Patient: no id in the body or Location %q", loc)
	case res.ID != "" && locID != "" && res.ID != locID:
		return "", fmt.Errorf("POST /Patient: body id %q differs from Location %q", res.ID, loc)
	case res.ID == "":
		return locID, nil
	}
	return res.ID, nil
}

// idFromLocation takes the id from BASE/Patient/ID/_history/N.
func idFromLocation(loc string) string {
	_, rest, ok := strings.Cut(loc, "/Patient/")
	if !ok {
		return ""
	}
	id, _, _ := strings.Cut(rest, "/")
	return id
}

// readPatients reads every id and checks that the name survived.
func readPatients(ctx context.Context, t *testing.T, base string, want map[string]string) {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: durableWorkers}, Timeout: 30 * time.Second}
	defer hc.CloseIdleConnections()
	ids := make(chan string)
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	for range durableWorkers {
		wg.Go(func() {
			for id := range ids {
				if err := readPatient(ctx, hc, base, id, want[id]); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	for id := range want {
		ids <- id
	}
	close(ids)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d of %d acknowledged patients are missing or wrong after the crash, first: %v", len(errs), len(want), errs[0])
	}
}

func readPatient(ctx context.Context, hc *http.Client, base, id, name string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/Patient/"+id, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /Patient/%s: status %d, want 200: %s", id, resp.StatusCode, b)
	}
	var p struct {
		ID   string `json:"id"`
		Name []struct {
			Family string `json:"family"`
		} `json:"name"`
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return fmt.Errorf("GET /Patient/%s: %v", id, err)
	}
	if p.ID != id || len(p.Name) != 1 || p.Name[0].Family != name {
		return fmt.Errorf("GET /Patient/%s: got %s, want id %s and family %s", id, b, id, name)
	}
	return nil
}

// procLog collects a process's log lines for failure messages.
type procLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *procLog) WriteLine(line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.b.Len() < 1<<20 {
		s.b.WriteString(line)
		s.b.WriteByte('\n')
	}
}

func (s *procLog) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
