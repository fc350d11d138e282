package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/meizhou-yiyang/yiyang/operations"
	"github.com/meizhou-yiyang/yiyang/server"
	"github.com/meizhou-yiyang/yiyang/server/auth/authtest"
	"github.com/meizhou-yiyang/yiyang/server/policy"
)

// TestRolePolicy: after the scopes, the OPA policy decides by role;
// sensitive resources need sensitive-access or break-the-glass, and
// searches leave them out in the query itself. Both backends.
func TestRolePolicy(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			iss, c := servePolicy(t, b, nil)
			token := func(roles ...string) string { return scopeToken(t, iss, "user/*.cruds", roles...) }
			admin, doctor, nurse := token("admin"), token("doctor"), token("nurse")
			psych := token("doctor", "sensitive-access")
			c.do(http.MethodPut, "/Patient/p1", []byte(`{"resourceType":"Patient","id":"p1"}`), "Authorization", admin)
			c.do(http.MethodPut, "/Condition/flu", []byte(`{"resourceType":"Condition","id":"flu","subject":{"reference":"Patient/p1"},"code":{"text":"influenza"}}`), "Authorization", admin)
			c.do(http.MethodPut, "/Condition/dep", []byte(`{"resourceType":"Condition","id":"dep","meta":{"security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"PSY"}]},"subject":{"reference":"Patient/p1"},"code":{"text":"depression"}}`), "Authorization", token("admin", "sensitive-access"))

			for _, tc := range []struct {
				name, method, path, authz string
				headers                   []string
				status                    int
			}{
				{"doctor reads a condition", "GET", "/Condition/flu", doctor, nil, 200},
				{"nurse may not create a patient", "POST", "/Patient", nurse, nil, 403},
				{"nobody deletes but admin", "DELETE", "/Condition/flu", doctor, nil, 403},
				{"sensitive needs the role", "GET", "/Condition/dep", doctor, nil, 403},
				{"sensitive-access role", "GET", "/Condition/dep", psych, nil, 200},
				{"break the glass", "GET", "/Condition/dep", doctor, []string{server.BreakGlassHeader, "unconscious patient in ED"}, 200},
				{"roleless tokens follow their scopes", "GET", "/Condition/flu", "Bearer " + iss.Token(t, "app", "user/Condition.rs", nil), nil, 200},
			} {
				t.Run(tc.name, func(t *testing.T) {
					h := append([]string{"Authorization", tc.authz}, tc.headers...)
					body := []byte(nil)
					if tc.method == "POST" {
						body = []byte(`{"resourceType":"Patient"}`)
					}
					if res := c.do(tc.method, tc.path, body, h...); res.status != tc.status {
						t.Fatalf("%d, want %d: %s", res.status, tc.status, res.body)
					}
				})
			}
			c.do(http.MethodPut, "/Encounter/e1", []byte(`{"resourceType":"Encounter","id":"e1","status":"finished","class":{"code":"AMB"},"subject":{"reference":"Patient/p1"},"reasonReference":[{"reference":"Condition/dep"}]}`), "Authorization", admin)
			// No other read path shows the doctor the sensitive condition:
			// its history is refused as reading it is; type history,
			// includes, _has and other searches leave it out.
			for _, tc := range []struct {
				path   string
				status int
			}{
				{"/Condition/dep/_history", 403}, {"/Condition/dep/_history/1", 403}, {"/Condition/_history", 200},
				{"/Patient?_id=p1&_revinclude=Condition:subject", 200}, {"/Patient/p1/Condition", 200},
				{"/Condition?_id=flu&_include=Condition:subject&_revinclude:iterate=Condition:subject", 200},
				{"/Patient?_has:Condition:subject:code:text=depression", 200}, {"/Condition?_id=dep", 200},
				{"/Condition?code:text=depression", 200}, {"/Condition?_content=depression", 200},
				{"/Encounter?reason-reference:Condition.code:text=depression", 200},
			} {
				res := c.do(http.MethodGet, tc.path, nil, "Authorization", doctor)
				leak := strings.Contains(string(res.body), `"id":"dep"`)
				if strings.Contains(tc.path, "reason-reference:") {
					// That e1 matches tells that its reason is such a condition.
					leak = strings.Contains(string(res.body), `"id":"e1"`)
				}
				if strings.Contains(tc.path, "_has") {
					// That p1 matches tells that it has such a condition.
					leak = strings.Contains(string(res.body), `"id":"p1"`)
				}
				if leak || res.status != tc.status {
					t.Errorf("GET %s shows the doctor the sensitive condition (%d, want %d): %s", tc.path, res.status, tc.status, res.body)
				}
			}
			// Type history leaves the sensitive version out in its query:
			// a page of one holds the newest version the doctor may see.
			res := c.do(http.MethodGet, "/Condition/_history?_count=1", nil, "Authorization", doctor)
			if n := strings.Count(string(res.body), `"fullUrl"`); n != 1 || !strings.Contains(string(res.body), `"id":"flu"`) {
				t.Errorf("doctor's type history page of one: %d entries, want flu's version: %s", n, res.body)
			}
			// The same paths show it to whom may see it.
			for _, path := range []string{"/Condition/dep/_history", "/Condition/_history", "/Patient?_id=p1&_revinclude=Condition:subject",
				"/Condition?_id=flu&_include=Condition:subject&_revinclude:iterate=Condition:subject",
				"/Patient?_has:Condition:subject:code:text=depression", "/Condition?code:text=depression",
				"/Encounter?reason-reference:Condition.code:text=depression"} {
				want := `"id":"dep"`
				if strings.Contains(path, "reason-reference:") {
					want = `"id":"e1"`
				}
				if strings.Contains(path, "_has") {
					want = `"id":"p1"`
				}
				if res := c.do(http.MethodGet, path, nil, "Authorization", psych); !strings.Contains(string(res.body), want) {
					t.Errorf("GET %s does not show the sensitive condition to sensitive-access: %d %s", path, res.status, res.body)
				}
			}
			// Search leaves sensitive resources out unless allowed.
			count := func(authz string, h ...string) int {
				res := c.do(http.MethodGet, "/Condition?subject=Patient/p1", nil, append([]string{"Authorization", authz}, h...)...)
				return strings.Count(string(res.body), `"resourceType":"Condition"`)
			}
			if n := count(doctor); n != 1 {
				t.Fatalf("doctor's search: %d conditions, want 1", n)
			}
			if n := count(psych); n != 2 {
				t.Fatalf("sensitive-access search: %d, want 2", n)
			}
			if n := count(doctor, server.BreakGlassHeader, "emergency"); n != 2 {
				t.Fatalf("break-the-glass search: %d, want 2", n)
			}

			// Writes: changing or deleting a labelled resource needs what
			// reading it needs, and so does labelling one sensitive.
			psy := `"meta":{"security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"PSY"}]},`
			for _, tc := range []policyCase{
				{"doctor updates a sensitive condition", "PUT", "/Condition/dep", `{"resourceType":"Condition","id":"dep",` + psy + `"subject":{"reference":"Patient/p1"},"code":{"text":"x"}}`, doctor, nil, 403},
				{"doctor strips the label off", "PUT", "/Condition/dep", `{"resourceType":"Condition","id":"dep","subject":{"reference":"Patient/p1"},"code":{"text":"x"}}`, doctor, nil, 403},
				{"doctor labels a condition sensitive", "PUT", "/Condition/flu", `{"resourceType":"Condition","id":"flu",` + psy + `"subject":{"reference":"Patient/p1"},"code":{"text":"x"}}`, doctor, nil, 403},
				{"doctor creates a sensitive condition", "POST", "/Condition", `{"resourceType":"Condition",` + psy + `"subject":{"reference":"Patient/p1"},"code":{"text":"x"}}`, doctor, nil, 403},
				{"doctor patches a sensitive condition", "PATCH", "/Condition/dep", `[{"op":"replace","path":"/code/text","value":"y"}]`, doctor, []string{"Content-Type", "application/json-patch+json"}, 403},
				{"admin without sensitive-access deletes it", "DELETE", "/Condition/dep", "", admin, nil, 403},
				// Conditional writes and bundle entries are held to the same rule.
				{"doctor conditionally updates it", "PUT", "/Condition?_id=dep", `{"resourceType":"Condition","id":"dep","subject":{"reference":"Patient/p1"},"code":{"text":"x"}}`, doctor, nil, 403},
				{"admin conditionally deletes it", "DELETE", "/Condition?_id=dep", "", admin, nil, 403},
				{"doctor conditionally creates a sensitive condition", "POST", "/Condition", `{"resourceType":"Condition",` + psy + `"subject":{"reference":"Patient/p1"},"code":{"text":"x"}}`, doctor, []string{"If-None-Exist", "_id=no-such"}, 403},
				{"doctor's conditional create matches it", "POST", "/Condition", `{"resourceType":"Condition","subject":{"reference":"Patient/p1"},"code":{"text":"x"}}`, doctor, []string{"If-None-Exist", "_id=dep", "Prefer", "return=representation"}, 403},
				{"doctor updates it in a transaction", "POST", "/", `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Condition","id":"dep","subject":{"reference":"Patient/p1"},"code":{"text":"x"}},"request":{"method":"PUT","url":"Condition/dep"}}]}`, doctor, nil, 403},
				{"admin deletes it in a transaction", "POST", "/", `{"resourceType":"Bundle","type":"transaction","entry":[{"request":{"method":"DELETE","url":"Condition?_id=dep"}}]}`, admin, nil, 403},
				// Nothing is learnt through it by conditional criteria or
				// references: for the doctor it is not there.
				{"doctor's If-None-Exist through it", "POST", "/Patient", `{"resourceType":"Patient"}`, doctor,
					[]string{"If-None-Exist", "_id=p1&_has:Condition:subject:code:text=depression"}, 201},
				{"sensitive-access If-None-Exist through it", "POST", "/Patient", `{"resourceType":"Patient"}`, psych,
					[]string{"If-None-Exist", "_id=p1&_has:Condition:subject:code:text=depression"}, 200},
				{"doctor's conditional reference to it", "POST", "/", `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Observation","status":"final","code":{"text":"x"},"focus":[{"reference":"Condition?_id=dep"}]},"request":{"method":"POST","url":"Observation"}}]}`, doctor, nil, 400},
				{"sensitive-access conditional reference to it", "POST", "/", `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Observation","status":"final","code":{"text":"x"},"focus":[{"reference":"Condition?_id=dep"}]},"request":{"method":"POST","url":"Observation"}}]}`, psych, nil, 200},
				{"sensitive-access conditionally updates it", "PUT", "/Condition?_id=dep", `{"resourceType":"Condition","id":"dep",` + psy + `"subject":{"reference":"Patient/p1"},"code":{"text":"w"}}`, psych, nil, 200},
				{"sensitive-access updates it", "PUT", "/Condition/dep", `{"resourceType":"Condition","id":"dep",` + psy + `"subject":{"reference":"Patient/p1"},"code":{"text":"y"}}`, psych, nil, 200},
				{"break the glass to update it", "PUT", "/Condition/dep", `{"resourceType":"Condition","id":"dep",` + psy + `"subject":{"reference":"Patient/p1"},"code":{"text":"z"}}`, doctor, []string{server.BreakGlassHeader, "ED: suicidal ideation"}, 200},
				{"doctor updates an ordinary condition", "PUT", "/Condition/flu", `{"resourceType":"Condition","id":"flu","subject":{"reference":"Patient/p1"},"code":{"text":"flu"}}`, doctor, nil, 200},
			} {
				tc.run(t, c)
			}
		})
	}
}

