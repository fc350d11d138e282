package auth

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Principal is the verified caller: who it is, what it may do (SMART
// scopes) and its launch context.
type Principal struct {
	Subject, Issuer, ClientID string
	// FHIRUser is the fhirUser claim (e.g. Practitioner/123), if any.
	FHIRUser string
	// Patient and Encounter are the launch context ids, from the "patient"
	// and "encounter" claims or the "launch_context" object.
	Patient, Encounter string
	// Device is the Device id of a device bridge authenticated by its
	// client certificate (DevicePrincipal): its access is confined to the
	// Device compartment, its own Observations.
	Device string
	// Scopes are the FHIR resource scopes (patient/, user/, system/).
	Scopes []Scope
	// OtherScopes are the remaining scopes (openid, launch, offline_access,
	// fhirUser, ...).
	OtherScopes []string
	// Roles come from Config.RoleClaims.
	Roles []string
	// Expiry is the token's exp.
	Expiry time.Time
	// Claims are all the token's claims.
	Claims map[string]any

	// memo holds values derived from the principal by its users (the
	// server's access scope), computed once: a verified token's Principal is
	// shared by every request that presents the token.
	memo sync.Map
}

// Memo returns the value stored under key, computing it with fn the first
// time. fn must depend only on the principal and key.
func (p *Principal) Memo(key any, fn func() any) any {
	if v, ok := p.memo.Load(key); ok {
		return v
	}
	v, _ := p.memo.LoadOrStore(key, fn())
	return v
}

// Interaction is what a request does with resources, as SMART scopes
// distinguish it.
type Interaction int

// The interactions SMART scopes grant.
const (
	Read Interaction = iota
	Search
	Create
	Update
	Delete
)

var interactionNames = [...]string{"read", "search", "create", "update", "delete"}

func (in Interaction) String() string {
	if in < 0 || int(in) >= len(interactionNames) {
		return "Interaction(" + fmt.Sprint(int(in)) + ")"
	}
	return interactionNames[in]
}

// InteractionFor maps a FHIR interaction name (as the server's router names
// them) to the Interaction scopes are checked for: vread and history count as
// read, patch as update.
func InteractionFor(name string) (Interaction, bool) {
	switch name {
	case "read", "vread", "history-instance", "history-type", "history-system", "history":
		return Read, true
	case "search", "search-type", "search-system":
		return Search, true
	case "create":
		return Create, true
	case "update", "patch":
		return Update, true
	case "delete":
		return Delete, true
	}
	return 0, false
}

// Scope is one SMART resource scope.
type Scope struct {
	Context string // patient, user or system
	Type    string // a resource type or *

	// The interactions granted: v1 .read is Read and Search, .write is
	// Create, Update and Delete, .* all five; v2 letters map one to one.
	Read, Search, Create, Update, Delete bool
	// Params are SMART v2 granular restrictions (?category=...); nil when
	// the scope is unrestricted.
	Params url.Values
	Raw    string
}

func (s Scope) String() string { return s.Raw }

func (s *Scope) grants(in Interaction) bool {
	switch in {
	case Read:
		return s.Read
	case Search:
		return s.Search
	case Create:
		return s.Create
	case Update:
		return s.Update
	case Delete:
		return s.Delete
	}
	return false
}

// ParseScopes splits a space-separated scope string. FHIR resource scopes
// (patient/, user/, system/) are parsed into Scopes, SMART v1 (.read, .write,
// .*) and v2 (.cruds letters, in that order, with optional ?param=value
// restrictions); any other scope goes to other unchanged. Invalid resource
// scopes are left out and reported, joined, in err; the valid ones are still
// returned.
func ParseScopes(s string) (scopes []Scope, other []string, err error) {
	var errs []error
	for _, raw := range strings.Fields(s) {
		ctx, _, _ := strings.Cut(raw, "/")
		if ctx != "patient" && ctx != "user" && ctx != "system" || !strings.Contains(raw, "/") {
			other = append(other, raw)
			continue
		}
		sc, err := parseScope(raw)
		if err != nil {
			errs = append(errs, fmt.Errorf("scope %q: %w", raw, err))
			continue
		}
		scopes = append(scopes, sc)
	}
	return scopes, other, errors.Join(errs...)
}

func parseScope(raw string) (Scope, error) {
	ctx, rest, _ := strings.Cut(raw, "/")
	sc := Scope{Context: ctx, Raw: raw}
	rest, query, hasQuery := strings.Cut(rest, "?")
	typ, perm, ok := strings.Cut(rest, ".")
	if !ok {
		return sc, errors.New("no permission after the resource type")
	}
	if typ != "*" && !isTypeName(typ) {
		return sc, errors.New("not a resource type")
	}
	sc.Type = typ
	v2 := false
	switch perm {
	case "read":
		sc.Read, sc.Search = true, true
	case "write":
		sc.Create, sc.Update, sc.Delete = true, true, true
	case "*":
		sc.Read, sc.Search, sc.Create, sc.Update, sc.Delete = true, true, true, true, true
	default:
		if err := parseLetters(perm, &sc); err != nil {
			return sc, err
		}
		v2 = true
	}
	if hasQuery {
		if !v2 {
			return sc, errors.New("restrictions need a SMART v2 permission (.cruds)")
		}
		q, err := url.ParseQuery(query)
		if err != nil || len(q) == 0 {
			return sc, errors.New("malformed restriction")
		}
		for k := range q {
			if k == "" {
				return sc, errors.New("malformed restriction")
			}
		}
		sc.Params = q
	}
	return sc, nil
}

// parseLetters reads SMART v2 permissions: a non-empty subsequence of
// "cruds" in that order, each letter at most once.
func parseLetters(perm string, sc *Scope) error {
	if perm == "" {
		return errors.New("empty permission")
	}
	flags := []*bool{&sc.Create, &sc.Read, &sc.Update, &sc.Delete, &sc.Search}
	next := 0
	for _, r := range perm {
		i := strings.IndexRune("cruds", r)
		if i < 0 {
			return fmt.Errorf("unknown permission %q", perm)
		}
		if i < next {
			return fmt.Errorf("permission letters out of order or repeated in %q (want a subset of cruds in order)", perm)
		}
		*flags[i] = true
		next = i + 1
	}
	return nil
}

func isTypeName(s string) bool {
	if s == "" || len(s) > 64 || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z') {
			return false
		}
	}
	return true
}

