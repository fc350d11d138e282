package search

import (
	"errors"
	"math/big"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/meizhou-yiyang/yiyang/resources"
)

// testRegistry is a small hand-written registry; the server uses the one
// generated from the R4 core package.
type testRegistry map[string]ParamDef

func (r testRegistry) Lookup(typ, code string) (ParamDef, bool) {
	if d, ok := r[typ+"."+code]; ok {
		return d, true
	}
	d, ok := r["Resource."+code]
	return d, ok
}

var reg = func() testRegistry {
	r := testRegistry{}
	add := func(typ, code, kind string, targets ...string) {
		r[typ+"."+code] = ParamDef{Code: code, Type: kind, Targets: targets}
	}
	add("Resource", "_id", "token")
	add("Resource", "_lastUpdated", "date")
	add("Resource", "_tag", "token")
	add("Patient", "name", "string")
	add("Patient", "birthdate", "date")
	add("Patient", "identifier", "token")
	add("Patient", "gender", "token")
	add("Patient", "organization", "reference", "Organization")
	add("Patient", "general-practitioner", "reference", "Organization", "Practitioner", "PractitionerRole")
	add("Patient", "near", "special")
	add("Organization", "name", "string")
	add("Organization", "partof", "reference", "Organization")
	add("Observation", "code", "token")
	add("Observation", "date", "date")
	add("Observation", "value-quantity", "quantity")
	add("Observation", "subject", "reference", "Patient", "Group", "Device", "Location")
	add("Observation", "patient", "reference", "Patient")
	add("Observation", "encounter", "reference", "Encounter")
	add("Observation", "value-concept", "token")
	add("RiskAssessment", "probability", "number")
	add("Encounter", "patient", "reference", "Patient")
	add("Encounter", "practitioner", "reference", "Practitioner")
	add("ValueSet", "url", "uri")
	r["Observation.code-value-quantity"] = ParamDef{Code: "code-value-quantity", Type: "composite",
		Components: []ParamDef{{Code: "code", Type: "token"}, {Code: "value-quantity", Type: "quantity"}}}
	return r
}()

func parse(t *testing.T, typ, query string, lenient bool) (*Query, error) {
	t.Helper()
	v, err := url.ParseQuery(query)
	if err != nil {
		t.Fatalf("bad test query %q: %v", query, err)
	}
	return Parse(reg, typ, v, Options{Lenient: lenient})
}

