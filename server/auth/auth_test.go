package auth_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/meizhou-yiyang/yiyang/server/auth"
	"github.com/meizhou-yiyang/yiyang/server/auth/authtest"
)

func newVerifier(t *testing.T, cfg auth.Config, issuers ...*authtest.Issuer) *auth.Verifier {
	t.Helper()
	for _, is := range issuers {
		cfg.Issuers = append(cfg.Issuers, auth.Issuer{URL: is.URL(), Audience: is.Audience})
	}
	v, err := auth.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("auth.New: %v", err)
	}
	return v
}

// protected is a resource handler behind the middleware: it authorizes in
// on typ and answers 200 with the subject.
func protected(v *auth.Verifier, in auth.Interaction, typ string) http.Handler {
	return auth.Middleware(v, nil)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := auth.FromContext(r.Context())
		if !ok {
			http.Error(w, "no principal", http.StatusInternalServerError)
			return
		}
		if err := p.Authorize(in, typ); err != nil {
			auth.WriteError(w, r, err)
			return
		}
		w.Write([]byte(p.Subject))
	}))
}

const (
	invalidToken = `Bearer realm="yiyang", error="invalid_token"`
	invalidReq   = `Bearer realm="yiyang", error="invalid_request"`
	insufficient = `Bearer realm="yiyang", error="insufficient_scope"`
)

