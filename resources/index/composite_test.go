package index

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/meizhou-yiyang/yiyang/resources"
)

// exampleIndex extracts the index of an official example.
func exampleIndex(t *testing.T, x *Extractor, file string) *resources.Index {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(fhirData(t), "r4-examples", file))
	if err != nil {
		t.Fatal(err)
	}
	var head struct{ ResourceType string }
	if err := json.Unmarshal(data, &head); err != nil {
		t.Fatal(err)
	}
	idx, err := x.Extract(head.ResourceType, data)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return idx
}

// tuples renders the composite entries of param, one string per entry with
// the set fields of each component, sorted.
func tuples(x *resources.Index, param string) []string {
	var out []string
	for _, e := range x.Composites {
		if e.Param != param {
			continue
		}
		var parts []string
		for _, c := range e.Components {
			if c == (resources.Component{}) {
				continue
			}
			var f []string
			if c.System != "" || c.Code != "" {
				f = append(f, c.System+"|"+c.Code)
			}
			if c.Text != "" {
				f = append(f, "text="+c.Text)
			}
			if c.Value != 0 {
				f = append(f, fmt.Sprint("value=", c.Value))
			}
			if c.CanonCode != "" {
				f = append(f, fmt.Sprint("canon=", c.CanonValue, " ", c.CanonCode))
			}
			if c.Low != 0 || c.High != 0 {
				f = append(f, fmt.Sprint("range=", c.Low, "..", c.High))
			}
			parts = append(parts, strings.Join(f, " "))
		}
		out = append(out, strings.Join(parts, " $ "))
	}
	slices.Sort(out)
	return out
}

func TestCompositeOfficialExamples(t *testing.T) {
	x := New()
	const loinc, ucum = "http://loinc.org", "http://unitsofmeasure.org"
	systolic := []string{loinc + "|8480-6", "http://snomed.info/sct|271649006", "http://acme.org/devices/clinical-codes|bp-s"}
	var bp []string
	for _, c := range systolic {
		bp = append(bp, c+" $ "+ucum+"|mm[Hg] value=107 canon=107 mm[Hg]")
	}
	bp = append(bp, loinc+"|8462-4 $ "+ucum+"|mm[Hg] value=60 canon=60 mm[Hg]")
	slices.Sort(bp)
	// 2016-12-30 in microseconds: the whole day.
	const day = int64(1483056000000000)
	for _, tt := range []struct {
		file, param string
		want        []string
	}{
		// Each component keeps its own code with its own value: the systolic
		// codes with 107, the diastolic one with 60, never crossed.
		{"Observation-blood-pressure.json", "component-code-value-quantity", bp},
		{"Observation-blood-pressure.json", "combo-code-value-quantity", bp},
		{"Observation-blood-pressure.json", "code-value-quantity", nil},
		{"Observation-date-lastmp.json", "code-value-date", []string{fmt.Sprint(loinc, "|8665-2 $ range=", day, "..", day+86400000000-1)}},
		{"Observation-body-temperature.json", "code-value-quantity", []string{
			loinc + "|8310-5 $ " + ucum + "|Cel value=36.5"}},
		// Three components: the reference sequence of the resource with the
		// coordinates of each variant.
		{"MolecularSequence-example.json", "referenceseqid-variant-coordinate", []string{
			"http://www.ncbi.nlm.nih.gov/nuccore|NC_000009.11 $ value=2.2125503e+07 $ value=2.2125504e+07"}},
		{"MolecularSequence-example.json", "referenceseqid-window-coordinate", []string{
			"http://www.ncbi.nlm.nih.gov/nuccore|NC_000009.11 $ value=2.21255e+07 $ value=2.212551e+07"}},
		// R4 crosses the expressions of this one; the definitions' order wins:
		// relatesto (reference) $ relation (token).
		{"DocumentReference-example.json", "relationship", []string{"DocumentReference|example $ |appends"}},
		// Text-only codes have no token to search by.
		{"Group-101.json", "characteristic-value", nil},
	} {
		got := tuples(exampleIndex(t, x, tt.file), tt.param)
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s %s:\n got %q\nwant %q", tt.file, tt.param, got, tt.want)
		}
	}
}