// TestSearchReach: what a search reads beyond its own type (_include,
// _revinclude, chains, _has) is held to the token's scopes and the role
// policy, as reading those resources would be: an explicit type they may
// not search is 403, an open _include is narrowed to the types they may.
// Both backends.
func TestSearchReach(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			iss, c := servePolicy(t, b, nil)
			token := func(scope string, roles ...string) string { return scopeToken(t, iss, scope, roles...) }
			admin := token("user/*.cruds", "admin")
			for _, put := range []string{
				`{"resourceType":"Patient","id":"p1","name":[{"family":"Zhang"}]}`,
				`{"resourceType":"Encounter","id":"e1","status":"finished","class":{"code":"AMB"},"subject":{"reference":"Patient/p1"}}`,
				`{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"bp"},"subject":{"reference":"Patient/p1"},"encounter":{"reference":"Encounter/e1"}}`,
				`{"resourceType":"Provenance","id":"pv1","target":[{"reference":"Observation/o1"}],"recorded":"2024-01-01T00:00:00Z","agent":[{"who":{"display":"x"}}]}`,
			} {
				var head struct{ ResourceType, ID string }
				_ = json.Unmarshal([]byte(put), &head)
				if res := c.do(http.MethodPut, "/"+head.ResourceType+"/"+head.ID, []byte(put), "Authorization", admin); res.status >= 300 {
					t.Fatalf("put %s: %d %s", head.ID, res.status, res.body)
				}
			}
			obsOnly := token("user/Observation.rs")
			obsAndPatient := token("user/Observation.rs user/Patient.rs")
			pharmacist := token("user/*.rs", "pharmacist")
			doctor := token("user/*.rs", "doctor")
			for _, tc := range []struct {
				name, authz, path string
				status            int
				has, hasNot       []string // ids in the body, or not
			}{
				{"scope without Patient: include of subject", obsOnly, "/Observation?_include=Observation:subject", 403, nil, nil},
				{"scope without Patient: typed include", obsOnly, "/Observation?_include=Observation:subject:Patient", 403, nil, nil},
				{"scope with Patient: include", obsAndPatient, "/Observation?_include=Observation:subject", 200, []string{"o1", "p1"}, nil},
				{"scope without Encounter: open include narrowed", obsAndPatient, "/Observation?_include=Observation:*", 200, []string{"o1", "p1"}, []string{"e1"}},
				{"scope without Provenance: revinclude", obsAndPatient, "/Observation?_revinclude=Provenance:target", 403, nil, nil},
				{"scope without Encounter: chain", obsOnly, "/Observation?encounter:Encounter.status=finished", 403, nil, nil},
				{"scope without Provenance: _has", obsOnly, "/Observation?_has:Provenance:target:recorded=2024", 403, nil, nil},
				{"pharmacist: revinclude of Provenance", pharmacist, "/Observation?_revinclude=Provenance:target", 403, nil, nil},
				{"pharmacist: include of Encounter", pharmacist, "/Observation?_include=Observation:encounter", 403, nil, nil},
				{"pharmacist: open include narrowed", pharmacist, "/Observation?_include=Observation:*", 200, []string{"o1", "p1"}, []string{"e1"}},
				{"pharmacist: chain through Encounter", pharmacist, "/Observation?encounter:Encounter.status=finished", 403, nil, nil},
				{"pharmacist: _has over Provenance", pharmacist, "/Observation?_has:Provenance:target:recorded=2024", 403, nil, nil},
				{"pharmacist: chain through Patient", pharmacist, "/Observation?subject:Patient.name=Zhang", 200, []string{"o1"}, nil},
				{"doctor: all of it", doctor, "/Observation?_include=Observation:*&_revinclude=Provenance:target&encounter:Encounter.status=finished&_has:Provenance:target:recorded=2024", 200, []string{"o1", "p1", "e1", "pv1"}, nil},
			} {
				t.Run(tc.name, func(t *testing.T) {
					res := c.do(http.MethodGet, tc.path, nil, "Authorization", tc.authz)
					if res.status != tc.status {
						t.Fatalf("%d, want %d: %s", res.status, tc.status, res.body)
					}
					for _, id := range tc.has {
						if !strings.Contains(string(res.body), `"id":"`+id+`"`) {
							t.Errorf("%s missing: %s", id, res.body)
						}
					}
					for _, id := range tc.hasNot {
						if strings.Contains(string(res.body), `"id":"`+id+`"`) {
							t.Errorf("%s returned: %s", id, res.body)
						}
					}
				})
			}
			// Conditional criteria and conditional references search too.
			dispense := `{"resourceType":"MedicationDispense","status":"completed","medicationCodeableConcept":{"text":"x"}}`
			obsOnlyWrite := token("user/Observation.cruds")
			pharmacistW := token("user/*.cruds", "pharmacist")
			for _, tc := range []policyCase{
				{"pharmacist: If-None-Exist over Provenance", "POST", "/MedicationDispense", dispense, pharmacistW,
					[]string{"If-None-Exist", "_has:Provenance:target:recorded=2024"}, 403},
				{"scope without Patient: If-None-Exist chained through Patient", "POST", "/Observation",
					`{"resourceType":"Observation","status":"final","code":{"text":"bp"}}`, obsOnlyWrite, []string{"If-None-Exist", "subject:Patient.name=Zhang"}, 403},
				{"scope without Patient: conditional update chained through Patient", "PUT", "/Observation?subject:Patient.name=Zhang",
					`{"resourceType":"Observation","status":"final","code":{"text":"bp"}}`, obsOnlyWrite, nil, 403},
				{"pharmacist: conditional reference to an Encounter", "POST", "/",
					`{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"MedicationDispense","status":"completed","medicationCodeableConcept":{"text":"x"},"context":{"reference":"Encounter?status=finished"}},"request":{"method":"POST","url":"MedicationDispense"}}]}`,
					pharmacistW, nil, 403},
				{"pharmacist: conditional create it may search", "POST", "/MedicationDispense", dispense, pharmacistW,
					[]string{"If-None-Exist", "subject:Patient.name=Zhang"}, 201},
			} {
				tc.run(t, c)
			}
		})
	}
}