func TestRequests(t *testing.T) {
	iss := authtest.NewIssuer(t)
	other := authtest.NewIssuer(t)
	v := newVerifier(t, auth.Config{}, iss)
	const scopes = "openid fhirUser user/Observation.rs"
	valid := func(extra map[string]any, opts ...authtest.Option) func() string {
		return func() string { return iss.Sign(iss.Claims("alice", scopes, extra), opts...) }
	}
	withScope := func(s string, extra map[string]any) func() string {
		return func() string { return iss.Token(t, "alice", s, extra) }
	}
	big := strings.Repeat("a", 20<<10)
	cases := []struct {
		name   string
		header []string // Authorization values; token() is appended as Bearer when set
		token  func() string
		query  string
		in     auth.Interaction
		typ    string
		status int
		code   string
		chall  string // prefix of WWW-Authenticate
		msg    string // substring of the diagnostics
	}{
		// ExtractBearer
		{name: "missing", status: 401, code: "login", chall: `Bearer realm="yiyang"`},
		{name: "basic scheme", header: []string{"Basic YWxpY2U6c2VjcmV0"}, status: 401, code: "security", chall: invalidReq, msg: "scheme"},
		{name: "bearer without token", header: []string{"Bearer"}, status: 401, code: "security", chall: invalidReq},
		{name: "bearer blank token", header: []string{"Bearer    "}, status: 401, code: "security", chall: invalidReq},
		{name: "token with space", header: []string{"Bearer abc def"}, status: 401, code: "security", chall: invalidReq},
		{name: "token with quote", header: []string{`Bearer abc"def`}, status: 401, code: "security", chall: invalidReq},
		{name: "token with non-ASCII", header: []string{"Bearer abc\u00e9def"}, status: 401, code: "security", chall: invalidReq},
		{name: "token of padding only", header: []string{"Bearer =="}, status: 401, code: "security", chall: invalidReq},
		{name: "padding inside token", header: []string{"Bearer ab=c"}, status: 401, code: "security", chall: invalidReq},
		{name: "two headers", header: []string{"Bearer a.b.c", "Bearer d.e.f"}, status: 401, code: "security", chall: invalidReq},
		{name: "token in query", query: "access_token=abc", status: 401, code: "security", chall: invalidReq},
		{name: "lower-case scheme", header: []string{"bearer "}, token: valid(nil), status: 200},
		// malformed
		{name: "one part", token: func() string { return "abcdef" }, status: 401, code: "security", chall: invalidToken, msg: "malformed"},
		{name: "garbage parts", token: func() string { return "a.b.c" }, status: 401, code: "security", chall: invalidToken, msg: "malformed"},
		{name: "payload not JSON", token: func() string {
			parts := strings.Split(valid(nil)(), ".")
			return parts[0] + ".bm90IGpzb24." + parts[2]
		}, status: 401, code: "security", chall: invalidToken, msg: "malformed"},
		{name: "too large", token: func() string { return big }, status: 401, code: "security", chall: invalidToken, msg: "too large"},
		{name: "tampered payload", token: func() string {
			good := strings.Split(valid(nil)(), ".")
			forged := strings.Split(valid(map[string]any{"sub": "mallory"})(), ".")
			return good[0] + "." + forged[1] + "." + good[2]
		}, status: 401, code: "security", chall: invalidToken, msg: "signature"},
		{name: "truncated signature", token: func() string { s := valid(nil)(); return s[:len(s)-8] }, status: 401, code: "security", chall: invalidToken, msg: "signature"},
		// expiry and clock skew (60s)
		{name: "expired", token: valid(nil, authtest.ExpiresIn(-10*time.Minute)), status: 401, code: "expired", chall: invalidToken + `, error_description="token expired"`},
		{name: "expired 30s ago within skew", token: valid(nil, authtest.ExpiresIn(-30*time.Second)), status: 200},
		{name: "expired 90s ago beyond skew", token: valid(nil, authtest.ExpiresIn(-90*time.Second)), status: 401, code: "expired", chall: invalidToken},
		{name: "no exp", token: valid(map[string]any{"exp": nil}), status: 401, code: "security", chall: invalidToken, msg: "exp"},
		{name: "exp not a number", token: valid(map[string]any{"exp": "tomorrow"}), status: 401, code: "security", chall: invalidToken, msg: "malformed token claims"},
		{name: "not yet valid", token: valid(nil, authtest.NotBefore(10*time.Minute)), status: 401, code: "security", chall: invalidToken, msg: "not valid yet"},
		{name: "nbf 30s ahead within skew", token: valid(nil, authtest.NotBefore(30*time.Second)), status: 200},
		{name: "nbf 90s ahead beyond skew", token: valid(nil, authtest.NotBefore(90*time.Second)), status: 401, code: "security", chall: invalidToken, msg: "not valid yet"},
		{name: "nbf not a number", token: valid(map[string]any{"nbf": "now"}), status: 401, code: "security", chall: invalidToken, msg: "malformed token claims"},
		// identity claims go into logs, policy input and AuditEvents
		{name: "NUL in subject", token: valid(map[string]any{"sub": "evil\x00sub"}), status: 401, code: "security", chall: invalidToken, msg: "claim sub"},
		{name: "line break in client id", token: valid(map[string]any{"client_id": "app\nforged"}), status: 401, code: "security", chall: invalidToken, msg: "claim client_id"},
		{name: "control character in fhirUser", token: valid(map[string]any{"fhirUser": "Practitioner/x\u0085"}), status: 401, code: "security", chall: invalidToken, msg: "claim fhirUser"},
		{name: "Chinese client name", token: valid(map[string]any{"client_id": "慢病管理"}), status: 200},
		// issuer
		{name: "untrusted issuer", token: func() string { return other.Token(t, "alice", scopes, nil) }, status: 401, code: "security", chall: invalidToken, msg: "issuer is not trusted"},
		{name: "no iss", token: valid(map[string]any{"iss": nil}), status: 401, code: "security", chall: invalidToken, msg: "issuer"},
		{name: "iss with trailing slash", token: valid(map[string]any{"iss": iss.URL() + "/"}), status: 401, code: "security", chall: invalidToken, msg: "issuer"},
		{name: "trusted iss signed by another issuer", token: func() string {
			return other.Sign(iss.Claims("alice", scopes, nil))
		}, status: 401, code: "security", chall: invalidToken, msg: "signature"},
		// audience
		{name: "wrong audience", token: valid(map[string]any{"aud": "https://other.example/fhir"}), status: 401, code: "security", chall: invalidToken, msg: "audience"},
		{name: "audience array", token: valid(map[string]any{"aud": []string{"account", authtest.Audience}}), status: 200},
		{name: "audience array without us", token: valid(map[string]any{"aud": []string{"account", "x"}}), status: 401, code: "security", chall: invalidToken, msg: "audience"},
		{name: "no audience", token: valid(map[string]any{"aud": nil}), status: 401, code: "security", chall: invalidToken, msg: "audience"},
		// keys and algorithms
		{name: "key not in JWKS", token: valid(nil, authtest.WithForeignKey()), status: 401, code: "security", chall: invalidToken, msg: "signature"},
		{name: "wrong key with published kid", token: func() string {
			return iss.Sign(iss.Claims("alice", scopes, nil), authtest.WithForeignKey(), authtest.WithHeaderKeyID(iss.KeyID()))
		}, status: 401, code: "security", chall: invalidToken, msg: "signature"},
		{name: "no kid", token: valid(nil, authtest.WithHeaderKeyID("")), status: 200},
		{name: "ES256", token: valid(nil, authtest.WithAlg("ES256")), status: 200},
		{name: "PS256", token: valid(nil, authtest.WithAlg("PS256")), status: 200},
		{name: "RS512", token: valid(nil, authtest.WithAlg("RS512")), status: 200},
		{name: "alg none", token: valid(nil, authtest.WithAlg("none")), status: 401, code: "security", chall: invalidToken, msg: "algorithm none is not accepted"},
		{name: "alg none without kid", token: valid(nil, authtest.WithAlg("none"), authtest.WithHeaderKeyID("")), status: 401, code: "security", chall: invalidToken, msg: "algorithm"},
		{name: "HS256 keyed with public key", token: valid(nil, authtest.WithAlg("HS256")), status: 401, code: "security", chall: invalidToken, msg: "algorithm HS256"},
		{name: "HS512 keyed with public key", token: valid(nil, authtest.WithAlg("HS512")), status: 401, code: "security", chall: invalidToken, msg: "algorithm HS512"},
		// scopes
		{name: "search allowed", token: withScope(scopes, nil), in: auth.Search, typ: "Observation", status: 200},
		{name: "no scopes", token: withScope("openid fhirUser", nil), status: 403, code: "forbidden", chall: insufficient, msg: "read on Observation"},
		{name: "other type", token: withScope("user/Patient.read", nil), status: 403, code: "forbidden", chall: insufficient},
		{name: "read scope cannot create", token: withScope("user/Observation.read", nil), in: auth.Create, status: 403, code: "forbidden", chall: insufficient, msg: "create on Observation"},
		{name: "v2 rs cannot delete", token: withScope(scopes, nil), in: auth.Delete, status: 403, code: "forbidden", chall: insufficient},
		{name: "v1 write can update", token: withScope("user/Observation.write", nil), in: auth.Update, status: 200},
		{name: "user/*.* deletes", token: withScope("user/*.*", nil), in: auth.Delete, typ: "Encounter", status: 200},
		{name: "system/*.read reads", token: withScope("system/*.read", nil), typ: "Condition", status: 200},
		{name: "system/*.read cannot delete", token: withScope("system/*.read", nil), in: auth.Delete, status: 403, code: "forbidden", chall: insufficient},
		{name: "patient scope with patient claim", token: withScope("patient/Observation.rs", map[string]any{"patient": "123"}), status: 200},
		{name: "patient scope with launch_context", token: withScope("patient/Observation.rs", map[string]any{"launch_context": map[string]any{"patient": "123"}}), status: 200},
		{name: "patient scope without patient", token: withScope("patient/Observation.rs", nil), status: 403, code: "forbidden", chall: insufficient, msg: "patient launch context"},
		{name: "invalid scope ignored", token: withScope("user/Observation.sr", nil), status: 403, code: "forbidden", chall: insufficient},
		{name: "scp array claim", token: withScope("", map[string]any{"scope": nil, "scp": []string{"user/Observation.read"}}), status: 200},
		{name: "granular scope allows", token: withScope("user/Observation.rs?category=laboratory", nil), in: auth.Search, status: 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			typ := tc.typ
			if typ == "" {
				typ = "Observation"
			}
			req := httptest.NewRequest("GET", "/"+typ+"?"+tc.query, nil)
			tok := ""
			if tc.token != nil {
				tok = tc.token()
			}
			hs := tc.header
			if tok != "" {
				if len(hs) == 0 {
					hs = []string{"Bearer "}
				}
				hs = []string{hs[0] + tok}
			}
			for _, h := range hs {
				req.Header.Add("Authorization", h)
			}
			rec := httptest.NewRecorder()
			protected(v, tc.in, typ).ServeHTTP(rec, req)
			body := rec.Body.String()
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d; body %s", rec.Code, tc.status, body)
			}
			if tc.status == 200 {
				if body != "alice" {
					t.Errorf("body %q, want the subject", body)
				}
				return
			}
			var oo struct {
				ResourceType string
				Issue        []struct{ Severity, Code, Diagnostics string }
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &oo); err != nil || oo.ResourceType != "OperationOutcome" || len(oo.Issue) != 1 {
				t.Fatalf("not an OperationOutcome (%v): %s", err, body)
			}
			if is := oo.Issue[0]; is.Code != tc.code || is.Severity != "error" || !strings.Contains(is.Diagnostics, tc.msg) {
				t.Errorf("issue %+v, want code %q and diagnostics containing %q", is, tc.code, tc.msg)
			}
			ch := rec.Header().Get("WWW-Authenticate")
			if !strings.HasPrefix(ch, tc.chall) {
				t.Errorf("WWW-Authenticate %q, want prefix %q", ch, tc.chall)
			}
			if tc.status == 403 && !strings.Contains(ch, `scope="`) {
				t.Errorf("insufficient_scope challenge without scope: %q", ch)
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/fhir+json") {
				t.Errorf("Content-Type %q", ct)
			}
			if len(tok) > 8 && (strings.Contains(body, tok[:8]) || strings.Contains(ch, tok[:8])) {
				t.Errorf("response echoes the token: %s / %s", body, ch)
			}
		})
	}
}

