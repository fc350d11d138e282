package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meizhou-yiyang/yiyang/operations"
	"github.com/meizhou-yiyang/yiyang/resources"
	"github.com/meizhou-yiyang/yiyang/resources/search"
	"github.com/meizhou-yiyang/yiyang/resources/storetest"
	"github.com/meizhou-yiyang/yiyang/server"
)

// TestAuditTrail: every interaction, failed authentication and denials
// included, leaves an AuditEvent that auditors can search; AuditEvents
// cannot be changed. Both backends, synchronous and batched mode.
func TestAuditTrail(t *testing.T) {
	for _, b := range backends() {
		for _, mode := range []server.AuditConfig{{Sync: true}, {FlushInterval: 20 * time.Millisecond}} {
			name := b.name + "/async"
			if mode.Sync {
				name = b.name + "/sync"
			}
			t.Run(name, func(t *testing.T) { auditTrail(t, b.open(t), mode) })
		}
	}
}

func auditTrail(t *testing.T, st resources.Store, mode server.AuditConfig) {
	iss, v := testIssuer(t)
	parser, _ := resources.NewParser()
	srv, c := serve(t, server.Config{Store: st, Parser: parser, Auth: v, Audit: &mode})
	doctor := "Bearer " + iss.Token(t, "dr-li", "user/Patient.cruds user/Observation.rs", map[string]any{"fhirUser": "Practitioner/li"})
	auditor := "Bearer " + iss.Token(t, "auditor-wang", "user/AuditEvent.rs user/AuditEvent.c", nil)

	c.do(http.MethodPut, "/Patient/p1", []byte(`{"resourceType":"Patient","id":"p1"}`), "Authorization", doctor)
	c.do(http.MethodGet, "/Patient/p1", nil, "Authorization", doctor)
	c.do(http.MethodGet, "/Patient?gender=male", nil, "Authorization", doctor)
	c.do(http.MethodGet, "/Patient/p1", nil, "Authorization", doctor, server.BreakGlassHeader, "unconscious in ED 急诊")
	c.do(http.MethodGet, "/Patient/p1", nil)                                                                             // no token: 401
	c.do(http.MethodDelete, "/Patient/p1", nil, "Authorization", "Bearer "+iss.Token(t, "dr-li", "user/Patient.r", nil)) // 403
	if !mode.Sync {
		srv.Close() // flush the batch
	}
	find := func(query string) []map[string]any {
		t.Helper()
		res := c.do(http.MethodGet, "/AuditEvent?"+query+"&_count=100", nil, "Authorization", auditor)
		if res.status != http.StatusOK {
			t.Fatalf("AuditEvent?%s: %d %s", query, res.status, res.body)
		}
		var b struct {
			Entry []struct{ Resource map[string]any }
		}
		json.Unmarshal(res.body, &b)
		var out []map[string]any
		for _, e := range b.Entry {
			out = append(out, e.Resource)
		}
		return out
	}
	all := find("_lastUpdated=gt2000")
	if len(all) < 5 {
		t.Fatalf("%d AuditEvents for 5 interactions", len(all))
	}
	for _, ev := range all {
		data, _ := json.Marshal(ev)
		if _, err := parser.Parse(data); err != nil {
			t.Fatalf("an AuditEvent is not valid R4: %v\n%s", err, data)
		}
	}
	if got := find("patient=Patient/p1"); len(got) < 2 {
		t.Fatalf("by patient: %d events", len(got))
	}
	if got := find("agent=Practitioner/li"); len(got) < 3 {
		t.Fatalf("by agent: %d events", len(got))
	}
	failed := find("outcome=4")
	var sawLogin, sawDenied bool
	for _, ev := range failed {
		desc, _ := ev["outcomeDesc"].(string)
		sawLogin = sawLogin || strings.Contains(desc, "Unauthorized")
		sawDenied = sawDenied || strings.Contains(desc, "Forbidden")
	}
	if !sawLogin || !sawDenied {
		t.Fatalf("failed authentication and denial must be audited: %d failure events", len(failed))
	}
	if got := find("date=ge" + time.Now().Add(-time.Hour).UTC().Format("2006-01-02T15:04:05Z")); len(got) < 5 {
		t.Fatalf("by date: %d", len(got))
	}
	searches := 0
	for _, ev := range find("subtype=search-type") {
		if strings.Contains(mustJSON(ev), `"query"`) {
			searches++
		}
	}
	if searches == 0 {
		t.Fatal("a search must be audited with its query")
	}
	// Break-the-glass leaves its reason in the record.
	glass := 0
	for _, ev := range all {
		if js := mustJSON(ev); strings.Contains(js, `"code":"BTG"`) && strings.Contains(js, "unconscious in ED 急诊") {
			glass++
		}
	}
	if glass != 1 {
		t.Fatalf("%d AuditEvents record the break-the-glass access and its reason, want 1", glass)
	}
	// The audit log answers the parameters auditors use and says which when
	// asked for another.
	res := c.do(http.MethodGet, "/AuditEvent?site=Yiyang", nil, "Authorization", auditor)
	if res.status != http.StatusBadRequest || !strings.Contains(string(res.body), "OperationOutcome") || !strings.Contains(string(res.body), "audit log") {
		t.Fatalf("AuditEvent?site=: %d %s", res.status, res.body)
	}
	res = c.do(http.MethodGet, "/Patient?_id=p1&_revinclude=AuditEvent:patient&_count=100", nil, "Authorization",
		"Bearer "+iss.Token(t, "auditor-wang", "user/AuditEvent.rs user/Patient.rs", nil))
	if res.status != http.StatusOK || strings.Count(string(res.body), `"resourceType":"AuditEvent"`) < 2 {
		t.Fatalf("Patient?_revinclude=AuditEvent:patient: %d %.500s", res.status, res.body)
	}
	id, _ := all[0]["id"].(string)
	for _, m := range []string{http.MethodPut, http.MethodDelete} {
		res := c.do(m, "/AuditEvent/"+id, mustBytes(all[0]), "Authorization", "Bearer "+iss.Token(t, "root", "system/*.cruds", nil))
		if res.status != http.StatusMethodNotAllowed {
			t.Fatalf("%s AuditEvent: %d", m, res.status)
		}
	}
}

