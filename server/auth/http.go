package auth

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/meizhou-yiyang/yiyang/resources"
)

// Realm is the realm named in WWW-Authenticate challenges.
const Realm = "yiyang"

// Error is an authentication or authorization failure. Msg is safe to show
// to clients (it never contains the token); Err is the cause, for logs only.
type Error struct {
	Status    int    // 401 or 403
	Code      string // FHIR issue type: login, security, expired, forbidden
	Msg       string
	Challenge string // the WWW-Authenticate value (RFC 6750)
	Err       error
}

func (e *Error) Error() string { return "auth: " + e.Msg }
func (e *Error) Unwrap() error { return e.Err }

// Issue is the error as an OperationOutcome issue.
func (e *Error) Issue() resources.Issue {
	return resources.Issue{Severity: "error", Code: e.Code, Diagnostics: e.Msg}
}

// Outcome is the error as an OperationOutcome.
func (e *Error) Outcome() []byte { return resources.OutcomeJSON([]resources.Issue{e.Issue()}) }

// challenge builds a Bearer challenge; code, desc and scope may be empty.
func challenge(code, desc, scope string) string {
	var b strings.Builder
	b.WriteString(`Bearer realm="` + Realm + `"`)
	for _, kv := range [][2]string{{"error", code}, {"error_description", desc}, {"scope", scope}} {
		if kv[1] != "" {
			b.WriteString(", " + kv[0] + `="` + quotable(kv[1]) + `"`)
		}
	}
	return b.String()
}

// quotable keeps the characters RFC 6750 allows in its quoted attributes.
func quotable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return '\''
		}
		return r
	}, s)
}

func invalidToken(msg string, err error) *Error {
	return &Error{Status: http.StatusUnauthorized, Code: "security", Msg: msg,
		Challenge: challenge("invalid_token", msg, ""), Err: err}
}

func invalidRequest(msg string) *Error {
	return &Error{Status: http.StatusUnauthorized, Code: "security", Msg: msg,
		Challenge: challenge("invalid_request", msg, "")}
}

// ExtractBearer returns the bearer token of r's Authorization header. A
// missing header is a 401 with a bare challenge (code login); another
// scheme, several headers, a token in the URL or an empty token is a 401
// with error="invalid_request"; so is a token with characters b64token does
// not allow, which Verify refuses.
func ExtractBearer(r *http.Request) (string, *Error) {
	hs := r.Header.Values("Authorization")
	switch {
	case len(hs) > 1:
		return "", invalidRequest("more than one Authorization header")
	case len(hs) == 0 && r.URL.Query().Has("access_token"):
		return "", invalidRequest("access tokens in the URL are not accepted; use the Authorization header")
	case len(hs) == 0:
		return "", &Error{Status: http.StatusUnauthorized, Code: "login",
			Msg: "authentication required: send an OAuth2 bearer token", Challenge: challenge("", "", "")}
	}
	scheme, tok, ok := strings.Cut(strings.TrimSpace(hs[0]), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", invalidRequest("the Authorization scheme must be Bearer")
	}
	tok = strings.TrimLeft(tok, " ")
	if !ok || tok == "" {
		return "", invalidRequest("malformed bearer token")
	}
	return tok, nil
}

// isB64Token reports whether s matches RFC 6750's b64token:
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
// Verify checks it on the tokens it does not remember: a remembered token
// passed it when it was verified.
func isB64Token(s string) bool {
	body := strings.TrimRight(s, "=")
	if body == "" {
		return false
	}
	for i := 0; i < len(body); i++ {
		if !b64TokenChar[body[i]] {
			return false
		}
	}
	return true
}

// b64TokenChar marks the bytes b64token allows before its padding.
var b64TokenChar = func() (t [256]bool) {
	for c := range 256 {
		t[c] = c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("-._~+/", byte(c)) >= 0
	}
	return t
}()

// WriteError writes err as an OperationOutcome with its status and
// WWW-Authenticate challenge. Errors other than *Error become a 401 with a
// generic message.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *Error
	if !errors.As(err, &ae) {
		ae = invalidToken("token could not be verified", err)
	}
	body := ae.Outcome()
	h := w.Header()
	if ae.Challenge != "" {
		h.Set("WWW-Authenticate", ae.Challenge)
	}
	h.Set("Content-Type", "application/fhir+json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(ae.Status)
	w.Write(body)
}

// Middleware authenticates every request: it extracts and verifies the
// bearer token and stores the Principal in the request context (see
// FromContext). Failures go to fail, or to WriteError when fail is nil; the
// server passes its own error adapter so OperationOutcomes are written in
// one place.
func Middleware(v *Verifier, fail func(http.ResponseWriter, *http.Request, error)) func(http.Handler) http.Handler {
	if fail == nil {
		fail = WriteError
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tok, aerr := ExtractBearer(r)
			if aerr != nil {
				fail(w, r, aerr)
				return
			}
			p, err := v.Verify(r.Context(), tok)
			if err != nil {
				fail(w, r, err)
				return
			}
			next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), p)))
		})
	}
}

type principalKey struct{}

// NewContext returns ctx carrying p.
func NewContext(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the Principal stored by NewContext (or Middleware).
func FromContext(ctx context.Context) (*Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(*Principal)
	return p, ok && p != nil
}
