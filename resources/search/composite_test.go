package search

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/meizhou-yiyang/yiyang/resources"
)

func parseR4(t *testing.T, typ, query string) (*Query, error) {
	t.Helper()
	v, err := url.ParseQuery(query)
	if err != nil {
		t.Fatalf("bad test query %q: %v", query, err)
	}
	return Parse(R4, typ, v, Options{})
}

func TestParseComposite(t *testing.T) {
	q, err := parseR4(t, "Observation", "code-value-quantity="+url.QueryEscape("http://loinc.org|8480-6$gt140,8462-4$le90.5||mm[Hg]"))
	if err != nil {
		t.Fatal(err)
	}
	f := q.Filters[0]
	if f.Param.Type != "composite" || len(f.Values) != 2 {
		t.Fatalf("%+v", f)
	}
	v0, v1 := f.Values[0], f.Values[1]
	if c := v0.Components[0]; c.System != "http://loinc.org" || c.Code != "8480-6" || !c.HasSystem {
		t.Errorf("code part %+v", c)
	}
	if c := v0.Components[1]; c.Prefix != Gt || c.Number.Value.FloatString(0) != "140" || c.Code != "" {
		t.Errorf("quantity part %+v", c)
	}
	if c := v1.Components[0]; c.HasSystem || c.Code != "8462-4" {
		t.Errorf("code part %+v", c)
	}
	if c := v1.Components[1]; c.Prefix != Le || c.Number.Value.FloatString(1) != "90.5" || c.Code != "mm[Hg]" || c.HasSystem {
		t.Errorf("quantity part %+v", c)
	}
	// Escaped $ and , belong to the part; a date part takes a prefix.
	q, err = parseR4(t, "Observation", "code-value-string="+url.QueryEscape(`a\$b$x\,y`)+"&code-value-date="+url.QueryEscape("c$ge2016-12"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range q.Filters {
		switch f.Param.Code {
		case "code-value-string":
			if len(f.Values) != 1 || f.Values[0].Components[0].Code != "a$b" || f.Values[0].Components[1].Text != "x,y" {
				t.Errorf("escapes: %+v", f.Values)
			}
		case "code-value-date":
			if c := f.Values[0].Components[1]; c.Prefix != Ge || c.Start.Format("2006-01-02") != "2016-12-01" {
				t.Errorf("date part %+v", c)
			}
		}
	}
	// Three parts, two of them numbers.
	q, err = parseR4(t, "MolecularSequence", "referenceseqid-variant-coordinate="+url.QueryEscape("NC_000009.11$gt22125500$lt22125510"))
	if err != nil {
		t.Fatal(err)
	}
	if c := q.Filters[0].Values[0].Components; len(c) != 3 || c[1].Prefix != Gt || c[2].Prefix != Lt {
		t.Errorf("coordinate %+v", c)
	}
	// :missing takes no parts.
	if q, err = parseR4(t, "Observation", "code-value-quantity:missing=true"); err != nil || !q.Filters[0].Missing {
		t.Fatalf("missing: %v", err)
	}
}

func TestParseCompositeErrors(t *testing.T) {
	for _, tt := range []struct{ query, want string }{
		{"code-value-quantity=http://loinc.org|8480-6", "must have 2 parts separated by $ (code$value-quantity)"},
		{"code-value-quantity=a$1$2", "must have 2 parts"},
		{"code-value-quantity=a$gtx", "part 2 (value-quantity)"},
		{"code-value-quantity=a$", "part 2 (value-quantity)"},
		{"code-value-quantity=$5", "part 1 (code)"},
		{"code-value-quantity=a|b|c$5", "part 1 (code)"},
		{"code-value-date=a$2016-13-45", "part 2 (value-date)"},
		{"code-value-quantity=a$1|x", "part 2 (value-quantity)"},
		{"code-value-quantity:exact=a$1", "modifier :exact"},
		{"code-value-quantity.code=a", "only reference parameters can be chained"},
		{"_sort=code-value-quantity", "cannot sort by composite parameter"},
	} {
		_, err := parseR4(t, "Observation", tt.query)
		var inv *resources.InvalidError
		if !errors.As(err, &inv) || len(inv.Issues) == 0 {
			t.Errorf("%s: want an InvalidError, got %v", tt.query, err)
			continue
		}
		param, _, _ := strings.Cut(tt.query, "=")
		if is := inv.Issues[0]; !strings.Contains(is.Diagnostics, tt.want) || len(is.Expression) != 1 || is.Expression[0] != param {
			t.Errorf("%s: issue %+v, want %q naming %s", tt.query, is, tt.want, param)
		}
	}
}

func TestCompileComposite(t *testing.T) {
	q, err := parseR4(t, "Observation", "component-code-value-quantity="+url.QueryEscape("http://loinc.org|8480-6$gt140||mm[Hg],8462-4$lt5"))
	if err != nil {
		t.Fatal(err)
	}
	b := &builder{d: SQLite, fold: strings.ToLower, conv: func(code string) (string, float64, bool) {
		return code, 1, code == "mm[Hg]"
	}}
	sql, err := b.where("r", "Observation", q.Filters[0])
	if err != nil {
		t.Fatal(err)
	}
	want := "r.rid IN (SELECT x1.rid FROM idx_composite x1 WHERE x1.res_type = ?2 AND x1.param = ?1 AND (" +
		"((x1.c1_code = ?3 AND x1.c1_system = ?4) AND (x1.c2_canon_code = ?5 AND x1.c2_canon_value > ?6)) OR " +
		"((x1.c1_code = ?7) AND (x1.c2_value < ?8))))"
	if sql != want {
		t.Errorf("got  %s\nwant %s", sql, want)
	}
	args := []any{"component-code-value-quantity", "Observation", "8480-6", "http://loinc.org", "mm[Hg]", 140.0, "8462-4", 5.0}
	if len(b.args) != len(args) {
		t.Fatalf("args %v", b.args)
	}
	for i := range args {
		if b.args[i] != args[i] {
			t.Errorf("arg %d = %v, want %v", i+1, b.args[i], args[i])
		}
	}
}