func TestParseFilters(t *testing.T) {
	day := func(s string) time.Time { v, _ := time.Parse("2006-01-02", s); return v }
	for _, tc := range []struct {
		typ, query string
		check      func(t *testing.T, q *Query)
	}{
		{"Patient", "name=Li", func(t *testing.T, q *Query) {
			f := q.Filters[0]
			if f.Param.Code != "name" || f.Values[0].Text != "Li" || f.Modifier != "" {
				t.Fatalf("%+v", f)
			}
		}},
		{"Patient", "name:exact=Li,Wang", func(t *testing.T, q *Query) {
			if f := q.Filters[0]; f.Modifier != "exact" || len(f.Values) != 2 || f.Values[1].Text != "Wang" {
				t.Fatalf("%+v", f)
			}
		}},
		{"Patient", `name=a\,b`, func(t *testing.T, q *Query) {
			if v := q.Filters[0].Values; len(v) != 1 || v[0].Text != "a,b" {
				t.Fatalf("escaped comma: %+v", v)
			}
		}},
		{"Patient", "name=Li&name=Wei", func(t *testing.T, q *Query) {
			if len(q.Filters) != 2 {
				t.Fatalf("repeated parameters are ANDed: %d filters", len(q.Filters))
			}
		}},
		{"Patient", "birthdate=ge1950-03&birthdate=lt1960", func(t *testing.T, q *Query) {
			a, b := q.Filters[0].Values[0], q.Filters[1].Values[0]
			if a.Prefix != Ge || !a.Start.Equal(day("1950-03-01")) || !a.End.Equal(day("1950-04-01").Add(-time.Microsecond)) {
				t.Fatalf("month precision: %+v", a)
			}
			if b.Prefix != Lt || !b.Start.Equal(day("1960-01-01")) {
				t.Fatalf("year: %+v", b)
			}
		}},
		{"Patient", "birthdate=1950-03-04T10:00:00%2B08:00", func(t *testing.T, q *Query) {
			v := q.Filters[0].Values[0]
			if v.Prefix != Eq || v.Start.Hour() != 2 || v.End.Sub(v.Start) != time.Second-time.Microsecond {
				t.Fatalf("seconds precision in UTC: %+v", v)
			}
		}},
		{"Patient", "identifier=http://x|123", func(t *testing.T, q *Query) {
			v := q.Filters[0].Values[0]
			if !v.HasSystem || v.System != "http://x" || v.Code != "123" {
				t.Fatalf("%+v", v)
			}
		}},
		{"Patient", "identifier=|123,abc,http://y|", func(t *testing.T, q *Query) {
			v := q.Filters[0].Values
			if !v[0].HasSystem || v[0].System != "" || v[0].Code != "123" || v[1].HasSystem || v[1].Code != "abc" || v[2].System != "http://y" || v[2].Code != "" {
				t.Fatalf("%+v", v)
			}
		}},
		{"Patient", "identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|MR|446053", func(t *testing.T, q *Query) {
			v := q.Filters[0].Values[0]
			if v.Code != "MR" || v.Text != "446053" {
				t.Fatalf("%+v", v)
			}
		}},
		{"Patient", "gender:not=male", func(t *testing.T, q *Query) {
			if q.Filters[0].Modifier != "not" {
				t.Fatal(q.Filters[0])
			}
		}},
		{"Patient", "gender:missing=true", func(t *testing.T, q *Query) {
			if f := q.Filters[0]; f.Modifier != "missing" || !f.Missing {
				t.Fatal(f)
			}
		}},
		{"Observation", "code:text=heart", func(t *testing.T, q *Query) {
			if v := q.Filters[0].Values[0]; v.Text != "heart" {
				t.Fatal(v)
			}
		}},
		{"Observation", "code:in=http://loinc.org/vs/LL123", func(t *testing.T, q *Query) {
			if v := q.Filters[0].Values[0]; v.URL != "http://loinc.org/vs/LL123" {
				t.Fatal(v)
			}
		}},
		{"Observation", "value-quantity=gt5.4|http://unitsofmeasure.org|mg", func(t *testing.T, q *Query) {
			v := q.Filters[0].Values[0]
			if v.Prefix != Gt || v.Code != "mg" || v.Number.Value.Cmp(big.NewRat(27, 5)) != 0 || v.Number.Low.Cmp(big.NewRat(535, 100)) != 0 {
				t.Fatalf("%+v %v", v, v.Number.Low)
			}
		}},
		{"Observation", "value-quantity=ap100||mmHg", func(t *testing.T, q *Query) {
			if v := q.Filters[0].Values[0]; v.Prefix != Ap || v.HasSystem || v.Code != "mmHg" {
				t.Fatalf("%+v", v)
			}
		}},
		{"RiskAssessment", "probability=gt0.8", func(t *testing.T, q *Query) {
			if v := q.Filters[0].Values[0]; v.Prefix != Gt || v.Number.High.Cmp(big.NewRat(85, 100)) != 0 {
				t.Fatalf("%+v", v.Number)
			}
		}},
		{"RiskAssessment", "probability=1e2", func(t *testing.T, q *Query) {
			if r := q.Filters[0].Values[0].Number; r.Low.Cmp(big.NewRat(50, 1)) != 0 {
				t.Fatalf("1e2 has one significant figure: low %v", r.Low)
			}
		}},
		{"Observation", "subject=Patient/123", func(t *testing.T, q *Query) {
			if v := q.Filters[0].Values[0]; v.RefType != "Patient" || v.RefID != "123" {
				t.Fatal(v)
			}
		}},
		{"Observation", "subject:Patient=123", func(t *testing.T, q *Query) {
			if f := q.Filters[0]; f.TargetType != "Patient" || f.Values[0].RefType != "Patient" {
				t.Fatal(f)
			}
		}},
		{"Observation", "subject=http://other.org/fhir/Patient/9", func(t *testing.T, q *Query) {
			// Another server's resource: matched by URL only.
			if v := q.Filters[0].Values[0]; v.URL == "" || v.RefType != "" || v.RefID != "" {
				t.Fatal(v)
			}
		}},
		{"Observation", "subject:identifier=http://x|7", func(t *testing.T, q *Query) {
			if v := q.Filters[0].Values[0]; v.System != "http://x" || v.Code != "7" {
				t.Fatal(v)
			}
		}},
		{"Observation", "patient.name=Li", func(t *testing.T, q *Query) {
			c := q.Filters[0].Chain
			if c == nil || c.Type != "Patient" || c.Filter.Param.Code != "name" || c.Filter.Values[0].Text != "Li" {
				t.Fatalf("%+v", q.Filters[0])
			}
		}},
		{"Observation", "subject:Patient.organization.partof.name:exact=Meizhou", func(t *testing.T, q *Query) {
			c := q.Filters[0].Chain
			if c.Type != "Patient" || c.Filter.Chain.Type != "Organization" || c.Filter.Chain.Filter.Chain.Filter.Modifier != "exact" {
				t.Fatalf("depth 3 chain: %+v", c)
			}
		}},
		{"Patient", "_has:Observation:patient:code=1234-5", func(t *testing.T, q *Query) {
			h := q.Filters[0].Has
			if h == nil || h.Type != "Observation" || h.Param.Code != "patient" || h.Filter.Values[0].Code != "1234-5" {
				t.Fatalf("%+v", q.Filters[0])
			}
		}},
		{"Patient", "_has:Encounter:patient:_has:Observation:encounter:code=x", func(t *testing.T, q *Query) {
			if h := q.Filters[0].Has; h.Filter.Has == nil || h.Filter.Has.Filter.Values[0].Code != "x" {
				t.Fatalf("nested _has: %+v", h)
			}
		}},
		{"Observation", "code-value-quantity=http://loinc.org|8480-6$gt140", func(t *testing.T, q *Query) {
			v := q.Filters[0].Values[0]
			if len(v.Components) != 2 || v.Components[0].Code != "8480-6" || v.Components[1].Prefix != Gt {
				t.Fatalf("%+v", v)
			}
		}},
		{"ValueSet", "url:below=http://hl7.org/fhir/", func(t *testing.T, q *Query) {
			if f := q.Filters[0]; f.Modifier != "below" || f.Values[0].Text != "http://hl7.org/fhir/" {
				t.Fatal(f)
			}
		}},
		{"Patient", "name=", func(t *testing.T, q *Query) {
			if len(q.Filters) != 0 {
				t.Fatal("an empty parameter is ignored")
			}
		}},
		{"", "_id=a,b&_lastUpdated=gt2024", func(t *testing.T, q *Query) {
			if len(q.Filters) != 2 || q.Type != "" {
				t.Fatal(q)
			}
		}},
		{"Patient", "_sort=-birthdate,name&_count=10&_total=accurate&_summary=count&_elements=name,birthDate", func(t *testing.T, q *Query) {
			if len(q.Sort) != 2 || !q.Sort[0].Descending || q.Sort[1].Param.Code != "name" || q.Count != 10 ||
				q.Total != "accurate" || q.Summary != "count" || len(q.Elements) != 2 {
				t.Fatalf("%+v", q)
			}
		}},
		{"Patient", "_count=100000", func(t *testing.T, q *Query) {
			if q.Count != MaxCount {
				t.Fatal(q.Count)
			}
		}},
		{"Encounter", "_include=Encounter:practitioner&_revinclude=Observation:encounter&_include:iterate=Patient:general-practitioner:Practitioner&_include=Encounter:*", func(t *testing.T, q *Query) {
			if len(q.Includes) != 3 || len(q.RevIncludes) != 1 || !q.Includes[0].Wildcard && q.Includes[2].Param.Code == "" {
				t.Fatalf("%+v", q)
			}
			for _, inc := range q.Includes {
				if inc.Iterate && inc.Target != "Practitioner" {
					t.Fatalf("iterate: %+v", inc)
				}
			}
		}},
		{"Patient", "foo=1&bar=2&name=Li", nil}, // lenient case below
	} {
		if tc.check == nil {
			continue
		}
		t.Run(tc.typ+"?"+tc.query, func(t *testing.T) {
			q, err := parse(t, tc.typ, tc.query, false)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, q)
		})
	}
}

