package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"

	"github.com/meizhou-yiyang/yiyang/resources"
	"github.com/meizhou-yiyang/yiyang/resources/search"
	"github.com/meizhou-yiyang/yiyang/server/auth"
	"github.com/meizhou-yiyang/yiyang/server/policy"
)

// Authorizer decides by role whether a principal may perform an
// interaction; server/policy (embedded OPA) implements it.
type Authorizer interface {
	Decide(ctx context.Context, in policy.Input) (policy.Decision, error)
}

// breakGlassReason is the request's break-the-glass reason: the header,
// trimmed and cut to maxBreakGlassReason bytes; "" unless it holds a letter
// or a digit (a reason of blanks or invisible characters is none).
func breakGlassReason(r *http.Request) string {
	reason := strings.TrimSpace(r.Header.Get(BreakGlassHeader))
	if len(reason) > maxBreakGlassReason {
		reason = strings.ToValidUTF8(reason[:maxBreakGlassReason], "")
	}
	if strings.IndexFunc(reason, func(c rune) bool { return unicode.IsLetter(c) || unicode.IsDigit(c) }) < 0 {
		return ""
	}
	return reason
}

// BreakGlassHeader carries the reason of an emergency access to sensitive
// resources; such requests are always audited.
const BreakGlassHeader = "X-Break-Glass-Reason"

// sensitive are the security labels that need the sensitive-access role or
// break-the-glass (the policy decides; the search side filters by them).
var sensitive = []policy.Coding{
	{System: "http://terminology.hl7.org/CodeSystem/v3-ActCode", Code: "PSY"},
	{System: "http://terminology.hl7.org/CodeSystem/v3-ActCode", Code: "ETH"},
	{System: "http://terminology.hl7.org/CodeSystem/v3-ActCode", Code: "HIV"},
	{System: "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", Code: "R"},
	{System: "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", Code: "V"},
}

// sensitiveLabels are the sensitive labels as searches exclude them.
var sensitiveLabels = func() []string {
	out := make([]string, len(sensitive))
	for i, c := range sensitive {
		out[i] = resources.Label(c.System, c.Code)
	}
	return out
}()

// decisions caches label-free decisions: they depend only on roles,
// interaction and type (and the subject, for a policy that reads it), and
// the policy is fixed while the server runs.
type decisions struct {
	m sync.Map
	n atomic.Int64
	// bySubject keys decisions on the subject too: the Authorizer says
	// it may decide by subject (policy.Engine.DecidesBySubject), or does
	// not say.
	bySubject bool
}

// subjectDecider is an Authorizer that tells whether its decisions may
// depend on input.subject.
type subjectDecider interface{ DecidesBySubject() bool }

const maxCachedDecisions = 10000

// rolesKey memoises a principal's roles, quoted (a role may contain any
// character), in its memo.
type rolesKey struct{}

// decide asks the Authorizer, when there is one and the principal has
// roles (tokens without roles are authorized by their scopes alone).
func (s *Server) decide(r *http.Request, p *auth.Principal, interaction, typ string, labels []policy.Coding) error {
	if s.cfg.Authorizer == nil || len(p.Roles) == 0 {
		return nil
	}
	in := policy.Input{Roles: p.Roles, Interaction: interaction, Type: typ, Security: labels, Subject: p.Subject}
	if reason := breakGlassReason(r); reason != "" {
		in.BreakGlass = &policy.BreakGlass{Reason: reason}
	}
	cacheable := len(labels) == 0 && in.BreakGlass == nil
	key := p.Memo(rolesKey{}, func() any { return fmt.Sprintf("%q", p.Roles) }).(string) + "|" + interaction + "|" + typ
	if s.decisions.bySubject {
		key += "|" + strconv.Quote(p.Subject)
	}
	if cacheable {
		if d, ok := s.decisions.m.Load(key); ok {
			return denial(d.(policy.Decision))
		}
	}
	d, err := s.cfg.Authorizer.Decide(r.Context(), in)
	if err != nil {
		s.log.ErrorContext(r.Context(), "policy evaluation failed", "err", err)
		return &auth.Error{Status: http.StatusForbidden, Code: "forbidden", Msg: "the access policy could not be evaluated; access denied"}
	}
	if d.Audit {
		s.log.WarnContext(r.Context(), "sensitive access", "subject", p.Subject, "interaction", interaction, "type", typ, "reason", d.Reason)
	}
	if cacheable && s.decisions.n.Load() < maxCachedDecisions {
		s.decisions.n.Add(1)
		s.decisions.m.Store(key, d)
	}
	return denial(d)
}

