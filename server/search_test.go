package server_test

import (
	"encoding/json"

	"fmt"
	"github.com/meizhou-yiyang/yiyang/conformance/r4"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"testing"
)

// loadSynthea loads the Synthea bundles and returns every stored resource,
// decoded, keyed by Type/id.
func loadSynthea(t *testing.T, c *client) map[string]map[string]any {
	t.Helper()
	for _, f := range syntheaFiles(t) {
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if res := c.do(http.MethodPost, "/", body); res.status != http.StatusOK {
			t.Fatalf("load %s: %d", f, res.status)
		}
	}
	out := map[string]map[string]any{}
	for key, data := range allResources(t, c) {
		var m map[string]any
		json.Unmarshal(data, &m)
		out[key] = m
	}
	return out
}

// searchAll pages through a search and returns the keys of its matches in
// order, the included keys, and the first page's total (-1 if absent).
func searchAll(t *testing.T, c *client, path string) (matches, included []string, total int) {
	t.Helper()
	seen := map[string]bool{}
	total = -1
	next := path
	for pages := 0; next != ""; pages++ {
		if pages > 200 {
			t.Fatalf("%s: paging does not end", path)
		}
		res := c.do(http.MethodGet, next, nil)
		if res.status != http.StatusOK {
			t.Fatalf("%s: %d %s", next, res.status, res.body)
		}
		var b struct {
			Type  string
			Total *int
			Link  []struct{ Relation, URL string }
			Entry []struct {
				FullURL  string
				Resource json.RawMessage
				Search   struct{ Mode string }
			}
		}
		if err := json.Unmarshal(res.body, &b); err != nil || b.Type != "searchset" {
			t.Fatalf("%s: not a searchset: %.300s", next, res.body)
		}
		if pages == 0 && b.Total != nil {
			total = *b.Total
		}
		for _, e := range b.Entry {
			key := e.FullURL[strings.LastIndex(e.FullURL[:strings.LastIndex(e.FullURL, "/")], "/")+1:]
			if e.Search.Mode == "include" {
				included = append(included, key)
				continue
			}
			if seen[key] {
				t.Fatalf("%s: %s appears on two pages", path, key)
			}
			seen[key] = true
			matches = append(matches, key)
		}
		next = ""
		for _, l := range b.Link {
			if l.Relation == "next" {
				next = strings.TrimPrefix(l.URL, c.base)
			}
		}
	}
	return matches, included, total
}

// JSON helpers for the oracles.
func field(m any, path ...string) []any {
	cur := []any{m}
	for _, p := range path {
		var next []any
		for _, c := range cur {
			obj, _ := c.(map[string]any)
			switch v := obj[p].(type) {
			case nil:
			case []any:
				next = append(next, v...)
			default:
				next = append(next, v)
			}
		}
		cur = next
	}
	return cur
}

func hasCoding(m any, system, code string, path ...string) bool {
	for _, c := range field(m, append(path, "coding")...) {
		cm, _ := c.(map[string]any)
		if cm["code"] == code && (system == "" || cm["system"] == system) {
			return true
		}
	}
	return false
}

func refersTo(m any, ref string, path ...string) bool {
	for _, r := range field(m, append(path, "reference")...) {
		if r == ref {
			return true
		}
	}
	return false
}

func str(m any, path ...string) string {
	v := field(m, path...)
	if len(v) == 0 {
		return ""
	}
	s, _ := v[0].(string)
	return s
}

func num(m any, path ...string) float64 {
	v := field(m, path...)
	if len(v) == 0 {
		return -1
	}
	f, _ := v[0].(float64)
	return f
}