func TestParseErrors(t *testing.T) {
	thousand := strings.TrimSuffix(strings.Repeat("x,", 1000), ",")
	for _, tc := range []struct {
		typ, query, where, msg string
	}{
		{"Patient", "foo=1", "foo", "unknown search parameter"},
		{"Patient", "name=%A3", "name", "not valid UTF-8"},
		{"Patient", "name=a%00b", "name", "NUL"},
		{"AuditEvent", "subtype=%A3", "subtype", "not valid UTF-8"},
		{"Patient", "name:fuzzy=x", "name:fuzzy", "modifier :fuzzy"},
		{"Patient", "birthdate=1950-13", "birthdate", "not a FHIR date"},
		{"Patient", "birthdate=zz1950", "birthdate", "not a FHIR date"},
		{"Patient", "birthdate:exact=1950", "birthdate:exact", "modifier"},
		{"RiskAssessment", "probability=gt", "probability", "not a number"},
		{"RiskAssessment", "probability=1.2.3", "probability", "not a number"},
		{"RiskAssessment", "probability=ab5", "probability", "not a number"},
		{"Observation", "value-quantity=5|a", "value-quantity", "number|system|code"},
		{"Patient", "gender:missing=maybe", "gender:missing", "true or false"},
		{"Patient", "identifier=a|b|c", "identifier", "more than one"},
		{"Patient", "identifier=|", "identifier", "neither"},
		{"Patient", "name.family=x", "name.family", "only reference parameters can be chained"},
		{"Observation", "subject.name=x", "subject.name", "name the type"},
		{"Observation", "subject:Medication=1", "subject:Medication", "cannot refer"},
		{"Observation", "subject:Patient.organization.partof.partof.partof.name=x", "subject:Patient.organization.partof.partof.partof.name", "levels deep"},
		{"Observation", "subject=not a ref", "subject", "not a reference"},
		{"Patient", "_has:Observation:patient=x", "_has:Observation:patient", "_has must read"},
		{"Patient", "_has:Nope:patient:code=x", "_has:Nope:patient:code", "not a resource type"},
		{"Patient", "_has:Observation:code:code=x", "_has:Observation:code:code", "no reference parameter"},
		{"Patient", "_has:Encounter:practitioner:patient=x", "_has:Encounter:practitioner:patient", "cannot refer to Patient"},
		{"Organization", "_has:Organization:partof:_has:Organization:partof:_has:Organization:partof:_has:Organization:partof:name=x", "", "nested at most"},
		{"Patient", "name=" + thousand, "name", "at most 100"},
		{"Patient", "_count=-1", "_count", "non-negative"},
		{"Patient", "_count=ten", "_count", "non-negative"},
		{"Patient", "_total=all", "_total", "none, estimate or accurate"},
		{"Patient", "_summary=maybe", "_summary", "_summary must be"},
		{"Patient", "_elements=name%3Bdrop", "_elements", "not an element name"},
		{"Patient", "_sort=colour", "_sort", "unknown parameter"},
		{"Patient", "_include=Patient", "_include", "Type:parameter"},
		{"Patient", "_include=Patient:name", "_include", "no reference parameter"},
		{"Patient", "_include=Patient:organization:Practitioner", "_include", "not a target"},
		{"Patient", "_count:exact=1", "_count:exact", "takes no modifier"},
		{"Patient", "near=1", "near", "not supported"},
		{"Patient", "_contained=true", "_contained", "not supported"},
		{"Observation", "code-value-quantity=x", "code-value-quantity", "2 parts"},
		{"Patient", "name=x,,y", "name", "empty value"},
	} {
		t.Run(tc.query, func(t *testing.T) {
			_, err := parse(t, tc.typ, tc.query, false)
			var inv *resources.InvalidError
			if !errors.As(err, &inv) {
				t.Fatalf("want an InvalidError, got %v", err)
			}
			is := inv.Issues[0]
			if !strings.Contains(is.Diagnostics, tc.msg) {
				t.Errorf("diagnostics %q lack %q", is.Diagnostics, tc.msg)
			}
			if tc.where != "" && (len(is.Expression) != 1 || is.Expression[0] != tc.where) {
				t.Errorf("expression %v, want %s", is.Expression, tc.where)
			}
		})
	}
}

