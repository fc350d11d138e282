package search

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/meizhou-yiyang/yiyang/resources"
)

func TestPlanRows(t *testing.T) {
	n, err := planRows(`[{"Plan":{"Node Type":"Seq Scan","Plan Rows":1234.6,"Plans":[{"Plan Rows":7}]}}]`)
	if err != nil || n != 1235 {
		t.Errorf("planRows = %d, %v; want 1235", n, err)
	}
	for _, bad := range []string{``, `{}`, `[]`, `[{"Plan":{}},{"Plan":{}}]`} {
		if _, err := planRows(bad); err == nil {
			t.Errorf("planRows(%q) accepted", bad)
		}
	}
}

// recorder is an Executor that records the queries and answers each with
// one row holding answer.
type recorder struct {
	sqls   []string
	answer any
}

func (r *recorder) Each(ctx context.Context, sql string, args []any, fn func(scan func(dest ...any) error) error) error {
	r.sqls = append(r.sqls, sql)
	return fn(func(dest ...any) error {
		switch d := dest[0].(type) {
		case *int64:
			*d = r.answer.(int64)
		case *string:
			*d = r.answer.(string)
		default:
			return errors.New("unexpected destination")
		}
		return nil
	})
}

func TestCountModes(t *testing.T) {
	q := &Query{Type: "Patient", Count: 10}
	for _, tc := range []struct {
		d      Dialect
		answer any
		est    bool
		want   int64
		sql    string
	}{
		{SQLite, int64(7), false, 7, "SELECT count(*) FROM resources r WHERE"},
		{SQLite, int64(EstimateCap), true, EstimateCap, "LIMIT 10000) c"},
		{Postgres, int64(7), false, 7, "SELECT count(*) FROM resources r WHERE"},
		{Postgres, `[{"Plan":{"Plan Rows":123456}}]`, true, 123456, "EXPLAIN (FORMAT JSON) SELECT 1 FROM resources r WHERE"},
	} {
		rec := &recorder{answer: tc.answer}
		n, err := Engine{Dialect: tc.d, Fold: strings.ToLower}.count(context.Background(), rec, q, tc.est)
		if err != nil || n != tc.want || len(rec.sqls) != 1 || !strings.Contains(rec.sqls[0], tc.sql) {
			t.Errorf("estimate %v: %d %v %q; want %d from %q", tc.est, n, err, rec.sqls, tc.want, tc.sql)
		}
	}
	// The planner's statistics cover every row: with labels excluded, or
	// under a limiting scope, an estimate is a capped count instead.
	for name, ctx := range map[string]context.Context{
		"excluded labels": context.WithValue(context.Background(), excludedKey{}, []string{"http://terminology.hl7.org/CodeSystem/v3-ActCode|PSY"}),
		"patient scope":   WithScope(context.Background(), &Scope{Compartment: &Compartment{Type: "Patient", ID: "p1", Params: map[string][]string{"Patient": {"{def}"}}}}),
	} {
		rec := &recorder{answer: int64(3)}
		n, err := Engine{Dialect: Postgres, Fold: strings.ToLower}.count(ctx, rec, q, true)
		if err != nil || n != 3 || len(rec.sqls) != 1 || !strings.Contains(rec.sqls[0], "LIMIT 10000) c") {
			t.Errorf("estimate with %s: %d %v %q; want a capped count", name, n, err, rec.sqls)
		}
	}
}

func TestParseList(t *testing.T) {
	q, err := Parse(reg, "Observation", url.Values{"_list": {"a1,b2"}}, Options{})
	if err != nil || len(q.Filters) != 1 || q.Filters[0].Param.Code != "_list" || len(q.Filters[0].Values) != 2 ||
		q.Filters[0].Values[1].Code != "b2" {
		t.Fatalf("_list=a1,b2: %+v %v", q, err)
	}
	for _, bad := range []string{"$current-problems", "$nope", "a b", "a,", strings.Repeat("x", 65)} {
		_, err := Parse(reg, "Observation", url.Values{"_list": {bad}}, Options{})
		if !errors.Is(err, resources.ErrInvalid) {
			t.Errorf("_list=%q: %v", bad, err)
		}
	}
	q, err = Parse(reg, "Observation", url.Values{"_list": {"$current-allergies"}}, Options{Lenient: true})
	if err != nil || len(q.Filters) != 0 || len(q.Ignored) != 1 {
		t.Errorf("lenient functional list: %+v %v", q, err)
	}
}