// TestAuditIncludeSensitive: an AuditEvent search that includes the
// resources its events name leaves out sensitive ones for whom may not see
// them, as any search does. Both backends.
func TestAuditIncludeSensitive(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			iss, c := servePolicy(t, b, &server.AuditConfig{Sync: true})
			token := func(roles ...string) string { return scopeToken(t, iss, "user/*.cruds", roles...) }
			admin, psych := token("admin"), token("admin", "sensitive-access")
			c.do(http.MethodPut, "/Condition/dep", []byte(`{"resourceType":"Condition","id":"dep","meta":{"security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"PSY"}]},"subject":{"reference":"Patient/p1"},"code":{"text":"depression"}}`), "Authorization", psych)
			c.do(http.MethodPut, "/Condition/flu", []byte(`{"resourceType":"Condition","id":"flu","subject":{"reference":"Patient/p1"},"code":{"text":"influenza"}}`), "Authorization", admin)
			for _, who := range []string{admin, psych} {
				res := c.do(http.MethodGet, "/AuditEvent?entity=Condition/dep,Condition/flu&_include=AuditEvent:entity", nil, "Authorization", who)
				if res.status != http.StatusOK || !strings.Contains(string(res.body), `"id":"flu"`) {
					t.Fatalf("audit search with includes: %d %s", res.status, res.body)
				}
				if got, want := strings.Contains(string(res.body), `"id":"dep"`), who == psych; got != want {
					t.Errorf("sensitive condition included: %v, want %v (sensitive-access %v): %s", got, want, who == psych, res.body)
				}
			}
		})
	}
}

