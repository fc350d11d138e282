package server_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// compositeCases are the composite rows of TestSearchTable over the Synthea
// data: blood pressures with systolic and diastolic components, weights,
// heights, smoking status. The oracles check each node (the Observation or
// one component) on its own, so a search that matched the code of one
// component with the value of another would find too much.
func compositeCases(fx *fixtures) []tcase {
	type M = map[string]any
	own := func(m M) []any { return []any{m} }
	comps := func(m M) []any { return field(m, "component") }
	combo := func(m M) []any { return append(own(m), comps(m)...) }
	// qty is a composite search: a coding and a quantity value on one node.
	qty := func(q string, nodes func(M) []any, system, code, value string) tcase {
		return tcase{cat: "composite", query: q, want: func(k string, m M) bool {
			if !strings.HasPrefix(k, "Observation/") {
				return false
			}
			for _, n := range nodes(m) {
				if hasCoding(n, system, code, "code") && quantityMatches(n, value) {
					return true
				}
			}
			return false
		}}
	}
	concept := func(q string, nodes func(M) []any, system, code, valueCode string) tcase {
		return tcase{cat: "composite", query: q, want: func(k string, m M) bool {
			for _, n := range nodes(m) {
				if strings.HasPrefix(k, "Observation/") && hasCoding(n, system, code, "code") && hasCoding(n, "", valueCode, "valueCodeableConcept") {
					return true
				}
			}
			return false
		}}
	}
	and := func(a, b tcase) tcase {
		return tcase{cat: "composite", query: a.query + "&" + b.query[strings.Index(b.query, "?")+1:],
			want: func(k string, m M) bool { return a.want(k, m) && b.want(k, m) }}
	}
	// or joins the value of b to a's values.
	or := func(a, b tcase) tcase {
		return tcase{cat: "composite", query: a.query + "," + b.query[strings.Index(b.query, "=")+1:],
			want: func(k string, m M) bool { return a.want(k, m) || b.want(k, m) }}
	}
	// none marks a case whose oracle must find nothing.
	none := func(c tcase) tcase { c.none = true; return c }
	const loinc = "http://loinc.org"
	esc := url.QueryEscape
	bad := func(q, outcome string) tcase { return tcase{cat: "malformed", query: q, outcome: outcome} }
	return []tcase{
		// Few systolic values are under 105 while most diastolic ones are: a
		// search that crossed components would find nearly every reading.
		qty("Observation?component-code-value-quantity="+esc(loinc+"|8480-6$lt105"), comps, loinc, "8480-6", "lt105"),
		qty("Observation?component-code-value-quantity="+esc(loinc+"|8480-6$gt140"), comps, loinc, "8480-6", "gt140"),
		qty("Observation?component-code-value-quantity="+esc("8462-4$ge100||mm[Hg]"), comps, "", "8462-4", "ge100||mm[Hg]"),
		and(qty("Observation?component-code-value-quantity="+esc("8480-6$gt130"), comps, "", "8480-6", "gt130"),
			qty("Observation?component-code-value-quantity="+esc("8462-4$lt80"), comps, "", "8462-4", "lt80")),
		// kg converts to g: the weights over 80 kg.
		qty("Observation?code-value-quantity="+esc(loinc+"|29463-7$gt80000|http://unitsofmeasure.org|g"), own, loinc, "29463-7", "gt80000|http://unitsofmeasure.org|g"),
		qty("Observation?code-value-quantity="+esc(loinc+"|8302-2$ap170"), own, loinc, "8302-2", "ap170"),
		none(qty("Observation?code-value-quantity="+esc(loinc+"|8480-6$gt0"), own, loinc, "8480-6", "gt0")),
		or(qty("Observation?combo-code-value-quantity="+esc("8480-6$gt150"), combo, "", "8480-6", "gt150"),
			qty("Observation?combo-code-value-quantity="+esc(loinc+"|8302-2$lt100"), combo, loinc, "8302-2", "lt100")),
		concept("Observation?code-value-concept="+esc(loinc+"|72166-2$8517006"), own, loinc, "72166-2", "8517006"),
		concept("Observation?combo-code-value-concept="+esc("72166-2$http://snomed.info/sct|266919005"), combo, "", "72166-2", "266919005"),
		{cat: "composite", query: "Observation?code-value-quantity:missing=true&code=55284-4", want: func(k string, m M) bool {
			return hasCoding(m, "", "55284-4", "code")
		}},
		{cat: "composite", query: "Observation?component-code-value-quantity:missing=false", want: func(k string, m M) bool {
			for _, n := range comps(m) {
				if len(strs(n, "code", "coding", "code")) > 0 && len(field(n, "valueQuantity", "value")) > 0 {
					return true
				}
			}
			return false
		}},
		bad("Observation?component-code-value-quantity="+esc(loinc+"|8480-6"), "component-code-value-quantity"),
		bad("Observation?component-code-value-quantity="+esc("8480-6$gtx"), "component-code-value-quantity"),
		bad("Observation?code-value-quantity="+esc("8480-6$1$2"), "code-value-quantity"),
		bad("Observation?_sort=code-value-quantity", "composite"),
	}
}

