// Package auth makes Yiyang an OAuth2 resource server: it verifies bearer
// tokens from configured OIDC issuers and turns their SMART scopes and launch
// context into a Principal the server authorizes with.
//
// Tokens are JWTs checked with github.com/coreos/go-oidc/v3 against each
// issuer's discovery document and JWKS (refetched when an unknown key id
// appears, which is how key rotation is picked up). Failures are *Error
// values carrying the HTTP status, the FHIR issue code and the RFC 6750
// WWW-Authenticate challenge; the server turns them into OperationOutcomes.
package auth

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/coreos/go-oidc/v3/oidc"
)

// DefaultAlgorithms are the signing algorithms accepted when
// Config.Algorithms is empty: asymmetric ones only.
var DefaultAlgorithms = []string{"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512"}

// asymmetric are the algorithms Config.Algorithms may name. HMAC (HS*) and
// "none" are absent on purpose: a resource server verifying with public keys
// must never accept them.
var asymmetric = map[string]bool{
	"RS256": true, "RS384": true, "RS512": true, "ES256": true, "ES384": true, "ES512": true,
	"PS256": true, "PS384": true, "PS512": true, "EdDSA": true,
}

// maxTokenBytes bounds the size of a bearer token.
const maxTokenBytes = 16 << 10

// Config configures a Verifier.
type Config struct {
	// Issuers are the trusted token issuers; at least one is required.
	Issuers []Issuer
	// ClockSkew is the tolerance applied to exp and nbf; 0 means 60s.
	ClockSkew time.Duration
	// Algorithms are the accepted JWS algorithms; empty means
	// DefaultAlgorithms. HS* and none are rejected.
	Algorithms []string
	// RoleClaims are the claims roles are read from, as dotted paths;
	// empty means "roles" and Keycloak's "realm_access.roles".
	RoleClaims []string
	// HTTPClient fetches discovery documents and key sets; nil means a
	// client with a 10s timeout.
	HTTPClient *http.Client
	// Logger receives debug detail about rejected tokens; nil discards.
	Logger *slog.Logger
	// CacheTTL is how long a verified token is remembered (never past its
	// exp); 0 means 60s, a negative value turns the cache off. A signing key
	// withdrawn from the issuer's JWKS keeps admitting its tokens this long.
	CacheTTL time.Duration
	// CacheSize bounds the remembered tokens; 0 means 10,000.
	CacheSize int
}

// Issuer is one trusted OIDC provider.
type Issuer struct {
	// URL is the issuer identifier; it must equal the discovery document's
	// "issuer" and the tokens' "iss" exactly. https is required except on
	// loopback hosts.
	URL string
	// Audience must appear in the tokens' "aud" (this server's identifier
	// at that provider).
	Audience string
}

