package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/meizhou-yiyang/yiyang/server"
)

// The leakage matrix: a patient-context token for patient A (alpha-p) tries
// every access path of the API on data of patient B (bravo-p, every id and
// name of B's contains "bravo"). Nothing of B's may come back and nothing of
// B's may change, on both backends. The cases are keyed by route, and the
// test fails when the server has a route without a case, so a new access
// path cannot be added without one.

// leakFixture is the data: A and B with Encounters and Observations, a
// Practitioner shared by both, and references across the two records (A's
// Observation has B's as a member; B's second Observation points at A's
// Encounter) so that includes, revincludes and chains would cross over if
// they were not confined.
var leakFixture = []fixture{
	{"/Patient/alpha-p", `{"resourceType":"Patient","id":"alpha-p","identifier":[{"system":"urn:t","value":"alpha-id"}],"name":[{"family":"Alpha"}],"gender":"female"}`},
	{"/Patient/bravo-p", `{"resourceType":"Patient","id":"bravo-p","identifier":[{"system":"urn:t","value":"bravo-id"}],"name":[{"family":"Bravo"}],"gender":"female"}`},
	{"/Practitioner/pr-1", `{"resourceType":"Practitioner","id":"pr-1","name":[{"family":"Chen"}]}`},
	{"/Practitioner/pr-2", `{"resourceType":"Practitioner","id":"pr-2","name":[{"family":"Zhou"}]}`},
	{"/Encounter/alpha-enc", `{"resourceType":"Encounter","id":"alpha-enc","status":"finished","class":{"code":"AMB"},"subject":{"reference":"Patient/alpha-p"},"participant":[{"individual":{"reference":"Practitioner/pr-1"}}]}`},
	{"/Encounter/bravo-enc", `{"resourceType":"Encounter","id":"bravo-enc","status":"finished","class":{"code":"AMB"},"subject":{"reference":"Patient/bravo-p"},"participant":[{"individual":{"reference":"Practitioner/pr-2"}}]}`},
	{"/Observation/bravo-obs", `{"resourceType":"Observation","id":"bravo-obs","identifier":[{"system":"urn:t","value":"bravo-obs-id"}],"status":"final","category":[{"coding":[{"code":"vital-signs"}]}],"code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},"subject":{"reference":"Patient/bravo-p"},"encounter":{"reference":"Encounter/bravo-enc"},"performer":[{"reference":"Practitioner/pr-2"}],"valueQuantity":{"value":77,"unit":"/min","system":"http://unitsofmeasure.org","code":"/min"}}`},
	{"/Observation/bravo-obs2", `{"resourceType":"Observation","id":"bravo-obs2","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},"subject":{"reference":"Patient/bravo-p"},"encounter":{"reference":"Encounter/alpha-enc"},"valueQuantity":{"value":78,"unit":"/min","system":"http://unitsofmeasure.org","code":"/min"}}`},
	{"/Observation/alpha-obs", `{"resourceType":"Observation","id":"alpha-obs","identifier":[{"system":"urn:t","value":"alpha-obs-id"}],"status":"final","category":[{"coding":[{"code":"vital-signs"}]}],"code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},"subject":{"reference":"Patient/alpha-p"},"encounter":{"reference":"Encounter/alpha-enc"},"performer":[{"reference":"Practitioner/pr-1"}],"hasMember":[{"reference":"Observation/bravo-obs"}],"valueQuantity":{"value":70,"unit":"/min","system":"http://unitsofmeasure.org","code":"/min"}}`},
	{"/Condition/bravo-cond", `{"resourceType":"Condition","id":"bravo-cond","code":{"text":"bravo secret"},"subject":{"reference":"Patient/bravo-p"}}`},
	// Filed under B, then corrected to A: A may see the second version only.
	{"/Observation/refiled", `{"resourceType":"Observation","id":"refiled","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/bravo-p"}}`},
	{"/Observation/refiled", `{"resourceType":"Observation","id":"refiled","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/alpha-p"}}`},
	// Types outside the R4 Patient compartment that hold a patient's data.
	{"/Task/bravo-task", `{"resourceType":"Task","id":"bravo-task","status":"requested","intent":"order","description":"bravo follow-up","for":{"reference":"Patient/bravo-p"}}`},
	{"/Device/bravo-dev", `{"resourceType":"Device","id":"bravo-dev","patient":{"reference":"Patient/bravo-p"}}`},
	{"/Binary/bravo-bin", `{"resourceType":"Binary","id":"bravo-bin","contentType":"text/plain","securityContext":{"reference":"Patient/bravo-p"},"data":"YnJhdm8gZGlzY2hhcmdlIGxldHRlcg=="}`},
}

// leakCase tries one access path as patient A. want lists ids of A's that
// must come back (positive control); the response must hold nothing of B's.
type leakCase struct {
	route, name  string
	method, path string
	body         string
	headers      []string
	want         []string
	// deny lists resources that must not come back although they are not
	// B's: they would prove that B's data matched (existence probes).
	deny []string
	// status, when set, is the expected status.
	status int
}

var bravoObsForA = `{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/alpha-p"}}`
var bravoObsForBByA = `{"resourceType":"Observation","status":"final","code":{"text":"bravo planted"},"subject":{"reference":"Patient/bravo-p"},"performer":[{"reference":"Patient/alpha-p"}]}`
var bravoObsForB = `{"resourceType":"Observation","status":"final","code":{"text":"bravo new"},"subject":{"reference":"Patient/bravo-p"}}`