func TestLocalAbsoluteReference(t *testing.T) {
	v, _ := url.ParseQuery("subject=https://fhir.meizhou.example/Patient/9")
	q, err := Parse(reg, "Observation", v, Options{Base: "https://fhir.meizhou.example"})
	if err != nil {
		t.Fatal(err)
	}
	if val := q.Filters[0].Values[0]; val.RefType != "Patient" || val.RefID != "9" {
		t.Fatalf("a URL under this server's base is a local reference too: %+v", val)
	}
}

func TestLenient(t *testing.T) {
	q, err := parse(t, "Patient", "foo=1&bar=2&name=Li&_contained=true", true)
	if err != nil {
		t.Fatal(err)
	}
	if len(q.Filters) != 1 || strings.Join(q.Ignored, ",") != "_contained,bar,foo" {
		t.Fatalf("filters %d, ignored %v", len(q.Filters), q.Ignored)
	}
	// Malformed values of known parameters are errors even when lenient.
	if _, err := parse(t, "Patient", "birthdate=soon", true); err == nil {
		t.Fatal("lenient handling must not accept a bad date")
	}
	// All unknown parameters are named at once.
	_, err = parse(t, "Patient", "foo=1&bar=2", false)
	if inv := (*resources.InvalidError)(nil); !errors.As(err, &inv) || len(inv.Issues) != 2 {
		t.Fatalf("want two issues: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"name=Li", "birthdate=ge1950-03", "subject:Patient.organization.name=x", "_has:Observation:patient:code=1",
		"value-quantity=gt5|http://unitsofmeasure.org|mg", "code-value-quantity=a|b$lt3", "_include:iterate=Patient:organization",
		"_sort=-birthdate", "identifier=a\\|b|c", "probability=1e-3", "_count=0", "name=%5C",
		"code-value-quantity=http://loinc.org|8480-6$gt140,8462-4$le90||mm[Hg]", "code-value-quantity=a\\$b$ap1e2",
		"code-value-quantity=a$1$2", "code-value-quantity=$", "code-value-quantity:missing=true", "_sort=code-value-quantity",
	} {
		f.Add("Patient", s)
		f.Add("Observation", s)
	}
	f.Fuzz(func(t *testing.T, typ, query string) {
		v, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		q, err := Parse(reg, typ, v, Options{})
		if err != nil {
			var inv *resources.InvalidError
			if !errors.As(err, &inv) || len(inv.Issues) == 0 {
				t.Fatalf("not an InvalidError: %v", err)
			}
			return
		}
		if len(q.Filters) > MaxFilters || q.Count > MaxCount || q.Count < 0 {
			t.Fatalf("unbounded query %+v", q)
		}
		for _, f := range q.Filters {
			if len(f.Values) > MaxOrValues {
				t.Fatal("too many OR values")
			}
		}
	})
}
