package server

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"

	"github.com/meizhou-yiyang/yiyang/resources/search"
	"github.com/meizhou-yiyang/yiyang/server/auth"
)

// scopeOf turns a principal's SMART scopes into the search.Scope that the
// stores enforce inside their queries:
//   - resource types granted only by patient/ scopes are confined to the
//     Patient compartment of the launch context; a user/ or system/ grant on a
//     type opens it (the broader grant wins);
//   - SMART v2 granular restrictions (?category=...) limit their type to
//     matching resources. Where patient/ and user/ grants on one type meet,
//     only the user/ ones count, so a restriction is never lost by merging.
//
// It returns nil when nothing limits the principal, and a 403 when a scope
// cannot be enforced (a patient/ scope without a patient launch context, a
// restriction on a parameter this server cannot check on writes).
func (s *Server) scopeOf(p *auth.Principal) (*search.Scope, error) {
	var patientScoped bool
	for _, sc := range p.Scopes {
		if sc.Context == "patient" {
			patientScoped = true
		}
	}
	sco := &search.Scope{ReadOpen: map[string]bool{}, WriteOpen: map[string]bool{}, Restrict: map[string][][]search.Filter{}}
	if patientScoped {
		if p.Patient == "" {
			return nil, forbidden("the token has patient/ scopes but no patient launch context: the server cannot tell whose record they open")
		}
		sco.Compartment, _ = search.CompartmentOf("Patient", p.Patient, true)
	}
	if p.Device != "" {
		// A device bridge's system/ scopes reach its own compartment only:
		// the Observations that name it, and itself.
		sco.Compartment, _ = search.CompartmentOf("Device", p.Device, true)
		return sco, nil
	}
	// Per type (or *), the scopes granting read-class and write-class access.
	type grants struct{ read, write []auth.Scope }
	byType := map[string]*grants{}
	for _, sc := range p.Scopes {
		g := byType[sc.Type]
		if g == nil {
			g = &grants{}
			byType[sc.Type] = g
		}
		if sc.Read || sc.Search {
			g.read = append(g.read, sc)
		}
		if sc.Create || sc.Update || sc.Delete {
			g.write = append(g.write, sc)
		}
	}
	writes := map[string][][]search.Filter{}
	types := make([]string, 0, len(byType))
	for t := range byType {
		types = append(types, t)
	}
	sort.Strings(types)
	for _, typ := range types {
		g := byType[typ]
		readOpen, readAlts := broadest(g.read)
		writeOpen, writeAlts := broadest(g.write)
		sco.ReadOpen[typ] = readOpen
		sco.WriteOpen[typ] = writeOpen
		// Reads follow the read-class grants' restrictions, writes the
		// write-class ones. Restrict serves both when they agree (or one
		// class is not granted: the other interactions are refused by the
		// scope check); RestrictWrite is kept for writes when they differ.
		read, write := readAlts, writeAlts
		if len(g.read) == 0 {
			read = writeAlts
		}
		if len(g.write) == 0 {
			write = readAlts
		}
		for _, alts := range [][]url.Values{read, write} {
			if alts != nil && typ == "*" {
				return nil, forbidden("granular restrictions on all resource types cannot be enforced; restrict named types instead")
			}
		}
		rs, err := s.restrictions(typ, read)
		if err != nil {
			return nil, err
		}
		ws, err := s.restrictions(typ, write)
		if err != nil {
			return nil, err
		}
		if rs != nil {
			sco.Restrict[typ] = rs
		}
		if ws != nil {
			writes[typ] = ws
		}
	}
	// Writes keep their own restrictions only where they differ from the
	// reads'.
	for typ := range byType {
		if !sameAlts(sco.Restrict[typ], writes[typ]) {
			sco.RestrictWrite = writes
			break
		}
	}
	if sco.Compartment == nil && len(sco.Restrict) == 0 && sco.RestrictWrite == nil {
		return nil, nil
	}
	return sco, nil
}

// restrictions parses a grant's granular alternatives on typ; nil when it
// has none (unrestricted).
func (s *Server) restrictions(typ string, alts []url.Values) ([][]search.Filter, error) {
	var out [][]search.Filter
	for _, vals := range alts {
		fs, err := s.restriction(typ, vals)
		if err != nil {
			return nil, err
		}
		out = append(out, fs)
	}
	return out, nil
}

// sameAlts reports whether two restriction sets are the same alternatives
// (as parsed from the same scopes, in the same order).
func sameAlts(a, b [][]search.Filter) bool {
	return fmt.Sprint(a) == fmt.Sprint(b)
}

// broadest picks, among the scopes granting one class of access, the user/
// and system/ ones when there are any (open: not confined to a compartment),
// else the patient/ ones; alts are their restrictions, nil when one of them
// is unrestricted.
func broadest(scs []auth.Scope) (open bool, alts []url.Values) {
	var chosen []auth.Scope
	for _, sc := range scs {
		if sc.Context != "patient" {
			chosen = append(chosen, sc)
		}
	}
	open = len(chosen) > 0
	if !open {
		chosen = scs
	}
	for _, sc := range chosen {
		if sc.Params == nil {
			return open, nil
		}
		alts = append(alts, sc.Params)
	}
	return open, alts
}

// restriction parses a granular scope's parameters as a search on typ. Only
// token parameters without modifiers are accepted: they can be checked
// against a new version's index entries as well as in queries.
func (s *Server) restriction(typ string, vals url.Values) ([]search.Filter, error) {
	q, err := search.Parse(s.registry(), typ, vals, search.Options{})
	if err != nil {
		return nil, forbidden("granular scope restriction %s?%s cannot be enforced: %v", typ, vals.Encode(), err)
	}
	if len(q.Filters) == 0 || len(q.Sort) > 0 || len(q.Includes)+len(q.RevIncludes) > 0 {
		return nil, forbidden("granular scope restriction %s?%s holds no search parameter this server can enforce", typ, vals.Encode())
	}
	for _, f := range q.Filters {
		if f.Param.Type != "token" || f.Modifier != "" || f.Chain != nil || f.Has != nil || f.Param.Code == "_id" {
			return nil, forbidden("granular scope restriction %s?%s uses %s; only token parameters without modifiers can be enforced", typ, vals.Encode(), f.Param.Code)
		}
	}
	return q.Filters, nil
}

func forbidden(format string, args ...any) error {
	return &auth.Error{Status: http.StatusForbidden, Code: "forbidden", Msg: fmt.Sprintf(format, args...)}
}

// scopeMemo keys a principal's scope in its memo; reg is the search
// registry it was parsed with (activating custom parameters replaces it).
type scopeMemo struct{ reg *registryBox }

type scopeResult struct {
	sco *search.Scope
	err error
}

// memoScope is scopeOf, computed once per principal (a verified token is
// remembered, so its requests share the Principal).
func (s *Server) memoScope(p *auth.Principal) (*search.Scope, error) {
	r := p.Memo(scopeMemo{s.reg.Load()}, func() any {
		sco, err := s.scopeOf(p)
		return scopeResult{sco, err}
	}).(scopeResult)
	return r.sco, r.err
}

// withScope puts the principal's scope into the request context, so every
// store call of the request (bundle entries, conditional operations,
// $everything included) runs confined.
func (s *Server) withScope(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := auth.FromContext(r.Context())
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		sco, err := s.memoScope(p)
		if err != nil {
			s.write(w, r, fhirJSON, nil, err, func(status int) { s.audit.record(r, "authorize", "", "", status) })
			return
		}
		if sco != nil {
			r = r.WithContext(search.WithScope(r.Context(), sco))
		}
		next.ServeHTTP(w, r)
	})
}
