package auth_test

import (
	"net/url"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/meizhou-yiyang/yiyang/server/auth"
)

func TestParseScopes(t *testing.T) {
	const (
		r = 1 << iota
		s
		c
		u
		d
	)
	perms := func(sc auth.Scope) int {
		n := 0
		for i, b := range []bool{sc.Read, sc.Search, sc.Create, sc.Update, sc.Delete} {
			if b {
				n |= 1 << i
			}
		}
		return n
	}
	cases := []struct {
		in      string
		ctx     string
		typ     string
		perms   int
		params  url.Values
		other   bool
		invalid bool
	}{
		{in: "patient/Observation.read", ctx: "patient", typ: "Observation", perms: r | s},
		{in: "user/Observation.write", ctx: "user", typ: "Observation", perms: c | u | d},
		{in: "user/*.*", ctx: "user", typ: "*", perms: r | s | c | u | d},
		{in: "system/*.read", ctx: "system", typ: "*", perms: r | s},
		{in: "patient/*.write", ctx: "patient", typ: "*", perms: c | u | d},
		{in: "patient/Observation.rs", ctx: "patient", typ: "Observation", perms: r | s},
		{in: "user/Encounter.cruds", ctx: "user", typ: "Encounter", perms: r | s | c | u | d},
		{in: "system/Patient.c", ctx: "system", typ: "Patient", perms: c},
		{in: "user/Patient.ud", ctx: "user", typ: "Patient", perms: u | d},
		{in: "user/*.s", ctx: "user", typ: "*", perms: s},
		{in: "patient/Observation.rs?category=laboratory", ctx: "patient", typ: "Observation", perms: r | s,
			params: url.Values{"category": {"laboratory"}}},
		{in: "user/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|vital-signs",
			ctx: "user", typ: "Observation", perms: r | s,
			params: url.Values{"category": {"http://terminology.hl7.org/CodeSystem/observation-category|vital-signs"}}},
		{in: "user/Condition.rs?category=problem-list-item&clinical-status=active", ctx: "user", typ: "Condition", perms: r | s,
			params: url.Values{"category": {"problem-list-item"}, "clinical-status": {"active"}}},
		{in: "openid", other: true},
		{in: "fhirUser", other: true},
		{in: "launch", other: true},
		{in: "launch/patient", other: true},
		{in: "offline_access", other: true},
		{in: "Patient/Observation.read", other: true},
		{in: "patient", other: true},
		{in: "user/Observation.sr", invalid: true},
		{in: "user/Observation.rr", invalid: true},
		{in: "user/Observation.x", invalid: true},
		{in: "user/Observation.", invalid: true},
		{in: "user/Observation", invalid: true},
		{in: "user/observation.read", invalid: true},
		{in: "user/.read", invalid: true},
		{in: "user/Obs-ervation.read", invalid: true},
		{in: "user/Observation.read?category=lab", invalid: true},
		{in: "user/Observation.rs?", invalid: true},
		{in: "user/Observation.rs?=x", invalid: true},
		{in: "user/Observation.rs?a=%zz", invalid: true},
		{in: "user/Observation.rs.read", invalid: true},
		{in: "patient/", invalid: true},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			scopes, other, err := auth.ParseScopes(tc.in)
			switch {
			case tc.invalid:
				if err == nil || len(scopes)+len(other) != 0 {
					t.Fatalf("got %v %v %v, want an error only", scopes, other, err)
				}
			case tc.other:
				if err != nil || len(scopes) != 0 || len(other) != 1 || other[0] != tc.in {
					t.Fatalf("got %v %v %v, want it among the other scopes", scopes, other, err)
				}
			default:
				if err != nil || len(scopes) != 1 || len(other) != 0 {
					t.Fatalf("got %v %v %v", scopes, other, err)
				}
				sc := scopes[0]
				if sc.Context != tc.ctx || sc.Type != tc.typ || perms(sc) != tc.perms || sc.Raw != tc.in ||
					!reflect.DeepEqual(sc.Params, tc.params) {
					t.Errorf("got %+v (perms %05b), want %s %s %05b %v", sc, perms(sc), tc.ctx, tc.typ, tc.perms, tc.params)
				}
			}
		})
	}

	t.Run("mixed", func(t *testing.T) {
		scopes, other, err := auth.ParseScopes("  openid user/Observation.rs  user/Bad.rr launch\tpatient/*.read ")
		if len(scopes) != 2 || strings.Join(other, " ") != "openid launch" || err == nil || !strings.Contains(err.Error(), "user/Bad.rr") {
			t.Errorf("got %v %v %v", scopes, other, err)
		}
	})
}

