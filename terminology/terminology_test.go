package terminology

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meizhou-yiyang/yiyang/conformance/fhirdata"
	"github.com/meizhou-yiyang/yiyang/resources"
)

// memSource is a Source over resources held in memory: the R4 core
// CodeSystems and ValueSets plus a test's own.
type memSource struct {
	byURL map[string][]resources.Resource // "Type url" → resources
	byID  map[string]resources.Resource   // "Type/id"
	reads int
}

func newMemSource() *memSource {
	return &memSource{byURL: map[string][]resources.Resource{}, byID: map[string]resources.Resource{}}
}

func (m *memSource) add(t testing.TB, data []byte) {
	t.Helper()
	var head struct {
		ResourceType, ID, URL string
	}
	if err := json.Unmarshal(data, &head); err != nil {
		t.Fatal(err)
	}
	r := resources.Resource{Type: head.ResourceType, ID: head.ID, VersionID: 1, LastUpdated: time.Unix(0, 0), Data: data}
	m.byURL[head.ResourceType+" "+head.URL] = append(m.byURL[head.ResourceType+" "+head.URL], r)
	m.byID[head.ResourceType+"/"+head.ID] = r
}

func (m *memSource) Canonical(ctx context.Context, typ, url, version string) (resources.Resource, error) {
	m.reads++
	for _, r := range m.byURL[typ+" "+url] {
		var v struct{ Version string }
		json.Unmarshal(r.Data, &v)
		if version == "" || v.Version == version {
			return r, nil
		}
	}
	return resources.Resource{}, resources.ErrNotFound
}

func (m *memSource) Read(ctx context.Context, typ, id string) (resources.Resource, error) {
	m.reads++
	if r, ok := m.byID[typ+"/"+id]; ok {
		return r, nil
	}
	return resources.Resource{}, resources.ErrNotFound
}

var (
	coreOnce sync.Once
	coreData map[string][]byte // file name → JSON
	coreErr  error
)

// core returns a source holding every CodeSystem and ValueSet of the R4
// core package (read once per test binary).
func core(t *testing.T) *memSource {
	t.Helper()
	dir := filepath.Join(fhirdata.Require(t), "r4-core")
	coreOnce.Do(func() {
		coreData = map[string][]byte{}
		for _, pat := range []string{"CodeSystem-*.json", "ValueSet-*.json"} {
			files, err := filepath.Glob(filepath.Join(dir, pat))
			if err != nil || len(files) == 0 {
				coreErr = fmt.Errorf("no %s in %s: %v", pat, dir, err)
				return
			}
			for _, f := range files {
				b, err := os.ReadFile(f)
				if err != nil {
					coreErr = err
					return
				}
				coreData[filepath.Base(f)] = b
			}
		}
	})
	if coreErr != nil {
		t.Fatal(coreErr)
	}
	m := newMemSource()
	for _, b := range coreData {
		m.add(t, b)
	}
	return m
}

func codesOf(cs []Concept) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Code
	}
	sort.Strings(out)
	return out
}

func expand(t *testing.T, s *Service, ref string) []string {
	t.Helper()
	e, err := s.Expand(context.Background(), ref)
	if err != nil {
		t.Fatalf("expand %s: %v", ref, err)
	}
	return codesOf(e.Contains)
}

// wantInvalid checks err is an InvalidError with issue code and a message
// containing every part.
func wantInvalid(t *testing.T, err error, code string, parts ...string) {
	t.Helper()
	var inv *resources.InvalidError
	if !errors.As(err, &inv) {
		t.Fatalf("got %v, want an InvalidError", err)
	}
	if inv.Issues[0].Code != code {
		t.Errorf("issue code %q, want %q (%s)", inv.Issues[0].Code, code, inv.Issues[0].Diagnostics)
	}
	for _, p := range parts {
		if !strings.Contains(inv.Issues[0].Diagnostics, p) {
			t.Errorf("%q lacks %q", inv.Issues[0].Diagnostics, p)
		}
	}
}

