package fhirpath

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

const patientJSON = `{
  "resourceType": "Patient",
  "id": "p1",
  "active": true,
  "name": [
    {"use": "official", "family": "Chalmers", "given": ["Peter", "James"]},
    {"use": "usual", "given": ["Jim"]}
  ],
  "birthDate": "1974-12-25",
  "_birthDate": {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/patient-birthTime", "valueDateTime": "1974-12-25T14:35:45-05:00"}]},
  "contained": [{"resourceType": "Organization", "id": "org1", "name": "Acme"}],
  "managingOrganization": {"reference": "#org1"},
  "telecom": [{"system": "phone", "value": "555"}]
}`

const observationJSON = `{
  "resourceType": "Observation",
  "id": "o1",
  "status": "final",
  "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
  "subject": {"reference": "Patient/p1"},
  "effectiveDateTime": "2016-03-28",
  "valueQuantity": {"value": 185.00, "unit": "lbs", "system": "http://unitsofmeasure.org", "code": "[lb_av]"}
}`

func decode(t testing.TB, s string) *Node {
	t.Helper()
	n, err := DecodeJSON([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func eval(t *testing.T, ctx *Context, expr string) []string {
	t.Helper()
	e, err := Compile(expr)
	if err != nil {
		t.Fatalf("compile %q: %v", expr, err)
	}
	got, err := e.Evaluate(ctx)
	if err != nil {
		t.Fatalf("evaluate %q: %v", expr, err)
	}
	out := make([]string, len(got))
	for i, v := range got {
		_, out[i] = outputOf(v)
	}
	return out
}

func TestUntypedEvaluation(t *testing.T) {
	pat := &Context{Resource: decode(t, patientJSON)}
	obs := &Context{Resource: decode(t, observationJSON)}
	tests := []struct {
		ctx  *Context
		expr string
		want string
	}{
		{pat, "Patient.name.given", "Peter|James|Jim"},
		{pat, "name.where(use = 'usual').given.first()", "Jim"},
		{pat, "Patient.birthDate.extension('http://hl7.org/fhir/StructureDefinition/patient-birthTime').value", "@1974-12-25T14:35:45-05:00"},
		{pat, "Patient.birthDate < @2000-01-01", "true"},
		{pat, "managingOrganization.resolve().name", "Acme"},
		{pat, "active and name.exists()", "true"},
		{pat, "name.given.count() + 1", "4"},
		{pat, "%resource.id & '-' & %context.id", "p1-p1"},
		{obs, "Observation.value.value", "185.00"},
		{obs, "Observation.value.ofType(Quantity).unit", "lbs"},
		{obs, "Observation.value > 80 'kg'", "true"},
		{obs, "Observation.effective.ofType(dateTime) >= @2016-01-01", "true"},
		{obs, "Observation.code.coding.where(system = %loinc).code", "29463-7"},
		{obs, "(1 | 2 | 3).aggregate($this + $total, 0)", "6"},
		{obs, "@2019-01-31 + 1 month", "@2019-02-28"},
		{obs, "1 'kg' = 1000 'g'", "true"},
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			got := strings.Join(eval(t, tc.ctx, tc.expr), "|")
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestTypedChoiceAndExtensions(t *testing.T) {
	m := loadModel(t)
	obs := &Context{Resource: decode(t, observationJSON), Model: m}
	if got := eval(t, obs, "Observation.value.is(Quantity)"); got[0] != "true" {
		t.Errorf("value.is(Quantity) = %v", got)
	}
	if _, err := MustCompile("Observation.valueQuantity").Evaluate(obs); err == nil {
		t.Error("valueQuantity should be a semantic error with a model")
	}
	pat := &Context{Resource: decode(t, patientJSON), Model: m}
	if got := eval(t, pat, "Patient.birthDate.extension.value.type().name"); len(got) != 1 || got[0] != "dateTime" {
		t.Errorf("extension on primitive = %v", got)
	}
	if got := eval(t, pat, "Patient.name.given.type().name"); got[0] != "string" {
		t.Errorf("type = %v", got)
	}
}

func TestResolveInBundle(t *testing.T) {
	bundle := `{"resourceType":"Bundle","type":"collection","entry":[
	  {"fullUrl":"urn:uuid:1","resource":` + observationJSON + `},
	  {"fullUrl":"http://x/Patient/p1","resource":` + patientJSON + `}]}`
	ctx := &Context{Resource: decode(t, bundle)}
	got := eval(t, ctx, "Bundle.entry.resource.ofType(Observation).subject.resolve().name.family")
	if strings.Join(got, "|") != "Chalmers" {
		t.Errorf("got %v", got)
	}
	got = eval(t, ctx, "Bundle.entry.resource.ofType(Observation).subject.where(resolve() is Patient).reference")
	if strings.Join(got, "|") != "Patient/p1" {
		t.Errorf("got %v", got)
	}
}

func TestResolveStub(t *testing.T) {
	ctx := &Context{Resource: decode(t, observationJSON), Model: loadModel(t)}
	got := eval(t, ctx, "Observation.subject.where(resolve() is Patient).reference")
	if strings.Join(got, "|") != "Patient/p1" {
		t.Errorf("got %v", got)
	}
	if got := eval(t, ctx, "Observation.subject.where(resolve() is Group)"); len(got) != 0 {
		t.Errorf("got %v", got)
	}
}

func TestNowIsInjectable(t *testing.T) {
	at := time.Date(2024, 2, 29, 10, 11, 12, 0, time.UTC)
	ctx := &Context{Now: at}
	if got := eval(t, ctx, "today()"); got[0] != "@2024-02-29" {
		t.Errorf("today() = %v", got)
	}
	if got := eval(t, ctx, "now()"); got[0] != "@2024-02-29T10:11:12.000Z" {
		t.Errorf("now() = %v", got)
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		expr string
		pos  int
		kind ErrorKind
		msg  string
	}{
		{"Patient.name.", 13, SyntaxError, "expected identifier"},
		{"(1 + 2", 6, SyntaxError, "expected ')'"},
		{"name.foo()", 5, SemanticError, "unknown function"},
		{"'abc", 0, SyntaxError, "unterminated string"},
		{"1 +", 3, SyntaxError, "expected expression"},
		{"substring()", 0, SemanticError, "argument"},
		{"2 + 2 /* x", 6, SyntaxError, "unterminated comment"},
	}
	for _, tc := range tests {
		_, err := Compile(tc.expr)
		var fe *Error
		if !errors.As(err, &fe) {
			t.Errorf("%q: error %v", tc.expr, err)
			continue
		}
		if fe.Pos != tc.pos || fe.Kind != tc.kind || !strings.Contains(fe.Msg, tc.msg) {
			t.Errorf("%q: got %v (pos %d kind %v), want pos %d kind %v containing %q", tc.expr, fe, fe.Pos, fe.Kind, tc.pos, tc.kind, tc.msg)
		}
	}
}

func TestLimits(t *testing.T) {
	if _, err := Compile(strings.Repeat("(", 100000) + "1" + strings.Repeat(")", 100000)); err == nil {
		t.Error("expected an error for an overlong expression")
	}
	if _, err := Compile(strings.Repeat("(", 5000) + "1" + strings.Repeat(")", 5000)); err == nil {
		t.Error("expected a nesting error")
	}
	if _, err := Compile(strings.Repeat("-", 5000) + "1"); err == nil {
		t.Error("expected a nesting error for unary operators")
	}
	if _, err := DecodeJSON([]byte(strings.Repeat("[", 1000) + strings.Repeat("]", 1000))); err == nil {
		t.Error("expected a JSON depth error")
	}
}

func TestConcurrentEvaluation(t *testing.T) {
	e := MustCompile("Patient.name.where(use = 'official').given.first() & '/' & birthDate.toString()")
	res := decode(t, patientJSON)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 200; j++ {
				got, err := e.Evaluate(&Context{Resource: res})
				if err != nil || len(got) != 1 || got[0] != String("Peter/1974-12-25") {
					t.Errorf("got %v, %v", got, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestDecimalArithmetic(t *testing.T) {
	ctx := &Context{}
	for expr, want := range map[string]string{
		"1.8 - 1.2":        "0.6",
		"1 / 3":            "0.33333333",
		"10 / 4":           "2.5",
		"1.50 * 2":         "3.00",
		"-7 div 2":         "-3",
		"7.5 mod 2":        "1.5",
		"2.5.round()":      "3",
		"(-2.5).round()":   "-3",
		"3.14159.round(2)": "3.14",
	} {
		if got := eval(t, ctx, expr); len(got) != 1 || got[0] != want {
			t.Errorf("%s = %v, want %s", expr, got, want)
		}
	}
}
