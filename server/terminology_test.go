package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/meizhou-yiyang/yiyang/operations"
	"github.com/meizhou-yiyang/yiyang/resources"
	"github.com/meizhou-yiyang/yiyang/server"
)

const (
	clinicalCS = "http://terminology.hl7.org/CodeSystem/condition-clinical"
	actCodeCS  = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
	obsCatCS   = "http://terminology.hl7.org/CodeSystem/observation-category"
)

// loadCoreTerminology stores R4 core CodeSystems and ValueSets through the
// REST API, as a user would.
func loadCoreTerminology(t *testing.T, c *client, files ...string) {
	t.Helper()
	dir := filepath.Join(fhirData(t), "r4-core")
	for _, f := range files {
		body, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if res := c.do(http.MethodPost, "/"+strings.SplitN(f, "-", 2)[0], body); res.status != http.StatusCreated {
			t.Fatalf("POST %s: %d %.400s", f, res.status, res.body)
		}
	}
}

func put(t *testing.T, c *client, path, body string) {
	t.Helper()
	if res := c.do(http.MethodPut, path, []byte(body)); res.status != http.StatusCreated && res.status != http.StatusOK {
		t.Fatalf("PUT %s: %d %.400s", path, res.status, res.body)
	}
}

// valueSet is a ValueSet resource with the given compose.
func valueSet(id, compose string) string {
	return fmt.Sprintf(`{"resourceType":"ValueSet","id":%q,"url":"http://example.org/fhir/ValueSet/%s","status":"active","compose":%s}`, id, id, compose)
}

// wantOutcome checks a 4xx answer with an OperationOutcome whose text holds
// every part.
func wantOutcome(t *testing.T, res result, parts ...string) {
	t.Helper()
	if res.status < 400 || res.status >= 500 || !strings.Contains(string(res.body), `"OperationOutcome"`) {
		t.Fatalf("got %d %.500s, want a 4xx OperationOutcome", res.status, res.body)
	}
	for _, p := range parts {
		if !strings.Contains(string(res.body), p) {
			t.Errorf("outcome lacks %q: %.500s", p, res.body)
		}
	}
}

