package policy

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/tester"
)

// TestRegoUnitTests runs rego/yiyang_test.rego against the embedded policy.
func TestRegoUnitTests(t *testing.T) {
	ctx := context.Background()
	tests, err := os.ReadFile(filepath.Join("rego", "yiyang_test.rego"))
	if err != nil {
		t.Fatal(err)
	}
	mods := map[string]*ast.Module{}
	for name, src := range map[string]string{
		"rego/yiyang.rego":      defaultPolicy,
		"rego/yiyang_test.rego": string(tests),
	} {
		m, err := ast.ParseModuleWithOpts(name, src, ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			t.Fatal(err)
		}
		mods[name] = m
	}
	ch, err := tester.NewRunner().SetModules(mods).RunTests(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	passed, failed := 0, 0
	for r := range ch {
		switch {
		case r.Pass():
			passed++
		case r.Skip:
			t.Errorf("rego test %s skipped", r.Name)
		default:
			failed++
			if r.Error != nil {
				t.Errorf("rego test %s (%v) errored: %v", r.Name, r.Location, r.Error)
			} else {
				t.Errorf("rego test %s (%v) failed", r.Name, r.Location)
			}
		}
	}
	if passed == 0 {
		t.Fatal("no rego tests ran")
	}
	t.Logf("rego tests: %d passed, %d failed", passed, failed)
}

func newEngine(t testing.TB) *Engine {
	t.Helper()
	e, err := New(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	return e
}

var psy = []Coding{{System: "http://terminology.hl7.org/CodeSystem/v3-ActCode", Code: "PSY"}}

func TestDecide(t *testing.T) {
	e := newEngine(t)
	for _, tc := range []struct {
		name string
		in   Input
		want Decision
	}{
		{"doctor reads", Input{Roles: []string{"doctor"}, Interaction: "read", Type: "Observation"},
			Decision{Allow: true, Reason: "allowed"}},
		{"doctor cannot delete", Input{Roles: []string{"doctor"}, Interaction: "delete", Type: "Observation"},
			Decision{Reason: "role(s) doctor may not delete Observation"}},
		{"admin deletes", Input{Roles: []string{"admin"}, Interaction: "delete", Type: "Observation"},
			Decision{Allow: true, Reason: "allowed"}},
		{"no role", Input{Interaction: "read", Type: "Patient"},
			Decision{Reason: "a request without roles may not read Patient"}},
		{"nurse creates Observation", Input{Roles: []string{"nurse"}, Interaction: "create", Type: "Observation"},
			Decision{Allow: true, Reason: "allowed"}},
		{"nurse cannot prescribe", Input{Roles: []string{"nurse"}, Interaction: "create", Type: "MedicationRequest"},
			Decision{Reason: "role(s) nurse may not create MedicationRequest"}},
		{"pharmacist updates MedicationRequest", Input{Roles: []string{"pharmacist"}, Interaction: "patch", Type: "MedicationRequest"},
			Decision{Allow: true, Reason: "allowed"}},
		{"auditor reads AuditEvent", Input{Roles: []string{"auditor"}, Interaction: "search-type", Type: "AuditEvent"},
			Decision{Allow: true, Reason: "allowed"}},
		{"admin cannot rewrite AuditEvent", Input{Roles: []string{"admin"}, Interaction: "update", Type: "AuditEvent"},
			Decision{Reason: "role(s) admin may not update AuditEvent: audit events are written only by the server"}},
		{"insurer reads Claim", Input{Roles: []string{"insurer"}, Interaction: "read", Type: "Claim"},
			Decision{Allow: true, Reason: "allowed"}},
		{"care worker updates Task", Input{Roles: []string{"care-worker"}, Interaction: "update", Type: "Task"},
			Decision{Allow: true, Reason: "allowed"}},
		{"care worker cannot update CarePlan", Input{Roles: []string{"care-worker"}, Interaction: "update", Type: "CarePlan"},
			Decision{Reason: "role(s) care-worker may not update CarePlan"}},
		{"patient cannot write", Input{Roles: []string{"patient"}, Interaction: "create", Type: "Observation"},
			Decision{Reason: "role(s) patient may not create Observation"}},
		{"device posts Observation", Input{Roles: []string{"device"}, Interaction: "create", Type: "Observation"},
			Decision{Allow: true, Reason: "allowed"}},
		{"sensitive denied", Input{Roles: []string{"doctor"}, Interaction: "read", Type: "Condition", Security: psy},
			Decision{Reason: "role(s) doctor may not read sensitive Condition without sensitive-access or break-the-glass", Audit: true}},
		{"sensitive with permission", Input{Roles: []string{"doctor", "sensitive-access"}, Interaction: "read", Type: "Condition", Security: psy},
			Decision{Allow: true, Reason: "allowed by sensitive-access", Audit: true}},
		{"break the glass", Input{Roles: []string{"doctor"}, Interaction: "read", Type: "Condition", Security: psy, BreakGlass: &BreakGlass{Reason: "unconscious"}},
			Decision{Allow: true, Reason: "break-the-glass: unconscious", Audit: true}},
		{"break the glass without reason", Input{Roles: []string{"doctor"}, Interaction: "read", Type: "Condition", Security: psy, BreakGlass: &BreakGlass{}},
			Decision{Reason: "role(s) doctor may not read sensitive Condition: break-the-glass needs a reason", Audit: true}},
		{"unknown interaction", Input{Roles: []string{"admin"}, Interaction: "frobnicate", Type: "Patient"},
			Decision{Reason: `unknown interaction "frobnicate"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := e.Decide(context.Background(), tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("Decide = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestDecideConcurrent shares one Engine between goroutines, as the server
// does (run with -race).
func TestDecideConcurrent(t *testing.T) {
	e := newEngine(t)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			in := Input{Roles: []string{"nurse"}, Interaction: "create", Type: "Observation"}
			if i%2 == 1 {
				in.Type = "MedicationRequest"
			}
			for range 50 {
				d, err := e.Decide(context.Background(), in)
				if err != nil || d.Allow != (i%2 == 0) {
					t.Errorf("Decide(%+v) = %+v, %v", in, d, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestPolicyDirOverrides(t *testing.T) {
	dir := t.TempDir()
	const src = `package yiyang.authz

import rego.v1

default decision := {"allow": false, "reason": "closed", "audit": false}

decision := {"allow": true, "reason": concat(" ", ["open for", input.subject]), "audit": true} if input.type == "Basic"
`
	if err := os.WriteFile(filepath.Join(dir, "custom.rego"), []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	// Tests in the directory are not loaded (this one would not compile).
	if err := os.WriteFile(filepath.Join(dir, "custom_test.rego"), []byte("not rego"), 0o600); err != nil {
		t.Fatal(err)
	}
	e, err := New(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	got, err := e.Decide(ctx, Input{Roles: []string{"admin"}, Interaction: "read", Type: "Patient"})
	if err != nil {
		t.Fatal(err)
	}
	if want := (Decision{Reason: "closed"}); got != want {
		t.Errorf("admin read Patient = %+v, want %+v (embedded policy still active?)", got, want)
	}
	got, err = e.Decide(ctx, Input{Interaction: "read", Type: "Basic", Subject: "Device/7"})
	if err != nil {
		t.Fatal(err)
	}
	if want := (Decision{Allow: true, Reason: "open for Device/7", Audit: true}); got != want {
		t.Errorf("read Basic = %+v, want %+v", got, want)
	}
}

func TestPolicyDirErrors(t *testing.T) {
	ctx := context.Background()
	for name, files := range map[string]map[string]string{
		"empty":       {},
		"syntax":      {"a.rego": "package yiyang.authz\n\ndecision := {"},
		"no decision": {"a.rego": "package yiyang.authz\n\nother := true\n"},
		"not object":  {"a.rego": "package yiyang.authz\n\ndecision := true\n"},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			for n, src := range files {
				if err := os.WriteFile(filepath.Join(dir, n), []byte(src), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := New(ctx, dir); err == nil {
				t.Fatal("New succeeded")
			} else if !strings.HasPrefix(err.Error(), "policy: ") {
				t.Errorf("error %q lacks the policy: prefix", err)
			}
		})
	}
	if _, err := New(ctx, filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Fatal("New succeeded on a missing directory")
	}
}

func BenchmarkDecide(b *testing.B) {
	e := newEngine(b)
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		in   Input
	}{
		{"allow", Input{Roles: []string{"doctor"}, Interaction: "read", Type: "Observation", Subject: "Practitioner/1"}},
		{"deny", Input{Roles: []string{"nurse"}, Interaction: "delete", Type: "Observation", Subject: "Practitioner/1"}},
		{"sensitive", Input{Roles: []string{"doctor", "sensitive-access"}, Interaction: "read", Type: "Condition", Security: psy, Subject: "Practitioner/1"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.Decide(ctx, bc.in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	// The floor: a constant policy through the same Decide, for comparison.
	dir := b.TempDir()
	const src = "package yiyang.authz\n\ndecision := {\"allow\": true, \"reason\": \"allowed\", \"audit\": false}\n"
	if err := os.WriteFile(filepath.Join(dir, "const.rego"), []byte(src), 0o600); err != nil {
		b.Fatal(err)
	}
	floor, err := New(ctx, dir)
	if err != nil {
		b.Fatal(err)
	}
	in := Input{Roles: []string{"doctor"}, Interaction: "read", Type: "Observation", Subject: "Practitioner/1"}
	b.Run("constant-policy", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := floor.Decide(ctx, in); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestDecidesBySubject: a policy that reads input.subject, or input under
// a computed key or as a whole, may decide per caller; the built-in one
// and one that reads only the fixed keys do not.
func TestDecidesBySubject(t *testing.T) {
	builtIn, err := New(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	if builtIn.DecidesBySubject() {
		t.Error("the built-in policy decides by subject")
	}
	head := "package yiyang.authz\n\nimport rego.v1\n\n"
	for _, tc := range []struct {
		name, body string
		want       bool
	}{
		{"roles only", `decision := {"allow": "admin" in input.roles, "reason": "r", "audit": false}`, false},
		{"subject", `decision := {"allow": input.subject == "Practitioner/1", "reason": "r", "audit": false}`, true},
		{"subject by index", `decision := {"allow": input["subject"] == "x", "reason": "r", "audit": false}`, true},
		{"computed key", `k := concat("", ["subj", "ect"])
decision := {"allow": input[k] == "x", "reason": "r", "audit": false}`, true},
		{"input as a whole", `decision := {"allow": object.get(input, "subject", "") == "x", "reason": "r", "audit": false}`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "p.rego"), []byte(head+tc.body+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			e, err := New(context.Background(), dir)
			if err != nil {
				t.Fatal(err)
			}
			if got := e.DecidesBySubject(); got != tc.want {
				t.Errorf("DecidesBySubject() = %v, want %v", got, tc.want)
			}
		})
	}
}