func mustJSON(v any) string  { b, _ := json.Marshal(v); return string(b) }
func mustBytes(v any) []byte { b, _ := json.Marshal(v); return b }

// flakyStore refuses transactions and pings while down, as a store whose
// database cannot be reached.
type flakyStore struct {
	resources.Store
	down atomic.Bool
}

var errDown = errors.New("dial tcp 127.0.0.1:5432: connection refused")

func (f *flakyStore) WithTx(ctx context.Context, fn func(ctx context.Context, tx resources.Ops) error) error {
	if f.down.Load() {
		return errDown
	}
	return f.Store.WithTx(ctx, fn)
}

func (f *flakyStore) Ping(ctx context.Context) error {
	if f.down.Load() {
		return errDown
	}
	return f.Store.Ping(ctx)
}

// flakyServer serves a store that can be taken down (flakyStore), with
// authentication and the audit trail in mode.
func flakyServer(t *testing.T, b backend, mode server.AuditConfig) (resources.Store, *flakyStore, *server.Server, *client) {
	st := b.open(t)
	flaky := &flakyStore{Store: st}
	_, v := testIssuer(t)
	srv, c := serve(t, server.Config{Store: flaky, Auth: v, Audit: &mode})
	return st, flaky, srv, c
}

// auditCount is the number of AuditEvents in st.
func auditCount(t *testing.T, st resources.Store) int {
	t.Helper()
	page, err := st.(storetest.Searcher).Search(context.Background(), &search.Query{Type: search.AuditType, Count: 0, Total: "accurate"})
	if err != nil {
		t.Fatal(err)
	}
	return int(page.Total)
}

// TestAuditSurvivesOutage: in batched mode, events the database refuses
// while it cannot be reached are kept and written once it is back.
func TestAuditSurvivesOutage(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			st, flaky, srv, c := flakyServer(t, b, server.AuditConfig{FlushInterval: 10 * time.Millisecond})
			flaky.down.Store(true)
			const requests = 40
			for range requests {
				if res := c.do(http.MethodGet, "/Patient/p1", nil); res.status != http.StatusUnauthorized {
					t.Fatalf("no token: %d", res.status)
				}
			}
			time.Sleep(150 * time.Millisecond) // several failed flushes
			count := func() int { return auditCount(t, st) }
			if n := count(); n != 0 {
				t.Fatalf("%d events written while the database was down", n)
			}
			flaky.down.Store(false)
			deadline := time.Now().Add(5 * time.Second)
			for count() < requests && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			srv.Close()
			if n := count(); n != requests {
				t.Fatalf("%d of %d events written after the outage", n, requests)
			}
		})
	}
}