func TestKeyRotation(t *testing.T) {
	iss := authtest.NewIssuer(t)
	v := newVerifier(t, auth.Config{}, iss)
	ctx := context.Background()
	oldKid := iss.KeyID()
	oldTok := iss.Token(t, "alice", "user/*.rs", nil)
	if _, err := v.Verify(ctx, oldTok); err != nil {
		t.Fatalf("before rotation: %v", err)
	}
	fetches := iss.JWKSFetches()

	newKid := iss.Rotate() // the old key leaves the JWKS
	if _, err := v.Verify(ctx, iss.Token(t, "alice", "user/*.rs", nil)); err != nil {
		t.Fatalf("token with the new key %s: %v", newKid, err)
	}
	if iss.JWKSFetches() <= fetches {
		t.Errorf("the JWKS was not refetched for the unknown kid")
	}
	// Fetching the new key replaced the cached set, so the removed key is gone.
	_, err := v.Verify(ctx, iss.Sign(iss.Claims("alice", "", nil), authtest.WithKeyID(oldKid)))
	var ae *auth.Error
	if !asAuthError(err, &ae) || ae.Status != 401 || !strings.Contains(ae.Msg, "signature") {
		t.Fatalf("token signed by the removed key: %v", err)
	}

	kept := iss.Rotate(authtest.KeepOld())
	for _, kid := range []string{newKid, kept} {
		if _, err := v.Verify(ctx, iss.Sign(iss.Claims("alice", "", nil), authtest.WithKeyID(kid))); err != nil {
			t.Errorf("kid %s after rotation with KeepOld: %v", kid, err)
		}
	}
}

