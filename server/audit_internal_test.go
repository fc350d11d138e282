package server

import (
	"encoding/json"
	"testing"
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
// batch is full; beyond maxQueuedAudit batches enqueue refuses (the request
// then writes its own event); take hands over everything queued.
func TestAuditQueue(t *testing.T) {
	a := &auditor{cfg: AuditConfig{BatchSize: 3}, wake: make(chan struct{}, 1)}
	woken := func() bool {
		select {
		case <-a.wake:
			return true
		default:
			return false
		}
	}
	for i := range 2 {
		if !a.enqueue(auditRecord{id: string(rune('a' + i))}) {
			t.Fatal("enqueue refused below the bound")
		}
	}
	if woken() {
		t.Fatal("writer woken before a batch is full")
	}
	a.enqueue(auditRecord{id: "c"})
	if !woken() {
		t.Fatal("writer not woken when a batch is full")
	}
	for i := 3; i < maxQueuedAudit*3; i++ {
		if !a.enqueue(auditRecord{id: "x"}) {
			t.Fatalf("enqueue refused at %d, below the bound", i)
		}
	}
	if a.enqueue(auditRecord{id: "over"}) {
		t.Fatal("enqueue accepted beyond maxQueuedAudit batches")
	}
	batch := a.take([]auditRecord{{id: "kept"}})
	if len(batch) != 1+maxQueuedAudit*3 || batch[0].id != "kept" || batch[1].id != "a" || batch[3].id != "c" {
		t.Fatalf("take: %d events, first %q %q", len(batch), batch[0].id, batch[1].id)
	}
	if len(a.queue) != 0 || !a.enqueue(auditRecord{id: "d"}) {
		t.Fatal("the queue is not empty after take")
	}
}
