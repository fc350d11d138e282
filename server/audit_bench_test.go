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
// its entries and row), once per request.
func BenchmarkAuditRecord(b *testing.B) {
	s := &Server{indexer: index.New()}
	a := &auditor{s: s}
	r := httptest.NewRequest("GET", "/Patient/p1", nil)
	r = r.WithContext(auth.NewContext(r.Context(), &auth.Principal{Subject: "dr-li", FHIRUser: "Practitioner/li", ClientID: "his"}))
	b.ReportAllocs()
	for b.Loop() {
		rec := a.event(r, "read", "Patient", "p1", 200)
		search.AuditRowFor(resources.Resource{Type: search.AuditType, ID: rec.id, LastUpdated: rec.at, Data: rec.data},
			resources.CreateParams{Type: search.AuditType, Stamped: rec.at, Audit: rec.row})
	}
}
