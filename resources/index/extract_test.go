package index

import (
	"unicode"

	"encoding/json"
	"fmt"
	"github.com/meizhou-yiyang/yiyang/conformance/fhirdata"
	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
	"golang.org/x/text/width"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/meizhou-yiyang/yiyang/resources"
)

func fhirData(t testing.TB) string { return fhirdata.Require(t) }

func TestFold(t *testing.T) {
	for in, want := range map[string]string{
		"Li":       "li",
		"Müller":   "muller",
		"ＺＨＡＮＧ１":   "zhang1",
		"张伟":       "张伟",
		"Ångström": "angstrom",
	} {
		if got := Fold(in); got != want {
			t.Errorf("Fold(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestFoldPlain: the fast path for ASCII and CJK ideographs folds exactly
// as the full transform chain does, over every character of its ranges and
// mixed strings.
func TestFoldPlain(t *testing.T) {
	slow := func(s string) string {
		tr := transform.Chain(width.Fold, norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
		out, _, err := transform.String(tr, s)
		if err != nil {
			t.Fatal(err)
		}
		return strings.ToLower(out)
	}
	var all []rune
	for _, rg := range [][2]rune{{0, 0x7F}, {0x3400, 0x4DBF}, {0x4E00, 0x9FFF}, {0x20000, 0x2A6DF}} {
		for r := rg[0]; r <= rg[1]; r++ {
			all = append(all, r)
		}
	}
	for i := 0; i < len(all); i += 64 {
		s := string(all[i:min(i+64, len(all))])
		if !plain(s) {
			t.Fatalf("%q is not plain", s)
		}
		if got, want := Fold(s), slow(s); got != want {
			t.Fatalf("Fold(%q) = %q, the transform chain gives %q", s, got, want)
		}
	}
	for _, s := range []string{"梅州市 梅江区 Meizhou 1号", "王小明", "ＺＨＡＮＧ", "Wáng", "梅州　市", "𠀀𪛖"} {
		if got, want := Fold(s), slow(s); got != want {
			t.Errorf("Fold(%q) = %q, the transform chain gives %q", s, got, want)
		}
	}
}

func extract(t *testing.T, x *Extractor, body string) *resources.Index {
	t.Helper()
	var head struct{ ResourceType string }
	json.Unmarshal([]byte(body), &head)
	idx, err := x.Extract(head.ResourceType, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

func TestExtractKinds(t *testing.T) {
	x := New()
	p := extract(t, x, `{"resourceType":"Patient","identifier":[{"system":"urn:oid:2.16.156.10011.1.3","value":"440102199001011234"}],
		"active":true,"name":[{"family":"Zhāng","given":["Wěi"]}],"gender":"male","birthDate":"1990-01",
		"telecom":[{"system":"phone","value":"13800000000"}],"address":[{"city":"梅州","district":"梅江区"}],
		"managingOrganization":{"reference":"Organization/o1"},
		"generalPractitioner":[{"reference":"http://other.org/fhir/Practitioner/9"},{"identifier":{"system":"http://npi","value":"77"}}]}`)
	has := func(what string, ok bool) {
		t.Helper()
		if !ok {
			t.Errorf("missing %s in %+v", what, p)
		}
	}
	has("name zhang", containsEntry(p.Strings, resources.StringEntry{Param: "name", Norm: "zhang", Exact: "Zhāng"}))
	has("family", containsEntry(p.Strings, resources.StringEntry{Param: "family", Norm: "zhang", Exact: "Zhāng"}))
	has("address-city", containsEntry(p.Strings, resources.StringEntry{Param: "address-city", Norm: "梅州", Exact: "梅州"}))
	has("identifier", containsEntry(p.Tokens, resources.TokenEntry{Param: "identifier", System: "urn:oid:2.16.156.10011.1.3", Code: "440102199001011234"}))
	has("gender", containsEntry(p.Tokens, resources.TokenEntry{Param: "gender", Code: "male", Text: "male"}))
	has("active", containsEntry(p.Tokens, resources.TokenEntry{Param: "active", Code: "true", Text: "true"}))
	has("phone", containsEntry(p.Tokens, resources.TokenEntry{Param: "phone", System: "phone", Code: "13800000000"}))
	has("organization", containsEntry(p.References, resources.ReferenceEntry{Param: "organization", TargetType: "Organization", TargetID: "o1"}))
	has("general-practitioner URL", containsEntry(p.References, resources.ReferenceEntry{Param: "general-practitioner", URL: "http://other.org/fhir/Practitioner/9"}))
	has("general-practitioner:identifier", containsEntry(p.Tokens, resources.TokenEntry{Param: "general-practitioner:identifier", System: "http://npi", Code: "77"}))
	var bd *resources.DateEntry
	for i := range p.Dates {
		if p.Dates[i].Param == "birthdate" {
			bd = &p.Dates[i]
		}
	}
	if bd == nil || bd.Low != 631152000000000 || bd.High != 633830400000000-1 {
		t.Errorf("birthdate 1990-01 must span January 1990: %+v", bd)
	}

	o := extract(t, x, `{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8867-4","display":"Heart rate"}]},
		"subject":{"reference":"Patient/p1"},"effectivePeriod":{"start":"2026-11-25T08:00:00+08:00"},
		"valueQuantity":{"value":72.0,"unit":"beats/minute","system":"http://unitsofmeasure.org","code":"/min"}}`)
	has = func(what string, ok bool) {
		t.Helper()
		if !ok {
			t.Errorf("missing %s in %+v", what, o)
		}
	}
	has("code", containsEntry(o.Tokens, resources.TokenEntry{Param: "code", System: "http://loinc.org", Code: "8867-4", Text: "heart rate"}))
	has("subject", containsEntry(o.References, resources.ReferenceEntry{Param: "subject", TargetType: "Patient", TargetID: "p1"}))
	has("patient", containsEntry(o.References, resources.ReferenceEntry{Param: "patient", TargetType: "Patient", TargetID: "p1"}))
	var q *resources.QuantityEntry
	for i := range o.Quantities {
		if o.Quantities[i].Param == "value-quantity" {
			q = &o.Quantities[i]
		}
	}
	if q == nil || q.Value != 72 || q.Low != 71.95 || q.High != 72.05 || q.CanonCode != "/s" || q.CanonValue != 1.2 {
		t.Errorf("value-quantity: %+v", q)
	}
	var d *resources.DateEntry
	for i := range o.Dates {
		if o.Dates[i].Param == "date" {
			d = &o.Dates[i]
		}
	}
	if d == nil || d.Low != 1795564800000000 || d.High != 1<<63-1 {
		t.Errorf("open period: %+v", d)
	}
}

func containsEntry[T comparable](list []T, want T) bool {
	for _, e := range list {
		if e == want {
			return true
		}
	}
	return false
}

// TestOfficialExamplesIndex indexes every official example without error and
// reports, per parameter type, how many entries came out.
func TestOfficialExamplesIndex(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(fhirData(t), "r4-examples", "*.json"))
	if len(files) == 0 {
		t.Fatal("no examples")
	}
	x := New()
	counts := map[string]int{}
	params := map[string]bool{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var head struct{ ResourceType string }
		json.Unmarshal(data, &head)
		idx, err := x.Extract(head.ResourceType, data)
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
			continue
		}
		counts["string"] += len(idx.Strings)
		counts["token"] += len(idx.Tokens)
		counts["reference"] += len(idx.References)
		counts["date"] += len(idx.Dates)
		counts["number"] += len(idx.Numbers)
		counts["quantity"] += len(idx.Quantities)
		counts["uri"] += len(idx.URIs)
		counts["composite"] += len(idx.Composites)
		for _, e := range idx.Tokens {
			params[head.ResourceType+"."+strings.TrimSuffix(e.Param, ":identifier")] = true
		}
		for _, e := range idx.Strings {
			params[head.ResourceType+"."+e.Param] = true
		}
		for _, e := range idx.References {
			params[head.ResourceType+"."+e.Param] = true
		}
		for _, e := range idx.Dates {
			params[head.ResourceType+"."+e.Param] = true
		}
	}
	var kinds []string
	for k := range counts {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		if counts[k] == 0 {
			t.Errorf("no %s entries extracted from any example", k)
		}
	}
	t.Logf("entries: %v; %d distinct type.parameter pairs with values", counts, len(params))
}

func BenchmarkExtractObservation(b *testing.B) {
	x := New()
	data := []byte(`{"resourceType":"Observation","status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],"code":{"coding":[{"system":"http://loinc.org","code":"8867-4","display":"Heart rate"}]},"subject":{"reference":"Patient/p1"},"encounter":{"reference":"Encounter/e1"},"effectiveDateTime":"2026-11-25T08:00:00+08:00","issued":"2026-11-25T08:00:01.000+08:00","valueQuantity":{"value":72,"unit":"beats/minute","system":"http://unitsofmeasure.org","code":"/min"}}`)
	x.Extract("Observation", data)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := x.Extract("Observation", data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkExtractAuditEvent: the server indexes an AuditEvent for every
// request it audits.
func BenchmarkExtractAuditEvent(b *testing.B) {
	x := New()
	data := []byte(`{"resourceType":"AuditEvent","id":"a","type":{"system":"http://terminology.hl7.org/CodeSystem/audit-event-type","code":"rest","display":"Restful Operation"},"subtype":[{"system":"http://hl7.org/fhir/restful-interaction","code":"read"}],"action":"R","recorded":"2026-11-26T01:00:00.123456Z","outcome":"0","agent":[{"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ParticipationType","code":"IRCP","display":"information recipient"}]},"who":{"reference":"Practitioner/li","display":"dr-li"},"altId":"dr-li","name":"his","requestor":true,"network":{"address":"127.0.0.1","type":"2"}}],"source":{"site":"Yiyang","observer":{"display":"Yiyang FHIR server"},"type":[{"system":"http://terminology.hl7.org/CodeSystem/security-source-type","code":"4","display":"Application Server"}]},"entity":[{"what":{"reference":"Patient/p1"},"type":{"system":"http://terminology.hl7.org/CodeSystem/audit-entity-type","code":"2","display":"System Object"}},{"what":{"reference":"Patient/p1"},"type":{"system":"http://terminology.hl7.org/CodeSystem/audit-entity-type","code":"1","display":"Person"},"role":{"system":"http://terminology.hl7.org/CodeSystem/object-role","code":"1","display":"Patient"}}]}`)
	if _, err := x.Extract("AuditEvent", data); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := x.Extract("AuditEvent", data); err != nil {
			b.Fatal(err)
		}
	}
}

// TestLocalBase: absolute references under the server's own base are also
// local references; others stay URLs only.
func TestLocalBase(t *testing.T) {
	x := New()
	x.SetBase("https://fhir.example.cn/fhir/")
	data := []byte(`{"resourceType":"Observation","status":"final","code":{"text":"x"},
		"subject":{"reference":"https://fhir.example.cn/fhir/Patient/p1"},
		"encounter":{"reference":"https://fhir.example.cn/fhir/Encounter/e1/_history/2"},
		"performer":[{"reference":"https://other.example.org/fhir/Practitioner/d1"},{"reference":"https://fhir.example.cn/fhir/NotAType/x"}]}`)
	ix, err := x.Extract("Observation", data)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]resources.ReferenceEntry{}
	for _, e := range ix.References {
		got[e.Param+" "+e.URL] = e
	}
	for key, want := range map[string][2]string{
		"subject https://fhir.example.cn/fhir/Patient/p1":                {"Patient", "p1"},
		"patient https://fhir.example.cn/fhir/Patient/p1":                {"Patient", "p1"},
		"encounter https://fhir.example.cn/fhir/Encounter/e1/_history/2": {"Encounter", "e1"},
		"performer https://other.example.org/fhir/Practitioner/d1":       {"", ""},
		"performer https://fhir.example.cn/fhir/NotAType/x":              {"", ""},
	} {
		e, ok := got[key]
		if !ok {
			t.Errorf("no entry %s in %+v", key, ix.References)
			continue
		}
		if e.TargetType != want[0] || e.TargetID != want[1] {
			t.Errorf("%s: local %s/%s, want %s/%s", key, e.TargetType, e.TargetID, want[0], want[1])
		}
	}
	// Without a base nothing is local.
	ix, _ = New().Extract("Observation", data)
	for _, e := range ix.References {
		if e.TargetID != "" {
			t.Errorf("no base configured, yet %+v is local", e)
		}
	}
}

// BenchmarkFold: every string and token of every write is folded.
func BenchmarkFold(b *testing.B) {
	for _, s := range []string{"Restful Operation", "http://terminology.hl7.org/CodeSystem/audit-event-type rest restful operation http://hl7.org/fhir/restful-interaction read r 2026-11-26t01:00:00.123456z 0 http://terminology.hl7.org/codesystem/v3-participationtype ircp information recipient practitioner/li", "王小明 Wáng Xiǎomíng", "广东省梅州市梅江区 王小明"} {
		b.Run(fmt.Sprint(len(s)), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Fold(s)
			}
		})
	}
}

// TestReferenceEntrySegments: ReferenceEntry (which cuts without
// allocating) reads relative references as splitting them into segments
// does: Type/id, or Type/id/_history/v.
func TestReferenceEntrySegments(t *testing.T) {
	bySegments := func(ref string) (string, string, bool) {
		segs := strings.Split(ref, "/")
		if len(segs) != 2 && !(len(segs) == 4 && segs[2] == "_history") {
			return "", "", false
		}
		if !resources.IsResourceType(segs[0]) || !resources.ValidID(segs[1]) {
			return "", "", false
		}
		return segs[0], segs[1], true
	}
	for _, ref := range []string{"Patient/p1", "Patient/p1/_history/2", "Patient/p1/_history/", "Patient/p1/_history",
		"Patient/p1/x/2", "Patient/p1/_history/2/3", "Patient/", "/p1", "Patient", "Nope/p1", "Patient/bad id",
		"Patient/p1/", "Patient//p1", "Observation/o.1-2"} {
		e, ok := ReferenceEntry("subject", "Reference", ref)
		typ, id, want := bySegments(ref)
		if ok != want || ok && (e.TargetType != typ || e.TargetID != id) {
			t.Errorf("ReferenceEntry(%q) = %+v %v, want %s/%s %v", ref, e, ok, typ, id, want)
		}
	}
}
