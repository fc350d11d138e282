package server

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/meizhou-yiyang/yiyang/resources"
	"github.com/meizhou-yiyang/yiyang/resources/index"
	"github.com/meizhou-yiyang/yiyang/server/auth"
)

// FuzzAppendString: appendString writes any string as encoding/json does
// (escapes, HTML-safe characters, U+2028/U+2029, invalid UTF-8).
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "dr-li", `a"b\c`, "<script>&amp;</script>", "tab\there\nline\r\x00\x1f\x7f",
		"急诊 bed 3", "\u2028\u2029", "\xff\xfe", "caf\xc3", "\b\f", "é\x80ok"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendString(nil, s); string(got) != string(want) {
			t.Fatalf("appendString(%q) = %s, encoding/json gives %s", s, got, want)
		}
	})
}

// FuzzAppendPacked: an event the server builds from any principal, remote
// address, request and break-the-glass reason, written packed
// (appendPacked), unpacks to its JSON, and is no longer than PackAudit
// makes that JSON.
func FuzzAppendPacked(f *testing.F) {
	f.Add("dr-li", "Practitioner/li", "his", "", "127.0.0.1:5555", "/Patient/p1", "read", "Patient", "p1", "", 200)
	f.Add("", "", "", "", "[::1]:1", "/Observation?code=8867-4", "search-type", "Observation", "", "", 403)
	f.Add("Zhang\"San<>", "Patient/p4", "app \u2028", "p4", "bad", "/?_type=Patient&x=\"}]}", "search-system", "", "", "急诊 \"}]", 500)
	f.Add("a", "https://h/fhir/Patient/p2", "c", "p2", "1.2.3.4:5", "/Condition/c1", "delete", "Condition", "c1", "reason", 204)
	f.Fuzz(func(t *testing.T, subject, fhirUser, client, patient, remote, target, interaction, typ, id, reason string, status int) {
		u, err := url.ParseRequestURI(target)
		if err != nil || status < 100 || status > 599 {
			return
		}
		r := httptest.NewRequest("GET", "/", nil)
		r.URL, r.RemoteAddr = u, remote
		if subject != "" {
			r = r.WithContext(auth.NewContext(r.Context(), &auth.Principal{Subject: subject, FHIRUser: fhirUser, ClientID: client, Patient: patient}))
		}
		if reason != "" {
			r.Header.Set(BreakGlassHeader, reason)
		}
		ev := &auditEvent{}
		f := auditFactsOf(r, interaction, typ, id, status)
		buildEvent(ev, &f)
		ev.ID, ev.Meta = "e1", auditMeta{VersionID: "1", LastUpdated: ev.Recorded}
		data := ev.appendJSON(nil)
		packed, ok := ev.appendPacked(nil)
		if !ok {
			t.Fatalf("appendPacked refused an event buildEvent made: %s", data)
		}
		if got := resources.UnpackAudit(packed, "other"); string(got) != string(data) {
			t.Fatalf("appendPacked unpacks to\n%s\nwant\n%s", got, data)
		}
		// Without an id (the audit log assigns it), it unpacks to the
		// event with the id the log keeps beside it.
		ev.ID = ""
		if pending, ok := ev.appendPacked(nil); !ok || string(resources.UnpackAudit(pending, "e1")) != string(data) {
			t.Fatalf("appendPacked without an id (%v) unpacks to\n%s\nwant\n%s", ok, resources.UnpackAudit(pending, "e1"), data)
		}
		if greedy := resources.PackAudit(data); len(packed) > len(greedy) {
			t.Fatalf("appendPacked wrote %d bytes, PackAudit %d:\n%q\n%q", len(packed), len(greedy), packed, greedy)
		}
	})
}

// TestFixedCoding: a constant coding's JSON, rendered once, is what
// encoding/json writes for it.
func TestFixedCoding(t *testing.T) {
	for _, c := range []coding{auditType, auditSourceType[0], auditAgentType.Coding[0], systemObject, queryObject, queryRole,
		person, patientRole, breakGlass[0], restSubtype["read"][0]} {
		want, _ := json.Marshal(c)
		if got := c.appendJSON(nil); string(got) != string(want) {
			t.Errorf("%s: got %s, want %s", c.Code, got, want)
		}
	}
}