func asAuthError(err error, target **auth.Error) bool {
	ae, ok := err.(*auth.Error)
	*target = ae
	return ok
}

func TestTwoIssuers(t *testing.T) {
	a, b := authtest.NewIssuer(t), authtest.NewIssuer(t)
	b.Audience = "urn:yiyang:b"
	v := newVerifier(t, auth.Config{}, a, b)
	ctx := context.Background()
	for _, is := range []*authtest.Issuer{a, b} {
		p, err := v.Verify(ctx, is.Token(t, "bob", "user/*.read", nil))
		if err != nil {
			t.Fatalf("issuer %s: %v", is.URL(), err)
		}
		if p.Issuer != is.URL() {
			t.Errorf("Issuer %q, want %q", p.Issuer, is.URL())
		}
	}
	// Each issuer is checked against its own audience.
	if _, err := v.Verify(ctx, b.Token(t, "bob", "", map[string]any{"aud": authtest.Audience})); err == nil {
		t.Error("issuer b's token with issuer a's audience verified")
	}
}

func TestAlgorithmAllowList(t *testing.T) {
	iss := authtest.NewIssuer(t)
	v := newVerifier(t, auth.Config{Algorithms: []string{"ES256"}}, iss)
	ctx := context.Background()
	if _, err := v.Verify(ctx, iss.Sign(iss.Claims("a", "", nil), authtest.WithAlg("ES256"))); err != nil {
		t.Errorf("ES256: %v", err)
	}
	if _, err := v.Verify(ctx, iss.Token(t, "a", "", nil)); err == nil || !strings.Contains(err.Error(), "RS256 is not accepted") {
		t.Errorf("RS256 with an ES256-only allow-list: %v", err)
	}
}

