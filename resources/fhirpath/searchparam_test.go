package fhirpath

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSearchParameterExpressions compiles every official R4 SearchParameter
// expression and evaluates it on every official example of its base types:
// the indexer will run exactly these on every write, so none may fail.
func TestSearchParameterExpressions(t *testing.T) {
	dir := requireTestData(t)
	m := loadModel(t)
	spFiles, _ := filepath.Glob(filepath.Join(dir, "r4-core", "SearchParameter-*.json"))
	type param struct {
		name string
		expr *Expression
		base []string
	}
	var params []param
	for _, f := range spFiles {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var sp struct {
			ID         string   `json:"id"`
			Expression string   `json:"expression"`
			Base       []string `json:"base"`
		}
		if err := json.Unmarshal(data, &sp); err != nil {
			t.Fatal(err)
		}
		if sp.Expression == "" {
			continue
		}
		e, err := Compile(sp.Expression)
		if err != nil {
			t.Errorf("SearchParameter %s: %v", sp.ID, err)
			continue
		}
		params = append(params, param{sp.ID, e, sp.Base})
	}
	examples, _ := filepath.Glob(filepath.Join(dir, "r4-examples", "*.json"))
	evaluated, nonEmpty, mismatch := 0, 0, 0
	for _, f := range examples {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		res, err := DecodeJSON(data)
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
			continue
		}
		rt := res.ResourceType()
		ctx := &Context{Resource: res, Model: m}
		for _, p := range params {
			match := false
			for _, b := range p.base {
				if b == rt || b == "Resource" || b == "DomainResource" {
					match = true
				}
			}
			if !match {
				continue
			}
			evaluated++
			got, err := p.expr.Evaluate(ctx)
			if err != nil {
				t.Errorf("%s on %s: %v [%s]", p.name, filepath.Base(f), err, strings.TrimSpace(p.expr.String()))
				continue
			}
			if len(got) > 0 {
				nonEmpty++
			}
			untyped, err := p.expr.Evaluate(&Context{Resource: res})
			if err != nil {
				t.Errorf("%s on %s without a model: %v", p.name, filepath.Base(f), err)
			} else if len(untyped) != len(got) {
				mismatch++
				if mismatch <= 10 {
					t.Logf("%s on %s: %d values typed, %d untyped", p.name, filepath.Base(f), len(got), len(untyped))
				}
			}
		}
	}
	t.Logf("%d SearchParameter expressions, %d evaluations on the R4 examples, %d with values, %d differ without a model", len(params), evaluated, nonEmpty, mismatch)
}