// TestAuditQueue: events queue for the writer, which is woken once when a
// batch is full; beyond queueLimit (maxQueuedAudit events, or two batches
// if more) enqueue refuses (the request then writes its own event); take
// builds the events of everything queued, in order.
func TestAuditQueue(t *testing.T) {
	a := &auditor{cfg: AuditConfig{BatchSize: 3}, wake: make(chan struct{}, 1), s: &Server{indexer: index.New()}}
	facts := func(id string) auditFacts {
		return auditFacts{at: time.Now(), interaction: "read", typ: "Patient", id: id, status: 200, method: "GET", path: "/Patient/" + id}
	}
	woken := func() bool {
		select {
		case <-a.wake:
			return true
		default:
			return false
		}
	}
	for i := range 2 {
		if !a.enqueue(facts(string(rune('a' + i)))) {
			t.Fatal("enqueue refused below the bound")
		}
	}
	if woken() {
		t.Fatal("writer woken before a batch is full")
	}
	a.enqueue(facts("c"))
	if !woken() {
		t.Fatal("writer not woken when a batch is full")
	}
	if a.queueLimit() != maxQueuedAudit {
		t.Fatalf("queue limit %d with batches of 3, want %d", a.queueLimit(), maxQueuedAudit)
	}
	for i := 3; i < maxQueuedAudit; i++ {
		if !a.enqueue(facts("x")) {
			t.Fatalf("enqueue refused at %d, below the bound", i)
		}
	}
	if a.enqueue(facts("over")) {
		t.Fatal("enqueue accepted beyond maxQueuedAudit events")
	}
	batch := a.take([]auditRecord{{id: "kept"}})
	// (An event's row names the resource it is about.)
	about := func(rec auditRecord) string {
		if rec.row == nil || len(rec.row.Refs) == 0 {
			return ""
		}
		return rec.row.Refs[0].TargetID
	}
	if len(batch) != 1+maxQueuedAudit || batch[0].id != "kept" || about(batch[1]) != "a" || about(batch[3]) != "c" || about(batch[4]) != "x" {
		t.Fatalf("take: %d events, first %q %q", len(batch), batch[0].id, about(batch[1]))
	}
	if len(a.queue) != 0 || !a.enqueue(facts("d")) {
		t.Fatal("the queue is not empty after take")
	}
	if big := (&auditor{cfg: AuditConfig{BatchSize: 4000}}); big.queueLimit() != 8000 {
		t.Fatalf("queue limit %d with batches of 4,000, want two batches", big.queueLimit())
	}
}

// TestAuditBuildPanic: an event whose building panics in the writer (a bug;
// here, a server without an extractor) is dropped and logged with the
// request it was of; the writer goes on with the others.
func TestAuditBuildPanic(t *testing.T) {
	var logged bytes.Buffer
	a := &auditor{cfg: AuditConfig{BatchSize: 10}, wake: make(chan struct{}, 1), s: &Server{},
		log: slog.New(slog.NewTextHandler(&logged, nil))}
	a.enqueue(auditFacts{at: time.Now(), interaction: "read", typ: "Patient", id: "p7", status: 200})
	if batch := a.take(nil); len(batch) != 0 {
		t.Fatalf("%d events built by a server without an extractor", len(batch))
	}
	if out := logged.String(); !strings.Contains(out, "audit event could not be built; dropped") || !strings.Contains(out, "id=p7") {
		t.Fatalf("log: %s", out)
	}
	a.s.indexer = index.New()
	a.enqueue(auditFacts{at: time.Now(), interaction: "read", typ: "Patient", id: "p8", status: 200})
	if batch := a.take(nil); len(batch) != 1 || batch[0].row == nil {
		t.Fatalf("after the panic, take built %d events", len(batch))
	}
}