func leakCases() []leakCase {
	tx := func(typ string, entries ...string) string { return string(bundleOf(typ, entries...)) }
	return []leakCase{
		{route: "GET /metadata", name: "capabilities", method: "GET", path: "/metadata"},

		{route: "POST /", name: "batch reads", method: "POST", path: "/", body: tx("batch",
			entry("GET", "Patient/bravo-p", "", ""), entry("GET", "Observation/bravo-obs", "", ""),
			entry("GET", "Observation?subject=Patient/bravo-p", "", ""), entry("GET", "Observation/bravo-obs/_history", "", ""),
			entry("GET", "Observation/bravo-obs/_history/1", "", ""), entry("GET", "Patient/bravo-p/$everything", "", ""),
			entry("GET", "Observation/alpha-obs", "", "")), want: []string{"alpha-obs"}},
		{route: "POST /", name: "transaction update of B's", method: "POST", path: "/", body: tx("transaction",
			entry("PUT", "Observation/bravo-obs", "", strings.Replace(bravoObsForA, `"status"`, `"id":"bravo-obs","status"`, 1)))},
		{route: "POST /", name: "transaction create for B", method: "POST", path: "/", body: tx("transaction",
			entry("POST", "Observation", "", bravoObsForB)), status: http.StatusForbidden},
		{route: "POST /", name: "transaction conditional reference to B", method: "POST", path: "/", body: tx("transaction",
			entry("POST", "Observation", "", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient?identifier=urn:t|bravo-id"}}`))},
		{route: "POST /", name: "transaction delete and patch of B's", method: "POST", path: "/", body: tx("transaction",
			entry("DELETE", "Observation/bravo-obs", "", ""), entry("DELETE", "Observation?subject=Patient/bravo-p", "", ""))},

		{route: "GET /", name: "system search by id", method: "GET", path: "/?_id=bravo-p,bravo-obs,alpha-p", want: []string{"alpha-p"}},
		{route: "GET /", name: "system search all", method: "GET", path: "/?_count=1000&_total=accurate", want: []string{"alpha-p", "alpha-obs", "pr-1"}},
		{route: "GET /_history", name: "system history", method: "GET", path: "/_history?_count=1000", want: []string{"alpha-obs"}},
		{route: "GET /_jobs/{id}", name: "job status", method: "GET", path: "/_jobs/bravo-job", status: http.StatusForbidden},

		{route: "POST /{type}", name: "create for B", method: "POST", path: "/Observation", body: bravoObsForB, status: http.StatusForbidden},
		// In A's compartment through performer or asserter, and in B's through subject.
		{route: "POST /{type}", name: "create for B with A as performer", method: "POST", path: "/Observation", body: bravoObsForBByA, status: http.StatusForbidden},
		{route: "POST /{type}", name: "create for B with A as asserter", method: "POST", path: "/Condition",
			body: `{"resourceType":"Condition","code":{"text":"bravo planted"},"subject":{"reference":"Patient/bravo-p"},"asserter":{"reference":"Patient/alpha-p"}}`, status: http.StatusForbidden},
		{route: "POST /{type}", name: "conditional create matching B's", method: "POST", path: "/Observation", body: bravoObsForA,
			headers: []string{"If-None-Exist", "identifier=urn:t|bravo-obs-id"}, status: http.StatusCreated},

		{route: "GET /{type}", name: "search by B's subject", method: "GET", path: "/Observation?subject=Patient/bravo-p"},
		{route: "GET /{type}", name: "B's Tasks", method: "GET", path: "/Task?patient=bravo-p"},
		{route: "GET /{type}", name: "B's Devices", method: "GET", path: "/Device?patient=Patient/bravo-p"},
		{route: "GET /{type}", name: "search by patient id", method: "GET", path: "/Observation?patient=bravo-p"},
		{route: "GET /{type}", name: "search by code", method: "GET", path: "/Observation?code=http://loinc.org|8867-4&_total=accurate", want: []string{"alpha-obs"}},
		{route: "GET /{type}", name: "search by value", method: "GET", path: "/Observation?value-quantity=gt1&_sort=-value-quantity", want: []string{"alpha-obs"}},
		{route: "GET /{type}", name: "summary count", method: "GET", path: "/Observation?_summary=count"},
		{route: "GET /{type}", name: "Patient by name", method: "GET", path: "/Patient?name=Bravo"},
		{route: "GET /{type}", name: "Patient by link", method: "GET", path: "/Patient?link=Patient/alpha-p"},
		{route: "GET /{type}", name: "Patient by _id", method: "GET", path: "/Patient?_id=bravo-p"},
		{route: "GET /{type}", name: "chain to B's name", method: "GET", path: "/Observation?subject:Patient.name=Bravo"},
		{route: "GET /{type}", name: "chain into B's Observation", method: "GET", path: "/Observation?has-member:Observation.value-quantity=77", deny: []string{"alpha-obs"}},
		{route: "GET /{type}", name: "chain depth 2", method: "GET", path: "/Observation?has-member:Observation.subject:Patient.name=Bravo", deny: []string{"alpha-obs"}},
		{route: "GET /{type}", name: "chain depth 2 via Encounter", method: "GET", path: "/Observation?encounter.subject:Patient.name=Bravo"},
		{route: "GET /{type}", name: "chain from shared type", method: "GET", path: "/Encounter?participant:Practitioner.name=Zhou"},
		{route: "GET /{type}", name: "_has on shared type", method: "GET", path: "/Practitioner?_has:Observation:performer:subject=Patient/bravo-p", deny: []string{"pr-2"}},
		{route: "GET /{type}", name: "_has existence probe", method: "GET", path: "/Practitioner?_id=pr-2&_has:Encounter:participant:status=finished", deny: []string{"pr-2"}},
		{route: "GET /{type}", name: "_has onto A's Encounter", method: "GET", path: "/Encounter?_has:Observation:encounter:value-quantity=78", deny: []string{"alpha-enc"}},
		{route: "GET /{type}", name: "nested _has", method: "GET", path: "/Practitioner?_has:Encounter:participant:_has:Observation:encounter:value-quantity=77", deny: []string{"pr-2"}},
		{route: "GET /{type}", name: "_include of B's member", method: "GET", path: "/Observation?_id=alpha-obs&_include=Observation:has-member", want: []string{"alpha-obs"}},
		{route: "GET /{type}", name: "_include wildcard iterate", method: "GET", path: "/Observation?_id=alpha-obs&_include=Observation:*&_include:iterate=Observation:*", want: []string{"alpha-obs", "alpha-enc"}},
		{route: "GET /{type}", name: "_revinclude onto A's Encounter", method: "GET", path: "/Encounter?_id=alpha-enc&_revinclude=Observation:encounter", want: []string{"alpha-enc", "alpha-obs"}},
		{route: "GET /{type}", name: "_revinclude wildcard from shared", method: "GET", path: "/Practitioner?_revinclude=Observation:*&_revinclude=Encounter:*&_revinclude:iterate=Observation:encounter", want: []string{"pr-1", "alpha-obs"}},
		{route: "GET /{type}", name: "_revinclude of Patient", method: "GET", path: "/Patient?_revinclude=Patient:link&_revinclude=Condition:subject", want: []string{"alpha-p"}},
		{route: "GET /{type}", name: "sensitive Condition", method: "GET", path: "/Condition?code:text=secret"},
		{route: "POST /{type}/_search", name: "form search", method: "POST", path: "/Observation/_search", body: "subject=Patient/bravo-p&_include=Observation:subject",
			headers: []string{"Content-Type", "application/x-www-form-urlencoded"}},

		{route: "PUT /{type}", name: "conditional update matching B's", method: "PUT", path: "/Observation?identifier=urn:t|bravo-obs-id", body: bravoObsForA},
		{route: "DELETE /{type}", name: "conditional delete of B's", method: "DELETE", path: "/Observation?subject=Patient/bravo-p"},
		{route: "DELETE /{type}", name: "conditional delete by code", method: "DELETE", path: "/Condition?subject=Patient/bravo-p"},

		{route: "POST /{type}/{id}", name: "type operation", method: "POST", path: "/Observation/$validate", body: bravoObsForB},
		{route: "GET /{type}/{id}/{op}", name: "$everything of B", method: "GET", path: "/Patient/bravo-p/$everything", status: http.StatusNotFound},
		{route: "GET /{type}/{id}/{op}", name: "$everything of A", method: "GET", path: "/Patient/alpha-p/$everything?_count=100", want: []string{"alpha-p", "alpha-obs", "alpha-enc"}},
		{route: "GET /{type}/{id}/{op}", name: "compartment of B", method: "GET", path: "/Patient/bravo-p/Observation"},
		{route: "GET /{type}/{id}/{op}", name: "compartment of B, all", method: "GET", path: "/Patient/bravo-p/*"},
		{route: "GET /{type}/{id}/{op}", name: "Encounter compartment", method: "GET", path: "/Encounter/alpha-enc/Observation", want: []string{"alpha-obs"}},
		{route: "POST /{type}/{id}/{op}", name: "$everything of B by POST", method: "POST", path: "/Patient/bravo-p/$everything", body: `{"resourceType":"Parameters"}`, status: http.StatusNotFound},

		{route: "GET /{type}/_history", name: "type history", method: "GET", path: "/Observation/_history?_count=1000", want: []string{"alpha-obs"}},
		{route: "GET /{type}/_history", name: "Patient history", method: "GET", path: "/Patient/_history", want: []string{"alpha-p"}},
		{route: "GET /{type}/{id}", name: "read B", method: "GET", path: "/Patient/bravo-p", status: http.StatusNotFound},
		{route: "GET /{type}/{id}", name: "read B's Observation", method: "GET", path: "/Observation/bravo-obs", status: http.StatusNotFound},
		{route: "GET /{type}/{id}", name: "read A's", method: "GET", path: "/Observation/alpha-obs", status: http.StatusOK, want: []string{"alpha-obs"}},
		{route: "GET /{type}/{id}", name: "read shared", method: "GET", path: "/Practitioner/pr-1", status: http.StatusOK, want: []string{"pr-1"}},
		{route: "GET /{type}/{id}", name: "read B's Task", method: "GET", path: "/Task/bravo-task", status: http.StatusNotFound},
		{route: "GET /{type}/{id}", name: "read B's Binary", method: "GET", path: "/Binary/bravo-bin", status: http.StatusNotFound},
		{route: "PUT /{type}/{id}", name: "update B's Task", method: "PUT", path: "/Task/bravo-task",
			body: `{"resourceType":"Task","id":"bravo-task","status":"cancelled","intent":"order","for":{"reference":"Patient/alpha-p"}}`, status: http.StatusForbidden},
		{route: "PUT /{type}/{id}", name: "update shared", method: "PUT", path: "/Practitioner/pr-2", body: `{"resourceType":"Practitioner","id":"pr-2","name":[{"family":"Changed"}]}`, status: http.StatusForbidden},
		{route: "DELETE /{type}/{id}", name: "delete B's Binary", method: "DELETE", path: "/Binary/bravo-bin", status: http.StatusNoContent},
		{route: "PUT /{type}/{id}", name: "update B's", method: "PUT", path: "/Observation/bravo-obs", body: strings.Replace(bravoObsForA, `"status"`, `"id":"bravo-obs","status"`, 1), status: http.StatusForbidden},
		{route: "PUT /{type}/{id}", name: "move A's to B", method: "PUT", path: "/Observation/alpha-obs", body: strings.Replace(bravoObsForB, `"status"`, `"id":"alpha-obs","status"`, 1), status: http.StatusForbidden},
		{route: "PUT /{type}/{id}", name: "move A's to B with A as performer", method: "PUT", path: "/Observation/alpha-obs", body: strings.Replace(bravoObsForBByA, `"status"`, `"id":"alpha-obs","status"`, 1), status: http.StatusForbidden},
		{route: "PATCH /{type}/{id}", name: "patch A's into B's record", method: "PATCH", path: "/Observation/alpha-obs",
			body:    `[{"op":"replace","path":"/subject","value":{"reference":"Patient/bravo-p"}},{"op":"add","path":"/performer/-","value":{"reference":"Patient/alpha-p"}}]`,
			headers: []string{"Content-Type", "application/json-patch+json"}, status: http.StatusForbidden},
		{route: "PUT /{type}/{id}", name: "update B's Patient", method: "PUT", path: "/Patient/bravo-p", body: `{"resourceType":"Patient","id":"bravo-p","active":false}`, status: http.StatusForbidden},
		{route: "PATCH /{type}/{id}", name: "patch B's", method: "PATCH", path: "/Observation/bravo-obs", body: `[{"op":"replace","path":"/status","value":"amended"}]`,
			headers: []string{"Content-Type", "application/json-patch+json"}, status: http.StatusNotFound},
		// Deleting what is not there succeeds without effect (the state check at the end proves it).
		{route: "DELETE /{type}/{id}", name: "delete B's", method: "DELETE", path: "/Observation/bravo-obs", status: http.StatusNoContent},
		{route: "GET /{type}/{id}/_history", name: "history of B's", method: "GET", path: "/Observation/bravo-obs/_history", status: http.StatusNotFound},
		{route: "GET /{type}/{id}/_history/{vid}", name: "vread of B's", method: "GET", path: "/Observation/bravo-obs/_history/1", status: http.StatusNotFound},
		{route: "GET /{type}/{id}/_history/{vid}", name: "vread of B", method: "GET", path: "/Patient/bravo-p/_history/1", status: http.StatusNotFound},
		{route: "GET /{type}/{id}/_history/{vid}", name: "vread of the version filed under B", method: "GET", path: "/Observation/refiled/_history/1", status: http.StatusNotFound},
		{route: "GET /{type}/{id}/_history/{vid}", name: "vread of the version corrected to A", method: "GET", path: "/Observation/refiled/_history/2", status: http.StatusOK, want: []string{"refiled"}},
	}
}

func TestLeakageMatrix(t *testing.T) {
	iss, v := testIssuer(t)
	cases := leakCases()
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			srv, c := serve(t, server.Config{Store: b.open(t), Auth: v, Operations: newOperations(t)})
			// Every route of the API has a case.
			for _, route := range srv.Routes() {
				if !slices.ContainsFunc(cases, func(c leakCase) bool { return c.route == route }) {
					t.Errorf("route %s has no case in the leakage matrix", route)
				}
			}
			admin := "Bearer " + iss.Token(t, "admin", "user/*.cruds", nil)
			c.putAll(admin, leakFixture...)
			before := bravoState(t, c, admin)
			patientA := "Bearer " + iss.Token(t, "alpha-app", "patient/*.cruds launch/patient", map[string]any{"patient": "alpha-p"})
			for _, lc := range cases {
				t.Run(lc.route+" "+lc.name, func(t *testing.T) {
					h := append([]string{"Authorization", patientA}, lc.headers...)
					var body []byte
					if lc.body != "" {
						body = []byte(lc.body)
					}
					res := c.do(lc.method, lc.path, body, h...)
					if res.status >= 500 {
						t.Fatalf("status %d: %s", res.status, res.body)
					}
					if lc.status != 0 && res.status != lc.status {
						t.Fatalf("status %d, want %d: %.600s", res.status, lc.status, res.body)
					}
					if res.status >= 400 && !strings.Contains(string(res.body), `"OperationOutcome"`) {
						t.Fatalf("error without OperationOutcome: %s", res.body)
					}
					got := returned(t, res.body)
					for _, id := range got {
						if strings.Contains(strings.ToLower(id), "bravo") {
							t.Errorf("patient B's data came back: %s\n%.1500s", id, res.body)
						}
					}
					for _, id := range lc.deny {
						if slices.Contains(got, id) {
							t.Errorf("%s came back: B's data decided the result\n%.1500s", id, res.body)
						}
					}
					for _, id := range lc.want {
						if !slices.Contains(got, id) {
							t.Errorf("A's %s missing (the confinement hid too much): got %v", id, got)
						}
					}
				})
			}
			// An update of B's resource and of an id nobody holds get the
			// same answer: no existence oracle.
			put := func(id string) string {
				body := strings.Replace(bravoObsForA, `"status"`, `"id":"`+id+`","status"`, 1)
				res := c.do(http.MethodPut, "/Observation/"+id, []byte(body), "Authorization", patientA)
				return fmt.Sprintf("%d %s", res.status, strings.ReplaceAll(string(res.body), id, "ID"))
			}
			if b, n := put("bravo-obs"), put("nobody-holds-this"); b != n || !strings.HasPrefix(b, "403") {
				t.Errorf("update of B's resource and of a free id differ:\n%s\n%s", b, n)
			}
			// _total=estimate under a patient scope is the patient's count,
			// never a planner estimate drawn from everyone's records.
			total := func(mode string) int64 {
				res := c.do(http.MethodGet, "/Observation?_count=1&_total="+mode, nil, "Authorization", patientA)
				return decodeBundle(t, res.body).Total
			}
			if est, acc := total("estimate"), total("accurate"); est != acc || acc < 2 {
				t.Errorf("patient A's _total=estimate %d, accurate %d", est, acc)
			}
			if after := bravoState(t, c, admin); after != before {
				t.Errorf("patient B's data changed:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

// returned lists what a response hands out: the ids of the resource or of
// every resource in a Bundle, at any depth (batch responses nest Bundles),
// and any fullUrl or location that names one of B's. OperationOutcomes
// and Bundle links only echo the request, so they are left out.
func returned(t *testing.T, body []byte) []string {
	t.Helper()
	var v map[string]any
	if len(body) == 0 || json.Unmarshal(body, &v) != nil {
		return nil
	}
	var out []string
	var walk func(r map[string]any)
	walk = func(r map[string]any) {
		switch r["resourceType"] {
		case "OperationOutcome", "Parameters", "CapabilityStatement", nil:
			return
		case "Bundle":
			entries, _ := r["entry"].([]any)
			for _, e := range entries {
				e, _ := e.(map[string]any)
				if u, _ := e["fullUrl"].(string); strings.Contains(strings.ToLower(u), "bravo") {
					out = append(out, "fullUrl "+u)
				}
				if res, ok := e["resource"].(map[string]any); ok {
					walk(res)
				}
				if resp, ok := e["response"].(map[string]any); ok {
					if loc, _ := resp["location"].(string); strings.Contains(strings.ToLower(loc), "bravo") {
						out = append(out, "location "+loc)
					}
				}
			}
			return
		}
		// A's resources may refer to B's (A's Observation has B's as a
		// member): a reference is A's data; B's resources are what must not
		// come back.
		id, _ := r["id"].(string)
		out = append(out, id)
	}
	walk(v)
	return out
}

// bravoState is the versions of all of B's resources, read with full access.
func bravoState(t *testing.T, c *client, admin string) string {
	t.Helper()
	var parts []string
	for _, f := range leakFixture {
		p := f.path
		if !strings.Contains(p, "bravo") {
			continue
		}
		res := c.do(http.MethodGet, p, nil, "Authorization", admin)
		parts = append(parts, fmt.Sprintf("%s:%d:%s", p, res.status, res.header.Get("ETag")))
	}
	res := c.do(http.MethodGet, "/Observation?subject="+url.QueryEscape("Patient/bravo-p")+"&_total=accurate", nil, "Authorization", admin)
	parts = append(parts, fmt.Sprintf("obs:%d", decodeBundle(t, res.body).Total))
	return strings.Join(parts, " ")
}

// TestGranularScopes: SMART v2 restrictions (?category=) limit reads,
// searches, includes and writes inside the queries, alone and together with
// a patient context, on both backends.
func TestGranularScopes(t *testing.T) {
	iss, v := testIssuer(t)
	obs := func(id, patient, category string) string {
		return fmt.Sprintf(`{"resourceType":"Observation","id":%q,"status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":%q}]}],"code":{"text":"x"},"subject":{"reference":"Patient/%s"}}`, id, category, patient)
	}
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			_, c := serve(t, server.Config{Store: b.open(t), Auth: v})
			admin := "Bearer " + iss.Token(t, "admin", "user/*.cruds", nil)
			for _, p := range []string{"pa", "pb"} {
				c.do(http.MethodPut, "/Patient/"+p, fmt.Appendf(nil, `{"resourceType":"Patient","id":%q}`, p), "Authorization", admin)
				for _, cat := range []string{"vital-signs", "laboratory"} {
					id := p + "-" + cat
					if res := c.do(http.MethodPut, "/Observation/"+id, []byte(obs(id, p, cat)), "Authorization", admin); res.status != http.StatusCreated {
						t.Fatalf("fixture: %d %s", res.status, res.body)
					}
				}
			}
			vitals := "Bearer " + iss.Token(t, "nurse", "user/Observation.cruds?category=http://terminology.hl7.org/CodeSystem/observation-category|vital-signs user/Patient.rs", nil)
			patientVitals := "Bearer " + iss.Token(t, "app", "patient/Observation.rs?category=vital-signs patient/Patient.rs", map[string]any{"patient": "pa"})
			ids := func(res result) []string { return sortedIDs(t, res.body) }
			for _, tc := range []struct {
				name, token, path string
				want              []string
			}{
				{"search under vital-signs", vitals, "/Observation", []string{"pa-vital-signs", "pb-vital-signs"}},
				{"search for laboratory under vital-signs", vitals, "/Observation?category=laboratory", nil},
				{"revinclude under vital-signs", vitals, "/Patient?_id=pa&_revinclude=Observation:subject", []string{"pa", "pa-vital-signs"}},
				{"patient and vital-signs", patientVitals, "/Observation", []string{"pa-vital-signs"}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					res := c.do(http.MethodGet, tc.path, nil, "Authorization", tc.token)
					if res.status != http.StatusOK {
						t.Fatalf("%d %s", res.status, res.body)
					}
					if got := ids(res); !slices.Equal(got, tc.want) {
						t.Fatalf("got %v, want %v", got, tc.want)
					}
				})
			}
			for _, tc := range []struct {
				name, token, method, path, body string
				status                          int
			}{
				{"read laboratory under vital-signs", vitals, "GET", "/Observation/pa-laboratory", "", http.StatusNotFound},
				{"read vital-signs", vitals, "GET", "/Observation/pb-vital-signs", "", http.StatusOK},
				{"patient reads other patient's vitals", patientVitals, "GET", "/Observation/pb-vital-signs", "", http.StatusNotFound},
				{"create laboratory under vital-signs", vitals, "POST", "/Observation", obs("new-lab", "pa", "laboratory"), http.StatusForbidden},
				{"relabel vital-signs as laboratory", vitals, "PUT", "/Observation/pa-vital-signs", obs("pa-vital-signs", "pa", "laboratory"), http.StatusForbidden},
				{"update vital-signs", vitals, "PUT", "/Observation/pa-vital-signs", obs("pa-vital-signs", "pa", "vital-signs"), http.StatusOK},
				{"update-as-create under a restriction", vitals, "PUT", "/Observation/new-vs", obs("new-vs", "pa", "vital-signs"), http.StatusForbidden},
				{"create vital-signs", vitals, "POST", "/Observation", obs("new-vs", "pa", "vital-signs"), http.StatusCreated},
			} {
				t.Run(tc.name, func(t *testing.T) {
					var body []byte
					if tc.body != "" {
						body = []byte(tc.body)
					}
					res := c.do(tc.method, tc.path, body, "Authorization", tc.token)
					if res.status != tc.status {
						t.Fatalf("status %d, want %d: %s", res.status, tc.status, res.body)
					}
				})
			}
		})
	}
}

// TestAuditLeakage: the audit log keeps everyone's trail; a patient-context
// token for A sees only the events whose patient is A, by every path that
// reaches AuditEvents, on both backends. Events about B are made by an
// admin reading B's Patient and by an app in B's context.
func TestAuditLeakage(t *testing.T) {
	iss, v := testIssuer(t)
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			_, c := serve(t, server.Config{Store: b.open(t), Auth: v, Operations: newOperations(t), Audit: &server.AuditConfig{Sync: true}})
			admin := "Bearer " + iss.Token(t, "admin", "user/*.cruds", nil)
			c.putAll(admin, leakFixture...)
			patientB := "Bearer " + iss.Token(t, "bravo-app", "patient/*.cruds launch/patient", map[string]any{"patient": "bravo-p"})
			c.do(http.MethodGet, "/Patient/bravo-p", nil, "Authorization", admin)
			c.do(http.MethodGet, "/Patient/alpha-p", nil, "Authorization", admin)
			c.do(http.MethodGet, "/Observation?code=8867-4", nil, "Authorization", patientB)
			c.do(http.MethodGet, "/Patient/bravo-p", nil) // refused: no token
			var bravoEvent string
			res := c.do(http.MethodGet, "/AuditEvent?patient=bravo-p&_count=1", nil, "Authorization", admin)
			if es := decodeBundle(t, res.body).Entry; len(es) == 1 {
				var r struct{ ID string }
				json.Unmarshal(es[0].Resource, &r)
				bravoEvent = r.ID
			} else {
				t.Fatalf("no AuditEvent about B to hide: %s", res.body)
			}
			patientA := "Bearer " + iss.Token(t, "alpha-app", "patient/*.cruds launch/patient", map[string]any{"patient": "alpha-p"})
			for _, lc := range []struct {
				path   string
				status int
				wantA  bool // A's own events come back
			}{
				{"/AuditEvent?_count=1000", 200, true},
				{"/AuditEvent?patient=bravo-p", 200, false},
				{"/AuditEvent?entity=Patient/bravo-p", 200, false},
				{"/AuditEvent?agent=Patient/bravo-p&_total=accurate", 200, false},
				{"/AuditEvent?_summary=count&patient=bravo-p", 200, false},
				{"/AuditEvent?_total=estimate&_count=1", 200, false},
				{"/AuditEvent/" + bravoEvent, 404, false},
				{"/AuditEvent/" + bravoEvent + "/_history", 404, false},
				{"/AuditEvent/" + bravoEvent + "/_history/1", 404, false},
				{"/AuditEvent/_history?_count=1000", 200, true},
				{"/Patient/bravo-p/AuditEvent", 200, false},
				{"/Patient/alpha-p/AuditEvent?_count=1000", 200, true},
				{"/Patient?_revinclude=AuditEvent:patient&_count=1000", 200, true},
				{"/Patient?_has:AuditEvent:patient:outcome=0", 200, false},
				{"/AuditEvent?_include=AuditEvent:patient&_include=AuditEvent:entity&_count=1000", 200, true},
				{"/?_type=AuditEvent", 0, false},
			} {
				res := c.do(http.MethodGet, lc.path, nil, "Authorization", patientA)
				if res.status >= 500 || lc.status != 0 && res.status != lc.status {
					t.Errorf("%s: status %d, want %d: %.300s", lc.path, res.status, lc.status, res.body)
					continue
				}
				if res.status >= 400 {
					continue
				}
				bundle := decodeBundle(t, res.body)
				sawA := false
				for _, e := range bundle.Entry {
					data := string(e.Resource)
					// An event must not mention B at all; another resource
					// (an include) must not be B's (A's own may point at
					// B's, as alpha-obs does).
					var head struct{ ResourceType, ID string }
					json.Unmarshal(e.Resource, &head)
					if head.ResourceType == "AuditEvent" && strings.Contains(strings.ToLower(data), "bravo") ||
						head.ResourceType != "AuditEvent" && strings.Contains(head.ID, "bravo") {
						t.Errorf("%s: patient B's data came back: %.600s", lc.path, data)
					}
					sawA = sawA || strings.Contains(data, `"resourceType":"AuditEvent"`) && strings.Contains(data, "alpha-p")
				}
				if strings.Contains(lc.path, "patient=bravo-p") && bundle.Total != 0 {
					t.Errorf("%s: total %d tells how many events B has", lc.path, bundle.Total)
				}
				if lc.wantA && !sawA {
					t.Errorf("%s: A's own events missing (the confinement hid too much)", lc.path)
				}
			}
		})
	}
}

