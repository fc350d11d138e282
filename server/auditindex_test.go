package server

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"reflect"
	"sort"
	"testing"

	"github.com/meizhou-yiyang/yiyang/resources"
	"github.com/meizhou-yiyang/yiyang/resources/index"
	"github.com/meizhou-yiyang/yiyang/server/auth"
)

// TestAuditIndex: the index entries auditIndex builds for an event equal
// those the extractor finds in its JSON, for every shape of event: each
// interaction and outcome, with and without a principal, fhirUser (relative,
// absolute under the base or elsewhere, a Patient), client, patient
// context, network address, break-the-glass reason, resource and query.
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
							r.RemoteAddr = "[2001:db8::1]:5555"
							r.TLS = &tls.ConnectionState{}
						}
						if p != nil {
							r = r.WithContext(auth.NewContext(r.Context(), p))
						}
						if glass != "" {
							r.Header.Set(BreakGlassHeader, glass)
						}
						ev, now := buildEvent(r, rq.interaction, rq.typ, rq.id, status)
						data, err := json.Marshal(ev)
						if err != nil {
							t.Fatal(err)
						}
						want, err := x.Extract("AuditEvent", data)
						if err != nil {
							t.Fatalf("extract: %v\n%s", err, data)
						}
						got := auditIndex(&ev, now, x.Base())
						if g, w := canonicalIndex(got), canonicalIndex(want); !reflect.DeepEqual(g, w) {
							t.Fatalf("auditIndex differs from the extractor for %s %s (principal %d, status %d, base %q):\n got %+v\nwant %+v\n%s",
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

// canonicalIndex sorts an Index's lists (and empties nil ones) for comparison.
func canonicalIndex(x *resources.Index) resources.Index {
	c := *x
	sortBy := func(n int, less func(i, j int) bool, swap func(i, j int)) {
		sort.Sort(sorter{n, less, swap})
	}
	str := func(v any) string { return fmt.Sprintf("%+v", v) }
	sortBy(len(c.Strings), func(i, j int) bool { return str(c.Strings[i]) < str(c.Strings[j]) }, func(i, j int) { c.Strings[i], c.Strings[j] = c.Strings[j], c.Strings[i] })
	sortBy(len(c.Tokens), func(i, j int) bool { return str(c.Tokens[i]) < str(c.Tokens[j]) }, func(i, j int) { c.Tokens[i], c.Tokens[j] = c.Tokens[j], c.Tokens[i] })
	sortBy(len(c.References), func(i, j int) bool { return str(c.References[i]) < str(c.References[j]) }, func(i, j int) { c.References[i], c.References[j] = c.References[j], c.References[i] })
	sortBy(len(c.Dates), func(i, j int) bool { return str(c.Dates[i]) < str(c.Dates[j]) }, func(i, j int) { c.Dates[i], c.Dates[j] = c.Dates[j], c.Dates[i] })
	c.Strings = nonNil(c.Strings)
	c.Tokens = nonNil(c.Tokens)
	c.References = nonNil(c.References)
	c.Dates = nonNil(c.Dates)
	c.Numbers = nonNil(c.Numbers)
	c.Quantities = nonNil(c.Quantities)
	c.URIs = nonNil(c.URIs)
	c.Composites = nonNil(c.Composites)
	return c
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

type sorter struct {
	n    int
	less func(i, j int) bool
	swap func(i, j int)
}

func (s sorter) Len() int           { return s.n }
func (s sorter) Less(i, j int) bool { return s.less(i, j) }
func (s sorter) Swap(i, j int)      { s.swap(i, j) }

// TestAuditIndexCustom: with a custom search parameter on AuditEvent (or on
// every resource), events are left to the extractor, which knows it.
func TestAuditIndexCustom(t *testing.T) {
	for _, base := range [][]string{{"AuditEvent"}, {"Resource"}, {"Patient"}} {
		x := index.New()
		c := index.Custom{Code: "purpose-of-use", Type: "token", Base: base, Expression: "AuditEvent.agent.purposeOfUse"}
		if base[0] == "Patient" {
			c.Expression = "Patient.gender"
		}
		x.SetCustom([]index.Custom{c})
		a := &auditor{s: &Server{indexer: x}}
		rec := a.event(httptest.NewRequest("GET", "/Patient/p1", nil), "read", "Patient", "p1", 200)
		if custom := base[0] != "Patient"; (rec.idx == nil) != custom {
			t.Errorf("custom parameter on %v: index built directly = %v", base, rec.idx != nil)
		}
	}
}
