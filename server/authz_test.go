package server_test

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meizhou-yiyang/yiyang/resources"
	"github.com/meizhou-yiyang/yiyang/resources/sqlite"
	"github.com/meizhou-yiyang/yiyang/server"
	"github.com/meizhou-yiyang/yiyang/server/auth/authtest"
)

// TestAuthorization drives the server with tokens from an in-process OIDC
// issuer: authentication failures are 401 with a challenge, scopes decide
// each interaction (bundle entries one by one), /metadata stays open.
func TestAuthorization(t *testing.T) {
	iss, v := testIssuer(t)
	st, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "y.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	_, c := serve(t, server.Config{Store: st, Auth: v})
	bearer := func(scopes string, extra map[string]any) string {
		return "Bearer " + iss.Token(t, "dr-li", scopes, extra)
	}
	admin := bearer("user/*.cruds", nil)
	c.do(http.MethodPut, "/Patient/p1", []byte(`{"resourceType":"Patient","id":"p1"}`), "Authorization", admin)

	patient := []byte(`{"resourceType":"Patient"}`)
	for _, tc := range []struct {
		name, method, path string
		body               []byte
		authz              string
		status             int
		challenge          string
	}{
		{"no token", "GET", "/Patient/p1", nil, "", 401, `Bearer realm="yiyang"`},
		{"not bearer", "GET", "/Patient/p1", nil, "Basic dTpw", 401, "invalid_request"},
		{"garbage token", "GET", "/Patient/p1", nil, "Bearer abc.def.ghi", 401, "invalid_token"},
		{"expired", "GET", "/Patient/p1", nil, "Bearer " + iss.Sign(iss.Claims("x", "user/*.rs", nil), authtest.ExpiresIn(-10*time.Minute)), 401, "invalid_token"},
		{"wrong audience", "GET", "/Patient/p1", nil, bearer("user/*.rs", map[string]any{"aud": "someone-else"}), 401, "invalid_token"},
		{"alg none", "GET", "/Patient/p1", nil, "Bearer " + iss.Sign(iss.Claims("x", "user/*.rs", nil), authtest.WithAlg("none")), 401, "invalid_token"},
		{"metadata is open", "GET", "/metadata", nil, "", 200, ""},
		{"read allowed", "GET", "/Patient/p1", nil, bearer("user/Patient.rs", nil), 200, ""},
		{"v1 read allowed", "GET", "/Patient/p1/_history", nil, bearer("user/Patient.read", nil), 200, ""},
		{"create refused", "POST", "/Patient", patient, bearer("user/Patient.rs", nil), 403, "insufficient_scope"},
		{"other type refused", "GET", "/Observation/o1", nil, bearer("user/Patient.rs", nil), 403, "insufficient_scope"},
		{"create allowed", "POST", "/Patient", patient, bearer("user/Patient.c", nil), 201, ""},
		{"delete needs d", "DELETE", "/Patient/p1", nil, bearer("user/Patient.cru", nil), 403, "insufficient_scope"},
		{"system history needs *", "GET", "/_history", nil, bearer("user/Patient.rs", nil), 403, "insufficient_scope"},
		{"system history with *", "GET", "/_history", nil, bearer("system/*.rs", nil), 200, ""},
		{"patient scope on own record", "GET", "/Patient/p1", nil, bearer("patient/Patient.rs", map[string]any{"patient": "p1"}), 200, ""},
		{"patient scope on another record", "GET", "/Patient/p1", nil, bearer("patient/Patient.rs", map[string]any{"patient": "p2"}), 404, ""},
		{"patient scope without launch context", "GET", "/Patient/p1", nil, bearer("patient/Patient.rs", nil), 403, ""},
		{"granular scope on unknown parameter", "GET", "/Patient/p1", nil, bearer("user/Patient.rs?nonsense=1", nil), 403, ""},
		{"granular scope on a string parameter", "GET", "/Patient/p1", nil, bearer("user/Patient.rs?name=x", nil), 403, ""},
		{"granular scope on all types", "GET", "/Patient/p1", nil, bearer("user/*.rs?category=x", nil), 403, ""},
		{"operation needs read", "POST", "/Patient/$validate", patient, bearer("user/Observation.rs", nil), 403, "insufficient_scope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h []string
			if tc.authz != "" {
				h = []string{"Authorization", tc.authz}
			}
			res := c.do(tc.method, tc.path, tc.body, h...)
			if res.status != tc.status {
				t.Fatalf("status %d, want %d: %s", res.status, tc.status, res.body)
			}
			if tc.status >= 400 && !strings.Contains(string(res.body), `"OperationOutcome"`) {
				t.Fatalf("no OperationOutcome: %s", res.body)
			}
			if tc.challenge != "" && !strings.Contains(res.header.Get("WWW-Authenticate"), tc.challenge) {
				t.Fatalf("WWW-Authenticate %q lacks %q", res.header.Get("WWW-Authenticate"), tc.challenge)
			}
			if strings.Contains(string(res.body), strings.TrimPrefix(tc.authz, "Bearer ")) && len(tc.authz) > 20 {
				t.Fatal("the response echoes the token")
			}
		})
	}

	// Bundle entries are authorized one by one: a transaction whose second
	// entry is not permitted stores nothing.
	b := bundleOf("transaction", entry("POST", "Patient", "", goodPatient), entry("POST", "Observation", "",
		`{"resourceType":"Observation","status":"final","code":{"text":"x"}}`))
	res := c.do(http.MethodPost, "/", b, "Authorization", bearer("user/Patient.c", nil))
	if res.status != http.StatusForbidden {
		t.Fatalf("transaction with a forbidden entry: %d %s", res.status, res.body)
	}
	h := decodeBundle(t, c.do(http.MethodGet, "/Patient/_history", nil, "Authorization", admin).body)
	if len(h.Entry) != 2 { // p1 and the one created above
		t.Fatalf("the refused transaction stored something: %d Patient versions", len(h.Entry))
	}
	cs := c.do(http.MethodGet, "/metadata", nil)
	if !strings.Contains(string(cs.body), "SMART-on-FHIR") || strings.Contains(string(cs.body), "authentication is OFF") {
		t.Fatalf("CapabilityStatement security: %s", cs.body)
	}
	sc := c.do(http.MethodGet, "/.well-known/smart-configuration", nil)
	if sc.status != 200 || !strings.Contains(string(sc.body), `"token_endpoint"`) || !strings.Contains(string(sc.body), "permission-v2") {
		t.Fatalf("smart-configuration: %d %s", sc.status, sc.body)
	}
}

func TestAuthMustBeChosen(t *testing.T) {
	parser, _ := resources.NewParser()
	st := backends()[0].open(t)
	if _, err := server.New(server.Config{Store: st, Parser: parser}); err == nil {
		t.Fatal("a server without Auth must require AuthDisabled")
	}
}