// TestGranularWriteRestriction: a token whose reads of a type are open and
// whose writes are restricted (user/Observation.rs
// user/Observation.cud?category=vital-signs) writes only what the write
// restriction admits, and still reads the rest. Both backends.
func TestGranularWriteRestriction(t *testing.T) {
	iss, v := testIssuer(t)
	obs := func(id, category string) string {
		return fmt.Sprintf(`{"resourceType":"Observation",%s"status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":%q}]}],"code":{"text":"x"}}`, id, category)
	}
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			_, c := serve(t, server.Config{Store: b.open(t), Auth: v})
			admin := "Bearer " + iss.Token(t, "admin", "user/*.cruds", nil)
			c.do(http.MethodPut, "/Observation/lab1", []byte(obs(`"id":"lab1",`, "laboratory")), "Authorization", admin)
			c.do(http.MethodPut, "/Observation/vs1", []byte(obs(`"id":"vs1",`, "vital-signs")), "Authorization", admin)
			w := "Bearer " + iss.Token(t, "w", "user/Observation.rs user/Observation.cud?category=vital-signs", nil)
			for _, tc := range []struct {
				method, path, body string
				status             int
			}{
				{"GET", "/Observation/lab1", "", http.StatusOK},
				{"POST", "/Observation", obs("", "laboratory"), http.StatusForbidden},
				{"PUT", "/Observation/lab1", obs(`"id":"lab1",`, "laboratory"), http.StatusForbidden},
				{"PUT", "/Observation/vs1", obs(`"id":"vs1",`, "laboratory"), http.StatusForbidden},
				{"POST", "/Observation", obs("", "vital-signs"), http.StatusCreated},
				{"PUT", "/Observation/vs1", obs(`"id":"vs1",`, "vital-signs"), http.StatusOK},
			} {
				var body []byte
				if tc.body != "" {
					body = []byte(tc.body)
				}
				if res := c.do(tc.method, tc.path, body, "Authorization", w); res.status != tc.status {
					t.Errorf("%s %s: %d, want %d: %s", tc.method, tc.path, res.status, tc.status, res.body)
				}
			}
			c.do(http.MethodDelete, "/Observation/lab1", nil, "Authorization", w)
			if res := c.do(http.MethodGet, "/Observation/lab1", nil, "Authorization", admin); res.status != http.StatusOK || !strings.Contains(res.header.Get("ETag"), `"1"`) {
				t.Errorf("the laboratory Observation was changed or deleted: %d %s", res.status, res.header.Get("ETag"))
			}
		})
	}
}