func TestTerminologySearch(t *testing.T) {
	eachBackend(t, func(t *testing.T, c *client) {
		loadCoreTerminology(t, c,
			"CodeSystem-condition-clinical.json", "ValueSet-condition-clinical.json",
			"CodeSystem-observation-category.json", "ValueSet-observation-category.json",
			"CodeSystem-v3-ActCode.json", "ValueSet-v3-ActEncounterCode.json")
		// Conditions with every clinical status, one without any.
		for _, st := range []string{"active", "recurrence", "relapse", "inactive", "remission", "resolved"} {
			put(t, c, "/Condition/c-"+st, fmt.Sprintf(`{"resourceType":"Condition","id":"c-%s","clinicalStatus":{"coding":[{"system":%q,"code":%q}]},"subject":{"reference":"Patient/p"}}`, st, clinicalCS, st))
		}
		put(t, c, "/Condition/c-none", `{"resourceType":"Condition","id":"c-none","subject":{"reference":"Patient/p"}}`)
		// The same code in another system is not the same concept.
		put(t, c, "/Condition/c-other", `{"resourceType":"Condition","id":"c-other","clinicalStatus":{"coding":[{"system":"http://example.org/status","code":"active"}]},"subject":{"reference":"Patient/p"}}`)
		// Encounters with v3-ActCode classes.
		for _, cl := range []string{"AMB", "IMP", "ACUTE", "NONAC", "EMER", "PRENC"} {
			put(t, c, "/Encounter/e-"+cl, fmt.Sprintf(`{"resourceType":"Encounter","id":"e-%s","status":"finished","class":{"system":%q,"code":%q}}`, cl, actCodeCS, cl))
		}
		put(t, c, "/Encounter/e-local", `{"resourceType":"Encounter","id":"e-local","status":"finished","class":{"system":"http://example.org/class","code":"AMB"}}`)
		// a v3-ActCode class outside _ActEncounterCode
		put(t, c, "/Encounter/e-cash", fmt.Sprintf(`{"resourceType":"Encounter","id":"e-cash","status":"finished","class":{"system":%q,"code":"CASH"}}`, actCodeCS))
		// Observations with categories, pointing to encounters.
		for i, cat := range []string{"vital-signs", "laboratory", "survey"} {
			put(t, c, fmt.Sprintf("/Observation/o-%d", i), fmt.Sprintf(`{"resourceType":"Observation","id":"o-%d","status":"final","category":[{"coding":[{"system":%q,"code":%q}]}],"code":{"text":"x"},"encounter":{"reference":"Encounter/e-%s"}}`,
				i, obsCatCS, cat, []string{"IMP", "ACUTE", "AMB"}[i]))
		}
		put(t, c, "/Observation/o-local", `{"resourceType":"Observation","id":"o-local","status":"final","category":[{"coding":[{"system":"http://example.org/cat","code":"vital-signs"}]}],"code":{"text":"x"}}`)
		put(t, c, "/Observation/o-none", `{"resourceType":"Observation","id":"o-none","status":"final","code":{"text":"x"}}`)

		// Custom value sets: explicit codes, a big one over all of v3-ActCode
		// (1,116 codes: bound as one parameter), one including another.
		put(t, c, "/ValueSet/active-only", valueSet("active-only", `{"include":[{"system":"`+clinicalCS+`","concept":[{"code":"active"}]}]}`))
		put(t, c, "/ValueSet/all-act", valueSet("all-act", `{"include":[{"system":"`+actCodeCS+`"}]}`))
		put(t, c, "/ValueSet/enc-but-inpatient", valueSet("enc-but-inpatient",
			`{"include":[{"valueSet":["http://terminology.hl7.org/ValueSet/v3-ActEncounterCode"]}],"exclude":[{"system":"`+actCodeCS+`","filter":[{"property":"concept","op":"is-a","value":"IMP"}]}]}`))
		put(t, c, "/ValueSet/empty", valueSet("empty", `{"include":[{"system":"`+clinicalCS+`","filter":[{"property":"concept","op":"is-a","value":"no-such-code"}]}]}`))

		vs := func(s string) string { return url.QueryEscape(s) }
		cases := []struct {
			query string
			want  []string
		}{
			{"Condition?clinical-status:in=" + vs("http://hl7.org/fhir/ValueSet/condition-clinical"),
				[]string{"c-active", "c-inactive", "c-recurrence", "c-relapse", "c-remission", "c-resolved"}},
			{"Condition?clinical-status:in=" + vs("http://hl7.org/fhir/ValueSet/condition-clinical|4.0.1"),
				[]string{"c-active", "c-inactive", "c-recurrence", "c-relapse", "c-remission", "c-resolved"}},
			{"Condition?clinical-status:in=ValueSet/active-only", []string{"c-active"}},
			{"Condition?clinical-status:in=" + vs("http://example.org/fhir/ValueSet/active-only"), []string{"c-active"}},
			{"Condition?clinical-status:not-in=" + vs("http://example.org/fhir/ValueSet/active-only"),
				[]string{"c-inactive", "c-none", "c-other", "c-recurrence", "c-relapse", "c-remission", "c-resolved"}},
			{"Condition?clinical-status:below=" + vs(clinicalCS+"|active"), []string{"c-active", "c-recurrence", "c-relapse"}},
			{"Condition?clinical-status:below=" + vs(clinicalCS+"|inactive"), []string{"c-inactive", "c-remission", "c-resolved"}},
			{"Condition?clinical-status:below=" + vs(clinicalCS+"|relapse"), []string{"c-relapse"}},
			{"Condition?clinical-status:above=" + vs(clinicalCS+"|relapse"), []string{"c-active", "c-relapse"}},
			{"Condition?clinical-status:above=" + vs(clinicalCS+"|active"), []string{"c-active"}},
			// OR of two values, AND with another filter
			{"Condition?clinical-status:below=" + vs(clinicalCS+"|relapse") + "," + vs(clinicalCS+"|resolved"), []string{"c-relapse", "c-resolved"}},
			{"Condition?clinical-status:below=" + vs(clinicalCS+"|active") + "&clinical-status:not-in=" + vs("http://example.org/fhir/ValueSet/active-only"),
				[]string{"c-recurrence", "c-relapse"}},
			{"Condition?clinical-status:in=" + vs("http://example.org/fhir/ValueSet/empty"), nil},
			{"Condition?clinical-status:not-in=" + vs("http://example.org/fhir/ValueSet/empty"),
				[]string{"c-active", "c-inactive", "c-none", "c-other", "c-recurrence", "c-relapse", "c-remission", "c-resolved"}},
			{"Observation?category:in=" + vs("http://hl7.org/fhir/ValueSet/observation-category"), []string{"o-0", "o-1", "o-2"}},
			{"Observation?category:not-in=" + vs("http://hl7.org/fhir/ValueSet/observation-category"), []string{"o-local", "o-none"}},
			{"Encounter?class:in=" + vs("http://terminology.hl7.org/ValueSet/v3-ActEncounterCode"),
				[]string{"e-ACUTE", "e-AMB", "e-EMER", "e-IMP", "e-NONAC", "e-PRENC"}},
			{"Encounter?class:in=" + vs("http://example.org/fhir/ValueSet/enc-but-inpatient"), []string{"e-AMB", "e-EMER", "e-PRENC"}},
			{"Encounter?class:in=" + vs("http://example.org/fhir/ValueSet/all-act"),
				[]string{"e-ACUTE", "e-AMB", "e-EMER", "e-IMP", "e-NONAC", "e-PRENC", "e-cash"}},
			{"Encounter?class:not-in=" + vs("http://example.org/fhir/ValueSet/all-act"), []string{"e-local"}},
			{"Encounter?class:below=" + vs(actCodeCS+"|IMP"), []string{"e-ACUTE", "e-IMP", "e-NONAC"}},
			{"Encounter?class:below=" + vs(actCodeCS+"|_ActEncounterCode"), []string{"e-ACUTE", "e-AMB", "e-EMER", "e-IMP", "e-NONAC", "e-PRENC"}},
			{"Encounter?class:above=" + vs(actCodeCS+"|ACUTE"), []string{"e-ACUTE", "e-IMP"}},
			// through a chain and a reverse chain
			{"Observation?encounter:Encounter.class:below=" + vs(actCodeCS+"|IMP"), []string{"o-0", "o-1"}},
			{"Encounter?_has:Observation:encounter:category:in=" + vs("http://hl7.org/fhir/ValueSet/observation-category"), []string{"e-ACUTE", "e-AMB", "e-IMP"}},
			// with paging: two per page
			{"Encounter?class:in=" + vs("http://example.org/fhir/ValueSet/all-act") + "&_count=2",
				[]string{"e-ACUTE", "e-AMB", "e-EMER", "e-IMP", "e-NONAC", "e-PRENC", "e-cash"}},
		}
		for _, tc := range cases {
			t.Run(tc.query, func(t *testing.T) {
				got, _, _ := searchAll(t, c, "/"+tc.query)
				for i, k := range got {
					got[i] = k[strings.IndexByte(k, '/')+1:]
				}
				sort.Strings(got)
				if !slices.Equal(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
					t.Errorf("got %v\nwant %v", got, tc.want)
				}
			})
		}

		// POST _search takes the same parameters.
		form := url.Values{"clinical-status:below": {clinicalCS + "|inactive"}}
		req, _ := http.NewRequest(http.MethodPost, c.base+"/Condition/_search", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := c.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var b struct{ Entry []struct{ FullURL string } }
		json.NewDecoder(resp.Body).Decode(&b)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || len(b.Entry) != 3 {
			t.Errorf("POST _search: %d, %d entries", resp.StatusCode, len(b.Entry))
		}

		// Conditional create: the terminology filter decides the match.
		res := c.do(http.MethodPost, "/Condition", []byte(`{"resourceType":"Condition","subject":{"reference":"Patient/p"}}`),
			"If-None-Exist", "clinical-status:above="+vs(clinicalCS+"|remission")+"&clinical-status:below="+vs(clinicalCS+"|remission"))
		if res.status != http.StatusOK || !strings.Contains(string(res.body), `"c-remission"`) {
			t.Errorf("conditional create with :above/:below: %d %.300s", res.status, res.body)
		}
	})
}

func TestTerminologySearchErrors(t *testing.T) {
	eachBackend(t, func(t *testing.T, c *client) {
		loadCoreTerminology(t, c, "CodeSystem-condition-clinical.json", "ValueSet-condition-clinical.json")
		// A code system of 10,001 codes: any expansion of it is too large.
		var concepts []string
		for i := 0; i <= 10_000; i++ {
			concepts = append(concepts, fmt.Sprintf(`{"code":"c%d"}`, i))
		}
		put(t, c, "/CodeSystem/big", `{"resourceType":"CodeSystem","id":"big","url":"http://example.org/fhir/CodeSystem/big","status":"active","content":"complete","concept":[`+
			strings.Join(concepts, ",")+`]}`)
		put(t, c, "/ValueSet/big", valueSet("big", `{"include":[{"system":"http://example.org/fhir/CodeSystem/big"}]}`))
		put(t, c, "/ValueSet/big-minus", valueSet("big-minus", `{"include":[{"system":"http://example.org/fhir/CodeSystem/big"}],
			"exclude":[{"system":"http://example.org/fhir/CodeSystem/big","concept":[{"code":"c0"}]}]}`))
		put(t, c, "/ValueSet/loop-a", valueSet("loop-a", `{"include":[{"valueSet":["http://example.org/fhir/ValueSet/loop-b"]}]}`))
		put(t, c, "/ValueSet/loop-b", valueSet("loop-b", `{"include":[{"valueSet":["http://example.org/fhir/ValueSet/loop-a"]}]}`))
		put(t, c, "/ValueSet/no-cs", valueSet("no-cs", `{"include":[{"system":"http://loinc.org","filter":[{"property":"parent","op":"=","value":"LP1"}]}]}`))
		put(t, c, "/Condition/c1", `{"resourceType":"Condition","id":"c1","clinicalStatus":{"coding":[{"system":"`+clinicalCS+`","code":"active"}]},"subject":{"reference":"Patient/p"}}`)

		vs := url.QueryEscape
		for _, tc := range []struct {
			query string
			parts []string
		}{
			{"Condition?clinical-status:in=" + vs("http://example.org/fhir/ValueSet/unknown"),
				[]string{"http://example.org/fhir/ValueSet/unknown", "not stored", "clinical-status:in"}},
			{"Condition?clinical-status:in=ValueSet/unknown", []string{"ValueSet/unknown", "not stored"}},
			{"Condition?clinical-status:not-in=" + vs("http://example.org/fhir/ValueSet/unknown"), []string{"not stored"}},
			{"Condition?clinical-status:in=" + vs("http://example.org/fhir/ValueSet/big"),
				[]string{"http://example.org/fhir/ValueSet/big", "more than 10000 codes", "too-costly"}},
			{"Condition?clinical-status:in=" + vs("http://example.org/fhir/ValueSet/loop-a"),
				[]string{"includes itself", "http://example.org/fhir/ValueSet/loop-a → http://example.org/fhir/ValueSet/loop-b → http://example.org/fhir/ValueSet/loop-a"}},
			{"Condition?clinical-status:in=" + vs("http://example.org/fhir/ValueSet/no-cs"), []string{"http://loinc.org", "not stored"}},
			{"Condition?clinical-status:below=active", []string{"system|code", "below"}},
			{"Condition?clinical-status:above=" + vs("|active"), []string{"system|code", "above"}},
			{"Condition?clinical-status:below=" + vs(clinicalCS+"|no-such-code"), []string{"no-such-code", clinicalCS}},
			{"Condition?clinical-status:below=" + vs("http://example.org/unknown-system|x"), []string{"no CodeSystem with url http://example.org/unknown-system"}},
			{"Condition?clinical-status:below=" + vs("http://example.org/fhir/CodeSystem/big|c0"), nil}, // fine: c0 alone
			{"Condition?clinical-status:in=not%20a%20url", []string{"not a url"}},
		} {
			t.Run(tc.query, func(t *testing.T) {
				res := c.do(http.MethodGet, "/"+tc.query, nil)
				if tc.parts == nil {
					if res.status != http.StatusOK {
						t.Fatalf("%d %.300s", res.status, res.body)
					}
					return
				}
				wantOutcome(t, res, tc.parts...)
			})
		}
		// 10,000 codes after the exclude: at the limit, accepted, bound as one
		// list parameter whatever the backend's bind-parameter limit.
		res := c.do(http.MethodGet, "/Condition?clinical-status:in="+vs("http://example.org/fhir/ValueSet/big-minus")+
			"&clinical-status:not-in="+vs("http://example.org/fhir/ValueSet/big-minus"), nil)
		if res.status != http.StatusOK {
			t.Fatalf("expansion at the limit: %d %.300s", res.status, res.body)
		}
		// A conditional update with an unknown value set is refused too.
		res = c.do(http.MethodPut, "/Condition?clinical-status:in="+vs("http://example.org/fhir/ValueSet/unknown"),
			[]byte(`{"resourceType":"Condition","subject":{"reference":"Patient/p"}}`))
		wantOutcome(t, res, "not stored")
	})
}

// newTermClient is a test server offering the terminology operations.
func newTermClient(t *testing.T, st resources.Store) *client {
	parser, err := resources.NewParser()
	if err != nil {
		t.Fatal(err)
	}
	ops := operations.NewRegistry()
	for _, op := range []operations.Operation{operations.ValueSetExpand, operations.CodeSystemLookup, operations.CodeSystemSubsumes} {
		if err := ops.Register(op); err != nil {
			t.Fatal(err)
		}
	}
	srv, err := server.New(server.Config{Store: st, Parser: parser, Logger: testLogger(t), Operations: ops,
		AuthDisabled: true, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return &client{t: t, base: ts.URL, hc: ts.Client()}
}

func TestTerminologyOperations(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			c := newTermClient(t, b.open(t))
			loadCoreTerminology(t, c, "CodeSystem-condition-clinical.json", "ValueSet-condition-clinical.json",
				"CodeSystem-v3-ActCode.json", "ValueSet-v3-ActEncounterCode.json")
			expansion := func(res result) []string {
				t.Helper()
				var vs struct {
					ResourceType string
					URL          string
					Expansion    struct {
						Total    int
						Contains []struct{ System, Code string }
					}
				}
				if res.status != http.StatusOK || json.Unmarshal(res.body, &vs) != nil || vs.ResourceType != "ValueSet" {
					t.Fatalf("%d %.400s", res.status, res.body)
				}
				var codes []string
				for _, c := range vs.Expansion.Contains {
					codes = append(codes, c.Code)
				}
				sort.Strings(codes)
				if vs.Expansion.Total != len(codes) {
					t.Errorf("total %d, %d codes", vs.Expansion.Total, len(codes))
				}
				return codes
			}
			enc := []string{"ACUTE", "AMB", "EMER", "FLD", "HH", "IMP", "NONAC", "OBSENC", "PRENC", "SS", "VR"}
			got := expansion(c.do(http.MethodGet, "/ValueSet/$expand?url="+url.QueryEscape("http://terminology.hl7.org/ValueSet/v3-ActEncounterCode"), nil))
			if !slices.Equal(got, enc) {
				t.Errorf("$expand?url: %v", got)
			}
			// instance level, on a ValueSet including another
			put(t, c, "/ValueSet/enc", valueSet("enc", `{"include":[{"valueSet":["http://terminology.hl7.org/ValueSet/v3-ActEncounterCode"]}]}`))
			got = expansion(c.do(http.MethodGet, "/ValueSet/enc/$expand", nil))
			if !slices.Equal(got, enc) {
				t.Errorf("instance $expand: %v", got)
			}
			// POST with the ValueSet in the body
			body := `{"resourceType":"Parameters","parameter":[{"name":"valueSet","resource":` +
				valueSet("inline", `{"include":[{"system":"`+clinicalCS+`","filter":[{"property":"concept","op":"is-a","value":"inactive"}]}]}`) + `}]}`
			got = expansion(c.do(http.MethodPost, "/ValueSet/$expand", []byte(body)))
			if !slices.Equal(got, []string{"inactive", "remission", "resolved"}) {
				t.Errorf("POST $expand: %v", got)
			}
			wantOutcome(t, c.do(http.MethodGet, "/ValueSet/$expand?url="+url.QueryEscape("http://example.org/none"), nil), "http://example.org/none", "not stored")
			wantOutcome(t, c.do(http.MethodGet, "/ValueSet/$expand", nil), "url")

			res := c.do(http.MethodGet, "/CodeSystem/$lookup?system="+url.QueryEscape(actCodeCS)+"&code=IMP", nil)
			for _, want := range []string{`"inpatient encounter"`, `"valueCode":"ACUTE"`, `"valueCode":"_ActEncounterCode"`} {
				if res.status != http.StatusOK || !strings.Contains(string(res.body), want) {
					t.Errorf("$lookup lacks %s: %d %.400s", want, res.status, res.body)
				}
			}
			wantOutcome(t, c.do(http.MethodGet, "/CodeSystem/$lookup?system="+url.QueryEscape(actCodeCS)+"&code=NOPE", nil), "NOPE")
			wantOutcome(t, c.do(http.MethodGet, "/CodeSystem/$lookup?code=IMP", nil), "system")

			for _, tc := range []struct{ a, b, want string }{{"active", "relapse", "subsumes"}, {"relapse", "active", "subsumed-by"},
				{"active", "active", "equivalent"}, {"active", "resolved", "not-subsumed"}} {
				res := c.do(http.MethodGet, "/CodeSystem/$subsumes?system="+url.QueryEscape(clinicalCS)+"&codeA="+tc.a+"&codeB="+tc.b, nil)
				if res.status != http.StatusOK || !strings.Contains(string(res.body), `"valueCode":"`+tc.want+`"`) {
					t.Errorf("$subsumes %s %s: %d %.300s", tc.a, tc.b, res.status, res.body)
				}
			}
			meta := c.do(http.MethodGet, "/metadata", nil)
			for _, op := range []string{"ValueSet-expand", "CodeSystem-lookup", "CodeSystem-subsumes"} {
				if !strings.Contains(string(meta.body), "http://hl7.org/fhir/OperationDefinition/"+op) {
					t.Errorf("the CapabilityStatement lacks %s", op)
				}
			}
		})
	}
}
