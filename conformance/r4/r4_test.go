package r4

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestCounts(t *testing.T) {
	params := SearchParams()
	if len(params) != 1400 {
		t.Errorf("SearchParams: %d, want 1400", len(params))
	}
	if !slices.IsSortedFunc(params, func(a, b SearchParam) int { return strings.Compare(a.URL, b.URL) }) {
		t.Error("SearchParams not sorted by URL")
	}
	for i := 1; i < len(params); i++ {
		if params[i].URL == params[i-1].URL {
			t.Errorf("URL %s twice", params[i].URL)
		}
	}
	// 146 concrete resource types (R4 4.0.1); Resource and DomainResource
	// are abstract.
	rts := ResourceTypes()
	if len(rts) != 146 || !slices.IsSorted(rts) {
		t.Errorf("ResourceTypes: %d (sorted %v), want 146 sorted", len(rts), slices.IsSorted(rts))
	}
	want := []string{"Device", "Encounter", "Patient", "Practitioner", "RelatedPerson"}
	if got := Compartments(); !slices.Equal(got, want) {
		t.Errorf("Compartments: %v, want %v", got, want)
	}
	if Version != "4.0.1" {
		t.Errorf("Version %q", Version)
	}
}

func TestLookupElement(t *testing.T) {
	tests := []struct {
		path string
		want Element
	}{
		{"Patient.birthDate", Element{Path: "Patient.birthDate", Types: []string{"date"}, Min: 0, Max: "1"}},
		{"Patient.name", Element{Path: "Patient.name", Types: []string{"HumanName"}, Max: "*"}},
		{"Patient.name.given", Element{Path: "Patient.name.given", Types: []string{"string"}, Max: "*"}},
		{"Patient.id", Element{Path: "Patient.id", Types: []string{"string"}, Max: "1"}},
		{"Patient.meta.lastUpdated", Element{Path: "Patient.meta.lastUpdated", Types: []string{"instant"}, Max: "1"}},
		{"Patient.contact.extension", Element{Path: "Patient.contact.extension", Types: []string{"Extension"}, Max: "*"}},
		{"Patient.contact.name.family", Element{Path: "Patient.contact.name.family", Types: []string{"string"}, Max: "1"}},
		{"Patient.deceased", Element{Path: "Patient.deceased[x]", Types: []string{"boolean", "dateTime"}, Max: "1", Choice: true}},
		{"Patient.deceasedDateTime", Element{Path: "Patient.deceasedDateTime", Types: []string{"dateTime"}, Max: "1"}},
		{"Patient.birthDate.value", Element{Path: "Patient.birthDate.value", Types: []string{"System.Date"}, Max: "1"}},
		{"Patient.generalPractitioner", Element{Path: "Patient.generalPractitioner", Types: []string{"Reference"},
			Targets: []string{"Organization", "Practitioner", "PractitionerRole"}, Max: "*"}},
		{"Observation.status", Element{Path: "Observation.status", Types: []string{"code"}, Min: 1, Max: "1"}},
		{"Observation.valueQuantity.unit", Element{Path: "Observation.valueQuantity.unit", Types: []string{"string"}, Max: "1"}},
		{"Observation.component.code", Element{Path: "Observation.component.code", Types: []string{"CodeableConcept"}, Min: 1, Max: "1"}},
		{"Questionnaire.item.item", Element{Path: "Questionnaire.item.item", Max: "*", ContentRef: "#Questionnaire.item"}},
		{"Questionnaire.item.item.linkId", Element{Path: "Questionnaire.item.item.linkId", Types: []string{"string"}, Min: 1, Max: "1"}},
		{"Questionnaire.item.item.item.enableWhen.question", Element{Path: "Questionnaire.item.item.item.enableWhen.question", Types: []string{"string"}, Min: 1, Max: "1"}},
		{"Age.value", Element{Path: "Age.value", Types: []string{"decimal"}, Max: "1"}},
		{"Extension.url", Element{Path: "Extension.url", Types: []string{"uri"}, Min: 1, Max: "1"}},
		{"EvidenceVariable.characteristic.definitionReference", Element{Path: "EvidenceVariable.characteristic.definitionReference",
			Types: []string{"Reference"}, Targets: []string{"Group"}, Min: 1, Max: "1"}},
		{"EvidenceVariable.characteristic.definitionCodeableConcept", Element{Path: "EvidenceVariable.characteristic.definitionCodeableConcept",
			Types: []string{"CodeableConcept"}, Min: 1, Max: "1"}},
		{"Bundle.entry.resource", Element{Path: "Bundle.entry.resource", Types: []string{"Resource"}, Max: "1"}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			got, ok := LookupElement(tt.path)
			if !ok {
				t.Fatal("not found")
			}
			if got.Path != tt.want.Path || !slices.Equal(got.Types, tt.want.Types) || !slices.Equal(got.Targets, tt.want.Targets) ||
				got.Min != tt.want.Min || got.Max != tt.want.Max || got.Choice != tt.want.Choice || got.ContentRef != tt.want.ContentRef {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
	for _, p := range []string{"Patient", "Patient.foo", "Nope.id", "Patient.name.foo", "Observation.valueFoo", "Patient.birthDate.value.x", ""} {
		if e, ok := LookupElement(p); ok {
			t.Errorf("LookupElement(%q) = %+v, want none", p, e)
		}
	}
}

func TestObservationValueChoice(t *testing.T) {
	e, ok := LookupElement("Observation.value[x]")
	want := []string{"Quantity", "CodeableConcept", "string", "boolean", "integer", "Range", "Ratio", "SampledData", "time", "dateTime", "Period"}
	if !ok || !e.Choice || !slices.Equal(e.Types, want) {
		t.Errorf("Observation.value[x] = %+v, %v; want the 11 choice types %v", e, ok, want)
	}
}

func TestChildren(t *testing.T) {
	var names []string
	for _, e := range Children("Patient.contact") {
		names = append(names, e.Path)
	}
	want := []string{"id", "extension", "modifierExtension", "relationship", "name", "telecom", "address", "gender", "organization", "period"}
	for i := range want {
		want[i] = "Patient.contact." + want[i]
	}
	if !slices.Equal(names, want) {
		t.Errorf("Children(Patient.contact) = %v\nwant %v", names, want)
	}
	if n := len(Children("Patient")); n != 24 {
		t.Errorf("Children(Patient): %d elements, want 24 (8 inherited + 16 own)", n)
	}
	age := Children("Age")
	if len(age) != 7 || age[2].Path != "Age.value" || age[2].Types[0] != "decimal" {
		t.Errorf("Children(Age) = %+v", age)
	}
	if got := Children("Questionnaire.item.item"); len(got) != len(Children("Questionnaire.item")) {
		t.Errorf("Children(Questionnaire.item.item): %d, want those of Questionnaire.item", len(got))
	}
	if got := Children("Patient.nope"); got != nil {
		t.Errorf("Children(Patient.nope) = %v", got)
	}
}

func TestTypes(t *testing.T) {
	for _, tt := range []struct {
		name, base          string
		resource, primitive bool
	}{
		{"Patient", "DomainResource", true, false},
		{"Bundle", "Resource", true, false},
		{"DomainResource", "Resource", false, false},
		{"Resource", "", false, false},
		{"Age", "Quantity", false, false},
		{"code", "string", false, true},
		{"positiveInt", "integer", false, true},
		{"string", "Element", false, true},
		{"Element", "", false, false},
		{"SimpleQuantity", "", false, false}, // a profile, not a core type
		{"Nope", "", false, false},
	} {
		if got := BaseType(tt.name); got != tt.base {
			t.Errorf("BaseType(%s) = %q, want %q", tt.name, got, tt.base)
		}
		if got := IsResourceType(tt.name); got != tt.resource {
			t.Errorf("IsResourceType(%s) = %v", tt.name, got)
		}
		if got := IsPrimitive(tt.name); got != tt.primitive {
			t.Errorf("IsPrimitive(%s) = %v", tt.name, got)
		}
	}
	if !IsA("Age", "Quantity") || !IsA("Patient", "Resource") || IsA("Bundle", "DomainResource") || IsA("Nope", "Nope") {
		t.Error("IsA")
	}
}

// TestTables checks the element table against itself: every type code and
// target is a core type (or a FHIRPath system type), every contentReference
// resolves, and every element can be looked up by its path.
func TestTables(t *testing.T) {
	tb := load()
	n := 0
	for _, d := range tb.types {
		for _, e := range d.elems {
			n++
			for _, typ := range e.Types {
				if !IsType(typ) && !strings.HasPrefix(typ, "System.") {
					t.Errorf("%s.%s: unknown type %s", d.name, e.Path, typ)
				}
			}
			for _, tg := range e.Targets {
				if !IsType(tg) {
					t.Errorf("%s.%s: unknown target %s", d.name, e.Path, tg)
				}
			}
			if e.ContentRef != "" {
				if _, ok := LookupElement(strings.TrimPrefix(e.ContentRef, "#")); !ok {
					t.Errorf("%s.%s: contentReference %s does not resolve", d.name, e.Path, e.ContentRef)
				}
			}
			if _, ok := LookupElement(d.name + "." + e.Path); !ok {
				t.Errorf("%s.%s does not resolve", d.name, e.Path)
			}
		}
	}
	if n < 4000 {
		t.Errorf("only %d elements in the table", n)
	}
}

func TestSearchParams(t *testing.T) {
	code, ok := LookupSearchParam("Observation", "code")
	if !ok || code.Type != "token" || !strings.Contains(code.Expression, "Observation.code") {
		t.Errorf("Observation code = %+v, %v", code, ok)
	}
	if got := code.ExpressionFor("Observation"); got != "Observation.code" {
		t.Errorf("Observation code ExpressionFor = %q", got)
	}
	// The package lists Group too, though the expression keeps only
	// references that resolve to a Patient.
	patient, ok := LookupSearchParam("Observation", "patient")
	if !ok || patient.Type != "reference" || !slices.Contains(patient.Targets, "Patient") ||
		patient.ExpressionFor("Observation") != "Observation.subject.where(resolve() is Patient)" {
		t.Errorf("Observation patient = %+v, %v", patient, ok)
	}
	cvq, ok := LookupSearchParam("Observation", "code-value-quantity")
	if !ok || cvq.Type != "composite" || len(cvq.Components) != 2 || cvq.MultipleOr ||
		cvq.Components[1].Definition != "http://hl7.org/fhir/SearchParameter/Observation-value-quantity" ||
		cvq.Components[1].Expression != "value.as(Quantity)" {
		t.Errorf("Observation code-value-quantity = %+v, %v", cvq, ok)
	}
	birth, _ := LookupSearchParam("Patient", "birthdate")
	if !slices.Contains(birth.Comparators, "ge") || birth.Type != "date" {
		t.Errorf("Patient birthdate = %+v", birth)
	}
	// Inherited parameters, and the package's example duplicates shadowed.
	for _, tt := range []struct{ typ, code, url, expr string }{
		{"Patient", "_id", "Resource-id", "Resource.id"},
		{"Bundle", "_lastUpdated", "Resource-lastUpdated", "Resource.meta.lastUpdated"},
		{"Patient", "_text", "DomainResource-text", ""},
		{"Condition", "subject", "Condition-subject", "Condition.subject"},
	} {
		p, ok := LookupSearchParam(tt.typ, tt.code)
		if !ok || p.URL != urlPrefix+tt.url || p.Expression != tt.expr {
			t.Errorf("LookupSearchParam(%s, %s) = %s %q, %v", tt.typ, tt.code, p.URL, p.Expression, ok)
		}
	}
	if _, ok := LookupSearchParam("Bundle", "_text"); ok {
		t.Error("Bundle is no DomainResource but has _text")
	}
	if _, ok := LookupSearchParam("Patient", "nope"); ok {
		t.Error("Patient nope found")
	}
	var codes []string
	for _, p := range SearchParamsFor("Patient") {
		codes = append(codes, p.Name)
	}
	if !slices.IsSorted(codes) || len(slices.Compact(slices.Clone(codes))) != len(codes) {
		t.Errorf("SearchParamsFor(Patient) not sorted and unique: %v", codes)
	}
	for _, c := range []string{"_id", "_lastUpdated", "_profile", "_security", "_source", "_tag", "_text", "_content", "name", "given", "birthdate", "identifier", "general-practitioner"} {
		if !slices.Contains(codes, c) {
			t.Errorf("SearchParamsFor(Patient) lacks %s", c)
		}
	}
}

func TestExpressionFor(t *testing.T) {
	tests := []struct{ url, typ, want string }{
		{"clinical-patient", "CarePlan", "CarePlan.subject.where(resolve() is Patient)"},
		{"clinical-patient", "AllergyIntolerance", "AllergyIntolerance.patient"},
		{"individual-given", "Practitioner", "Practitioner.name.given"},
		{"conformance-context-quantity", "CodeSystem", "(CodeSystem.useContext.value as Quantity) | (CodeSystem.useContext.value as Range)"},
		{"medications-medication", "MedicationRequest", "(MedicationRequest.medication as Reference)"},
		{"Resource-id", "Patient", "Resource.id"},
		{"Observation-value-quantity", "Observation", "(Observation.value as Quantity) | (Observation.value as SampledData)"},
	}
	byURL := map[string]SearchParam{}
	for _, p := range SearchParams() {
		byURL[p.URL] = p
	}
	for _, tt := range tests {
		p, ok := byURL[urlPrefix+tt.url]
		if !ok {
			t.Fatalf("%s missing", tt.url)
		}
		if got := p.ExpressionFor(tt.typ); got != tt.want {
			t.Errorf("%s.ExpressionFor(%s) = %q, want %q", tt.url, tt.typ, got, tt.want)
		}
	}
	// Every parameter with several bases splits into a part per base, and
	// each plain path a part names resolves in the element table.
	plain := regexp.MustCompile(`^[A-Za-z]+(\.[A-Za-z]+)+$`)
	checked := 0
	for _, p := range SearchParams() {
		for _, b := range p.Base {
			e := p.ExpressionFor(b)
			if len(p.Base) > 1 && (e == p.Expression || !strings.Contains(e, b+".")) {
				t.Errorf("%s: no part for %s in %q", p.URL, b, p.Expression)
			}
			for _, term := range splitTop(e, '|') {
				term = strings.TrimSpace(term)
				if !plain.MatchString(term) {
					continue
				}
				checked++
				if _, ok := LookupElement(term); !ok {
					t.Errorf("%s: %s does not resolve", p.URL, term)
				}
			}
		}
	}
	if checked < 1000 {
		t.Errorf("only %d plain expression paths checked", checked)
	}
}

func TestCompartments(t *testing.T) {
	c, ok := CompartmentFor("Patient")
	if !ok || c.URL != "http://hl7.org/fhir/CompartmentDefinition/patient" {
		t.Fatalf("Patient compartment = %+v, %v", c, ok)
	}
	if got := c.Resources["Observation"]; !slices.Equal(got, []string{"subject", "performer"}) {
		t.Errorf("Patient compartment Observation = %v", got)
	}
	if _, ok := c.Resources["Organization"]; ok {
		t.Error("Organization is no member of the Patient compartment")
	}
	if e, _ := CompartmentFor("Encounter"); !slices.Equal(e.Resources["Encounter"], []string{"{def}"}) {
		t.Errorf("Encounter compartment Encounter = %v", e.Resources["Encounter"])
	}
	if _, ok := CompartmentFor("Group"); ok {
		t.Error("Group compartment found")
	}
	// Every linking parameter is a search parameter of the member type.
	for _, code := range Compartments() {
		c, _ := CompartmentFor(code)
		if len(c.Resources) == 0 {
			t.Errorf("%s compartment empty", code)
		}
		for rt, params := range c.Resources {
			if !IsResourceType(rt) {
				t.Errorf("%s compartment: %s is no resource type", code, rt)
			}
			for _, p := range params {
				if _, ok := LookupSearchParam(rt, p); !ok && p != "{def}" {
					t.Errorf("%s compartment: %s has no parameter %s", code, rt, p)
				}
			}
		}
	}
}