// scopeToken is a bearer token of subject "u" with scope and, when given,
// roles.
func scopeToken(t *testing.T, iss *authtest.Issuer, scope string, roles ...string) string {
	claims := map[string]any{}
	if len(roles) > 0 {
		claims["roles"] = roles
	}
	return "Bearer " + iss.Token(t, "u", scope, claims)
}

// servePolicy serves backend b with bearer tokens from a test issuer and
// the built-in role policy and operations (and an audit trail when audit
// is set).
func servePolicy(t *testing.T, b backend, audit *server.AuditConfig) (*authtest.Issuer, *client) {
	iss, v := testIssuer(t)
	pol, err := policy.New(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	_, c := serve(t, server.Config{Store: b.open(t), Auth: v, Authorizer: pol, Audit: audit, Operations: newOperations(t)})
	return iss, c
}

// policyCase is a request and the status it must get.
type policyCase struct {
	name, method, path, body, authz string
	headers                         []string
	status                          int
}

func (tc policyCase) run(t *testing.T, c *client) {
	t.Run(tc.name, func(t *testing.T) {
		var body []byte
		if tc.body != "" {
			body = []byte(tc.body)
		}
		if res := c.do(tc.method, tc.path, body, append([]string{"Authorization", tc.authz}, tc.headers...)...); res.status != tc.status {
			t.Fatalf("%d, want %d: %s", res.status, tc.status, res.body)
		}
	})
}

// TestScopeBeforeLabels: under a patient-context token, writes to another
// patient's resources get the same answer whether the resource is labelled
// sensitive, unlabelled or absent, whatever If-Match says: the scope is
// judged before the labels and the version, which would otherwise tell
// what the caller may not know. Both backends.
func TestScopeBeforeLabels(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			iss, c := servePolicy(t, b, nil)
			admin := "Bearer " + iss.Token(t, "u", "user/*.cruds", map[string]any{"roles": []string{"admin", "sensitive-access"}})
			app := "Bearer " + iss.Token(t, "u", "patient/*.cruds", map[string]any{"roles": []string{"doctor"}, "patient": "p1"})
			psy := `"meta":{"security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"PSY"}]},`
			for _, put := range []string{`{"resourceType":"Patient","id":"p1"}`, `{"resourceType":"Patient","id":"p2"}`} {
				var head struct{ ID string }
				_ = json.Unmarshal([]byte(put), &head)
				c.do(http.MethodPut, "/Patient/"+head.ID, []byte(put), "Authorization", admin)
			}
			for id, meta := range map[string]string{"c-psy": psy, "c-plain": ""} {
				body := `{"resourceType":"Condition","id":"` + id + `",` + meta + `"subject":{"reference":"Patient/p2"},"code":{"text":"x"}}`
				if res := c.do(http.MethodPut, "/Condition/"+id, []byte(body), "Authorization", admin); res.status >= 300 {
					t.Fatalf("put %s: %d %s", id, res.status, res.body)
				}
			}
			answer := func(method, id string, headers ...string) (int, string) {
				body := []byte(nil)
				if method == http.MethodPut {
					body = []byte(`{"resourceType":"Condition","id":"` + id + `","subject":{"reference":"Patient/p1"},"code":{"text":"y"}}`)
				}
				res := c.do(method, "/Condition/"+id, body, append([]string{"Authorization", app}, headers...)...)
				return res.status, strings.ReplaceAll(string(res.body), id, "ID")
			}
			for _, method := range []string{http.MethodPut, http.MethodDelete} {
				for _, h := range [][]string{nil, {"If-Match", `W/"1"`}, {"If-Match", `W/"7"`}} {
					s1, b1 := answer(method, "c-psy", h...)
					s2, b2 := answer(method, "c-plain", h...)
					s3, b3 := answer(method, "c-none", h...) // no such resource
					if s1 != s2 || b1 != b2 || s1 != s3 || b1 != b3 {
						t.Errorf("%s %v: labelled %d %s; unlabelled %d %s; absent %d %s", method, h, s1, b1, s2, b2, s3, b3)
					}
				}
			}
		})
	}
}