func TestExpandCore(t *testing.T) {
	s := New(core(t), Config{})
	cases := []struct {
		ref  string
		want []string
	}{
		// whole code system
		{"http://hl7.org/fhir/ValueSet/observation-category",
			[]string{"activity", "exam", "imaging", "laboratory", "procedure", "social-history", "survey", "therapy", "vital-signs"}},
		// whole hierarchical code system (nested concepts)
		{"http://hl7.org/fhir/ValueSet/condition-clinical",
			[]string{"active", "inactive", "recurrence", "relapse", "remission", "resolved"}},
		// is-a over v3-ActCode, then exclude of the abstract root
		{"http://terminology.hl7.org/ValueSet/v3-ActEncounterCode",
			[]string{"ACUTE", "AMB", "EMER", "FLD", "HH", "IMP", "NONAC", "OBSENC", "PRENC", "SS", "VR"}},
		// explicit concepts
		{"http://terminology.hl7.org/ValueSet/v3-ConfidentialityClassification", []string{"L", "M", "N", "R", "U", "V"}},
		// is-not-a
		{"http://hl7.org/fhir/ValueSet/patient-contactrelationship",
			[]string{"BP", "C", "CP", "E", "EP", "F", "I", "N", "PR", "S", "U"}},
		// descendent-of (the expansion shipped in the file predates the
		// CodeSystem's *.CRT codes; compose over the stored CodeSystem wins)
		{"http://hl7.org/fhir/ValueSet/inactive",
			[]string{"CRT", "EVN.CRT", "EXPEC", "GOL", "GOL.CRT", "INT.CRT", "OPT", "PRMS.CRT", "RQO.CRT", "RSK", "RSK.CRT"}},
		// compose over LOINC, which is not stored: the precomputed expansion
		{"http://hl7.org/fhir/ValueSet/example-expansion",
			[]string{"14647-2", "2093-3", "2096-6", "35200-5", "48089-7", "48620-9", "55838-7", "9342-7"}},
		// a versioned canonical
		{"http://hl7.org/fhir/ValueSet/observation-category|4.0.1",
			[]string{"activity", "exam", "imaging", "laboratory", "procedure", "social-history", "survey", "therapy", "vital-signs"}},
		// by id
		{"ValueSet/condition-clinical", []string{"active", "inactive", "recurrence", "relapse", "remission", "resolved"}},
	}
	for _, tc := range cases {
		t.Run(tc.ref, func(t *testing.T) {
			if got := expand(t, s, tc.ref); !slices.Equal(got, tc.want) {
				t.Errorf("got %v\nwant %v", got, tc.want)
			}
		})
	}
}

// TestExpandValueSetIncludes: security-labels includes six value sets, some
// of which include others; its expansion is the union of theirs.
func TestExpandValueSetIncludes(t *testing.T) {
	src := core(t)
	s := New(src, Config{})
	got := expand(t, s, "http://hl7.org/fhir/ValueSet/security-labels")
	var vs valueSetJSON
	if err := json.Unmarshal(coreData["ValueSet-security-labels.json"], &vs); err != nil {
		t.Fatal(err)
	}
	union := map[string]bool{}
	for _, inc := range vs.Compose.Include {
		for _, ref := range inc.ValueSet {
			for _, c := range expand(t, s, ref) {
				union[c] = true
			}
		}
	}
	want := make([]string, 0, len(union))
	for c := range union {
		want = append(want, c)
	}
	sort.Strings(want)
	if !slices.Equal(got, want) || len(got) < 50 {
		t.Errorf("got %d codes, want the %d of the included value sets", len(got), len(want))
	}
	for _, c := range []string{"R", "V", "PSY", "HIV", "ETH"} {
		if !slices.Contains(got, c) {
			t.Errorf("security-labels lacks %s", c)
		}
	}
	// v3-SecurityControlObservationValue includes five value sets in turn.
	if !slices.Contains(got, "HIPAAConsentCD") && !slices.Contains(got, "TREAT") {
		t.Errorf("nested includes are missing: %v", got)
	}
}

// TestExpandEveryCoreValueSet expands every ValueSet of the core package:
// each expands or fails with an InvalidError (never a panic or another error).
func TestExpandEveryCoreValueSet(t *testing.T) {
	src := core(t)
	s := New(src, Config{})
	ok, failed := 0, 0
	for name, data := range coreData {
		if !strings.HasPrefix(name, "ValueSet-") {
			continue
		}
		_, err := s.ExpandResource(context.Background(), data)
		var inv *resources.InvalidError
		switch {
		case err == nil:
			ok++
		case errors.As(err, &inv):
			failed++
		default:
			t.Errorf("%s: %v", name, err)
		}
	}
	t.Logf("%d core value sets expanded, %d refused (code systems outside the package, e.g. SNOMED CT, LOINC)", ok, failed)
	if ok < 900 {
		t.Errorf("only %d core value sets expanded", ok)
	}
}