// Grants returns the scopes that grant in on resourceType. An empty
// resourceType (system-level interactions) is granted only by * scopes.
func (p *Principal) Grants(in Interaction, resourceType string) []Scope {
	var out []Scope
	for i := range p.Scopes {
		if p.Scopes[i].grantsOn(in, resourceType) {
			out = append(out, p.Scopes[i])
		}
	}
	return out
}

// Allows reports whether some scope grants in on resourceType. It may still
// be limited by Restrictions and PatientScoped.
func (p *Principal) Allows(in Interaction, resourceType string) bool {
	for i := range p.Scopes {
		if p.Scopes[i].grantsOn(in, resourceType) {
			return true
		}
	}
	return false
}

// grantsOn reports whether s grants in on resourceType (Grants lists them;
// Allows and PatientScoped, asked on every request, look without copying).
func (s *Scope) grantsOn(in Interaction, resourceType string) bool {
	return (s.Type == "*" || s.Type == resourceType) && s.grants(in)
}

// Restrictions returns the granular (SMART v2) parameter sets limiting in on
// resourceType: a resource qualifies when it matches any one of them. It is
// nil when some granting scope is unrestricted, and when none grants at all
// (check Allows first). For a mix of patient- and user-level grants, use
// Grants to see which restriction belongs to which context.
func (p *Principal) Restrictions(in Interaction, resourceType string) []url.Values {
	var out []url.Values
	for _, s := range p.Grants(in, resourceType) {
		if s.Params == nil {
			return nil
		}
		out = append(out, s.Params)
	}
	return out
}

// PatientScoped reports whether in on resourceType is granted only by
// patient/ scopes, so it must be limited to the compartment of p.Patient.
func (p *Principal) PatientScoped(in Interaction, resourceType string) bool {
	granted := false
	for i := range p.Scopes {
		if p.Scopes[i].grantsOn(in, resourceType) {
			if p.Scopes[i].Context != "patient" {
				return false
			}
			granted = true
		}
	}
	return granted
}

// Authorize returns nil when the scopes allow in on resourceType, and a 403
// *Error with an insufficient_scope challenge otherwise (also when only
// patient scopes grant it but the token carries no patient context).
func (p *Principal) Authorize(in Interaction, resourceType string) error {
	if in < Read || in > Delete {
		return &Error{Status: http.StatusForbidden, Code: "forbidden", Msg: "unknown interaction",
			Challenge: challenge("insufficient_scope", "unknown interaction", "")}
	}
	typ := resourceType
	if typ == "" {
		typ = "*"
	}
	letter := string("rscud"[in])
	if !p.Allows(in, resourceType) {
		need := "patient/" + typ + "." + letter + " user/" + typ + "." + letter + " system/" + typ + "." + letter
		msg := fmt.Sprintf("the token's scopes do not permit %s on %s", in, typ)
		return &Error{Status: http.StatusForbidden, Code: "forbidden", Msg: msg,
			Challenge: challenge("insufficient_scope", msg, need)}
	}
	if p.Patient == "" && p.PatientScoped(in, resourceType) {
		msg := fmt.Sprintf("patient-level scopes permit %s on %s only with a patient launch context, and the token has none", in, typ)
		return &Error{Status: http.StatusForbidden, Code: "forbidden", Msg: msg,
			Challenge: challenge("insufficient_scope", msg, "user/"+typ+"."+letter+" system/"+typ+"."+letter)}
	}
	return nil
}
