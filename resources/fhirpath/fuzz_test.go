package fhirpath

import (
	"testing"
	"time"
)

func FuzzCompile(f *testing.F) {
	for _, s := range []string{
		"Patient.name.given", "name.where(use = 'official').given.first()",
		"Observation.value.ofType(Quantity).value > 5 'mg'", "@2015-02-04T14:34:28Z + 1 day",
		"(1 | 2).aggregate($this + $total, 0)", "%`vs-x` = 'a'", "iif(true, 1, 2)",
		"a.b[0].c.descendants().select($this)", "'a\\u0041'.matches('^A')", "1 'cm' * 2 'm' / 3",
		"-(1).not() implies {} xor true", "x is FHIR.string", "1.5e3", "@T14:00", "/* c */ //",
	} {
		f.Add(s)
	}
	res, err := DecodeJSON([]byte(patientJSON))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, src string) {
		e, err := Compile(src)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		// Evaluation must not panic either, and must stay fast; results and
		// errors are fine.
		start := time.Now()
		_, _ = e.Evaluate(&Context{Resource: res})
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("evaluation of %q took %v", src, d)
		}
	})
}