func TestSubsumption(t *testing.T) {
	s := New(core(t), Config{})
	ctx := context.Background()
	const clinical = "http://terminology.hl7.org/CodeSystem/condition-clinical"
	const actCode = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
	check := func(got []Concept, err error, want ...string) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		sort.Strings(want)
		if g := codesOf(got); !slices.Equal(g, want) {
			t.Errorf("got %v, want %v", g, want)
		}
		if got[0].System == "" {
			t.Errorf("no system in %v", got[0])
		}
	}
	got, err := s.Descendants(ctx, clinical, "active")
	check(got, err, "active", "recurrence", "relapse")
	got, err = s.Ancestors(ctx, clinical, "relapse")
	check(got, err, "relapse", "active")
	got, err = s.Descendants(ctx, clinical, "resolved")
	check(got, err, "resolved")
	// LFEMX is nested under _ActCoverageQuantityLimitCode and also a child of
	// COVMX by the child property: both are ancestors.
	got, err = s.Ancestors(ctx, actCode, "LFEMX")
	check(got, err, "LFEMX", "COVMX", "_ActCoverageQuantityLimitCode", "_ActCoverageLimitCode")
	got, err = s.Descendants(ctx, actCode, "COVMX")
	check(got, err, "COVMX", "LFEMX", "PRDMX")

	for _, tc := range []struct{ a, b, want string }{
		{"active", "relapse", Subsumes},
		{"relapse", "active", SubsumedBy},
		{"active", "active", Equivalent},
		{"active", "resolved", NotSubsumed},
	} {
		if got, err := s.Subsumes(ctx, clinical, tc.a, tc.b); err != nil || got != tc.want {
			t.Errorf("Subsumes(%s, %s) = %q, %v; want %q", tc.a, tc.b, got, err, tc.want)
		}
	}
	d, err := s.Lookup(ctx, actCode, "AMB")
	if err != nil || d.Display != "ambulatory" || !slices.Equal(d.Parents, []string{"_ActEncounterCode"}) || d.Name != "v3.ActCode" {
		t.Errorf("Lookup AMB = %+v, %v", d, err)
	}

	_, err = s.Descendants(ctx, clinical, "nonsense")
	wantInvalid(t, err, "not-found", `"nonsense"`, clinical)
	_, err = s.Descendants(ctx, "http://example.org/none", "x")
	wantInvalid(t, err, "not-found", "http://example.org/none")
	small := New(core(t), Config{MaxExpansion: 100})
	_, err = small.Descendants(ctx, actCode, "_ObservationType") // 274 codes
	wantInvalid(t, err, "too-costly", "_ObservationType", "100")
	got, err = small.Descendants(ctx, actCode, "_ActEncounterCode")
	check(got, err, "_ActEncounterCode", "ACUTE", "AMB", "EMER", "FLD", "HH", "IMP", "NONAC", "OBSENC", "PRENC", "SS", "VR")
}

// vsJSON builds a ValueSet from a compose.
func vsJSON(url, compose string) []byte {
	return []byte(fmt.Sprintf(`{"resourceType":"ValueSet","id":%q,"url":%q,"status":"active","compose":%s}`,
		strings.ReplaceAll(strings.TrimPrefix(url, "http://example.org/vs/"), "/", "-"), url, compose))
}

