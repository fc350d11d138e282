package fhirpatch

import (
	"encoding/json"
	"errors"
	"github.com/meizhou-yiyang/yiyang/conformance/fhirdata"
	"testing"
)

// FuzzApply checks that Apply never panics, fails only with *Error, and
// returns JSON that Apply accepts again as a resource.
func FuzzApply(f *testing.F) {
	const patient = `{"resourceType":"Patient","name":[{"given":["a","b"],"_given":[null,{"id":"x"}]}],"birthDate":"1970","deceasedBoolean":true,"contact":[{"gender":"male"}]}`
	f.Add([]byte(patient), []byte(params(`[{"name":"type","valueCode":"move"},{"name":"path","valueString":"Patient.name.given"},{"name":"source","valueInteger":1},{"name":"destination","valueInteger":0}]`)))
	f.Add([]byte(patient), []byte(params(`[{"name":"type","valueCode":"delete"},{"name":"path","valueString":"Patient.contact[0].gender"}]`)))
	f.Add([]byte(patient), []byte(params(`[{"name":"type","valueCode":"add"},{"name":"path","valueString":"Patient.name[0].given[1]"},{"name":"name","valueString":"extension"},{"name":"value","part":[{"name":"url","valueUri":"u"}]}]`)))
	f.Add([]byte(patient), []byte(params(`[{"name":"type","valueCode":"replace"},{"name":"path","valueString":"Patient.deceased"},{"name":"value","valueDateTime":"2000"}]`)))
	f.Add([]byte(patient), []byte(params(`[{"name":"type","valueCode":"insert"},{"name":"path","valueString":"Patient.identifier"},{"name":"index","valueInteger":0},{"name":"value","valueIdentifier":{}}]`)))
	if dir := fhirdata.Dir(); dir != "" {
		var cases []officialCase
		if data, err := readCases(dir); err == nil && json.Unmarshal(data, &cases) == nil {
			for _, c := range cases {
				f.Add([]byte(c.Input), []byte(c.Diff))
			}
		}
	}
	f.Fuzz(func(t *testing.T, resource, patch []byte) {
		out, err := Apply(resource, patch)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is a %T, not an *Error", err, err)
			}
			return
		}
		if _, err := Apply(out, []byte(`{"resourceType":"Parameters"}`)); err != nil {
			t.Fatalf("result %s is not accepted again: %v", out, err)
		}
	})
}