// TestAuditFlush: FlushAudit returns once the events of the requests
// handled so far are stored, long before the flush interval, each with the
// instant of its request (the writer builds events when it takes them, from
// what the request noted); while the database is down it says how many it
// keeps, and they are written by the flush after it is back.
func TestAuditFlush(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			st, flaky, srv, c := flakyServer(t, b, server.AuditConfig{FlushInterval: time.Hour, BatchSize: 1000})
			count := func() int { return auditCount(t, st) }
			ctx := context.Background()
			before := time.Now()
			for range 3 {
				c.do(http.MethodGet, "/Patient/p1", nil)
			}
			after := time.Now()
			if n := count(); n != 0 {
				t.Fatalf("%d events stored before the flush (interval of an hour)", n)
			}
			time.Sleep(50 * time.Millisecond)
			if err := srv.FlushAudit(ctx); err != nil {
				t.Fatal(err)
			}
			if n := count(); n != 3 {
				t.Fatalf("after FlushAudit, %d events stored, want 3", n)
			}
			page, err := st.(storetest.Searcher).Search(ctx, &search.Query{Type: search.AuditType, Count: 10})
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range page.Matches {
				var ev struct{ ID, Recorded string }
				if err := json.Unmarshal(m.Data, &ev); err != nil || ev.ID != m.ID {
					t.Fatalf("event %s: id %q in its JSON (%v)", m.ID, ev.ID, err)
				}
				at, err := time.Parse(time.RFC3339Nano, ev.Recorded)
				if err != nil || at.Before(before.Truncate(time.Microsecond)) || at.After(after) || !m.LastUpdated.Equal(at) {
					t.Fatalf("event %s records %s (lastUpdated %s), not an instant of its request (%s to %s)",
						m.ID, ev.Recorded, m.LastUpdated, before, after)
				}
			}
			flaky.down.Store(true)
			c.do(http.MethodGet, "/Patient/p1", nil)
			if err := srv.FlushAudit(ctx); err == nil || !strings.Contains(err.Error(), "1 events kept") {
				t.Fatalf("flush while the database is down: %v, want 1 event kept", err)
			}
			flaky.down.Store(false)
			if err := srv.FlushAudit(ctx); err != nil {
				t.Fatal(err)
			}
			if n := count(); n != 4 {
				t.Fatalf("after the outage, %d events stored, want 4", n)
			}
			srv.Close()
			if err := srv.FlushAudit(ctx); err == nil {
				t.Fatal("FlushAudit after Close: no error")
			}
		})
	}
}

// gatedStore holds every transaction until open is closed.
type gatedStore struct {
	resources.Store
	open chan struct{}
}

func (g *gatedStore) WithTx(ctx context.Context, fn func(ctx context.Context, tx resources.Ops) error) error {
	<-g.open
	return g.Store.WithTx(ctx, fn)
}

// TestAuditSyncBeforeResponse: in synchronous mode the client has nothing
// of the response, however large, before the request's AuditEvent is
// stored (the audit write runs in a transaction, held here).
func TestAuditSyncBeforeResponse(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			st := b.open(t)
			big := strings.Repeat("长期护理", 4000) // well over the server's 4 KiB write buffer
			if _, _, err := st.Update(context.Background(), resources.UpdateParams{Type: "Patient", ID: "p1",
				Data: []byte(`{"resourceType":"Patient","id":"p1","name":[{"text":"` + big + `"}]}`)}); err != nil {
				t.Fatal(err)
			}
			gate := &gatedStore{Store: st, open: make(chan struct{})}
			iss, v := testIssuer(t)
			_, c := serve(t, server.Config{Store: gate, Auth: v, Audit: &server.AuditConfig{Sync: true}})
			release := sync.OnceFunc(func() { close(gate.open) })
			t.Cleanup(release) // before the server stops, which waits for the handler
			req, _ := http.NewRequest(http.MethodGet, c.base+"/Patient/p1", nil)
			req.Header.Set("Authorization", "Bearer "+iss.Token(t, "dr-li", "user/Patient.rs", nil))
			got := make(chan *http.Response, 1)
			go func() {
				resp, err := c.hc.Do(req)
				if err != nil {
					t.Error(err)
					close(got)
					return
				}
				got <- resp
			}()
			select {
			case resp := <-got:
				if resp != nil {
					resp.Body.Close()
				}
				t.Fatal("the response reached the client before its AuditEvent was stored")
			case <-time.After(200 * time.Millisecond):
			}
			release()
			resp := <-got
			if resp == nil {
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), big) {
				t.Fatalf("%d, %d bytes", resp.StatusCode, len(body))
			}
			if n := auditCount(t, st); n != 1 {
				t.Fatalf("%d events stored, want 1", n)
			}
		})
	}
}

