// Package authtest is an in-process OIDC provider for tests: an httptest
// server on 127.0.0.1 serving discovery and a JWKS, with RSA and EC keys that
// sign real JWTs, key rotation, and options to forge the bad tokens a
// resource server must reject (alg none, HMAC keyed with the public key,
// keys not in the JWKS, expired or not-yet-valid tokens).
package authtest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Audience is the aud of tokens made by Token unless Issuer.Audience is
// changed.
const Audience = "https://yiyang.test/fhir"

// Issuer is a test OIDC provider. Its methods are safe for concurrent use.
type Issuer struct {
	// Audience is the aud Token puts in tokens.
	Audience string

	t       testing.TB
	srv     *httptest.Server
	mu      sync.Mutex
	n       int             // keys generated, for key ids
	all     map[string]*key // every key ever made, by kid
	jwks    []*key          // the published keys
	rsa     *key            // the current RSA key
	ec      *key            // the EC key
	foreign *key            // a key never published
	fetches int
}

type key struct {
	kid  string
	priv crypto.Signer
	alg  jose.SignatureAlgorithm
}

// NewIssuer starts a provider that is stopped when the test ends.
func NewIssuer(t testing.TB) *Issuer {
	t.Helper()
	i := &Issuer{Audience: Audience, t: t, all: map[string]*key{}}
	i.rsa = i.newKey(jose.RS256)
	i.ec = i.newKey(jose.ES256)
	i.foreign = i.newKey(jose.RS256)
	delete(i.all, i.foreign.kid)
	i.jwks = []*key{i.rsa, i.ec}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", i.discovery)
	mux.HandleFunc("GET /jwks", i.keys)
	i.srv = httptest.NewServer(mux)
	t.Cleanup(i.srv.Close)
	return i
}

func (i *Issuer) newKey(alg jose.SignatureAlgorithm) *key {
	i.n++
	k := &key{kid: fmt.Sprintf("key-%d", i.n), alg: alg}
	var err error
	if alg == jose.ES256 {
		k.priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	} else {
		k.priv, err = rsa.GenerateKey(rand.Reader, 2048)
	}
	if err != nil {
		i.t.Fatalf("authtest: generating key: %v", err)
	}
	i.all[k.kid] = k
	return k
}

// URL is the issuer identifier (the iss of its tokens).
func (i *Issuer) URL() string { return i.srv.URL }

// Client is an HTTP client for the provider's server.
func (i *Issuer) Client() *http.Client { return i.srv.Client() }

// KeyID is the id of the current RSA signing key.
func (i *Issuer) KeyID() string {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.rsa.kid
}

// JWKSFetches counts the requests for the key set.
func (i *Issuer) JWKSFetches() int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.fetches
}

func (i *Issuer) discovery(w http.ResponseWriter, r *http.Request) {
	u := i.srv.URL
	writeJSON(w, map[string]any{
		"issuer":                                u,
		"authorization_endpoint":                u + "/authorize",
		"token_endpoint":                        u + "/token",
		"introspection_endpoint":                u + "/introspect",
		"revocation_endpoint":                   u + "/revoke",
		"jwks_uri":                              u + "/jwks",
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256", "ES256", "PS256"},
		"grant_types_supported":                 []string{"authorization_code", "client_credentials", "refresh_token"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "private_key_jwt"},
		"code_challenge_methods_supported":      []string{"S256"},
	})
}

func (i *Issuer) keys(w http.ResponseWriter, r *http.Request) {
	i.mu.Lock()
	i.fetches++
	var set jose.JSONWebKeySet
	for _, k := range i.jwks {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.priv.Public(), KeyID: k.kid, Algorithm: string(k.alg), Use: "sig"})
	}
	i.mu.Unlock()
	writeJSON(w, set)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// RotateOption changes what Rotate does.
type RotateOption func(*rotation)

type rotation struct{ keepOld bool }

// KeepOld keeps the previous RSA key in the JWKS after a rotation.
func KeepOld() RotateOption { return func(r *rotation) { r.keepOld = true } }

