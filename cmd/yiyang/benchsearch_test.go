package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/meizhou-yiyang/yiyang/resources"
	"github.com/meizhou-yiyang/yiyang/resources/index"
	"github.com/meizhou-yiyang/yiyang/resources/search"
)

// TestSearchDataGenerator checks that the bench-search data is deterministic,
// canonical and valid R4, and that its index has what the searches use.
func TestSearchDataGenerator(t *testing.T) {
	d := newSearchData(7, 2000, 40, 10)
	parser, err := resources.NewParser()
	if err != nil {
		t.Fatal(err)
	}
	x := index.New()
	for kind := range genKinds {
		for _, i := range []int{0, 1, d.count(kind) - 1} {
			typ, id, data, err := d.resource(kind, i)
			if err != nil {
				t.Fatalf("%s %d: %v", genTypes[kind], i, err)
			}
			_, _, again, _ := d.resource(kind, i)
			if !bytes.Equal(data, again) {
				t.Fatalf("%s/%s is not deterministic", typ, id)
			}
			p, err := parser.Parse(data)
			if err != nil {
				t.Fatalf("%s/%s is not valid: %v\n%s", typ, id, err, data)
			}
			if p.Type != typ || p.ID != id || !resources.ValidID(id) {
				t.Fatalf("parsed %s/%s, want %s/%s", p.Type, p.ID, typ, id)
			}
			// Stored data is canonical: stamping it again changes nothing.
			restamped, err := resources.Stamp(p.JSON, id, 1, d.lastUpdated(kind, i))
			if err != nil || !bytes.Equal(restamped, data) {
				t.Fatalf("%s/%s is not canonical (%v):\n%s\n%s", typ, id, err, data, restamped)
			}
			ix, err := x.Extract(typ, data)
			if err != nil {
				t.Fatalf("%s/%s: extract: %v", typ, id, err)
			}
			want := map[string][]string{
				"Patient":     {"name", "birthdate", "identifier"},
				"Encounter":   {"patient", "practitioner", "date"},
				"Observation": {"patient", "subject", "encounter", "code", "date", "value-quantity"},
			}[typ]
			have := indexedParams(ix)
			for _, p := range want {
				if !have[p] {
					t.Errorf("%s/%s: no index entry for %s (have %v)", typ, id, p, have)
				}
			}
		}
	}
	if a, b := d.observation(5), d.observation(5); a != b {
		t.Fatal("observation is not deterministic")
	}
	if o := d.observation(123); o.patient != 123%d.patients || o.encounter/d.encPerPatient != o.patient {
		t.Fatalf("observation 123 belongs to patient %d, encounter %d", o.patient, o.encounter)
	}
	other := newSearchData(8, 2000, 40, 10)
	_, _, a, _ := d.resource(genObservation, 3)
	_, _, b, _ := other.resource(genObservation, 3)
	if bytes.Equal(a, b) {
		t.Error("another seed gives the same data")
	}
}

func indexedParams(x *resources.Index) map[string]bool {
	m := map[string]bool{}
	for _, e := range x.Strings {
		m[e.Param] = true
	}
	for _, e := range x.Tokens {
		m[e.Param] = true
	}
	for _, e := range x.References {
		m[e.Param] = true
	}
	for _, e := range x.Dates {
		m[e.Param] = true
	}
	for _, e := range x.Quantities {
		m[e.Param] = true
	}
	return m
}

// TestSearchKindsParse checks that every searched kind is a valid search.
func TestSearchKindsParse(t *testing.T) {
	d := newSearchData(1, 1000, 10, 5)
	for i, k := range searchKinds {
		r := newKindRand(d, i)
		params := k.params(d, r)
		if _, err := search.Parse(search.R4, k.typ, params, search.Options{}); err != nil {
			t.Errorf("%s: %s?%s: %v", k.name, k.typ, params.Encode(), err)
		}
		if strings.Contains(params.Encode(), "%!") {
			t.Errorf("%s: bad format in %s", k.name, params.Encode())
		}
	}
	if _, err := parseBenchSearchFlags([]string{"--pg", "postgres://x/y", "--scales", "0.1,1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := parseBenchSearchFlags([]string{"--pg", "postgres://x/y", "--scales", "0"}); err == nil {
		t.Fatal("scale 0 accepted")
	}
}