// TestBundleKindPerRequest: whether a bundle is a batch or a transaction is
// judged per request. (The route's interaction was once overwritten by the
// first transaction's, after which every batch was authorized, and
// refused, as a transaction.) Requests run concurrently too, for the race
// detector. Both backends.
func TestBundleKindPerRequest(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			iss, c := servePolicy(t, b, nil)
			// A token that may read but not write: batches of reads pass,
			// transactions need write scopes.
			reader := "Bearer " + iss.Token(t, "u", "user/Patient.rs", map[string]any{"roles": []string{"doctor"}})
			admin := "Bearer " + iss.Token(t, "a", "user/*.cruds", map[string]any{"roles": []string{"admin"}})
			batch := bundleOf("batch", entry("GET", "Patient/p1", "", ""))
			tx := bundleOf("transaction", entry("PUT", "Patient/p1", "", `{"resourceType":"Patient","id":"p1"}`))
			if res := c.do(http.MethodPost, "/", tx, "Authorization", admin); res.status != http.StatusOK {
				t.Fatalf("admin's transaction: %d %s", res.status, res.body)
			}
			var wg sync.WaitGroup
			for i := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					body, authz, want := batch, reader, http.StatusOK
					if i%2 == 1 {
						body, authz = tx, admin
					}
					if res := c.do(http.MethodPost, "/", body, "Authorization", authz); res.status != want {
						t.Errorf("bundle %d after a transaction: %d %s", i, res.status, res.body)
					}
				}()
			}
			wg.Wait()
			if res := c.do(http.MethodPost, "/", tx, "Authorization", reader); res.status != http.StatusForbidden {
				t.Errorf("reader's transaction: %d, want 403", res.status)
			}
		})
	}
}

// TestOperationAccess: an operation needs read access to its type by GET
// and POST alike, and what $everything returns is narrowed to the types the
// token and role may search; $reindex and its job status need what a
// system-level write needs, at type level too. Both backends.
func TestOperationAccess(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			iss, c := servePolicy(t, b, nil)
			token := func(scope string, roles ...string) string { return scopeToken(t, iss, scope, roles...) }
			admin := token("user/*.cruds", "admin")
			c.putAll(admin,
				fixture{"/Patient/p1", `{"resourceType":"Patient","id":"p1"}`},
				fixture{"/Condition/c1", `{"resourceType":"Condition","id":"c1","subject":{"reference":"Patient/p1"},"code":{"text":"c"}}`},
				fixture{"/Observation/o1", `{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"o"},"subject":{"reference":"Patient/p1"}}`},
				fixture{"/Encounter/e1", `{"resourceType":"Encounter","id":"e1","status":"finished","class":{"code":"AMB"},"subject":{"reference":"Patient/p1"}}`},
			)
			for _, tc := range []struct {
				name, authz string
				want        []string // ids returned; the others of p1 must not be
			}{
				{"patient scope only", token("user/Patient.rs"), []string{"p1"}},
				{"patient and observation scopes", token("user/Patient.rs user/Observation.rs"), []string{"p1", "o1"}},
				{"pharmacist", token("user/*.rs", "pharmacist"), []string{"p1", "o1", "c1"}},
				{"auditor", token("user/*.rs", "auditor"), []string{"p1"}},
				{"doctor", token("user/*.rs", "doctor"), []string{"p1", "o1", "c1", "e1"}},
			} {
				for _, method := range []string{http.MethodGet, http.MethodPost} {
					var body []byte
					if method == http.MethodPost {
						body = []byte(`{"resourceType":"Parameters"}`)
					}
					res := c.do(method, "/Patient/p1/$everything", body, "Authorization", tc.authz)
					if res.status != http.StatusOK {
						t.Errorf("%s: %s $everything: %d %s", tc.name, method, res.status, res.body)
						continue
					}
					for _, id := range []string{"p1", "o1", "c1", "e1"} {
						if got, want := strings.Contains(string(res.body), `"id":"`+id+`"`), slices.Contains(tc.want, id); got != want {
							t.Errorf("%s: %s $everything returns %s: %v, want %v", tc.name, method, id, got, want)
						}
					}
				}
			}
			if res := c.do(http.MethodGet, "/Patient/p1/$everything", nil, "Authorization", token("user/Observation.rs")); res.status != http.StatusForbidden {
				t.Errorf("$everything without read access to the Patient: %d, want 403", res.status)
			}
			for _, authz := range []string{token("user/Patient.rs"), token("user/*.rs", "auditor"), token("user/*.cruds", "doctor")} {
				if res := c.do(http.MethodPost, "/Patient/$reindex", []byte(`{"resourceType":"Parameters"}`), "Authorization", authz); res.status != http.StatusForbidden {
					t.Errorf("$reindex by a token without system-wide write: %d, want 403", res.status)
				}
			}
			res := c.do(http.MethodPost, "/Patient/$reindex", []byte(`{"resourceType":"Parameters"}`), "Authorization", admin)
			if res.status != http.StatusAccepted {
				t.Fatalf("admin's $reindex: %d %s", res.status, res.body)
			}
			job := res.header.Get("Content-Location")
			job = job[strings.Index(job, "/_jobs/"):]
			if res := c.do(http.MethodGet, job, nil, "Authorization", token("user/*.rs", "auditor")); res.status != http.StatusForbidden {
				t.Errorf("job status for a reader: %d, want 403", res.status)
			}
			if res := c.do(http.MethodGet, job, nil, "Authorization", admin); res.status != http.StatusOK && res.status != http.StatusAccepted {
				t.Errorf("job status for the admin: %d %s", res.status, res.body)
			}
		})
	}
}