func TestAllows(t *testing.T) {
	principal := func(scopes string) *auth.Principal {
		sc, _, _ := auth.ParseScopes(scopes)
		return &auth.Principal{Scopes: sc}
	}
	all := []auth.Interaction{auth.Read, auth.Search, auth.Create, auth.Update, auth.Delete}
	cases := []struct {
		scopes string
		typ    string
		want   string // one letter per interaction in all granted: r s c u d, or -
	}{
		{"user/Observation.read", "Observation", "rs---"},
		{"user/Observation.read", "Patient", "-----"},
		{"user/Observation.write", "Observation", "--cud"},
		{"user/Observation.*", "Observation", "rscud"},
		{"user/*.*", "Encounter", "rscud"},
		{"system/*.read", "Claim", "rs---"},
		{"patient/Observation.rs", "Observation", "rs---"},
		{"user/Encounter.cruds", "Encounter", "rscud"},
		{"user/Encounter.cud", "Encounter", "--cud"},
		{"user/Encounter.r", "Encounter", "r----"},
		{"user/Encounter.s", "Encounter", "-s---"},
		{"user/Encounter.r user/Encounter.s", "Encounter", "rs---"},
		{"user/*.r user/Patient.d", "Patient", "r---d"},
		{"openid launch", "Patient", "-----"},
		{"", "Patient", "-----"},
		{"user/*.rs", "", "rs---"},
		{"user/Patient.rs", "", "-----"},
	}
	for _, tc := range cases {
		p := principal(tc.scopes)
		var got strings.Builder
		for i, in := range all {
			if p.Allows(in, tc.typ) {
				got.WriteByte("rscud"[i])
			} else {
				got.WriteByte('-')
			}
		}
		if got.String() != tc.want {
			t.Errorf("%q on %q: %s, want %s", tc.scopes, tc.typ, got.String(), tc.want)
		}
	}

	t.Run("restrictions", func(t *testing.T) {
		p := principal("user/Observation.rs?category=laboratory user/Observation.s?category=vital-signs")
		got := p.Restrictions(auth.Search, "Observation")
		want := []url.Values{{"category": {"laboratory"}}, {"category": {"vital-signs"}}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("search restrictions %v", got)
		}
		if got := p.Restrictions(auth.Read, "Observation"); len(got) != 1 {
			t.Errorf("read restrictions %v", got)
		}
		p = principal("user/Observation.rs?category=laboratory patient/Observation.rs")
		if got := p.Restrictions(auth.Search, "Observation"); got != nil {
			t.Errorf("an unrestricted grant left restrictions %v", got)
		}
	})
	t.Run("patient scoped", func(t *testing.T) {
		p := principal("patient/Observation.rs user/Patient.rs patient/Patient.rs")
		if !p.PatientScoped(auth.Read, "Observation") || p.PatientScoped(auth.Read, "Patient") ||
			p.PatientScoped(auth.Read, "Encounter") || p.PatientScoped(auth.Create, "Observation") {
			t.Error("PatientScoped")
		}
	})
	t.Run("interaction names", func(t *testing.T) {
		for name, want := range map[string]auth.Interaction{
			"read": auth.Read, "vread": auth.Read, "history-instance": auth.Read, "history-type": auth.Read,
			"search-type": auth.Search, "create": auth.Create, "update": auth.Update, "patch": auth.Update, "delete": auth.Delete,
		} {
			if got, ok := auth.InteractionFor(name); !ok || got != want {
				t.Errorf("%s: %v %v", name, got, ok)
			}
		}
		if _, ok := auth.InteractionFor("operation"); ok {
			t.Error("operation mapped")
		}
		if err := principal("user/*.*").Authorize(auth.Interaction(9), "Patient"); err == nil {
			t.Error("unknown interaction authorized")
		}
	})
}

func FuzzParseScopes(f *testing.F) {
	for _, s := range []string{"openid user/*.* patient/Observation.rs?category=laboratory",
		"system/Patient.cruds user/Observation.read", "user/Observation.sr", "patient/x.rs?&=", "launch/patient"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		scopes, other, _ := auth.ParseScopes(in)
		if len(scopes)+len(other) > len(strings.Fields(in)) {
			t.Fatalf("more scopes than fields")
		}
		for _, sc := range scopes {
			if sc.Context != "patient" && sc.Context != "user" && sc.Context != "system" {
				t.Fatalf("context %q", sc.Context)
			}
			if sc.Type == "" || !(sc.Read || sc.Search || sc.Create || sc.Update || sc.Delete) {
				t.Fatalf("empty scope %+v", sc)
			}
			again, _, err := auth.ParseScopes(sc.Raw)
			if err != nil || len(again) != 1 || !reflect.DeepEqual(again[0], sc) {
				t.Fatalf("%q does not reparse: %v %v", sc.Raw, again, err)
			}
		}
	})
}

func TestPrincipalMemo(t *testing.T) {
	p := &auth.Principal{Subject: "s"}
	var calls atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if v := p.Memo("k", func() any { calls.Add(1); return 42 }); v != 42 {
				t.Errorf("Memo = %v", v)
			}
		}()
	}
	wg.Wait()
	if v := p.Memo("k", func() any { return 0 }); v != 42 {
		t.Fatalf("the first value must stay: %v", v)
	}
	if v := p.Memo("other", func() any { return "x" }); v != "x" {
		t.Fatalf("another key: %v", v)
	}
	if calls.Load() < 1 {
		t.Fatal("fn never ran")
	}
}