// TestAuditTransaction: the entries of a transaction are audited when it
// ends, with its outcome: in synchronous mode on SQLite, whose one writer
// the transaction holds, an audit write from inside it would wait for ever;
// and the entries of a transaction rolled back did not happen. Both
// backends, both modes.
func TestAuditTransaction(t *testing.T) {
	for _, b := range backends() {
		for _, mode := range []server.AuditConfig{{Sync: true}, {FlushInterval: time.Hour}} {
			name := b.name + "/async"
			if mode.Sync {
				name = b.name + "/sync"
			}
			t.Run(name, func(t *testing.T) {
				srv, c := serve(t, server.Config{Store: b.open(t), AuthDisabled: true, Audit: &mode})
				c.hc.Timeout = 10 * time.Second
				ok := bundleOf("transaction", entry("POST", "Patient", "", `{"resourceType":"Patient","name":[{"family":"Committed"}]}`))
				if res := c.do(http.MethodPost, "/", ok); res.status != http.StatusOK {
					t.Fatalf("transaction: %d %s", res.status, res.body)
				}
				bad := bundleOf("transaction",
					entry("POST", "Patient", "", `{"resourceType":"Patient","name":[{"family":"RolledBack"}]}`),
					entry("DELETE", "Patient?name=nobody&_id=a,b", "", ""),
					entry("PUT", "Patient/p9", "", `{"resourceType":"Patient","id":"p9","active":"yes"}`))
				if res := c.do(http.MethodPost, "/", bad); res.status < 400 {
					t.Fatalf("a transaction with an invalid entry: %d %s", res.status, res.body)
				}
				if err := srv.FlushAudit(context.Background()); err != nil {
					t.Fatal(err)
				}
				res := c.do(http.MethodGet, "/AuditEvent?subtype=http://hl7.org/fhir/restful-interaction|create&_count=100", nil)
				var events struct {
					Entry []struct {
						Resource struct {
							Outcome string
						}
					}
				}
				if err := json.Unmarshal(res.body, &events); err != nil || res.status != http.StatusOK {
					t.Fatalf("%d %v %s", res.status, err, res.body)
				}
				var outcomes []string
				for _, e := range events.Entry {
					outcomes = append(outcomes, e.Resource.Outcome)
				}
				slices.Sort(outcomes)
				if want := []string{"0", "4"}; !slices.Equal(outcomes, want) {
					t.Fatalf("create events' outcomes %v, want %v (the committed entry's success, the rolled-back one's failure)", outcomes, want)
				}
			})
		}
	}
}

// TestAuditPanic: a request whose handler panics (a bug) is answered 500
// and still audited, with the caller and outcome 8.
func TestAuditPanic(t *testing.T) {
	ops := newOperations(t)
	if err := ops.Register(operations.Operation{Name: "boom", Type: true, Invoke: func(context.Context, operations.Invocation) (operations.Result, error) {
		var m map[string]int
		m["x"]++ // a nil map write: panics
		return operations.Result{}, nil
	}}); err != nil {
		t.Fatal(err)
	}
	st := backends()[0].open(t)
	iss, v := testIssuer(t)
	_, c := serve(t, server.Config{Store: st, Auth: v, Operations: ops, Audit: &server.AuditConfig{Sync: true}})
	res := c.do(http.MethodGet, "/Patient/$boom", nil, "Authorization", "Bearer "+iss.Token(t, "dr-li", "user/*.rs", nil))
	if res.status != http.StatusInternalServerError {
		t.Fatalf("%d %s", res.status, res.body)
	}
	page, err := st.(storetest.Searcher).Search(context.Background(), &search.Query{Type: search.AuditType, Count: 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range page.Matches {
		if strings.Contains(string(m.Data), `"outcome":"8"`) && strings.Contains(string(m.Data), "dr-li") {
			return
		}
	}
	t.Fatalf("no AuditEvent of the failed request among %d", len(page.Matches))
}

// TestAuditByPatient: an auditor finds by patient the reads, searches and
// writes of that patient's resources of any type, not only of the Patient
// itself: the patient is taken from the version as the store recorded it
// (reads and version reads, whatever part of the resource they return),
// from the resource (its Patient compartment references) or from the
// search's patient parameters. Both backends.
func TestAuditByPatient(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			iss, v := testIssuer(t)
			_, c := serve(t, server.Config{Store: b.open(t), Auth: v, Audit: &server.AuditConfig{Sync: true}})
			doctor := "Bearer " + iss.Token(t, "dr-x", "user/*.cruds", nil)
			auditor := "Bearer " + iss.Token(t, "auditor", "user/AuditEvent.rs", nil)
			c.do(http.MethodPut, "/Condition/c1", []byte(`{"resourceType":"Condition","id":"c1","subject":{"reference":"Patient/p1"},"code":{"text":"x"}}`), "Authorization", doctor)
			c.do(http.MethodGet, "/Condition/c1", nil, "Authorization", doctor)
			// The patients come from the store, as recorded with the version:
			// a read whose answer leaves the subject out (_elements), a 304
			// without a body, and a version read name p1 too.
			if res := c.do(http.MethodGet, "/Condition/c1?_elements=code", nil, "Authorization", doctor); res.status != http.StatusOK || bytes.Contains(res.body, []byte("Patient/p1")) {
				t.Fatalf("_elements=code: %d %s", res.status, res.body)
			}
			if res := c.do(http.MethodGet, "/Condition/c1", nil, "Authorization", doctor, "If-None-Match", `W/"1"`); res.status != http.StatusNotModified {
				t.Fatalf("If-None-Match: %d %s", res.status, res.body)
			}
			c.do(http.MethodGet, "/Condition/c1/_history/1", nil, "Authorization", doctor)
			c.do(http.MethodGet, "/Observation?subject=Patient/p1", nil, "Authorization", doctor)
			c.do(http.MethodGet, "/Encounter?patient=p1", nil, "Authorization", doctor)
			c.do(http.MethodGet, "/Condition?subject=Patient/p2", nil, "Authorization", doctor)
			res := c.do(http.MethodGet, "/AuditEvent?patient=Patient/p1&_count=100", nil, "Authorization", auditor)
			var bundle struct {
				Entry []struct {
					Resource struct {
						Subtype []struct{ Code string }
						Entity  []struct{ What struct{ Reference string } }
					}
				}
			}
			if err := json.Unmarshal(res.body, &bundle); err != nil || res.status != http.StatusOK {
				t.Fatalf("%d %v %s", res.status, err, res.body)
			}
			var got []string
			for _, e := range bundle.Entry {
				for _, st := range e.Resource.Subtype {
					got = append(got, st.Code)
				}
			}
			slices.Sort(got)
			if want := []string{"read", "read", "read", "search-type", "search-type", "update", "vread"}; !slices.Equal(got, want) {
				t.Fatalf("events of patient p1: %v, want %v", got, want)
			}
		})
	}
}