// TestDecisionCache: cached decisions are keyed on the roles exactly (a
// role may contain a comma) and, for a policy that reads the subject, on
// the subject too.
func TestDecisionCache(t *testing.T) {
	b := backends()[0]
	iss, v := testIssuer(t)
	builtIn, err := policy.New(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	_, c := serve(t, server.Config{Store: b.open(t), Auth: v, Authorizer: builtIn})
	token := func(sub string, roles ...string) string {
		return "Bearer " + iss.Token(t, sub, "user/*.cruds", map[string]any{"roles": roles})
	}
	for _, id := range []string{"x", "y"} {
		c.do(http.MethodPut, "/Patient/"+id, []byte(`{"resourceType":"Patient","id":"`+id+`"}`), "Authorization", token("a", "admin"))
	}
	if res := c.do(http.MethodDelete, "/Patient/x", nil, "Authorization", token("u", "doctor", "admin")); res.status != http.StatusNoContent {
		t.Fatalf("admin and doctor delete: %d %s", res.status, res.body)
	}
	if res := c.do(http.MethodDelete, "/Patient/y", nil, "Authorization", token("v", "doctor,admin")); res.status != http.StatusForbidden {
		t.Fatalf("the role \"doctor,admin\" deletes: %d, want 403", res.status)
	}

	dir := t.TempDir()
	src := "package yiyang.authz\n\nimport rego.v1\n\n" +
		`decision := {"allow": input.subject == "chief", "reason": "only the chief", "audit": false}` + "\n"
	if err := os.WriteFile(filepath.Join(dir, "chief.rego"), []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	chief, err := policy.New(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	_, c2 := serve(t, server.Config{Store: b.open(t), Auth: v, Authorizer: chief})
	for _, tc := range []struct {
		sub  string
		want int
	}{{"chief", http.StatusNotFound}, {"intern", http.StatusForbidden}, {"chief", http.StatusNotFound}} {
		if res := c2.do(http.MethodGet, "/Patient/none", nil, "Authorization", token(tc.sub, "doctor")); res.status != tc.want {
			t.Errorf("%s reads: %d, want %d", tc.sub, res.status, tc.want)
		}
	}
}

// TestEscapedLabels: a security label whose key is written with a JSON
// escape ("\u0073ecurity") is a label all the same, for reads and writes.
func TestEscapedLabels(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			iss, c := servePolicy(t, b, nil)
			token := func(roles ...string) string { return scopeToken(t, iss, "user/*.cruds", roles...) }
			cond := `{"resourceType":"Condition","id":"esc","meta":{"\u0073ecurity":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"PSY"}]},"subject":{"reference":"Patient/p1"},"code":{"text":"x"}}`
			for _, tc := range []policyCase{
				{"psychiatrist stores it", "PUT", "/Condition/esc", cond, token("doctor", "sensitive-access"), nil, 201},
				{"doctor reads it", "GET", "/Condition/esc", "", token("doctor"), nil, 403},
				{"doctor creates one", "POST", "/Condition", strings.Replace(cond, `"id":"esc",`, "", 1), token("doctor"), nil, 403},
			} {
				tc.run(t, c)
			}
		})
	}
}

