package search

import (
	"net/url"
	"testing"
)

// TestR4Registry parses searches with the generated R4 parameters.
func TestR4Registry(t *testing.T) {
	for _, tc := range []struct{ typ, query string }{
		{"Observation", "patient=Patient/1&code=http://loinc.org|8867-4&date=ge2024-01-01&_sort=-date"},
		{"Observation", "code=8480-6&value-quantity=gt140|http://unitsofmeasure.org|mm[Hg]"},
		{"Patient", "name=Li&birthdate=1950"},
		{"Observation", "subject:Patient.identifier=urn:oid:1.2.36.146.595.217.0.1|12345"},
		{"Patient", "_has:Observation:patient:code=1234-5"},
		{"Encounter", "patient=1&_include=Encounter:practitioner&_revinclude=Observation:encounter"},
		{"Observation", "code-value-quantity=http://loinc.org|8480-6$lt60"},
		{"", "_id=1&_lastUpdated=gt2024"},
		{"Patient", "_tag=http://x|y&_profile=http://p&_security=R&_source=http://s"},
	} {
		v, _ := url.ParseQuery(tc.query)
		if _, err := Parse(R4, tc.typ, v, Options{}); err != nil {
			t.Errorf("%s?%s: %v", tc.typ, tc.query, err)
		}
	}
	d, ok := R4.Lookup("Observation", "code-value-quantity")
	if !ok || d.Type != "composite" || len(d.Components) != 2 || d.Components[0].Type != "token" || d.Components[1].Type != "quantity" {
		t.Fatalf("composite: %+v", d)
	}
	if _, ok := R4.Lookup("Patient", "colour"); ok {
		t.Fatal("unknown parameter found")
	}
}
