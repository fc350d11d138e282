package server

import (
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/meizhou-yiyang/yiyang/operations"
	"github.com/meizhou-yiyang/yiyang/resources"
	"github.com/meizhou-yiyang/yiyang/resources/search"
	"github.com/meizhou-yiyang/yiyang/server/auth"
)

// auditLogin audits a failed authentication with the status it is answered.
func (s *Server) auditLogin(r *http.Request) func(status int) {
	return func(status int) { s.audit.record(r, "login", "", "", status) }
}

// authenticate verifies the bearer token of every FHIR request except the
// CapabilityStatement, which clients read before they have a token.
func (s *Server) authenticate(next http.Handler) http.Handler {
	next = s.withScope(next)
	verified := auth.Middleware(s.cfg.Auth, func(w http.ResponseWriter, r *http.Request, err error) {
		start := time.Now()
		status := s.write(w, r, fhirJSON, nil, err, s.auditLogin(r))
		s.metrics.observe("authenticate", "", status, time.Since(start))
	})(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/metadata" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			next.ServeHTTP(w, r)
			return
		}
		// A device bridge presents a client certificate the TLS layer has
		// verified against the configured client CA, and no bearer token.
		if r.Header.Get("Authorization") == "" && r.TLS != nil && len(r.TLS.VerifiedChains) > 0 {
			p, err := auth.DevicePrincipal(r.TLS.VerifiedChains[0][0])
			if err != nil {
				status := s.write(w, r, fhirJSON, nil, err, s.auditLogin(r))
				s.metrics.observe("authenticate", "", status, 0)
				return
			}
			next.ServeHTTP(w, r.WithContext(auth.NewContext(r.Context(), p)))
			return
		}
		verified.ServeHTTP(w, r)
	})
}

// authorize checks the token's scopes for the interaction a route serves.
// Bundles are authorized entry by entry (each entry passes through here);
// operations need read access to their resource type.
func (s *Server) authorize(r *http.Request, interaction string) error {
	if s.cfg.Auth == nil {
		return nil
	}
	switch interaction {
	case "capabilities", "batch", "unknown":
		return nil
	case "job-status":
		// Jobs are started by $reindex: whom may start one may follow it.
		p, ok := auth.FromContext(r.Context())
		if !ok {
			return errorf(http.StatusUnauthorized, "login", "this request needs a bearer token")
		}
		if err := systemWide(p); err != nil {
			return err
		}
		return s.decide(r, p, "operation", "", nil)
	}
	p, ok := auth.FromContext(r.Context())
	if !ok {
		return errorf(http.StatusUnauthorized, "login", "this request needs a bearer token")
	}
	typ := chi.URLParam(r, "type")
	if !resources.IsResourceType(typ) {
		typ = ""
	}
	in, ok := auth.InteractionFor(interaction)
	name := interaction
	if op, found := s.invoked(r); found && op.Admin && interaction != "operation" && interaction != "compartment-or-operation" {
		// A system-level operation comes by the type routes.
		if err := systemWide(p); err != nil {
			return err
		}
	}
	switch interaction {
	case "operation", "compartment-or-operation":
		// An operation needs read access to the type it runs on, by GET or
		// POST alike; what it returns is narrowed to what the caller may
		// search ($everything's compartment, in authorizeReach). One that
		// changes the server needs what a system-level write needs.
		in, ok, name = auth.Read, true, "operation"
		op, found := s.invoked(r)
		if found && op.AnyAccess && chi.URLParam(r, "op") == "" && p.Authorize(auth.Read, typ) != nil {
			// Type level, reading nothing stored: a create or update grant
			// does as well, judged by the policy as that interaction.
			for _, alt := range []struct {
				in   auth.Interaction
				name string
			}{{auth.Create, "create"}, {auth.Update, "update"}} {
				if p.Authorize(alt.in, typ) == nil {
					in, name = alt.in, alt.name
					break
				}
			}
		}
		if found && op.Admin {
			if err := systemWide(p); err != nil {
				return err
			}
			in, typ = auth.Create, ""
		} else if x := chi.URLParam(r, "op"); interaction == "compartment-or-operation" && (x == "*" || resources.IsResourceType(x)) {
			// A compartment search reads resources of the searched type.
			in, typ, name = auth.Search, x, "search"
			if x == "*" {
				typ = ""
			}
		}
	}
	if !ok {
		return errorf(http.StatusForbidden, "forbidden", "no scope grants the %s interaction", interaction)
	}
	if typ == search.AuditType && in == auth.Create && (s.cfg.Authorizer == nil || len(p.Roles) == 0) {
		// The server writes the audit trail; a client adds to it only
		// where the access policy says so, which scopes alone cannot.
		return forbidden("AuditEvents are written by the server; creating one needs a role the access policy allows to")
	}
	if err := p.Authorize(in, typ); err != nil {
		return err
	}
	return s.decide(r, p, name, typ, nil)
}

// systemWide refuses a principal without an unrestricted user/ or system/
// grant to create resources of every type: what a change to the whole
// server ($reindex) needs. A patient/*.c grant does not do: it opens one
// patient's record, not the server.
func systemWide(p *auth.Principal) error {
	if p.Device == "" {
		for _, sc := range p.Scopes {
			if sc.Context != "patient" && sc.Type == "*" && sc.Create && sc.Params == nil {
				return nil
			}
		}
	}
	return forbidden("this needs a user/*.c or system/*.c scope without restrictions: it changes the whole server")
}

// mayRead reports whether the request's principal may read resources of
// typ (scopes and role policy; labels are judged on the resource itself).
func (s *Server) mayRead(r *http.Request, typ string) bool {
	if s.cfg.Auth == nil {
		return true
	}
	p, ok := auth.FromContext(r.Context())
	if !ok {
		return true
	}
	return p.Authorize(auth.Read, typ) == nil && s.decide(r, p, "read", typ, nil) == nil
}

// invoked is the operation a request's URL names ($name as its last
// segment), if the server has it.
func (s *Server) invoked(r *http.Request) (operations.Operation, bool) {
	name := chi.URLParam(r, "op")
	if name == "" {
		name = chi.URLParam(r, "id")
	}
	if name == "" {
		name = chi.URLParam(r, "type") // system level: POST /$name
	}
	if !strings.HasPrefix(name, "$") || s.cfg.Operations == nil {
		return operations.Operation{}, false
	}
	return s.cfg.Operations.Lookup(name[1:])
}

// smartConfiguration serves /.well-known/smart-configuration.
func (s *Server) smartConfiguration(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Auth == nil {
		s.write(w, r, fhirJSON, nil, errorf(http.StatusNotFound, "not-found", "authentication is disabled on this server"), nil)
		return
	}
	body := s.cfg.Auth.SMARTConfiguration()
	w.Header().Set("Content-Type", "application/json")
	w.Write(body)
}