// TestAuditEventCreate: clients create AuditEvents only where the access
// policy allows it; scopes alone, without roles or without a policy, do
// not, by any path.
func TestAuditEventCreate(t *testing.T) {
	ev := `{"resourceType":"AuditEvent","type":{"system":"http://terminology.hl7.org/CodeSystem/audit-event-type","code":"rest"},"action":"R","recorded":"2020-01-01T00:00:00Z","outcome":"0","agent":[{"who":{"reference":"Practitioner/framed"},"requestor":true}],"source":{"observer":{"display":"forged"}}}`
	pol, err := policy.New(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range backends() {
		iss, v := testIssuer(t)
		_, noPolicy := serve(t, server.Config{Store: b.open(t), Auth: v})
		_, withPolicy := serve(t, server.Config{Store: b.open(t), Auth: v, Authorizer: pol})
		system := "Bearer " + iss.Token(t, "svc", "system/*.cruds", nil)
		for name, c := range map[string]*client{b.name + "/no policy": noPolicy, b.name + "/no roles": withPolicy} {
			t.Run(name, func(t *testing.T) {
				for _, tc := range []policyCase{
					{"create", "POST", "/AuditEvent", ev, system, nil, 403},
					{"conditional create", "POST", "/AuditEvent", ev, system, []string{"If-None-Exist", "_id=none"}, 403},
					{"batch entry", "POST", "/", string(bundleOf("batch", entry("POST", "AuditEvent", "", ev))), system, nil, 200},
					{"transaction entry", "POST", "/", string(bundleOf("transaction", entry("POST", "AuditEvent", "", ev))), system, nil, 403},
				} {
					tc.run(t, c)
				}
				res := c.do(http.MethodGet, "/AuditEvent?agent=Practitioner/framed", nil, "Authorization", system)
				if res.status != http.StatusOK || strings.Contains(string(res.body), "forged") {
					t.Errorf("a forged AuditEvent was stored (%d): %s", res.status, res.body)
				}
			})
		}
	}
}

// TestWriteWithoutRead: a token that may write a type but not read it gets
// no resource back from a conditional create that matched, and may not
// patch (a patch's outcome tells what is stored), by scope or by role. Both
// backends.
func TestWriteWithoutRead(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			iss, c := servePolicy(t, b, nil)
			admin := "Bearer " + iss.Token(t, "a", "user/*.cruds", map[string]any{"roles": []string{"admin"}})
			c.do(http.MethodPut, "/Observation/lab1", []byte(`{"resourceType":"Observation","id":"lab1","status":"final","code":{"text":"hiv-viral-load"}}`), "Authorization", admin)
			for name, authz := range map[string]string{
				"write scopes only": "Bearer " + iss.Token(t, "w", "user/Observation.cu", nil),
				"device role":       "Bearer " + iss.Token(t, "d", "user/Observation.cru", map[string]any{"roles": []string{"device"}}),
			} {
				for _, tc := range []struct {
					method, path, body string
					headers            []string
				}{
					{"POST", "/Observation", `{"resourceType":"Observation","status":"final","code":{"text":"x"}}`, []string{"If-None-Exist", "_id=lab1"}},
					{"PATCH", "/Observation/lab1", `[{"op":"test","path":"/status","value":"final"}]`, []string{"Content-Type", "application/json-patch+json"}},
				} {
					res := c.do(tc.method, tc.path, []byte(tc.body), append([]string{"Authorization", authz}, tc.headers...)...)
					// A patch is refused outright: its outcome would tell.
					want := res.status < 300
					if tc.method == "PATCH" {
						want = res.status == http.StatusForbidden
					}
					if !want || strings.Contains(string(res.body), "hiv-viral-load") {
						t.Errorf("%s: %s %s: %d %s", name, tc.method, tc.path, res.status, res.body)
					}
				}
				// Whether a test operation holds would tell the value.
				probe := func(v string) int {
					return c.do(http.MethodPatch, "/Observation/lab1", []byte(`[{"op":"test","path":"/code/text","value":"`+v+`"}]`),
						"Authorization", authz, "Content-Type", "application/json-patch+json").status
				}
				if a, b := probe("hiv-viral-load"), probe("other"); a != b {
					t.Errorf("%s: a patch's test tells the stored value (%d, %d)", name, a, b)
				}
			}
		})
	}
}

// TestReindexNeedsSystemWide: $reindex (system and type level) and its job
// status need an unrestricted user/ or system/ create grant on every type;
// a patient-context app's patient/*.cruds does not do. Without roles, so
// that the scopes alone decide. Both backends.
func TestReindexNeedsSystemWide(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			iss, v := testIssuer(t)
			_, c := serve(t, server.Config{Store: b.open(t), Auth: v, Operations: newOperations(t)})
			patientApp := "Bearer " + iss.Token(t, "app", "patient/*.cruds launch/patient", map[string]any{"patient": "p1"})
			params := []byte(`{"resourceType":"Parameters"}`)
			for _, path := range []string{"/$reindex", "/Observation/$reindex"} {
				if res := c.do(http.MethodPost, path, params, "Authorization", patientApp); res.status != http.StatusForbidden {
					t.Errorf("patient app: POST %s: %d, want 403", path, res.status)
				}
			}
			res := c.do(http.MethodPost, "/Observation/$reindex", params, "Authorization", "Bearer "+iss.Token(t, "ops", "system/*.cruds", nil))
			if res.status != http.StatusAccepted {
				t.Fatalf("system/*.cruds: %d %s", res.status, res.body)
			}
			job := res.header.Get("Content-Location")
			job = job[strings.Index(job, "/_jobs/"):]
			if res := c.do(http.MethodGet, job, nil, "Authorization", patientApp); res.status != http.StatusForbidden {
				t.Errorf("patient app reads the job: %d, want 403", res.status)
			}
		})
	}
}

// TestSensitiveTerminology: a CodeSystem and ValueSet labelled sensitive
// are not read through $expand, $lookup or an operation's own read by a
// caller who may not read them. Both backends.
func TestSensitiveTerminology(t *testing.T) {
	psy := `"meta":{"security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"PSY"}]},`
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			ops := newOperations(t)
			for _, op := range []operations.Operation{operations.ValueSetExpand, operations.CodeSystemLookup} {
				if err := ops.Register(op); err != nil {
					t.Fatal(err)
				}
			}
			iss, v := testIssuer(t)
			pol, err := policy.New(context.Background(), "")
			if err != nil {
				t.Fatal(err)
			}
			_, c := serve(t, server.Config{Store: b.open(t), Auth: v, Authorizer: pol, Operations: ops})
			psych := scopeToken(t, iss, "user/*.cruds", "admin", "sensitive-access")
			doctor := scopeToken(t, iss, "user/*.rs", "doctor")
			c.putAll(psych,
				fixture{"/CodeSystem/cs-psy", `{"resourceType":"CodeSystem","id":"cs-psy",` + psy + `"url":"http://x/cs-psy","status":"active","content":"complete","concept":[{"code":"secret-dx","display":"SECRET DIAGNOSIS"}]}`},
				fixture{"/ValueSet/vs-psy", `{"resourceType":"ValueSet","id":"vs-psy",` + psy + `"url":"http://x/vs-psy","status":"active","description":"SECRET VS","compose":{"include":[{"system":"http://x/cs-psy"}]}}`},
			)
			for _, path := range []string{"/ValueSet/vs-psy/$expand", "/ValueSet/$expand?url=http://x/vs-psy",
				"/CodeSystem/$lookup?system=http://x/cs-psy&code=secret-dx"} {
				if res := c.do(http.MethodGet, path, nil, "Authorization", doctor); res.status < 400 || strings.Contains(string(res.body), "SECRET") {
					t.Errorf("doctor: GET %s: %d %s", path, res.status, res.body)
				}
				if res := c.do(http.MethodGet, path, nil, "Authorization", psych); res.status != http.StatusOK || !strings.Contains(string(res.body), "SECRET") {
					t.Errorf("sensitive-access: GET %s: %d %s", path, res.status, res.body)
				}
			}
		})
	}
}