func TestClockSkewConfig(t *testing.T) {
	iss := authtest.NewIssuer(t)
	v := newVerifier(t, auth.Config{ClockSkew: 5 * time.Second}, iss)
	_, err := v.Verify(context.Background(), iss.Sign(iss.Claims("a", "", nil), authtest.ExpiresIn(-30*time.Second)))
	if err == nil {
		t.Error("exp 30s ago verified with a 5s skew")
	}
}

func TestPrincipal(t *testing.T) {
	iss := authtest.NewIssuer(t)
	v := newVerifier(t, auth.Config{}, iss)
	tok := iss.Token(t, "dr-li", "openid fhirUser launch/patient offline_access patient/Observation.rs user/Encounter.cruds", map[string]any{
		"client_id": nil, "azp": "ehr-app", "fhirUser": "Practitioner/7",
		"launch_context": map[string]any{"patient": "p1", "encounter": "e1"},
		"roles":          []string{"doctor"}, "realm_access": map[string]any{"roles": []string{"nurse", "doctor"}},
	})
	p, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if p.Subject != "dr-li" || p.ClientID != "ehr-app" || p.FHIRUser != "Practitioner/7" || p.Patient != "p1" || p.Encounter != "e1" {
		t.Errorf("principal %+v", p)
	}
	if strings.Join(p.Roles, ",") != "doctor,nurse" {
		t.Errorf("roles %v", p.Roles)
	}
	if strings.Join(p.OtherScopes, " ") != "openid fhirUser launch/patient offline_access" || len(p.Scopes) != 2 {
		t.Errorf("scopes %v / %v", p.Scopes, p.OtherScopes)
	}
	if time.Until(p.Expiry) < 4*time.Minute || p.Claims["azp"] != "ehr-app" {
		t.Errorf("expiry %v, claims %v", p.Expiry, p.Claims)
	}
	if !p.PatientScoped(auth.Read, "Observation") || p.PatientScoped(auth.Read, "Encounter") {
		t.Error("PatientScoped")
	}
}