// TestAuditBatchEntries: a batch's entries are audited like requests of
// their own: one refused before it ran too, each from the bundle's address,
// and under the bundle's break-the-glass. Both backends.
func TestAuditBatchEntries(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			iss, c := servePolicy(t, b, &server.AuditConfig{Sync: true})
			psych := "Bearer " + iss.Token(t, "psych", "user/*.cruds", map[string]any{"roles": []string{"admin", "sensitive-access"}})
			c.do(http.MethodPut, "/Condition/dep", []byte(`{"resourceType":"Condition","id":"dep","meta":{"security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"PSY"}]},"subject":{"reference":"Patient/p1"},"code":{"text":"x"}}`), "Authorization", psych)
			doctor := "Bearer " + iss.Token(t, "dr-bg", "user/*.rs", map[string]any{"roles": []string{"doctor"}})
			batch := bundleOf("batch", entry("GET", "http://evil.example/Patient/p1", "", ""), entry("GET", "Condition/dep", "", ""))
			res := c.do(http.MethodPost, "/", batch, "Authorization", doctor, server.BreakGlassHeader, "unconscious in ED")
			if res.status != http.StatusOK || !strings.Contains(string(res.body), `"status":"200`) {
				t.Fatalf("batch under break-the-glass: %d %s", res.status, res.body)
			}
			res = c.do(http.MethodGet, "/AuditEvent?altid=dr-bg&_count=100", nil, "Authorization", psych)
			var events struct {
				Entry []struct {
					Resource struct {
						Outcome string
						Agent   []struct {
							Network      struct{ Address string }
							PurposeOfUse []struct{ Text string }
						}
					}
				}
			}
			if err := json.Unmarshal(res.body, &events); err != nil || len(events.Entry) != 3 {
				t.Fatalf("%d events of the batch, want 3 (the batch, the refused entry, the read): %v %s", len(events.Entry), err, res.body)
			}
			var refused int
			for _, e := range events.Entry {
				a := e.Resource.Agent[0]
				if a.Network.Address == "" || len(a.PurposeOfUse) == 0 || a.PurposeOfUse[0].Text != "unconscious in ED" {
					t.Errorf("an event without the bundle's address or break-the-glass: %+v", a)
				}
				if e.Resource.Outcome == "4" {
					refused++
				}
			}
			if refused != 1 {
				t.Errorf("%d refused events, want 1", refused)
			}
		})
	}
}