// TestBreakGlassReasonAndValidate: a break-the-glass reason of invisible
// characters is no reason; a writer that may not read a type may still
// $validate what it is about to send. Both backends.
func TestBreakGlassReasonAndValidate(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			iss, c := servePolicy(t, b, nil)
			psych := scopeToken(t, iss, "user/*.cruds", "admin", "sensitive-access")
			c.do(http.MethodPut, "/Condition/dep", []byte(`{"resourceType":"Condition","id":"dep","meta":{"security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"PSY"}]},"subject":{"reference":"Patient/p1"},"code":{"text":"x"}}`), "Authorization", psych)
			doctor := scopeToken(t, iss, "user/*.rs", "doctor")
			for _, reason := range []string{"\u200b", " \t ", "\u200b\u200c"} {
				if res := c.do(http.MethodGet, "/Condition/dep", nil, "Authorization", doctor, server.BreakGlassHeader, reason); res.status != http.StatusForbidden {
					t.Errorf("break-the-glass with %q: %d, want 403", reason, res.status)
				}
			}
			if res := c.do(http.MethodGet, "/Condition/dep", nil, "Authorization", doctor, server.BreakGlassHeader, "急诊昏迷"); res.status != http.StatusOK {
				t.Errorf("break-the-glass with a reason: %d", res.status)
			}
			obs := []byte(`{"resourceType":"Observation","status":"final","code":{"text":"x"}}`)
			for name, authz := range map[string]string{
				"create scope only": scopeToken(t, iss, "user/Observation.c"),
				"device role":       scopeToken(t, iss, "user/Observation.cu", "device"),
			} {
				if res := c.do(http.MethodPost, "/Observation/$validate", obs, "Authorization", authz); res.status != http.StatusOK {
					t.Errorf("%s: $validate: %d %s", name, res.status, res.body)
				}
				if res := c.do(http.MethodPost, "/Observation/x/$validate", obs, "Authorization", authz); res.status != http.StatusForbidden {
					t.Errorf("%s: $validate of a stored Observation: %d, want 403", name, res.status)
				}
			}
		})
	}
}

// TestCustomPolicyDeletionHistory: a policy directory that denies a label
// of its own (not one of the built-in sensitive labels, which the stores
// leave out in the query) hides the labelled resource's deletion from type
// and system history as it hides its versions: the server judges the
// deletion by the labels of the version it removed.
func TestCustomPolicyDeletionHistory(t *testing.T) {
	dir := t.TempDir()
	src := "package yiyang.authz\n\nimport rego.v1\n\n" +
		"study if {\n\tsome l in input.security\n\tl.system == \"http://example.org/sec\"\n\tl.code == \"STUDY\"\n}\n\n" +
		"default decision := {\"allow\": true, \"reason\": \"allowed\", \"audit\": false}\n\n" +
		"decision := {\"allow\": false, \"reason\": \"study data\", \"audit\": false} if {\n\tstudy\n\tnot \"researcher\" in input.roles\n}\n"
	if err := os.WriteFile(filepath.Join(dir, "study.rego"), []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	pol, err := policy.New(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			iss, v := testIssuer(t)
			_, c := serve(t, server.Config{Store: b.open(t), Auth: v, Authorizer: pol})
			researcher := "Bearer " + iss.Token(t, "r", "user/*.cruds", map[string]any{"roles": []string{"researcher"}})
			nurse := "Bearer " + iss.Token(t, "n", "user/*.rs", map[string]any{"roles": []string{"nurse"}})
			study := `"meta":{"security":[{"system":"http://example.org/sec","code":"STUDY"}]},`
			if res := c.do(http.MethodPut, "/Observation/study-1", []byte(`{"resourceType":"Observation","id":"study-1",`+study+`"status":"final","code":{"text":"x"}}`), "Authorization", researcher); res.status >= 300 {
				t.Fatalf("fixture: %d %s", res.status, res.body)
			}
			if res := c.do(http.MethodDelete, "/Observation/study-1", nil, "Authorization", researcher); res.status >= 300 {
				t.Fatalf("delete: %d %s", res.status, res.body)
			}
			for _, path := range []string{"/Observation/_history", "/_history"} {
				if res := c.do(http.MethodGet, path, nil, "Authorization", nurse); res.status != http.StatusOK || strings.Contains(string(res.body), "study-1") {
					t.Errorf("nurse's %s lists the deletion of a resource the policy hides from it: %d %s", path, res.status, res.body)
				}
				if res := c.do(http.MethodGet, path, nil, "Authorization", researcher); !strings.Contains(string(res.body), `"method":"DELETE","url":"Observation/study-1"`) ||
					!strings.Contains(string(res.body), `"id":"study-1","meta":{"versionId":"1"`) {
					t.Errorf("researcher's %s lacks the study Observation's versions: %d %s", path, res.status, res.body)
				}
			}
			if res := c.do(http.MethodGet, "/Observation/study-1/_history", nil, "Authorization", nurse); res.status != http.StatusForbidden {
				t.Errorf("nurse's history of the deleted study Observation: %d, want 403 as for reading it", res.status)
			}
		})
	}
}