func TestExpandComposition(t *testing.T) {
	src := core(t)
	const actCode = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
	const clinical = "http://terminology.hl7.org/CodeSystem/condition-clinical"
	add := func(url, compose string) string {
		src.add(t, vsJSON(url, compose))
		return url
	}
	s := New(src, Config{})
	cases := []struct {
		name, compose string
		want          []string
	}{
		{"two filters intersect", `{"include":[{"system":"` + actCode + `","filter":[
			{"property":"concept","op":"is-a","value":"_ActEncounterCode"},
			{"property":"concept","op":"is-not-a","value":"IMP"}]}]}`,
			[]string{"AMB", "EMER", "FLD", "HH", "OBSENC", "PRENC", "SS", "VR", "_ActEncounterCode"}},
		{"generalizes", `{"include":[{"system":"` + clinical + `","filter":[{"property":"concept","op":"generalizes","value":"remission"}]}]}`,
			[]string{"inactive", "remission"}},
		{"property =", `{"include":[{"system":"` + actCode + `","filter":[
			{"property":"concept","op":"is-a","value":"_ActEncounterCode"},
			{"property":"notSelectable","op":"=","value":"true"}]}]}`,
			[]string{"_ActEncounterCode"}},
		{"parent =", `{"include":[{"system":"` + clinical + `","filter":[{"property":"parent","op":"=","value":"inactive"}]}]}`,
			[]string{"remission", "resolved"}},
		{"regex on code", `{"include":[{"system":"` + clinical + `","filter":[{"property":"code","op":"regex","value":"re.*"}]}]}`,
			[]string{"recurrence", "relapse", "remission", "resolved"}},
		{"in", `{"include":[{"system":"` + clinical + `","filter":[{"property":"code","op":"in","value":"active, resolved,nope"}]}]}`,
			[]string{"active", "resolved"}},
		{"exists child", `{"include":[{"system":"` + clinical + `","filter":[{"property":"child","op":"exists","value":"true"}]}]}`,
			[]string{"active", "inactive"}},
		{"exclude a value set", `{"include":[{"system":"` + clinical + `"}],"exclude":[{"valueSet":["http://hl7.org/fhir/ValueSet/condition-clinical"]}]}`,
			nil},
		{"exclude by filter", `{"include":[{"system":"` + clinical + `"}],"exclude":[{"system":"` + clinical + `","filter":[{"property":"concept","op":"is-a","value":"inactive"}]}]}`,
			[]string{"active", "recurrence", "relapse"}},
		{"valueSet and system intersect", `{"include":[{"system":"` + clinical + `","concept":[{"code":"active"},{"code":"bogus"}],
			"valueSet":["http://hl7.org/fhir/ValueSet/condition-clinical"]}]}`,
			[]string{"active"}},
		{"two value sets intersect", `{"include":[{"valueSet":["http://hl7.org/fhir/ValueSet/condition-clinical",
			"http://terminology.hl7.org/ValueSet/v3-ConfidentialityClassification"]}]}`,
			nil},
		{"codes from two systems", `{"include":[{"system":"` + clinical + `","concept":[{"code":"active"}]},
			{"system":"http://example.org/local","concept":[{"code":"active"},{"code":"x"}]}]}`,
			[]string{"active", "active", "x"}},
		{"a missing code is no member", `{"include":[{"system":"` + clinical + `","filter":[{"property":"concept","op":"is-a","value":"nope"}]}]}`,
			nil},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			url := add(fmt.Sprintf("http://example.org/vs/c%d", i), tc.compose)
			got := expand(t, s, url)
			if len(got) == 0 {
				got = nil
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestExpandErrors(t *testing.T) {
	src := core(t)
	const clinical = "http://terminology.hl7.org/CodeSystem/condition-clinical"
	src.add(t, vsJSON("http://example.org/vs/a", `{"include":[{"valueSet":["http://example.org/vs/b"]}]}`))
	src.add(t, vsJSON("http://example.org/vs/b", `{"include":[{"system":"`+clinical+`"},{"valueSet":["http://example.org/vs/c"]}]}`))
	src.add(t, vsJSON("http://example.org/vs/c", `{"include":[{"valueSet":["http://example.org/vs/a"]}]}`))
	src.add(t, vsJSON("http://example.org/vs/self", `{"include":[{"valueSet":["http://example.org/vs/self|2"]}]}`))
	src.add(t, vsJSON("http://example.org/vs/act", `{"include":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode"}]}`))
	src.add(t, vsJSON("http://example.org/vs/act-minus", `{"include":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode"}],
		"exclude":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","filter":[{"property":"concept","op":"is-not-a","value":"_ActEncounterCode"}]}]}`))
	src.add(t, vsJSON("http://example.org/vs/loinc", `{"include":[{"system":"http://loinc.org","filter":[{"property":"parent","op":"=","value":"x"}]}]}`))
	src.add(t, vsJSON("http://example.org/vs/badop", `{"include":[{"system":"`+clinical+`","filter":[{"property":"concept","op":"sounds-like","value":"x"}]}]}`))
	src.add(t, vsJSON("http://example.org/vs/badre", `{"include":[{"system":"`+clinical+`","filter":[{"property":"code","op":"regex","value":"("}]}]}`))
	src.add(t, vsJSON("http://example.org/vs/both", `{"include":[{"system":"`+clinical+`","concept":[{"code":"active"}],"filter":[{"property":"concept","op":"is-a","value":"active"}]}]}`))
	src.add(t, vsJSON("http://example.org/vs/empty-include", `{"include":[{}]}`))
	src.add(t, []byte(`{"resourceType":"ValueSet","id":"nothing","url":"http://example.org/vs/nothing","status":"active"}`))
	for i := 0; i < 20; i++ {
		src.add(t, vsJSON(fmt.Sprintf("http://example.org/vs/deep%d", i), fmt.Sprintf(`{"include":[{"valueSet":["http://example.org/vs/deep%d"]}]}`, i+1)))
	}
	src.add(t, vsJSON("http://example.org/vs/deep20", `{"include":[{"system":"`+clinical+`"}]}`))

	s := New(src, Config{})
	ctx := context.Background()
	for _, tc := range []struct {
		ref, code string
		parts     []string
	}{
		{"http://example.org/vs/a", "processing", []string{"includes itself", "http://example.org/vs/a → http://example.org/vs/b → http://example.org/vs/c → http://example.org/vs/a"}},
		{"http://example.org/vs/self", "processing", []string{"includes itself"}},
		{"http://example.org/vs/unknown", "not-found", []string{"http://example.org/vs/unknown", "not stored"}},
		{"ValueSet/unknown", "not-found", []string{"ValueSet/unknown"}},
		{"ValueSet/bad id!", "value", nil},
		{"not a url", "value", nil},
		{"http://example.org/vs/loinc", "not-found", []string{"http://loinc.org", "http://example.org/vs/loinc"}},
		{"http://example.org/vs/badop", "not-supported", []string{"sounds-like"}},
		{"http://example.org/vs/badre", "not-supported", []string{"regex"}},
		{"http://example.org/vs/both", "invalid", []string{"both concepts and filters"}},
		{"http://example.org/vs/empty-include", "invalid", []string{"needs a system or a valueSet"}},
		{"http://example.org/vs/nothing", "not-supported", []string{"neither compose nor expansion"}},
		{"http://example.org/vs/deep0", "too-costly", []string{"more than 16 deep"}},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			_, err := s.Expand(ctx, tc.ref)
			wantInvalid(t, err, tc.code, tc.parts...)
		})
	}

	// Limits.
	small := New(src, Config{MaxExpansion: 1000})
	_, err := small.Expand(ctx, "http://example.org/vs/act")
	wantInvalid(t, err, "too-costly", "http://example.org/vs/act", "1000")
	// the exclude may be large, the result is small
	got := expand(t, small, "http://example.org/vs/act-minus")
	if want := []string{"ACUTE", "AMB", "EMER", "FLD", "HH", "IMP", "NONAC", "OBSENC", "PRENC", "SS", "VR", "_ActEncounterCode"}; !slices.Equal(got, want) {
		t.Errorf("act-minus: %v", got)
	}
	deep := New(src, Config{MaxDepth: 32})
	if got := expand(t, deep, "http://example.org/vs/deep0"); len(got) != 6 {
		t.Errorf("deep0 under a deeper limit: %v", got)
	}
	few := New(src, Config{MaxReads: 5})
	_, err = few.Expand(ctx, "http://example.org/vs/deep0")
	wantInvalid(t, err, "too-costly", "limit of 5")
}

func TestCodeSystemCache(t *testing.T) {
	src := core(t)
	s := New(src, Config{CacheSize: 2})
	for i := 0; i < 3; i++ {
		expand(t, s, "http://hl7.org/fhir/ValueSet/condition-clinical")
		expand(t, s, "http://hl7.org/fhir/ValueSet/observation-category")
		expand(t, s, "http://terminology.hl7.org/ValueSet/v3-ActEncounterCode")
	}
	if len(s.cache) != 2 || len(s.order) != 2 {
		t.Errorf("cache holds %d (order %d), want 2", len(s.cache), len(s.order))
	}
	// A new version of a code system is read again, not served from the cache.
	src.add(t, []byte(`{"resourceType":"CodeSystem","id":"condition-clinical","url":"http://terminology.hl7.org/CodeSystem/condition-clinical","status":"active","content":"complete","concept":[{"code":"only"}]}`))
	rs := src.byURL["CodeSystem http://terminology.hl7.org/CodeSystem/condition-clinical"]
	latest := rs[len(rs)-1]
	latest.VersionID = 2
	src.byURL["CodeSystem http://terminology.hl7.org/CodeSystem/condition-clinical"] = []resources.Resource{latest}
	if got := expand(t, s, "http://hl7.org/fhir/ValueSet/condition-clinical"); !slices.Equal(got, []string{"only"}) {
		t.Errorf("after an update: %v", got)
	}
}