func (c *Config) validate() error {
	if len(c.Issuers) == 0 {
		return errors.New("auth: at least one issuer is required")
	}
	seen := map[string]bool{}
	for _, is := range c.Issuers {
		u, err := url.Parse(is.URL)
		if err != nil || u.Host == "" {
			return fmt.Errorf("auth: issuer %q is not an absolute URL", is.URL)
		}
		if u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname())) {
			return fmt.Errorf("auth: issuer %q must use https", is.URL)
		}
		if is.Audience == "" {
			return fmt.Errorf("auth: issuer %q needs an audience", is.URL)
		}
		if seen[is.URL] {
			return fmt.Errorf("auth: issuer %q is configured twice", is.URL)
		}
		seen[is.URL] = true
	}
	if c.ClockSkew < 0 {
		return errors.New("auth: negative clock skew")
	}
	if c.ClockSkew == 0 {
		c.ClockSkew = 60 * time.Second
	}
	if len(c.Algorithms) == 0 {
		c.Algorithms = DefaultAlgorithms
	}
	for _, a := range c.Algorithms {
		if !asymmetric[a] {
			return fmt.Errorf("auth: signing algorithm %q is not allowed (only asymmetric algorithms are)", a)
		}
	}
	if len(c.RoleClaims) == 0 {
		c.RoleClaims = []string{"roles", "realm_access.roles"}
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.CacheTTL == 0 {
		c.CacheTTL = 60 * time.Second
	}
	if c.CacheSize <= 0 {
		c.CacheSize = 10000
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Verifier verifies bearer tokens. It is safe for concurrent use.
type Verifier struct {
	cfg     Config
	algs    map[string]bool
	issuers map[string]*issuer
	smart   []byte
	first   *issuer
	cache   *tokenCache
	now     func() time.Time
}

type issuer struct {
	Issuer
	verifier  *oidc.IDTokenVerifier
	discovery map[string]any // the raw discovery document
}

// New validates cfg and performs OIDC discovery for every issuer. A
// discovery failure is an error naming the issuer.
func New(ctx context.Context, cfg Config) (*Verifier, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	v := &Verifier{cfg: cfg, algs: map[string]bool{}, issuers: map[string]*issuer{},
		cache: newTokenCache(cfg.CacheTTL, cfg.CacheSize), now: time.Now}
	for _, a := range cfg.Algorithms {
		v.algs[a] = true
	}
	ctx = oidc.ClientContext(ctx, cfg.HTTPClient)
	for _, is := range cfg.Issuers {
		p, err := oidc.NewProvider(ctx, is.URL)
		if err != nil {
			return nil, fmt.Errorf("auth: discovery for issuer %s: %w", is.URL, err)
		}
		var disc map[string]any
		if err := p.Claims(&disc); err != nil {
			return nil, fmt.Errorf("auth: discovery for issuer %s: %w", is.URL, err)
		}
		iv := &issuer{Issuer: is, discovery: disc}
		// go-oidc's expiry check has no leeway; exp and nbf are checked in
		// Verify with the configured skew instead.
		iv.verifier = p.VerifierContext(ctx, &oidc.Config{
			ClientID:             is.Audience,
			SupportedSigningAlgs: cfg.Algorithms,
			SkipExpiryCheck:      true,
		})
		v.issuers[is.URL] = iv
		if v.first == nil {
			v.first = iv
		}
	}
	v.smart = smartConfiguration(v.first.discovery)
	return v, nil
}

// Verify checks rawToken (a JWT) and returns its Principal. The issuer is
// chosen by the token's iss among the configured ones; the signature, alg,
// aud, exp and nbf (with the clock skew) are then checked. Rejections are
// *Error with status 401 (error="invalid_request" for a token that is not
// an RFC 6750 b64token); a canceled ctx returns ctx.Err().
func (v *Verifier) Verify(ctx context.Context, rawToken string) (*Principal, error) {
	if rawToken == "" {
		return nil, invalidToken("empty bearer token", nil)
	}
	if len(rawToken) > maxTokenBytes {
		return nil, invalidToken("bearer token too large", nil)
	}
	if p, ok := v.cache.get(rawToken, v.now()); ok {
		return p, nil
	}
	if !isB64Token(rawToken) {
		return nil, invalidRequest("malformed bearer token")
	}
	p, nbf, err := v.verify(ctx, rawToken)
	if err != nil {
		return nil, err
	}
	e := cacheEntry{p: p, validUntil: p.Expiry.Add(v.cfg.ClockSkew)}
	if until := v.now().Add(v.cfg.CacheTTL); until.Before(e.validUntil) {
		e.validUntil = until
	}
	if !nbf.IsZero() {
		e.notBefore = nbf.Add(-v.cfg.ClockSkew)
	}
	v.cache.put(rawToken, e)
	return p, nil
}

// verify checks a token that is not in the cache; nbf is its not-before
// time, zero when it has none.
func (v *Verifier) verify(ctx context.Context, rawToken string) (*Principal, time.Time, error) {
	var nbf time.Time
	alg, unverified, err := peek(rawToken)
	if err != nil {
		return nil, nbf, invalidToken("malformed bearer token: not a signed JWT", err)
	}
	if !v.algs[alg] {
		return nil, nbf, invalidToken(fmt.Sprintf("signing algorithm %s is not accepted", printable(alg)), nil)
	}
	iss, _ := unverified["iss"].(string)
	is := v.issuers[iss]
	if is == nil {
		return nil, nbf, invalidToken("token issuer is not trusted", nil)
	}
	tok, err := is.verifier.Verify(ctx, rawToken)
	if err != nil {
		if ctx.Err() != nil {
			return nil, nbf, ctx.Err()
		}
		v.cfg.Logger.DebugContext(ctx, "bearer token rejected", "issuer", iss, "err", err)
		// go-oidc checks the signature first, so an audience error means the
		// token is genuine but meant for another resource server.
		switch msg := err.Error(); {
		case strings.Contains(msg, "expected audience"):
			return nil, nbf, invalidToken("token audience does not include this server", err)
		case strings.Contains(msg, "failed to unmarshal claims"):
			return nil, nbf, invalidToken("malformed token claims (a registered claim has the wrong type)", err)
		}
		return nil, nbf, invalidToken("token signature could not be verified", err)
	}
	var claims map[string]any
	if err := tok.Claims(&claims); err != nil {
		return nil, nbf, invalidToken("malformed token claims", err)
	}
	now := v.now()
	exp, ok := numericDate(claims["exp"])
	if !ok {
		return nil, nbf, invalidToken("token has no valid exp claim", nil)
	}
	if now.After(exp.Add(v.cfg.ClockSkew)) {
		return nil, nbf, &Error{Status: http.StatusUnauthorized, Code: "expired", Msg: "token expired",
			Challenge: challenge("invalid_token", "token expired", "")}
	}
	if raw, present := claims["nbf"]; present {
		var ok bool
		nbf, ok = numericDate(raw)
		if !ok {
			return nil, nbf, invalidToken("token has an invalid nbf claim", nil)
		}
		if now.Add(v.cfg.ClockSkew).Before(nbf) {
			return nil, nbf, invalidToken("token is not valid yet", nil)
		}
	}
	p := v.principal(ctx, tok, claims, exp)
	if claim, bad := p.unprintable(); bad {
		return nil, nbf, invalidToken("token claim "+claim+" holds control characters or invalid UTF-8", nil)
	}
	return p, nbf, nil
}

// unprintable names an identity claim of p (subject, client, fhirUser,
// launch context, role) that holds a control character or invalid UTF-8.
// The identity goes into logs, policy input and AuditEvents, whose text
// columns cannot hold a NUL: such a token is refused rather than let it
// act without an audit record, or with a garbled one.
func (p *Principal) unprintable() (string, bool) {
	bad := func(s string) bool {
		return !utf8.ValidString(s) || strings.ContainsFunc(s, unicode.IsControl)
	}
	for _, c := range []struct{ name, value string }{{"sub", p.Subject}, {"client_id", p.ClientID}, {"fhirUser", p.FHIRUser},
		{"patient", p.Patient}, {"encounter", p.Encounter}} {
		if bad(c.value) {
			return c.name, true
		}
	}
	for _, r := range p.Roles {
		if bad(r) {
			return "roles", true
		}
	}
	return "", false
}

func (v *Verifier) principal(ctx context.Context, tok *oidc.IDToken, claims map[string]any, exp time.Time) *Principal {
	p := &Principal{
		Subject: tok.Subject, Issuer: tok.Issuer, Expiry: exp, Claims: claims,
		ClientID: firstString(claims, "client_id", "azp", "cid", "appid"),
		FHIRUser: firstString(claims, "fhirUser"),
		Patient:  firstString(claims, "patient"), Encounter: firstString(claims, "encounter"),
	}
	if lc, ok := claims["launch_context"].(map[string]any); ok {
		if p.Patient == "" {
			p.Patient = firstString(lc, "patient")
		}
		if p.Encounter == "" {
			p.Encounter = firstString(lc, "encounter")
		}
	}
	var raw []string
	for _, name := range []string{"scope", "scp"} {
		raw = append(raw, stringList(claims[name])...)
	}
	scopes, other, err := ParseScopes(strings.Join(raw, " "))
	if err != nil {
		v.cfg.Logger.DebugContext(ctx, "ignoring invalid scopes", "subject", p.Subject, "err", err)
	}
	p.Scopes, p.OtherScopes = scopes, other
	for _, path := range v.cfg.RoleClaims {
		for _, r := range stringList(lookup(claims, path)) {
			if !slices.Contains(p.Roles, r) {
				p.Roles = append(p.Roles, r)
			}
		}
	}
	return p
}

// peek decodes a compact JWS's header alg and payload without verifying
// anything: only to choose the issuer and reject bad algorithms early.
func peek(raw string) (string, map[string]any, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return "", nil, errors.New("not three dot-separated parts")
	}
	var hdr struct {
		Alg string `json:"alg"`
	}
	var claims map[string]any
	for i, dst := range []any{&hdr, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			return "", nil, err
		}
		if err := json.Unmarshal(b, dst); err != nil {
			return "", nil, err
		}
	}
	return hdr.Alg, claims, nil
}

