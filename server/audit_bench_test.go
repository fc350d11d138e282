package server

import (
	"net/http/httptest"
	"testing"

	"github.com/meizhou-yiyang/yiyang/resources"
	"github.com/meizhou-yiyang/yiyang/resources/index"
	"github.com/meizhou-yiyang/yiyang/resources/search"
	"github.com/meizhou-yiyang/yiyang/server/auth"
)

// BenchmarkAuditRecord: what the server and the store spend on the Go side
// to turn a request into an audit log row (the event, its stamped JSON,
// its entries and row), once per request: the facts the request takes
// (BenchmarkAuditFacts) and the event the writer builds of them.
func BenchmarkAuditRecord(b *testing.B) {
	s := &Server{indexer: index.New()}
	a := &auditor{s: s}
	r := httptest.NewRequest("GET", "/Patient/p1", nil)
	r = r.WithContext(auth.NewContext(r.Context(), &auth.Principal{Subject: "dr-li", FHIRUser: "Practitioner/li", ClientID: "his"}))
	b.ReportAllocs()
	for b.Loop() {
		f := auditFactsOf(r, "read", "Patient", "p1", 200)
		rec := a.event(&f)
		search.AuditRowFor(resources.Resource{Type: search.AuditType, ID: rec.id, LastUpdated: rec.at, Data: rec.data},
			resources.CreateParams{Type: search.AuditType, Stamped: rec.at, Audit: rec.row})
	}
}

// BenchmarkAuditFacts: the part of BenchmarkAuditRecord a request pays
// (auditFactsOf); the writer builds the event.
func BenchmarkAuditFacts(b *testing.B) {
	r := httptest.NewRequest("GET", "/Patient/p1", nil)
	r = r.WithContext(auth.NewContext(r.Context(), &auth.Principal{Subject: "dr-li", FHIRUser: "Practitioner/li", ClientID: "his"}))
	b.ReportAllocs()
	var sink auditFacts
	for b.Loop() {
		sink = auditFactsOf(r, "read", "Patient", "p1", 200)
	}
	_ = sink
}