// TestSharedRecordWrites: a patient writes only what is theirs alone. A
// resource in both A's and B's records (subject B, performer A; a Group of
// both), and B's own Patient even when it links to A, may be read by A's
// app but not changed or deleted by it, by any path; nor may the app
// create Patients. A's own Patient stays A's to edit. Both backends.
func TestSharedRecordWrites(t *testing.T) {
	iss, v := testIssuer(t)
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			_, c := serve(t, server.Config{Store: b.open(t), Auth: v, Operations: newOperations(t)})
			admin := "Bearer " + iss.Token(t, "admin", "user/*.cruds", nil)
			shared := `{"resourceType":"Observation","id":"%s","status":"final","code":{"text":"b"},"subject":{"reference":"Patient/bravo-p"},"performer":[{"reference":"Patient/alpha-p"}]}`
			c.putAll(admin,
				fixture{"/Patient/alpha-p", `{"resourceType":"Patient","id":"alpha-p"}`},
				fixture{"/Patient/bravo-p", `{"resourceType":"Patient","id":"bravo-p"}`},
				fixture{"/Observation/shared-put", fmt.Sprintf(shared, "shared-put")},
				fixture{"/Observation/shared-patch", fmt.Sprintf(shared, "shared-patch")},
				fixture{"/Observation/shared-del", fmt.Sprintf(shared, "shared-del")},
				fixture{"/Group/grp", `{"resourceType":"Group","id":"grp","type":"person","actual":true,"member":[{"entity":{"reference":"Patient/alpha-p"}},{"entity":{"reference":"Patient/bravo-p"}}]}`},
				fixture{"/Patient/linked", `{"resourceType":"Patient","id":"linked","link":[{"other":{"reference":"Patient/alpha-p"},"type":"seealso"}]}`},
			)
			a := "Bearer " + iss.Token(t, "alpha-app", "patient/*.cruds launch/patient", map[string]any{"patient": "alpha-p"})
			for _, tc := range []struct{ method, path, body, ctype string }{
				{"PUT", "/Observation/shared-put", `{"resourceType":"Observation","id":"shared-put","status":"final","code":{"text":"taken"},"subject":{"reference":"Patient/alpha-p"}}`, ""},
				{"PATCH", "/Observation/shared-patch", `[{"op":"remove","path":"/subject"}]`, "application/json-patch+json"},
				{"DELETE", "/Observation/shared-del", "", ""},
				{"DELETE", "/Observation?performer=Patient/alpha-p", "", ""},
				{"DELETE", "/Group/grp", "", ""},
				{"PUT", "/Patient/linked", `{"resourceType":"Patient","id":"linked","name":[{"family":"Hijacked"}],"link":[{"other":{"reference":"Patient/alpha-p"},"type":"seealso"}]}`, ""},
				{"DELETE", "/Patient/linked", "", ""},
			} {
				h := []string{"Authorization", a}
				if tc.ctype != "" {
					h = append(h, "Content-Type", tc.ctype)
				}
				var body []byte
				if tc.body != "" {
					body = []byte(tc.body)
				}
				path := tc.path
				if i := strings.IndexByte(path, '?'); i > 0 {
					path = "/Observation/shared-del"
				}
				before := c.do(http.MethodGet, path, nil, "Authorization", admin)
				res := c.do(tc.method, tc.path, body, h...)
				after := c.do(http.MethodGet, path, nil, "Authorization", admin)
				if after.status != before.status || after.header.Get("ETag") != before.header.Get("ETag") {
					t.Errorf("%s %s by A: %d, and the resource changed (%d %s → %d %s)", tc.method, tc.path, res.status,
						before.status, before.header.Get("ETag"), after.status, after.header.Get("ETag"))
				}
			}
			if res := c.do(http.MethodPost, "/Patient", []byte(`{"resourceType":"Patient","identifier":[{"system":"urn:t","value":"bravo-id"}]}`), "Authorization", a); res.status != http.StatusForbidden {
				t.Errorf("A's app creates a Patient: %d", res.status)
			}
			own := `{"resourceType":"Patient","id":"alpha-p","telecom":[{"system":"phone","value":"1"}],"link":[{"other":{"reference":"Patient/bravo-p"},"type":"seealso"}]}`
			if res := c.do(http.MethodPut, "/Patient/alpha-p", []byte(own), "Authorization", admin); res.status != http.StatusOK {
				t.Fatalf("admin links A to B: %d %s", res.status, res.body)
			}
			if res := c.do(http.MethodPut, "/Patient/alpha-p", []byte(strings.Replace(own, `"1"`, `"2"`, 1)), "Authorization", a); res.status != http.StatusOK {
				t.Errorf("A edits its own Patient, which links to B: %d %s", res.status, res.body)
			}
		})
	}
}

