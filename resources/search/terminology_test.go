package search

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/meizhou-yiyang/yiyang/resources"
)

// fakeTerms answers from fixed tables and records its calls.
type fakeTerms struct {
	sets  map[string][]Coding
	calls []string
}

func (f *fakeTerms) Expand(ctx context.Context, ref string) ([]Coding, error) {
	f.calls = append(f.calls, "expand "+ref)
	if cs, ok := f.sets[ref]; ok {
		return cs, nil
	}
	return nil, resources.Invalid("not-found", "", "ValueSet "+ref+" is not stored")
}

func (f *fakeTerms) Below(ctx context.Context, system, code string) ([]Coding, error) {
	f.calls = append(f.calls, "below "+system+"|"+code)
	return []Coding{{system, code}, {system, code + ".child"}}, nil
}

func (f *fakeTerms) Above(ctx context.Context, system, code string) ([]Coding, error) {
	f.calls = append(f.calls, "above "+system+"|"+code)
	return []Coding{{system, code}}, nil
}

func TestResolve(t *testing.T) {
	terms := &fakeTerms{sets: map[string][]Coding{
		"http://x/vs": {{"http://s", "a"}, {"http://s", "b"}},
		"empty":       nil,
	}}
	q, err := parse(t, "Observation", "code:in=http://x/vs&value-concept:below=http://s|r&subject:Patient.gender:not-in=empty&code:above=http://s|a,http://s|b", false)
	if err != nil {
		t.Fatal(err)
	}
	if err := Resolve(context.Background(), q, terms); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range q.Filters {
		if f.Chain != nil {
			f = f.Chain.Filter
		}
		var parts []string
		for _, v := range f.Values {
			if !v.Resolved {
				t.Errorf("%s:%s not resolved", f.Param.Code, f.Modifier)
			}
			parts = append(parts, fmt.Sprint(v.Codes))
		}
		got[f.Param.Code+":"+f.Modifier] = strings.Join(parts, " ")
	}
	want := map[string]string{
		"code:in":             "[{http://s a} {http://s b}]",
		"value-concept:below": "[{http://s r} {http://s r.child}]",
		"gender:not-in":       "[]",
		"code:above":          "[{http://s a}] [{http://s b}]",
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %s, want %s", k, got[k], w)
		}
	}

	// Errors name the parameter.
	q, _ = parse(t, "Observation", "code:in=http://unknown", false)
	err = Resolve(context.Background(), q, terms)
	var inv *resources.InvalidError
	if !errors.As(err, &inv) || inv.Issues[0].Expression[0] != "code:in" || !strings.Contains(inv.Issues[0].Diagnostics, "http://unknown") {
		t.Errorf("got %v", err)
	}

	// Together, the filters of one search are bounded.
	big := make([]Coding, MaxResolvedCodes/2+1)
	terms.sets["big"] = big
	q, _ = parse(t, "Observation", "code:in=big&value-concept:in=big", false)
	err = Resolve(context.Background(), q, terms)
	if !errors.As(err, &inv) || inv.Issues[0].Code != "too-costly" {
		t.Errorf("got %v, want too-costly", err)
	}
}

func TestParseSubsumptionNeedsSystem(t *testing.T) {
	for _, qs := range []string{"code:below=8302", "code:above=8302", "code:below=|8302", "code:above=http://loinc.org|"} {
		_, err := parse(t, "Observation", qs, false)
		if err == nil || !strings.Contains(err.Error(), "system|code") {
			t.Errorf("%s: got %v, want a system|code error", qs, err)
		}
	}
	q, err := parse(t, "Observation", "code:below="+url.QueryEscape("http://loinc.org|8302"), false)
	if err != nil || q.Filters[0].Values[0].System != "http://loinc.org" || q.Filters[0].Values[0].Code != "8302" {
		t.Fatalf("%v %+v", err, q)
	}
}

func TestCompileTerminologyFilters(t *testing.T) {
	long := make([]Coding, inlineCodes+1)
	for i := range long {
		long[i] = Coding{"http://s", fmt.Sprint("c", i)}
	}
	for _, tc := range []struct {
		name     string
		d        Dialect
		mod      string
		codes    []Coding
		resolved bool
		want     []string
		args     int
		err      string
	}{
		{"unresolved", SQLite, "in", nil, false, nil, 0, "needs terminology"},
		{"empty", SQLite, "in", nil, true, []string{"1 = 0"}, 0, ""},
		{"empty not-in", SQLite, "not-in", nil, true, []string{"NOT ", "1 = 0"}, 0, ""},
		{"short", SQLite, "below", long[:2], true, []string{"(x1.code, x1.system) IN (VALUES (?3, ?4), (?5, ?6))"}, 6, ""},
		{"long sqlite", SQLite, "in", long, true, []string{"json_each(?3)"}, 3, ""},
		{"long postgres", Postgres, "not-in", long, true, []string{"NOT ", "unnest($3::text[], $4::text[])"}, 4, ""},
		{"long without Pairs", Dialect{Placeholder: SQLite.Placeholder, False: "0"}, "in", long, true, []string{"VALUES"}, 2 + 2*len(long), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := &builder{d: tc.d}
			f := Filter{Param: ParamDef{Code: "code", Type: "token"}, Modifier: tc.mod,
				Values: []Value{{Codes: tc.codes, Resolved: tc.resolved}}}
			sql, err := b.where("r", "Observation", f)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(sql, w) {
					t.Errorf("%s lacks %s", sql, w)
				}
			}
			if len(b.args) != tc.args && tc.args != 0 {
				t.Errorf("%d args, want %d", len(b.args), tc.args)
			}
		})
	}
}