// quantityMatches applies a quantity search value (prefix, number, and
// |system|code or ||code) to a node's valueQuantity, converting units the
// oracle knows (ucum) as the server does.
func quantityMatches(n any, q string) bool {
	num, system, code := q, "", ""
	if parts := strings.Split(q, "|"); len(parts) == 3 {
		num, system, code = parts[0], parts[1], parts[2]
	}
	for _, v := range field(n, "valueQuantity") {
		vq, _ := v.(map[string]any)
		val, ok := vq["value"].(float64)
		if !ok {
			continue
		}
		vcode, _ := vq["code"].(string)
		vsys, _ := vq["system"].(string)
		if code == "" {
			if matchNum(num, val) {
				return true
			}
			continue
		}
		if qc, ok := ucum[code]; ok && (system == "" || system == "http://unitsofmeasure.org") {
			vc, ok := ucum[vcode]
			if !ok || vc.unit != qc.unit || vsys != "http://unitsofmeasure.org" {
				continue
			}
			// Compare in the query's unit.
			if matchNum(num, val*vc.factor/qc.factor) {
				return true
			}
			continue
		}
		if vcode == code && (system == "" || vsys == system) && matchNum(num, val) {
			return true
		}
	}
	return false
}

// TestSearchComposite searches composite parameters over hand-made
// resources on both backends, each search with its exact matches.
func TestSearchComposite(t *testing.T) {
	example := func(name string) string {
		b, err := os.ReadFile(filepath.Join(fhirData(t), "r4-examples", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	bp := func(systolic, diastolic, unit string) string {
		c := func(code, v string) string {
			return `{"code":{"coding":[{"system":"http://loinc.org","code":"` + code + `"}]},"valueQuantity":{"value":` + v +
				`,"system":"http://unitsofmeasure.org","code":"` + unit + `"}}`
		}
		return `{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},
			"component":[` + c("8480-6", systolic) + `,` + c("8462-4", diastolic) + `]}`
	}
	obs := func(code, value string) string {
		return `{"resourceType":"Observation","status":"final","code":{"coding":[` + code + `]},` + value + `}`
	}
	resources := map[string]string{
		"bpHigh": bp("150", "85", "mm[Hg]"),
		// Only the diastolic value is over 140.
		"bpDia": bp("120", "145", "mm[Hg]"),
		// 20 kPa is 150 mm[Hg], 11 kPa 82.5.
		"bpKPa": bp("20", "11", "kPa"),
		"hr": obs(`{"system":"http://loinc.org","code":"8867-4"}`,
			`"valueQuantity":{"value":72,"system":"http://unitsofmeasure.org","code":"/min"}`),
		"smoke": obs(`{"system":"http://loinc.org","code":"72166-2"}`,
			`"valueCodeableConcept":{"coding":[{"system":"http://snomed.info/sct","code":"8517006"}]}`),
		"lmp":    obs(`{"system":"http://loinc.org","code":"8665-2"}`, `"valueDateTime":"2016-12-30"`),
		"period": obs(`{"system":"urn:c","code":"stay"}`, `"valuePeriod":{"start":"2020-03-01","end":"2020-03-10"}`),
		"eye":    obs(`{"system":"urn:c","code":"eye"}`, `"valueString":"Blåue"`),
		"escape": obs(`{"system":"urn:c","code":"a$b"}`, `"valueString":"x,y z"`),
		"seq":    example("MolecularSequence-example.json"),
		"doc":    example("DocumentReference-example.json"),
		"group": `{"resourceType":"Group","type":"person","actual":false,"characteristic":[
			{"code":{"coding":[{"system":"urn:g","code":"gender"}]},"valueCodeableConcept":{"coding":[{"system":"urn:v","code":"female"}]},"exclude":false},
			{"code":{"coding":[{"system":"urn:g","code":"smoker"}]},"valueBoolean":true,"exclude":false}]}`,
		"vs": `{"resourceType":"ValueSet","status":"draft","useContext":[{"code":{"system":"http://terminology.hl7.org/CodeSystem/usage-context-type","code":"age"},
			"valueQuantity":{"value":65,"system":"http://unitsofmeasure.org","code":"a"}}]}`,
	}
	esc := url.QueryEscape
	cases := []struct {
		query string
		want  []string
	}{
		{"Observation?component-code-value-quantity=" + esc("http://loinc.org|8480-6$gt140"), []string{"bpHigh"}},
		{"Observation?component-code-value-quantity=" + esc("http://loinc.org|8480-6$gt140||mm[Hg]"), []string{"bpHigh", "bpKPa"}},
		{"Observation?component-code-value-quantity=" + esc("http://loinc.org|8480-6$ge18|http://unitsofmeasure.org|kPa"), []string{"bpHigh", "bpKPa"}},
		{"Observation?component-code-value-quantity=" + esc("http://loinc.org|8462-4$gt140"), []string{"bpDia"}},
		{"Observation?component-code-value-quantity=" + esc("8480-6$gt140,8462-4$gt140"), []string{"bpDia", "bpHigh"}},
		{"Observation?component-code-value-quantity=" + esc("8480-6$gt140||mm[Hg]") + "&component-code-value-quantity=" + esc("8462-4$lt90||mm[Hg]"),
			[]string{"bpHigh", "bpKPa"}},
		{"Observation?component-code-value-quantity=" + esc("8480-6$eq150") + "&component-code-value-quantity=" + esc("8462-4$ne85"), nil},
		{"Observation?component-code-value-quantity=" + esc("8480-6$150"), []string{"bpHigh"}},
		{"Observation?component-code-value-quantity=" + esc("8480-6$ap140"), []string{"bpHigh"}},
		{"Observation?component-code-value-quantity=" + esc("http://snomed.info/sct|8480-6$150"), nil},
		{"Observation?combo-code-value-quantity=" + esc("8480-6$le120"), []string{"bpDia", "bpKPa"}},
		{"Observation?combo-code-value-quantity=" + esc("8867-4$72"), []string{"hr"}},
		// 72 /min is 1.2 /s.
		{"Observation?code-value-quantity=" + esc("http://loinc.org|8867-4$gt1|http://unitsofmeasure.org|/s"), []string{"hr"}},
		{"Observation?code-value-quantity=" + esc("http://loinc.org|8867-4$lt1|http://unitsofmeasure.org|/s"), nil},
		{"Observation?code-value-quantity=" + esc("8480-6$gt0"), nil},
		{"Observation?code-value-concept=" + esc("http://loinc.org|72166-2$http://snomed.info/sct|8517006"), []string{"smoke"}},
		{"Observation?code-value-concept=" + esc("72166-2$266919005"), nil},
		{"Observation?combo-code-value-concept=" + esc("72166-2$8517006"), []string{"smoke"}},
		{"Observation?code-value-date=" + esc("8665-2$2016-12-30"), []string{"lmp"}},
		{"Observation?code-value-date=" + esc("8665-2$ge2016-12"), []string{"lmp"}},
		{"Observation?code-value-date=" + esc("8665-2$lt2016-12-30"), nil},
		{"Observation?code-value-date=" + esc("8665-2$gt2017"), nil},
		{"Observation?code-value-date=" + esc("urn:c|stay$2020-03-05"), nil},
		{"Observation?code-value-date=" + esc("urn:c|stay$ap2020-03-05"), []string{"period"}},
		{"Observation?code-value-date=" + esc("urn:c|stay$sa2020-02"), []string{"period"}},
		{"Observation?code-value-string=" + esc("urn:c|eye$blau"), []string{"eye"}},
		{"Observation?code-value-string=" + esc("eye$BLÅ"), []string{"eye"}},
		{"Observation?code-value-string=" + esc("eye$green"), nil},
		{"Observation?code-value-string=" + esc(`urn:c|a\$b$x\,y`), []string{"escape"}},
		{"Observation?code-value-quantity:missing=false", []string{"hr"}},
		{"Observation?component-code-value-quantity:missing=false", []string{"bpDia", "bpHigh", "bpKPa"}},
		{"Observation?code-value-string:missing=true&code=85354-9", []string{"bpDia", "bpHigh", "bpKPa"}},
		// Three parts: the sequence of the resource, each variant's start and end.
		{"MolecularSequence?referenceseqid-variant-coordinate=" + esc("NC_000009.11$gt22125500$lt22125510"), []string{"seq"}},
		{"MolecularSequence?referenceseqid-variant-coordinate=" + esc("http://www.ncbi.nlm.nih.gov/nuccore|NC_000009.11$22125503$22125504"), []string{"seq"}},
		{"MolecularSequence?referenceseqid-variant-coordinate=" + esc("NC_000009.11$gt22125503$lt22125510"), nil},
		{"MolecularSequence?referenceseqid-window-coordinate=" + esc("NC_000009.11$22125500$22125510"), []string{"seq"}},
		{"DocumentReference?relationship=" + esc("DocumentReference/example$appends"), []string{"doc"}},
		{"DocumentReference?relationship=" + esc("DocumentReference/example$replaces"), nil},
		{"Group?characteristic-value=" + esc("urn:g|gender$urn:v|female"), []string{"group"}},
		{"Group?characteristic-value=" + esc("smoker$true"), []string{"group"}},
		{"Group?characteristic-value=" + esc("gender$true"), nil},
		// 65 a is in seconds; 780 months is the same age.
		{"ValueSet?context-type-quantity=" + esc("age$ge780|http://unitsofmeasure.org|mo"), []string{"vs"}},
		{"ValueSet?context-type-quantity=" + esc("age$gt66|http://unitsofmeasure.org|a"), nil},
	}
	malformed := []struct{ query, param, diag string }{
		{"Observation?code-value-quantity=" + esc("http://loinc.org|8480-6"), "code-value-quantity", "2 parts separated by $"},
		{"Observation?code-value-quantity=" + esc("8480-6$gtabc"), "code-value-quantity", "part 2 (value-quantity)"},
		{"Observation?code-value-quantity=" + esc("8480-6$1$2"), "code-value-quantity", "2 parts"},
		{"Observation?code-value-quantity=" + esc("8480-6$1|a"), "code-value-quantity", "part 2"},
		{"Observation?component-code-value-quantity=" + esc("$140"), "component-code-value-quantity", "part 1 (component-code) "},
		{"Observation?code-value-date=" + esc("8665-2$2016-13"), "code-value-date", "part 2 (value-date)"},
		{"MolecularSequence?referenceseqid-variant-coordinate=" + esc("NC_000009.11$1"), "referenceseqid-variant-coordinate", "3 parts"},
		{"MolecularSequence?referenceseqid-variant-coordinate=" + esc("NC_000009.11$1$x"), "referenceseqid-variant-coordinate", "part 3 (variant-end)"},
		{"DocumentReference?relationship=" + esc("a/b/c$appends"), "relationship", "part 1 (relatesto)"},
		{"Observation?code-value-quantity:exact=" + esc("8480-6$1"), "code-value-quantity:exact", "modifier"},
		{"Observation?code-value-quantity:missing=maybe", "code-value-quantity:missing", "missing"},
		{"Observation?_sort=code-value-quantity", "_sort", "cannot sort by composite parameter code-value-quantity"},
		{"Observation?_sort=-component-code-value-quantity", "_sort", "cannot sort by composite"},
	}
	eachBackend(t, func(t *testing.T, c *client) {
		ids := map[string]string{}
		for name, body := range resources {
			var head struct{ ResourceType string }
			json.Unmarshal([]byte(body), &head)
			res := c.do(http.MethodPost, "/"+head.ResourceType, []byte(body))
			if res.status != http.StatusCreated {
				t.Fatalf("create %s: %d %s", name, res.status, res.body)
			}
			loc := strings.TrimPrefix(res.header.Get("Location"), c.base+"/")
			parts := strings.Split(loc, "/")
			ids[parts[0]+"/"+parts[1]] = name
		}
		for _, tc := range cases {
			got, _, _ := searchAll(t, c, "/"+tc.query)
			var names []string
			for _, k := range got {
				n, ok := ids[k]
				if !ok {
					n = k
				}
				names = append(names, n)
			}
			slices.Sort(names)
			if !slices.Equal(names, tc.want) {
				t.Errorf("%s: got %v, want %v", tc.query, names, tc.want)
			}
		}
		for _, tc := range malformed {
			res := c.do(http.MethodGet, "/"+tc.query, nil)
			var oo struct {
				ResourceType string
				Issue        []struct {
					Diagnostics string
					Expression  []string
				}
			}
			json.Unmarshal(res.body, &oo)
			if res.status != http.StatusBadRequest || oo.ResourceType != "OperationOutcome" || len(oo.Issue) == 0 {
				t.Errorf("%s: got %d %.300s, want 400 with an OperationOutcome", tc.query, res.status, res.body)
				continue
			}
			if is := oo.Issue[0]; !slices.Contains(is.Expression, tc.param) || !strings.Contains(is.Diagnostics, tc.diag) {
				t.Errorf("%s: issue %+v, want it to name %s and say %q", tc.query, is, tc.param, tc.diag)
			}
		}
	})
}
