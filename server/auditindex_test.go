package server

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/meizhou-yiyang/yiyang/resources"
	"github.com/meizhou-yiyang/yiyang/resources/index"
	"github.com/meizhou-yiyang/yiyang/resources/search"
	"github.com/meizhou-yiyang/yiyang/server/auth"
)

// TestAuditIndex: the audit log row auditRow builds for an event equals
// the row of the index entries the extractor finds in its JSON, and its
// JSON (appendJSON) is what encoding/json writes, for every shape of event:
// each interaction and outcome, with and without a principal, fhirUser
// (relative, absolute under the base or elsewhere, a Patient), client,
// patient context, network address, break-the-glass reason, resource and
// query. Stamped events pack to a fraction of their size for the audit
// log.
func TestAuditIndex(t *testing.T) {
	const base = "https://fhir.example.cn/fhir"
	principals := []*auth.Principal{
		nil,
		{Subject: "dr-li"},
		{Subject: "dr-li", FHIRUser: "Practitioner/li", ClientID: "his", Patient: "p1"},
		{Subject: "app", FHIRUser: base + "/Patient/p2", ClientID: "app one"},
		{Subject: "app", FHIRUser: "https://other.example.org/fhir/Patient/p3"},
		{Subject: "Zhang San", FHIRUser: "Patient/p4/_history/2", Patient: "p4"},
		{Subject: "dev", FHIRUser: "Device/wristband-7"},
	}
	requests := []struct{ method, target, interaction, typ, id string }{
		{"GET", "/Patient/p1", "read", "Patient", "p1"},
		{"GET", "/Observation/o1/_history/2", "vread", "Observation", "o1"},
		{"GET", "/Observation?code=8867-4&subject=Patient/p1", "search-type", "Observation", ""},
		{"GET", "/?_type=Patient", "search-system", "", ""},
		{"POST", "/Patient", "create", "Patient", "new"},
		{"PUT", "/Condition/c1", "update", "Condition", "c1"},
		{"PATCH", "/Condition/c1", "patch", "Condition", "c1"},
		{"DELETE", "/Condition/c1", "delete", "Condition", "c1"},
		{"POST", "/", "transaction", "", ""},
		{"GET", "/Patient/p1/$everything", "operation", "Patient", "p1"},
		{"GET", "/metadata", "capabilities", "", ""},
		{"GET", "/Patient/bad%20id", "read", "Patient", "bad id"},
		{"GET", "/x", "login", "", ""},
	}
	n := 0
	for _, withBase := range []string{"", base} {
		x := index.New()
		x.SetBase(withBase)
		for pi, p := range principals {
			for _, rq := range requests {
				for _, status := range []int{200, 403, 500} {
					for _, glass := range []string{"", "unconscious in ED 急诊  (bed 3)"} {
						r := httptest.NewRequest(rq.method, rq.target, nil)
						if pi%2 == 1 {
							r.RemoteAddr = "[2001:DB8::1]:5555" // Fold changes it
							r.TLS = &tls.ConnectionState{}
						}
						if p != nil {
							r = r.WithContext(auth.NewContext(r.Context(), p))
						}
						if glass != "" {
							r.Header.Set(BreakGlassHeader, glass)
						}
						var ev auditEvent
						f := auditFactsOf(r, rq.interaction, rq.typ, rq.id, status)
						buildEvent(&ev, &f)
						now := f.at
						if n%2 == 1 {
							// As the auditor writes it: stamped (CreateParams.Stamped).
							ev.ID, ev.Meta = "e1", auditMeta{VersionID: "1", LastUpdated: ev.Recorded}
						}
						data, err := json.Marshal(ev)
						if err != nil {
							t.Fatal(err)
						}
						if hand := ev.appendJSON(nil); string(hand) != string(data) {
							t.Fatalf("appendJSON differs from encoding/json:\n got %s\nwant %s", hand, data)
						}
						if stamped, err := resources.Stamp(data, "e1", 1, now); err != nil || ev.Meta != (auditMeta{}) && string(stamped) != string(data) {
							t.Fatalf("a stamped event is not as resources.Stamp would leave it (%v):\n got %s\nwant %s", err, data, stamped)
						}
						if ev.Meta != (auditMeta{}) {
							// The audit log packs what the server writes to a
							// fraction (resources.PackAudit): if the event's
							// shape drifts from the packed fragments, this says so.
							packed := resources.PackAudit(data)
							if string(resources.UnpackAudit(packed, "other")) != string(data) || len(data)-len(packed) < 600 {
								t.Fatalf("packed event (%d of %d bytes) does not unpack, or packing saves little:\n%q\n%s", len(packed), len(data), packed, data)
							}
						}
						// The server writes events packed as it builds them
						// (appendPacked), to no more bytes than packing their
						// JSON; an event not stamped it leaves to PackAudit.
						st := ev
						st.ID, st.Meta = "e1", auditMeta{VersionID: "1", LastUpdated: ev.Recorded}
						stJSON := st.appendJSON(nil)
						packed := resources.PackAudit(stJSON)
						direct, ok := st.appendPacked([]byte("x"))
						if !ok || string(direct[:1]) != "x" || string(resources.UnpackAudit(direct[1:], "other")) != string(stJSON) || len(direct)-1 > len(packed) {
							t.Fatalf("appendPacked (%v, %d bytes) does not unpack to the event (packed: %d bytes):\n%q\n%s", ok, len(direct)-1, len(packed), direct, stJSON)
						}
						if unstamped, ok := ev.appendPacked(nil); ev.Meta == (auditMeta{}) && (ok || len(unstamped) > 0) {
							t.Fatalf("appendPacked wrote an event that is not stamped: %q", unstamped)
						}
						want, err := x.Extract("AuditEvent", data)
						if err != nil {
							t.Fatalf("extract: %v\n%s", err, data)
						}
						stamped := resources.Resource{Type: search.AuditType, ID: "e1", LastUpdated: now, Data: data}
						got := search.AuditRowFor(stamped, resources.CreateParams{Type: search.AuditType, ID: "e1", Stamped: now, Audit: auditRow(&ev, now, x.Base())})
						if w := search.AuditRowOf(stamped, want); !reflect.DeepEqual(got, w) {
							g, w := fmt.Sprintf("%q %q %q %q %+v", got.Outcome, got.Action, got.Terms, got.Packed, got.Recorded), fmt.Sprintf("%q %q %q %q %+v", w.Outcome, w.Action, w.Terms, w.Packed, w.Recorded)
							t.Fatalf("auditRow gives another audit row than the extractor for %s %s (principal %d, status %d, base %q):\n got %+v\nwant %+v\n%s",
								rq.method, rq.target, pi, status, withBase, g, w, data)
						}
						n++
					}
				}
			}
		}
	}
	t.Logf("%d events compared", n)
}

// TestReferenceType: referenceType (which cuts without allocating) agrees
// with splitting the reference into segments.
func TestReferenceType(t *testing.T) {
	bySegments := func(ref string) string {
		segs := strings.Split(ref, "/")
		if n := len(segs); n >= 4 && segs[n-2] == "_history" {
			segs = segs[:n-2]
		}
		if n := len(segs); n >= 2 && resources.IsResourceType(segs[n-2]) {
			return segs[n-2]
		}
		return ""
	}
	for _, ref := range []string{"", "/", "//", "///", "Patient", "Patient/", "Patient/p1", "/Patient/p1",
		"Patient/p1/_history/2", "Patient/p1/_history", "Patient/p1/_history/", "x/_history/2", "_history/2",
		"https://h/fhir/Patient/p1", "https://h/fhir/Patient/p1/_history/3", "https://h/fhir/Nope/p1",
		"Observation/o1/_history/2/extra", "Patient/p1/x/_history/2", "a/b/c/d/e", "Device/wristband-7"} {
		if got, want := referenceType(ref), bySegments(ref); got != want {
			t.Errorf("referenceType(%q) = %q, want %q", ref, got, want)
		}
	}
}