func TestCompositeCombinations(t *testing.T) {
	x := New()
	o := extract(t, x, `{"resourceType":"Observation","status":"final",
		"code":{"coding":[{"system":"http://loinc.org","code":"3141-9"},{"system":"urn:local","code":"wt"}]},
		"valueQuantity":{"value":72.5,"unit":"kg","system":"http://unitsofmeasure.org","code":"kg"},
		"component":[{"code":{"coding":[{"system":"urn:c","code":"a"}]},"valueCodeableConcept":{"coding":[{"system":"urn:v","code":"x"},{"system":"urn:v","code":"y"}]}}]}`)
	want := []string{
		"http://loinc.org|3141-9 $ http://unitsofmeasure.org|kg value=72.5 canon=72500 g",
		"urn:local|wt $ http://unitsofmeasure.org|kg value=72.5 canon=72500 g",
	}
	if got := tuples(o, "code-value-quantity"); !slices.Equal(got, want) {
		t.Errorf("code-value-quantity %q", got)
	}
	if got := tuples(o, "combo-code-value-quantity"); !slices.Equal(got, want) {
		t.Errorf("combo-code-value-quantity %q", got)
	}
	wantConcept := []string{"urn:c|a $ urn:v|x", "urn:c|a $ urn:v|y"}
	if got := tuples(o, "component-code-value-concept"); !slices.Equal(got, wantConcept) {
		t.Errorf("component-code-value-concept %q", got)
	}
	if got := tuples(o, "combo-code-value-concept"); !slices.Equal(got, wantConcept) {
		t.Errorf("combo-code-value-concept %q", got)
	}
	if got := tuples(o, "code-value-concept"); got != nil {
		t.Errorf("code-value-concept without a CodeableConcept value: %q", got)
	}
	// A string value is folded like a string parameter's.
	s := extract(t, x, `{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"urn:c","code":"eye"}]},"valueString":"Blåue"}`)
	if got := tuples(s, "code-value-string"); !slices.Equal(got, []string{"urn:c|eye $ text=blaue"}) {
		t.Errorf("code-value-string %q", got)
	}
	// useContext of a conformance resource: a token and a quantity.
	v := extract(t, x, `{"resourceType":"ValueSet","status":"draft","useContext":[{"code":{"system":"http://terminology.hl7.org/CodeSystem/usage-context-type","code":"age"},
		"valueQuantity":{"value":65,"system":"http://unitsofmeasure.org","code":"a"}}]}`)
	if got := tuples(v, "context-type-quantity"); !slices.Equal(got, []string{
		"http://terminology.hl7.org/CodeSystem/usage-context-type|age $ http://unitsofmeasure.org|a value=65 canon=2.051244e+09 s"}) {
		t.Errorf("context-type-quantity %q", got)
	}
}

func TestCompositeTooManyCombinations(t *testing.T) {
	var codings, values []string
	for i := range 10 {
		codings = append(codings, fmt.Sprintf(`{"system":"urn:c","code":"c%d"}`, i))
		values = append(values, fmt.Sprintf(`{"system":"urn:v","code":"v%d"}`, i))
	}
	body := `{"resourceType":"Observation","status":"final","code":{"coding":[` + strings.Join(codings, ",") +
		`]},"valueCodeableConcept":{"coding":[` + strings.Join(values, ",") + `]}}`
	idx, err := New().Extract("Observation", []byte(body))
	if err == nil || !strings.Contains(err.Error(), "code-value-concept") {
		t.Fatalf("100 combinations must be reported: %v", err)
	}
	if n := len(tuples(idx, "code-value-concept")); n != maxCompositeEntries {
		t.Fatalf("%d entries, want the first %d", n, maxCompositeEntries)
	}
	if len(tuples(idx, "code")) != 0 || !slices.ContainsFunc(idx.Tokens, func(e resources.TokenEntry) bool { return e.Code == "c9" }) {
		t.Fatal("the other parameters are indexed all the same")
	}
}