// TestSearch compares search results with oracles computed from the stored
// JSON, on both backends.
func TestSearch(t *testing.T) {
	eachBackend(t, func(t *testing.T, c *client) {
		all := loadSynthea(t, c)
		var patient, practitionerOfEncounter string
		var patientFamily string
		for k, m := range all {
			if strings.HasPrefix(k, "Patient/") && (patient == "" || k < patient) {
				patient, patientFamily = k, str(m, "name", "family")
			}
		}
		for k, m := range all {
			if strings.HasPrefix(k, "Encounter/") && refersTo(m, patient, "subject") {
				if p := str(m, "participant", "individual", "reference"); p != "" {
					practitionerOfEncounter = p
				}
			}
		}
		pid := strings.TrimPrefix(patient, "Patient/")
		var ssn string
		for _, id := range field(all[patient], "identifier") {
			if idm, _ := id.(map[string]any); idm["system"] == "http://hl7.org/fhir/sid/us-ssn" {
				ssn, _ = idm["value"].(string)
			}
		}
		type tc struct {
			query string
			want  func(key string, m map[string]any) bool
		}
		isType := func(typ string) func(string) bool {
			return func(k string) bool { return strings.HasPrefix(k, typ+"/") }
		}
		cases := []tc{
			{"Patient?gender=male", func(k string, m map[string]any) bool { return m["gender"] == "male" }},
			{"Patient?gender:not=male", func(k string, m map[string]any) bool { return m["gender"] != "male" }},
			{"Patient?birthdate=ge1990", func(k string, m map[string]any) bool { return str(m, "birthDate") >= "1990" }},
			{"Patient?birthdate=lt1992-06", func(k string, m map[string]any) bool { return str(m, "birthDate") < "1992-06" }},
			{"Patient?family=" + url.QueryEscape(patientFamily[:3]), func(k string, m map[string]any) bool {
				return strings.HasPrefix(strings.ToLower(str(m, "name", "family")), strings.ToLower(patientFamily[:3]))
			}},
			{"Patient?family:exact=" + url.QueryEscape(patientFamily), func(k string, m map[string]any) bool { return str(m, "name", "family") == patientFamily }},
			{"Patient?_id=" + pid, func(k string, m map[string]any) bool { return k == patient }},
			{"Patient?identifier=http://hl7.org/fhir/sid/us-ssn|" + ssn, func(k string, m map[string]any) bool { return k == patient }},
			{"Patient?identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|SS|" + ssn, func(k string, m map[string]any) bool { return k == patient }},
			{"Observation?code=http://loinc.org|8302-2", func(k string, m map[string]any) bool { return hasCoding(m, "http://loinc.org", "8302-2", "code") }},
			{"Observation?code=8302-2,29463-7", func(k string, m map[string]any) bool {
				return hasCoding(m, "", "8302-2", "code") || hasCoding(m, "", "29463-7", "code")
			}},
			{"Observation?code:text=body", func(k string, m map[string]any) bool {
				return strings.HasPrefix(strings.ToLower(str(m, "code", "text")), "body")
			}},
			{"Observation?category=vital-signs&code=http://loinc.org|8302-2", func(k string, m map[string]any) bool {
				return hasCoding(m, "", "vital-signs", "category") && hasCoding(m, "http://loinc.org", "8302-2", "code")
			}},
			{"Observation?subject=" + patient, func(k string, m map[string]any) bool { return refersTo(m, patient, "subject") }},
			{"Observation?patient=" + pid, func(k string, m map[string]any) bool { return refersTo(m, patient, "subject") }},
			{"Observation?value-quantity=gt100", func(k string, m map[string]any) bool { return num(m, "valueQuantity", "value") > 100 }},
			{"Observation?value-quantity=le50|http://unitsofmeasure.org|kg", func(k string, m map[string]any) bool {
				return num(m, "valueQuantity", "value") <= 50 && num(m, "valueQuantity", "value") >= 0 && str(m, "valueQuantity", "code") == "kg"
			}},
			{"Observation?date=ge2015-01-01", func(k string, m map[string]any) bool { return str(m, "effectiveDateTime") >= "2015-01-01" }},
			{"Observation?date=2012", func(k string, m map[string]any) bool { return strings.HasPrefix(str(m, "effectiveDateTime"), "2012") }},
			{"Observation?subject:Patient.gender=female", func(k string, m map[string]any) bool {
				return all[str(m, "subject", "reference")]["gender"] == "female"
			}},
			{"Observation?subject:Patient.identifier=http://hl7.org/fhir/sid/us-ssn|" + ssn, func(k string, m map[string]any) bool {
				return refersTo(m, patient, "subject")
			}},
			{"Patient?_has:Observation:patient:code=8302-2", func(k string, m map[string]any) bool {
				for k2, o := range all {
					if isType("Observation")(k2) && refersTo(o, k, "subject") && hasCoding(o, "", "8302-2", "code") {
						return true
					}
				}
				return false
			}},
			{"Encounter?patient=" + pid + "&_sort=-date", func(k string, m map[string]any) bool { return refersTo(m, patient, "subject") }},
			{"Patient/" + pid + "/Observation", func(k string, m map[string]any) bool { return refersTo(m, patient, "subject") }},
			{"Immunization?patient:missing=false", func(k string, m map[string]any) bool { return len(field(m, "patient")) > 0 }},
			{"Condition?_lastUpdated=gt2000-01-01", func(k string, m map[string]any) bool { return true }},
		}
		for _, tc := range cases {
			t.Run(tc.query, func(t *testing.T) {
				typ := strings.SplitN(tc.query, "?", 2)[0]
				if i := strings.LastIndex(typ, "/"); i >= 0 {
					typ = typ[i+1:]
				}
				var want []string
				for k, m := range all {
					if isType(typ)(k) && tc.want(k, m) {
						want = append(want, k)
					}
				}
				sep := "?"
				if strings.Contains(tc.query, "?") {
					sep = "&"
				}
				got, _, total := searchAll(t, c, "/"+tc.query+sep+"_count=7&_total=accurate")
				if total != len(want) {
					t.Errorf("total %d, want %d", total, len(want))
				}
				sort.Strings(want)
				gotSorted := append([]string(nil), got...)
				sort.Strings(gotSorted)
				if fmt.Sprint(gotSorted) != fmt.Sprint(want) {
					t.Fatalf("got %d matches, want %d\n got %v\nwant %v", len(got), len(want), head(gotSorted), head(want))
				}
				if len(want) == 0 && !strings.Contains(tc.query, "missing") {
					t.Errorf("the oracle finds no matches: the case tests nothing; pick another value")
				}
			})
		}
		// Sorting: dates descending, ties broken stably, across pages.
		got, _, _ := searchAll(t, c, "/Observation?patient="+pid+"&_sort=-date,code&_count=5")
		for i := 1; i < len(got); i++ {
			a, b := str(all[got[i-1]], "effectiveDateTime"), str(all[got[i]], "effectiveDateTime")
			if a < b {
				t.Fatalf("_sort=-date: %s (%s) before %s (%s)", got[i-1], a, got[i], b)
			}
		}
		// _include and _revinclude.
		enc, inc, _ := searchAll(t, c, "/Encounter?patient="+pid+"&_include=Encounter:practitioner&_revinclude=Observation:encounter")
		if len(enc) == 0 || practitionerOfEncounter == "" {
			t.Fatal("no encounters for the include test")
		}
		var incPract, incObs int
		for _, k := range inc {
			switch {
			case strings.HasPrefix(k, "Practitioner/"):
				incPract++
			case strings.HasPrefix(k, "Observation/"):
				incObs++
			}
		}
		if incPract == 0 || incObs == 0 {
			t.Fatalf("includes: %d practitioners, %d observations", incPract, incObs)
		}
		// _summary=count and _elements.
		res := c.do(http.MethodGet, "/Patient?_summary=count", nil)
		if !strings.Contains(string(res.body), `"total":`) || strings.Contains(string(res.body), `"entry"`) {
			t.Fatalf("_summary=count: %s", res.body)
		}
		res = c.do(http.MethodGet, "/Patient?_id="+pid+"&_elements=gender", nil)
		if strings.Contains(string(res.body), `"name"`) || !strings.Contains(string(res.body), `"gender"`) || !strings.Contains(string(res.body), "SUBSETTED") {
			t.Fatalf("_elements: %s", res.body)
		}
		// $everything: the patient and every resource of the compartment that
		// refers to it, paged.
		every, _, _ := searchAll(t, c, "/"+patient+"/$everything?_count=20")
		want := map[string]bool{patient: true}
		def, _ := r4.CompartmentFor("Patient")
		for k, m := range all {
			var refs []string
			references(m, &refs)
			typ := k[:strings.Index(k, "/")]
			if _, in := def.Resources[typ]; !in {
				continue
			}
			for _, ref := range refs {
				if ref == patient {
					want[k] = true
				}
			}
		}
		gotEvery := map[string]bool{}
		for _, k := range every {
			gotEvery[k] = true
		}
		if len(gotEvery) != len(want) {
			t.Errorf("$everything: %d resources, want %d", len(gotEvery), len(want))
		}
		for k := range want {
			if !gotEvery[k] {
				t.Errorf("$everything lacks %s", k)
				break
			}
		}
		obsOnly, _, _ := searchAll(t, c, "/"+patient+"/$everything?_type=Observation")
		for _, k := range obsOnly {
			if !strings.HasPrefix(k, "Observation/") {
				t.Fatalf("_type=Observation returned %s", k)
			}
		}
		if r := c.do(http.MethodGet, "/"+patient+"/$everything?_type=Observation,AuditEvent", nil); r.status != http.StatusBadRequest ||
			!strings.Contains(string(r.body), "AuditEvent?patient=") {
			t.Errorf("$everything?_type=AuditEvent, which it leaves out: %d %s", r.status, r.body)
		}
		if r := c.do(http.MethodGet, "/Patient/nobody/$everything", nil); r.status != http.StatusNotFound {
			t.Errorf("$everything of an unknown patient: %d", r.status)
		}
		// Bad input is a 400 with an OperationOutcome.
		for _, q := range []string{"Patient?birthdate=soon", "Patient?colour=red", "Observation?subject.name=x", "Patient?_count=x", "Patient?_cursor=zzz"} {
			if r := c.do(http.MethodGet, "/"+q, nil); r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "OperationOutcome") {
				t.Errorf("%s: %d %s", q, r.status, r.body)
			}
		}
		if r := c.do(http.MethodGet, "/Patient?colour=red&gender=male", nil, "Prefer", "handling=lenient"); r.status != 200 || strings.Contains(string(r.body), "colour") {
			t.Errorf("lenient: %d %s", r.status, r.body)
		}
	})
}

func head(s []string) []string {
	if len(s) > 5 {
		return append(s[:5:5], "...")
	}
	return s
}
