// Package policy decides, with embedded Rego (OPA), whether a role may
// perform an interaction on a resource type.
//
// The default policy is rego/yiyang.rego, compiled into the binary; a policy
// directory given to New replaces it. The query data.yiyang.authz.decision is
// prepared once and evaluated per request.
package policy

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
)

// Query is the decision document every policy must define.
const Query = "data.yiyang.authz.decision"

//go:embed rego/yiyang.rego
var defaultPolicy string

// Coding is one security label of a resource.
type Coding struct {
	System string `json:"system"`
	Code   string `json:"code"`
}

// BreakGlass is an emergency-access request; Reason must not be empty.
type BreakGlass struct {
	Reason string `json:"reason"`
}

// Input is what the policy decides on.
type Input struct {
	Roles       []string    `json:"roles"`       // from the token's claims
	Interaction string      `json:"interaction"` // read, vread, search, create, update, patch, delete, history, operation...
	Type        string      `json:"type"`        // resource type; "" for system-level requests
	Security    []Coding    `json:"security"`    // the resource's security labels, when known
	BreakGlass  *BreakGlass `json:"break_glass"` // nil unless break-the-glass was requested
	Subject     string      `json:"subject"`     // who asks
}

// Decision is the policy's answer. Audit asks the caller to record the
// interaction prominently (sensitive data, break-the-glass).
type Decision struct {
	Allow  bool
	Reason string
	Audit  bool
}

// Engine evaluates a prepared policy. It is safe for concurrent use.
type Engine struct {
	query rego.PreparedEvalQuery
	// bySubject: some rule reads input.subject (or input as a whole), so a
	// decision may differ between two callers with the same roles.
	bySubject bool
}

// DecidesBySubject reports whether the policy may decide differently for
// two callers with the same roles, interaction, type and labels: whether
// it reads input.subject, or input other than by its fixed keys. Callers
// that cache decisions key them on the subject too when it does.
func (e *Engine) DecidesBySubject() bool { return e.bySubject }

// readsSubject reports whether a module reads input.subject or input
// under a key it computes or as a whole.
func readsSubject(m *ast.Module) bool {
	found := false
	ast.WalkRefs(m, func(ref ast.Ref) bool {
		if found || !ref[0].Equal(ast.InputRootDocument) {
			return found
		}
		if len(ref) == 1 {
			found = true // input as a whole
			return true
		}
		key, ok := ref[1].Value.(ast.String)
		found = !ok || string(key) == "subject"
		return found
	})
	return found
}

// New compiles the policy: the embedded one when dir is "", else every
// .rego file in dir (tests, *_test.rego, excluded), which replaces it.
func New(ctx context.Context, dir string) (*Engine, error) {
	opts := []func(*rego.Rego){rego.Query(Query)}
	bySubject := false
	module := func(name, src string) error {
		m, err := ast.ParseModuleWithOpts(name, src, ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			return fmt.Errorf("policy: %w", err)
		}
		bySubject = bySubject || readsSubject(m)
		opts = append(opts, rego.ParsedModule(m))
		return nil
	}
	if dir == "" {
		if err := module("yiyang.rego", defaultPolicy); err != nil {
			return nil, err
		}
	} else {
		mods, err := readDir(dir)
		if err != nil {
			return nil, err
		}
		for _, name := range mods {
			src, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				return nil, fmt.Errorf("policy: %w", err)
			}
			if err := module(filepath.Join(dir, name), string(src)); err != nil {
				return nil, err
			}
		}
	}
	q, err := rego.New(opts...).PrepareForEval(ctx)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	e := &Engine{query: q, bySubject: bySubject}
	// Fail at start, not on the first request, when the policy defines no
	// decision.
	if _, err := e.Decide(ctx, Input{Interaction: "read", Type: "Patient"}); err != nil {
		return nil, err
	}
	return e, nil
}

func readDir(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	var names []string
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, ".rego") || strings.HasSuffix(n, "_test.rego") {
			continue
		}
		names = append(names, n)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("policy: no .rego files in %s", dir)
	}
	sort.Strings(names)
	return names, nil
}

var (
	keyRoles       = ast.InternedTerm("roles")
	keyInteraction = ast.InternedTerm("interaction")
	keyType        = ast.InternedTerm("type")
	keySecurity    = ast.InternedTerm("security")
	keyBreakGlass  = ast.InternedTerm("break_glass")
	keySubject     = ast.InternedTerm("subject")
	keySystem      = ast.InternedTerm("system")
	keyCode        = ast.InternedTerm("code")
	keyReason      = ast.InternedTerm("reason")
)

// value builds the input document directly, without a JSON round trip.
func (in *Input) value() ast.Value {
	roles := make([]*ast.Term, len(in.Roles))
	for i, r := range in.Roles {
		roles[i] = ast.StringTerm(r)
	}
	labels := make([]*ast.Term, len(in.Security))
	for i, c := range in.Security {
		labels[i] = ast.ObjectTerm(
			ast.Item(keySystem, ast.StringTerm(c.System)),
			ast.Item(keyCode, ast.StringTerm(c.Code)),
		)
	}
	items := [6][2]*ast.Term{
		{keyRoles, ast.ArrayTerm(roles...)},
		{keyInteraction, ast.StringTerm(in.Interaction)},
		{keyType, ast.StringTerm(in.Type)},
		{keySecurity, ast.ArrayTerm(labels...)},
		{keySubject, ast.StringTerm(in.Subject)},
	}
	n := 5
	if in.BreakGlass != nil {
		items[5] = [2]*ast.Term{keyBreakGlass, ast.ObjectTerm(ast.Item(keyReason, ast.StringTerm(in.BreakGlass.Reason)))}
		n = 6
	}
	return ast.NewObject(items[:n]...)
}

// Decide evaluates the policy for one interaction. On error the decision
// denies.
func (e *Engine) Decide(ctx context.Context, in Input) (Decision, error) {
	rs, err := e.query.Eval(ctx, rego.EvalParsedInput(in.value()))
	if err != nil {
		return Decision{Reason: "policy error"}, fmt.Errorf("policy: %w", err)
	}
	if len(rs) != 1 || len(rs[0].Expressions) != 1 {
		return Decision{Reason: "policy made no decision"}, errNoDecision
	}
	m, ok := rs[0].Expressions[0].Value.(map[string]any)
	if !ok {
		return Decision{Reason: "policy made no decision"}, errNoDecision
	}
	var d Decision
	allow, ok1 := m["allow"].(bool)
	d.Reason, _ = m["reason"].(string)
	d.Audit, _ = m["audit"].(bool)
	if !ok1 {
		return Decision{Reason: "policy made no decision"}, errNoDecision
	}
	d.Allow = allow
	return d, nil
}

var errNoDecision = errors.New("policy: " + Query + " is undefined or not an object with a boolean allow")
