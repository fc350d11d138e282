package main

import (
	"bytes"
	"slices"
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

// TestSearchDataNames checks that generated names are as varied as real
// ones: weighted family names, most full names unique, birth dates on any
// day.
func TestSearchDataNames(t *testing.T) {
	seen := map[string]bool{}
	for _, f := range familyNames {
		if seen[f.name] || f.weight <= 0 {
			t.Errorf("family name %s: duplicate or weight %d", f.name, f.weight)
		}
		seen[f.name] = true
	}
	d := newSearchData(1, 1000, 10_000, 10)
	family, full := map[string]int{}, map[string]int{}
	days, genders := map[int]bool{}, map[string]int{}
	for i := range d.patients {
		p := d.person(genPatient, i)
		if p.family == "" || p.given == "" || strings.ContainsAny(p.given, " ") {
			t.Fatalf("patient %d: name %q %q", i, p.family, p.given)
		}
		if y := p.birth.Year(); y < 1930 || y > 2005 {
			t.Fatalf("patient %d born %s", i, p.birth)
		}
		family[p.family]++
		full[p.family+" "+p.given]++
		days[p.birth.Day()] = true
		genders[p.gender]++
	}
	top := 0
	for _, n := range family {
		top = max(top, n)
	}
	// Wang and Li, the commonest surnames, are each about 7% of the
	// population (9% here, the rarer surnames being left out).
	if share := float64(top) / float64(d.patients); share < 0.06 || share > 0.11 {
		t.Errorf("commonest family name: %.1f%% of patients, want 6-11%%", 100*share)
	}
	if len(family) < len(familyNames)*9/10 {
		t.Errorf("%d of %d family names drawn among %d patients", len(family), len(familyNames), d.patients)
	}
	if len(full) < d.patients*3/4 {
		t.Errorf("%d distinct full names among %d patients, want most unique", len(full), d.patients)
	}
	if len(days) != 31 {
		t.Errorf("birth dates fall on %d days of the month, want all 31", len(days))
	}
	if f := genders["female"]; f < d.patients*45/100 || f > d.patients*55/100 {
		t.Errorf("%d women among %d patients", f, d.patients)
	}
}

// TestPatientLookupSelective checks that the patient-name-birthdate search
// stays a lookup as the population grows tenfold, as at the two scales of
// the bench: its matches, found with the real index extractor and the
// server's string (prefix of a folded name part) and date (range within
// the day) semantics, are about one patient at both.
func TestPatientLookupSelective(t *testing.T) {
	if testing.Short() {
		t.Skip("indexes 11,000 patients")
	}
	x := index.New()
	ki := slices.IndexFunc(searchKinds, func(k searchKind) bool { return k.name == "patient-name-birthdate" })
	var means [2]float64
	for s, patients := range []int{1_000, 10_000} {
		d := newSearchData(1, 100*patients, patients, 10)
		type entry struct {
			names     []string
			birthLow  int64
			birthHigh int64
		}
		ix := make([]entry, d.patients)
		for i := range ix {
			typ, _, data, err := d.resource(genPatient, i)
			if err != nil {
				t.Fatal(err)
			}
			e, err := x.Extract(typ, data)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range e.Strings {
				if v.Param == "name" {
					ix[i].names = append(ix[i].names, v.Norm)
				}
			}
			for _, v := range e.Dates {
				if v.Param == "birthdate" {
					ix[i].birthLow, ix[i].birthHigh = v.Low, v.High
				}
			}
		}
		r := newKindRand(d, ki)
		counts := make([]int, 200)
		total := 0
		for q := range counts {
			params := searchKinds[ki].params(d, r)
			name := index.Fold(params.Get("name"))
			start, end, err := search.ParseDate(params.Get("birthdate"))
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range ix {
				if e.birthLow >= start.UnixMicro() && e.birthHigh <= end.UnixMicro() &&
					slices.ContainsFunc(e.names, func(n string) bool { return strings.HasPrefix(n, name) }) {
					counts[q]++
				}
			}
			if counts[q] == 0 {
				t.Fatalf("%d patients: %s matches nobody, not even the patient it was drawn from", patients, params.Encode())
			}
			total += counts[q]
		}
		slices.Sort(counts)
		means[s] = float64(total) / float64(len(counts))
		t.Logf("%d patients: matches median %d, mean %.2f, max %d", patients, counts[len(counts)/2], means[s], counts[len(counts)-1])
		if counts[len(counts)/2] != 1 || counts[len(counts)-1] > 5 {
			t.Errorf("%d patients: median %d, max %d matches; a name and birth date lookup should find about one patient",
				patients, counts[len(counts)/2], counts[len(counts)-1])
		}
	}
	if g := means[1] / means[0]; g > 1.5 {
		t.Errorf("mean matches grow %.2fx with ten times the patients", g)
	}
}
