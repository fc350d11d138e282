package storetest

import (
	"context"
	"errors"
	"net/url"
	"testing"

	"github.com/meizhou-yiyang/yiyang/resources"
	"github.com/meizhou-yiyang/yiyang/resources/search"
)

// FuzzAuditSearch runs a backend's fuzz target over st: any AuditEvent
// query string (and Patient ones reaching the log through _revinclude and
// _has) either runs on the audit log or is refused with ErrInvalid. The
// audit log's SQL compiler never yields a statement the database rejects,
// and never panics.
func FuzzAuditSearch(f *testing.F, st resources.Store) {
	for _, seed := range []string{
		"patient=Patient/p1&outcome=4", "agent:Practitioner=li", "entity=p1,Patient/p2", "subtype=http://hl7.org/fhir/restful-interaction|read",
		"subtype:not=|read", "altid=%25_", "address=10.0", "address:exact=10.0.0.1\n", "date=ge2026-01-01&date=lt2026-02",
		"_id=a,b&_sort=-date,_id&_count=3", "_lastUpdated=gt2000&_total=accurate", "_summary=count&action=R",
		"_include=AuditEvent:patient&_include=AuditEvent:*", "type=rest", "patient.name=x", "outcome:missing=true",
		"_total=estimate&agent=Patient/p1",
	} {
		f.Add("AuditEvent", seed)
	}
	f.Add("Patient", "_revinclude=AuditEvent:patient&_has:AuditEvent:agent:outcome=4")
	f.Add("Patient", "_has:AuditEvent:patient:subtype:not=read")
	ctx := context.Background()
	data := []byte(`{"resourceType":"AuditEvent","recorded":"2026-01-01T00:00:00Z","outcome":"4"}`)
	x := &resources.Index{References: []resources.ReferenceEntry{{Param: "patient", TargetType: "Patient", TargetID: "p1"}},
		Tokens: []resources.TokenEntry{{Param: "outcome", Code: "4"}}}
	if _, err := st.Create(ctx, resources.CreateParams{Type: search.AuditType, Data: data, Index: x}); err != nil {
		f.Fatal(err)
	}
	se := st.(Searcher)
	f.Fuzz(func(t *testing.T, typ, query string) {
		if typ != search.AuditType && typ != "Patient" {
			return
		}
		vals, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		q, err := search.Parse(search.R4, typ, vals, search.Options{})
		if err != nil {
			return
		}
		if _, err := se.Search(ctx, q); err != nil && !errors.Is(err, resources.ErrInvalid) {
			t.Fatalf("%s?%s: %v", typ, query, err)
		}
	})
}
