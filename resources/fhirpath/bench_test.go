package fhirpath

import "testing"

func benchExpr(b *testing.B, expr, resource string, m Model) {
	e := MustCompile(expr)
	res := decode(b, resource)
	ctx := &Context{Resource: res, Model: m}
	if got, err := e.Evaluate(ctx); err != nil || len(got) == 0 {
		b.Fatalf("%s: %v %v", expr, got, err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := e.Evaluate(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPatientNameGiven(b *testing.B) {
	benchExpr(b, "Patient.name.given", patientJSON, nil)
}

func BenchmarkPatientNameGivenTyped(b *testing.B) {
	benchExpr(b, "Patient.name.given", patientJSON, loadModel(b))
}

func BenchmarkObservationValueQuantity(b *testing.B) {
	benchExpr(b, "Observation.value.ofType(Quantity)", observationJSON, nil)
}

func BenchmarkObservationValueQuantityTyped(b *testing.B) {
	benchExpr(b, "Observation.value.ofType(Quantity)", observationJSON, loadModel(b))
}

func BenchmarkWhereCoding(b *testing.B) {
	benchExpr(b, "Observation.code.coding.where(system = 'http://loinc.org').code", observationJSON, loadModel(b))
}

func BenchmarkDecodeObservation(b *testing.B) {
	data := []byte(observationJSON)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := DecodeJSON(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCompile(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := Compile("Observation.value.ofType(Quantity) | Observation.component.value.ofType(Quantity)"); err != nil {
			b.Fatal(err)
		}
	}
}