func denial(d policy.Decision) error {
	if d.Allow {
		return nil
	}
	return &auth.Error{Status: http.StatusForbidden, Code: "forbidden", Msg: "denied by policy: " + d.Reason}
}

// checkLabels applies the policy to a loaded resource's security labels.
func (s *Server) checkLabels(r *http.Request, interaction string, res *resources.Resource) error {
	p, ok := auth.FromContext(r.Context())
	if !ok || s.cfg.Authorizer == nil || len(p.Roles) == 0 || res == nil {
		return nil
	}
	if len(res.Data) == 0 {
		// A deletion in history: judged by the labels of the version it
		// removed, as the store kept them.
		if res.Labels == "" {
			return nil
		}
		return s.decide(r, p, interaction, res.Type, parseLabels(res.Labels))
	}
	if !bytes.Contains(res.Data, []byte(`"security"`)) && !bytes.Contains(res.Data, []byte(`\u`)) {
		return nil // no labels: decoding the resource would find none
	}
	var head struct {
		Meta struct {
			Security []policy.Coding `json:"security"`
		} `json:"meta"`
	}
	if json.Unmarshal(res.Data, &head) != nil || len(head.Meta.Security) == 0 {
		return nil
	}
	return s.decide(r, p, interaction, res.Type, head.Meta.Security)
}

// labelGuard is the LabelGuard of an update or delete by the request's
// principal: replacing or deleting a labelled version needs the same
// permission as reading it. The store applies it to the current version it
// has locked for the write, so that a concurrent write cannot relabel the
// resource between the decision and the write (labels of the new version
// are checked before, by checkLabels on the body). nil when the request's
// principal is not checked, so the common path costs nothing.
func (s *Server) labelGuard(r *http.Request, interaction, typ string) resources.LabelGuard {
	p, ok := auth.FromContext(r.Context())
	if !ok || s.cfg.Authorizer == nil || len(p.Roles) == 0 {
		return nil
	}
	return func(labels string) error {
		if labels == "" {
			return nil
		}
		return s.decide(r, p, interaction, typ, parseLabels(labels))
	}
}

// parseLabels reads labels as Index.SecurityLabels renders them: one
// system|code per line. A system is a URI, which has no "|"; a code may.
func parseLabels(labels string) []policy.Coding {
	var out []policy.Coding
	for line := range strings.SplitSeq(labels, "\n") {
		if line == "" {
			continue
		}
		system, code, _ := strings.Cut(line, "|")
		out = append(out, policy.Coding{System: system, Code: code})
	}
	return out
}

// excludeSensitive pushes the sensitivity rule into a search: unless the
// principal may see sensitive resources (role or break-the-glass), resources
// carrying a sensitive label are filtered out by the query itself.
func (s *Server) excludeSensitive(r *http.Request, q *search.Query) {
	// AuditEvents carry no labels (the audit log ignores the exclusion);
	// what an AuditEvent search includes does.
	q.ExcludeLabels = s.hiddenLabels(r)
}

// hiddenLabels are the security labels of the resources the request's
// principal may not see: sensitiveLabels unless it has the role for them
// or breaks the glass; nil when nothing is hidden.
func (s *Server) hiddenLabels(r *http.Request) []string {
	p, ok := auth.FromContext(r.Context())
	if !ok || s.cfg.Authorizer == nil || len(p.Roles) == 0 || slices.Contains(p.Roles, "sensitive-access") ||
		breakGlassReason(r) != "" {
		return nil
	}
	return sensitiveLabels
}