// TestPatientOwnDeletion: after a patient app deletes one of its own
// resources, it reads it as gone (410) and finds the deletion in the
// instance and type history it syncs through; another patient's app still
// finds nothing of it.
func TestPatientOwnDeletion(t *testing.T) {
	iss, v := testIssuer(t)
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			_, c := serve(t, server.Config{Store: b.open(t), Auth: v})
			admin := "Bearer " + iss.Token(t, "admin", "user/*.cruds", nil)
			c.putAll(admin,
				fixture{"/Patient/alpha-p", `{"resourceType":"Patient","id":"alpha-p"}`},
				fixture{"/Patient/bravo-p", `{"resourceType":"Patient","id":"bravo-p"}`},
				fixture{"/Observation/mine", `{"resourceType":"Observation","id":"mine","status":"final","code":{"text":"hr"},"subject":{"reference":"Patient/alpha-p"}}`},
			)
			a := "Bearer " + iss.Token(t, "alpha-app", "patient/*.cruds launch/patient", map[string]any{"patient": "alpha-p"})
			bravo := "Bearer " + iss.Token(t, "bravo-app", "patient/*.cruds launch/patient", map[string]any{"patient": "bravo-p"})
			if res := c.do(http.MethodDelete, "/Observation/mine", nil, "Authorization", a); res.status >= 300 {
				t.Fatalf("A deletes its Observation: %d %s", res.status, res.body)
			}
			if res := c.do(http.MethodGet, "/Observation/mine", nil, "Authorization", a); res.status != http.StatusGone {
				t.Errorf("A reads its deleted Observation: %d %s, want 410", res.status, res.body)
			}
			for _, path := range []string{"/Observation/mine/_history", "/Observation/_history", "/_history"} {
				res := c.do(http.MethodGet, path, nil, "Authorization", a)
				if res.status != http.StatusOK || strings.Count(string(res.body), `"method":"DELETE","url":"Observation/mine"`) != 1 ||
					!strings.Contains(string(res.body), `"id":"mine","meta":{"versionId":"1"`) {
					t.Errorf("A's %s: %d, want the deletion and the version before it:\n%s", path, res.status, res.body)
				}
				if res := c.do(http.MethodGet, path, nil, "Authorization", bravo); strings.Contains(string(res.body), "mine") {
					t.Errorf("B's %s shows A's Observation: %d %s", path, res.status, res.body)
				}
			}
			if res := c.do(http.MethodGet, "/Observation/mine", nil, "Authorization", bravo); res.status != http.StatusNotFound {
				t.Errorf("B reads A's deleted Observation: %d, want 404", res.status)
			}
		})
	}
}

