package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/meizhou-yiyang/yiyang/server"
	"github.com/meizhou-yiyang/yiyang/server/policy"
)

// TestRolePolicy: after the scopes, the OPA policy decides by role;
// sensitive resources need sensitive-access or break-the-glass, and
// searches leave them out in the query itself. Both backends.
func TestRolePolicy(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			iss, v := testIssuer(t)
			pol, err := policy.New(context.Background(), "")
			if err != nil {
				t.Fatal(err)
			}
			_, c := serve(t, server.Config{Store: b.open(t), Auth: v, Authorizer: pol})
			token := func(roles ...string) string {
				return "Bearer " + iss.Token(t, "u", "user/*.cruds", map[string]any{"roles": roles})
			}
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
			for _, tc := range []struct {
				name, method, path, body, authz string
				headers                         []string
				status                          int
			}{
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
				{"sensitive-access conditionally updates it", "PUT", "/Condition?_id=dep", `{"resourceType":"Condition","id":"dep",` + psy + `"subject":{"reference":"Patient/p1"},"code":{"text":"w"}}`, psych, nil, 200},
				{"sensitive-access updates it", "PUT", "/Condition/dep", `{"resourceType":"Condition","id":"dep",` + psy + `"subject":{"reference":"Patient/p1"},"code":{"text":"y"}}`, psych, nil, 200},
				{"break the glass to update it", "PUT", "/Condition/dep", `{"resourceType":"Condition","id":"dep",` + psy + `"subject":{"reference":"Patient/p1"},"code":{"text":"z"}}`, doctor, []string{server.BreakGlassHeader, "ED: suicidal ideation"}, 200},
				{"doctor updates an ordinary condition", "PUT", "/Condition/flu", `{"resourceType":"Condition","id":"flu","subject":{"reference":"Patient/p1"},"code":{"text":"flu"}}`, doctor, nil, 200},
			} {
				t.Run(tc.name, func(t *testing.T) {
					h := append([]string{"Authorization", tc.authz}, tc.headers...)
					var body []byte
					if tc.body != "" {
						body = []byte(tc.body)
					}
					if res := c.do(tc.method, tc.path, body, h...); res.status != tc.status {
						t.Fatalf("%d, want %d: %s", res.status, tc.status, res.body)
					}
				})
			}
		})
	}
}
