package r4

import (
	"slices"
	"testing"
)

func TestFHIRPathModel(t *testing.T) {
	m := FHIRPathModel{}
	for _, tc := range []struct {
		parent, name string
		want         []string
		choice       bool
	}{
		{"Patient", "name", []string{"HumanName"}, false},
		{"Patient", "id", []string{"id"}, false},
		{"Patient", "contact", []string{"Patient.contact"}, false},
		{"Patient.contact", "name", []string{"HumanName"}, false},
		{"HumanName", "given", []string{"string"}, false},
		{"Questionnaire.item", "item", []string{"Questionnaire.item"}, false},
		{"Patient", "deceased", []string{"boolean", "dateTime"}, true},
	} {
		got, choice, ok := m.ElementType(tc.parent, tc.name)
		if !ok || !slices.Equal(got, tc.want) || choice != tc.choice {
			t.Errorf("%s.%s: %v %v %v, want %v %v", tc.parent, tc.name, got, choice, ok, tc.want, tc.choice)
		}
	}
	if _, _, ok := m.ElementType("Patient", "colour"); ok {
		t.Error("unknown element found")
	}
	if !m.IsResource("Patient") || !m.IsResource("DomainResource") || m.IsResource("HumanName") {
		t.Error("IsResource")
	}
	if m.BaseType("Patient") != "DomainResource" || m.BaseType("Patient.contact") != "BackboneElement" {
		t.Errorf("BaseType: %s %s", m.BaseType("Patient"), m.BaseType("Patient.contact"))
	}
	if !m.IsType("Patient.contact") || !m.IsType("Quantity") || m.IsType("Nope") {
		t.Error("IsType")
	}
}

func TestFHIRPathModelChoiceNames(t *testing.T) {
	if _, _, ok := (FHIRPathModel{}).ElementType("Observation", "valueQuantity"); ok {
		t.Fatal("a type-suffixed choice name is not a FHIRPath element")
	}
}