// TestDeletedLabelledHistory: the deletion of a sensitive (PSY) resource is
// as hidden from history as its versions, for a patient app and a nurse
// without the permission.
func TestDeletedLabelledHistory(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			iss, c := servePolicy(t, b, nil)
			admin := "Bearer " + iss.Token(t, "u", "user/*.cruds", map[string]any{"roles": []string{"admin", "sensitive-access"}})
			app := "Bearer " + iss.Token(t, "app", "patient/*.rs launch/patient", map[string]any{"roles": []string{"patient"}, "patient": "alpha-p"})
			nurse := "Bearer " + iss.Token(t, "n", "user/*.rs", map[string]any{"roles": []string{"nurse"}})
			psy := `"meta":{"security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"PSY"}]},`
			c.putAll(admin,
				fixture{"/Patient/alpha-p", `{"resourceType":"Patient","id":"alpha-p"}`},
				fixture{"/Observation/psy-note", `{"resourceType":"Observation","id":"psy-note",` + psy + `"status":"final","code":{"text":"x"},"subject":{"reference":"Patient/alpha-p"}}`},
			)
			if res := c.do(http.MethodDelete, "/Observation/psy-note", nil, "Authorization", admin); res.status >= 300 {
				t.Fatalf("admin deletes: %d %s", res.status, res.body)
			}
			for name, tok := range map[string]string{"patient app": app, "nurse": nurse} {
				if res := c.do(http.MethodGet, "/Observation/_history", nil, "Authorization", tok); res.status != http.StatusOK || strings.Contains(string(res.body), "psy-note") {
					t.Errorf("%s's type history lists the deletion of a sensitive resource it may not see: %d %s", name, res.status, res.body)
				}
			}
			if res := c.do(http.MethodGet, "/Observation/_history", nil, "Authorization", admin); !strings.Contains(string(res.body), `"method":"DELETE","url":"Observation/psy-note"`) {
				t.Errorf("the admin's history lacks the deletion: %d %s", res.status, res.body)
			}
		})
	}
}