// numericDate reads a JWT NumericDate (seconds since the epoch).
func numericDate(v any) (time.Time, bool) {
	f, ok := v.(float64)
	if !ok {
		return time.Time{}, false
	}
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9)), true
}

func firstString(m map[string]any, names ...string) string {
	for _, n := range names {
		if s, ok := m[n].(string); ok && s != "" {
			return s
		}
	}
	return ""
}

// stringList reads a claim that is a space-separated string or an array of
// strings.
func stringList(v any) []string {
	switch v := v.(type) {
	case string:
		return strings.Fields(v)
	case []any:
		var out []string
		for _, e := range v {
			if s, ok := e.(string); ok && s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// lookup follows a dotted path through nested claim objects.
func lookup(m map[string]any, path string) any {
	var cur any = m
	for _, k := range strings.Split(path, ".") {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = obj[k]
	}
	return cur
}

// printable quotes a short header value for a message, or says it is not
// shown.
func printable(s string) string {
	if len(s) > 16 || strings.ContainsFunc(s, func(r rune) bool {
		return !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9')
	}) {
		return "(not shown)"
	}
	if s == "" {
		return "(empty)"
	}
	return s
}

// SMARTScopes are the scopes advertised in the SMART configuration.
var SMARTScopes = []string{
	"openid", "fhirUser", "profile", "launch", "launch/patient", "launch/encounter", "offline_access", "online_access",
	"patient/*.rs", "user/*.cruds", "system/*.rs", "patient/*.read", "user/*.*", "system/*.read",
}

// SMARTCapabilities are the SMART App Launch 2.x capabilities advertised.
var SMARTCapabilities = []string{
	"launch-ehr", "launch-standalone", "client-public", "client-confidential-symmetric",
	"client-confidential-asymmetric", "context-ehr-patient", "context-standalone-patient",
	"permission-patient", "permission-user", "permission-v1", "permission-v2", "sso-openid-connect",
}

func smartConfiguration(disc map[string]any) []byte {
	out := map[string]any{
		"scopes_supported":                 SMARTScopes,
		"response_types_supported":         []string{"code"},
		"capabilities":                     SMARTCapabilities,
		"code_challenge_methods_supported": []string{"S256"},
		"grant_types_supported":            []string{"authorization_code", "client_credentials"},
		"token_endpoint_auth_methods_supported": []string{
			"client_secret_basic", "private_key_jwt",
		},
	}
	for _, k := range []string{"issuer", "jwks_uri", "authorization_endpoint", "token_endpoint",
		"introspection_endpoint", "revocation_endpoint", "registration_endpoint", "userinfo_endpoint",
		"grant_types_supported", "token_endpoint_auth_methods_supported"} {
		if v, ok := disc[k]; ok && v != nil {
			out[k] = v
		}
	}
	b, _ := json.Marshal(out) // only strings and string slices: cannot fail
	return b
}

// SMARTConfiguration is the JSON document for
// /.well-known/smart-configuration, built from the first issuer's discovery
// document.
func (v *Verifier) SMARTConfiguration() []byte { return bytes.Clone(v.smart) }

// CapabilitySecurity is the CapabilityStatement rest.security element: CORS,
// the SMART-on-FHIR service and the oauth-uris extension pointing at the
// first issuer's endpoints.
func (v *Verifier) CapabilitySecurity() json.RawMessage {
	var ext []map[string]string
	for _, e := range [][2]string{{"authorize", "authorization_endpoint"}, {"token", "token_endpoint"},
		{"introspect", "introspection_endpoint"}, {"revoke", "revocation_endpoint"}} {
		if u, ok := v.first.discovery[e[1]].(string); ok && u != "" {
			ext = append(ext, map[string]string{"url": e[0], "valueUri": u})
		}
	}
	sec := map[string]any{
		"cors": true,
		"service": []any{map[string]any{"coding": []any{map[string]string{
			"system": "http://terminology.hl7.org/CodeSystem/restful-security-service", "code": "SMART-on-FHIR",
		}}}},
		"extension": []any{map[string]any{
			"url":       "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
			"extension": ext,
		}},
		"description": "OAuth2 bearer tokens (SMART App Launch 2.x, scopes v1 and v2)",
	}
	b, _ := json.Marshal(sec)
	return b
}