func TestNewErrors(t *testing.T) {
	iss := authtest.NewIssuer(t)
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusInternalServerError)
	}))
	defer broken.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	cases := []struct {
		name string
		cfg  auth.Config
		want string
	}{
		{"no issuers", auth.Config{}, "at least one issuer"},
		{"HS256 allowed", auth.Config{Algorithms: []string{"RS256", "HS256"}}, `"HS256" is not allowed`},
		{"none allowed", auth.Config{Algorithms: []string{"none"}}, `"none" is not allowed`},
		{"http issuer", auth.Config{Issuers: []auth.Issuer{{URL: "http://idp.example.org", Audience: "a"}}}, "must use https"},
		{"relative issuer", auth.Config{Issuers: []auth.Issuer{{URL: "/idp", Audience: "a"}}}, "not an absolute URL"},
		{"no audience", auth.Config{Issuers: []auth.Issuer{{URL: iss.URL()}}}, "needs an audience"},
		{"twice", auth.Config{Issuers: []auth.Issuer{{URL: iss.URL(), Audience: "a"}, {URL: iss.URL(), Audience: "b"}}}, "twice"},
		{"negative skew", auth.Config{ClockSkew: -time.Second}, "negative"},
		{"discovery 500", auth.Config{Issuers: []auth.Issuer{{URL: broken.URL, Audience: "a"}}}, "discovery for issuer " + broken.URL},
		{"discovery unreachable", auth.Config{Issuers: []auth.Issuer{{URL: closed.URL, Audience: "a"}}}, "discovery for issuer " + closed.URL},
		{"issuer mismatch", auth.Config{Issuers: []auth.Issuer{{URL: iss.URL() + "/", Audience: "a"}}}, "did not match"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if len(tc.cfg.Issuers) == 0 && tc.name != "no issuers" {
				tc.cfg.Issuers = []auth.Issuer{{URL: iss.URL(), Audience: "a"}}
			}
			_, err := auth.New(context.Background(), tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v, want %q", err, tc.want)
			}
		})
	}
}

func TestSMARTConfiguration(t *testing.T) {
	iss := authtest.NewIssuer(t)
	v := newVerifier(t, auth.Config{}, iss)
	var doc map[string]any
	if err := json.Unmarshal(v.SMARTConfiguration(), &doc); err != nil {
		t.Fatal(err)
	}
	u := iss.URL()
	for k, want := range map[string]string{
		"issuer": u, "jwks_uri": u + "/jwks", "authorization_endpoint": u + "/authorize",
		"token_endpoint": u + "/token", "introspection_endpoint": u + "/introspect", "revocation_endpoint": u + "/revoke",
	} {
		if doc[k] != want {
			t.Errorf("%s = %v, want %s", k, doc[k], want)
		}
	}
	has := func(k, v string) bool {
		l, _ := doc[k].([]any)
		for _, e := range l {
			if e == v {
				return true
			}
		}
		return false
	}
	for k, vs := range map[string][]string{
		"capabilities":                          {"launch-ehr", "launch-standalone", "permission-v1", "permission-v2", "context-ehr-patient", "sso-openid-connect", "client-confidential-asymmetric"},
		"scopes_supported":                      {"openid", "fhirUser", "launch", "launch/patient", "offline_access", "patient/*.rs", "user/*.cruds", "system/*.rs", "patient/*.read", "user/*.*"},
		"response_types_supported":              {"code"},
		"code_challenge_methods_supported":      {"S256"},
		"grant_types_supported":                 {"authorization_code", "client_credentials"},
		"token_endpoint_auth_methods_supported": {"private_key_jwt"},
	} {
		for _, want := range vs {
			if !has(k, want) {
				t.Errorf("%s lacks %q: %v", k, want, doc[k])
			}
		}
	}
	if has("code_challenge_methods_supported", "plain") {
		t.Error("plain PKCE advertised")
	}

	var sec struct {
		Service []struct {
			Coding []struct{ System, Code string }
		}
		Extension []struct {
			URL       string
			Extension []struct{ URL, ValueURI string }
		}
	}
	if err := json.Unmarshal(v.CapabilitySecurity(), &sec); err != nil {
		t.Fatal(err)
	}
	if len(sec.Service) != 1 || sec.Service[0].Coding[0].Code != "SMART-on-FHIR" || len(sec.Extension) != 1 ||
		len(sec.Extension[0].Extension) != 4 || sec.Extension[0].Extension[1].ValueURI != u+"/token" {
		t.Errorf("security %+v", sec)
	}
}

func TestCanceledContext(t *testing.T) {
	iss := authtest.NewIssuer(t)
	v := newVerifier(t, auth.Config{}, iss)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// An unknown kid needs a JWKS fetch, which the canceled context stops.
	_, err := v.Verify(ctx, iss.Sign(iss.Claims("a", "", nil), authtest.WithForeignKey()))
	if err != context.Canceled {
		t.Errorf("err %v, want context.Canceled", err)
	}
}
