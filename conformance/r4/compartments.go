package r4

import (
	"slices"
	"strings"
)

// Compartment is one of the core compartment definitions.
type Compartment struct {
	// Code is the compartment's resource type: Patient, Encounter,
	// Practitioner, RelatedPerson or Device.
	Code string
	URL  string
	// Resources maps each member resource type to the search parameters
	// that link it to the compartment's resource; "{def}" marks the
	// compartment's own resource type, a member by its id.
	Resources map[string][]string
}

func (t *tables) parseCompartments(data string) {
	t.compartments = map[string]Compartment{}
	var cur *Compartment
	for _, l := range lines(data) {
		f := strings.Split(strings.TrimPrefix(l, "\t"), "\t")
		if len(f) != 2 {
			badTable("compartmentData", l, "line needs 2 fields")
		}
		if !strings.HasPrefix(l, "\t") {
			if cur != nil {
				t.compartments[cur.Code] = *cur
			}
			cur = &Compartment{Code: f[0], URL: f[1], Resources: map[string][]string{}}
			continue
		}
		if cur == nil {
			badTable("compartmentData", l, "member before any compartment")
		}
		cur.Resources[f[0]] = splitList(f[1])
	}
	if cur != nil {
		t.compartments[cur.Code] = *cur
	}
}

// CompartmentFor returns the compartment whose code is a resource type:
// "Patient", "Encounter", "Practitioner", "RelatedPerson" or "Device".
func CompartmentFor(code string) (Compartment, bool) {
	c, ok := load().compartments[code]
	return c, ok
}

// Compartments returns the codes of the compartments, sorted.
func Compartments() []string {
	t := load()
	codes := make([]string, 0, len(t.compartments))
	for code := range t.compartments {
		codes = append(codes, code)
	}
	slices.Sort(codes)
	return codes
}