// Rotate makes a new RSA key current and publishes it; the previous one is
// removed from the JWKS unless KeepOld is given (it can still sign, with
// WithKeyID). It returns the new key id.
func (i *Issuer) Rotate(opts ...RotateOption) string {
	var ro rotation
	for _, o := range opts {
		o(&ro)
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	old := i.rsa
	i.rsa = i.newKey(jose.RS256)
	if !ro.keepOld {
		for n, k := range i.jwks {
			if k == old {
				i.jwks = append(i.jwks[:n:n], i.jwks[n+1:]...)
				break
			}
		}
	}
	i.jwks = append(i.jwks, i.rsa)
	return i.rsa.kid
}

// Option changes how Sign makes a token.
type Option func(*signing)

type signing struct {
	alg       string
	kid       string // signing key by id
	headerKid *string
	foreign   bool
	claims    map[string]any
}

// WithAlg signs with alg: RS*/PS* use the current RSA key, ES256 the EC
// key, "none" leaves the token unsigned, and HS256/384/512 use the RSA public
// key's PEM as the HMAC secret (the algorithm-confusion attack).
func WithAlg(alg string) Option { return func(s *signing) { s.alg = alg } }

// WithKeyID signs with the key of that id (e.g. one rotated out).
func WithKeyID(kid string) Option { return func(s *signing) { s.kid = kid } }

// WithHeaderKeyID puts kid in the header whatever key signs; "" omits it.
func WithHeaderKeyID(kid string) Option { return func(s *signing) { s.headerKid = &kid } }

// WithForeignKey signs with an RSA key that was never in the JWKS.
func WithForeignKey() Option { return func(s *signing) { s.foreign = true } }

// ExpiresIn sets exp to now+d (negative d: in the past).
func ExpiresIn(d time.Duration) Option {
	return func(s *signing) { s.claims["exp"] = time.Now().Add(d).Unix() }
}

// NotBefore sets nbf to now+d.
func NotBefore(d time.Duration) Option {
	return func(s *signing) { s.claims["nbf"] = time.Now().Add(d).Unix() }
}

// Sign serializes claims as a compact JWT, by default RS256 with the current
// RSA key and its kid.
func (i *Issuer) Sign(claims map[string]any, opts ...Option) string {
	i.t.Helper()
	s := signing{alg: "RS256", claims: map[string]any{}}
	for k, v := range claims {
		s.claims[k] = v
	}
	for _, o := range opts {
		o(&s)
	}
	payload, err := json.Marshal(s.claims)
	if err != nil {
		i.t.Fatalf("authtest: claims: %v", err)
	}
	i.mu.Lock()
	k := i.rsa
	if strings.HasPrefix(s.alg, "ES") {
		k = i.ec
	}
	if s.kid != "" {
		k = i.all[s.kid]
	}
	if s.foreign {
		k = i.foreign
	}
	i.mu.Unlock()
	if k == nil {
		i.t.Fatalf("authtest: no key %q", s.kid)
	}
	kid := k.kid
	if s.headerKid != nil {
		kid = *s.headerKid
	}
	switch s.alg {
	case "none":
		hdr := map[string]string{"alg": "none", "typ": "JWT"}
		if kid != "" {
			hdr["kid"] = kid
		}
		h, _ := json.Marshal(hdr)
		return b64(h) + "." + b64(payload) + "."
	case "HS256", "HS384", "HS512":
		der, err := x509.MarshalPKIXPublicKey(k.priv.Public())
		if err != nil {
			i.t.Fatalf("authtest: %v", err)
		}
		secret := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
		return i.sign(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(s.alg), Key: secret}, kid, payload)
	}
	return i.sign(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(s.alg), Key: k.priv}, kid, payload)
}

func (i *Issuer) sign(sk jose.SigningKey, kid string, payload []byte) string {
	i.t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader("kid", kid)
	}
	signer, err := jose.NewSigner(sk, opts)
	if err != nil {
		i.t.Fatalf("authtest: signer: %v", err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		i.t.Fatalf("authtest: sign: %v", err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		i.t.Fatalf("authtest: serialize: %v", err)
	}
	return out
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// Claims are the claims of a valid access token: iss, sub, aud, iat, exp
// (in 5 minutes), client_id and scope, then extra; an extra key with a nil
// value removes that claim.
func (i *Issuer) Claims(subject, scopes string, extra map[string]any) map[string]any {
	now := time.Now()
	c := map[string]any{
		"iss": i.URL(), "sub": subject, "aud": i.Audience, "iat": now.Unix(),
		"exp": now.Add(5 * time.Minute).Unix(), "client_id": "test-client", "scope": scopes,
	}
	for k, v := range extra {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

// Token is a valid RS256 access token for subject with scopes and extra
// claims (see Claims).
func (i *Issuer) Token(t testing.TB, subject, scopes string, extra map[string]any) string {
	t.Helper()
	return i.Sign(i.Claims(subject, scopes, extra))
}
