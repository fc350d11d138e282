package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// fhirPatch builds a FHIRPath Patch Parameters body from operations, each a
// JSON list of parts.
func fhirPatch(ops ...string) []byte {
	var params []string
	for _, op := range ops {
		params = append(params, `{"name":"operation","part":`+op+`}`)
	}
	return []byte(`{"resourceType":"Parameters","parameter":[` + strings.Join(params, ",") + `]}`)
}

func TestFHIRPathPatch(t *testing.T) {
	eachBackend(t, func(t *testing.T, c *client) {
		const path = "/Patient/fp1"
		r := c.do(http.MethodPut, path, []byte(`{"resourceType":"Patient","id":"fp1","active":true,"gender":"male","birthDate":"1970-01-01"}`))
		if r.status != http.StatusCreated {
			t.Fatalf("create: %d %s", r.status, r.body)
		}
		patch := fhirPatch(
			`[{"name":"type","valueCode":"replace"},{"name":"path","valueString":"Patient.birthDate"},{"name":"value","valueDate":"1980-02-03"}]`,
			`[{"name":"type","valueCode":"add"},{"name":"path","valueString":"Patient"},{"name":"name","valueString":"name"},`+
				`{"name":"value","part":[{"name":"family","valueString":"Chalmers"},{"name":"given","valueString":"Peter"},{"name":"given","valueString":"James"}]}]`,
			`[{"name":"type","valueCode":"delete"},{"name":"path","valueString":"Patient.active"}]`,
		)
		// application/fhir+json is the harness default Content-Type
		r = c.do(http.MethodPatch, path, patch)
		if r.status != http.StatusOK || r.header.Get("ETag") != `W/"2"` {
			t.Fatalf("patch: %d %v %s", r.status, r.header.Get("ETag"), r.body)
		}
		var got struct {
			BirthDate string `json:"birthDate"`
			Gender    string `json:"gender"`
			Active    *bool  `json:"active"`
			Name      []struct {
				Family string   `json:"family"`
				Given  []string `json:"given"`
			} `json:"name"`
		}
		if err := json.Unmarshal(r.body, &got); err != nil {
			t.Fatal(err)
		}
		if got.BirthDate != "1980-02-03" || got.Gender != "male" || got.Active != nil || len(got.Name) != 1 ||
			got.Name[0].Family != "Chalmers" || strings.Join(got.Name[0].Given, " ") != "Peter James" {
			t.Fatalf("patched resource: %s", r.body)
		}
		// plain application/json with a Parameters body is a FHIRPath Patch too
		r = c.do(http.MethodPatch, path, fhirPatch(
			`[{"name":"type","valueCode":"add"},{"name":"path","valueString":"Patient"},{"name":"name","valueString":"deceased"},{"name":"value","valueBoolean":false}]`),
			"Content-Type", "application/json", "If-Match", `W/"2"`)
		if r.status != http.StatusOK || r.header.Get("ETag") != `W/"3"` || !strings.Contains(string(r.body), `"deceasedBoolean":false`) {
			t.Fatalf("patch as application/json: %d %v %s", r.status, r.header.Get("ETag"), r.body)
		}
		h := decodeBundle(t, c.do(http.MethodGet, path+"/_history", nil).body)
		if len(h.Entry) != 3 || h.Entry[0].Request.Method != "PATCH" || h.Entry[1].Request.Method != "PATCH" {
			t.Fatalf("history: %d entries, first %+v", len(h.Entry), h.Entry[0].Request)
		}

		for _, tc := range []struct {
			name   string
			body   []byte
			status int
			want   string
		}{
			{"not a Parameters document", []byte(`{"resourceType":"Parameters","parameter":[{"name":"operation","part":[{"name":"type","valueCode":"frobnicate"}]}]}`),
				http.StatusBadRequest, "FHIRPath Patch"},
			{"invalid FHIRPath", fhirPatch(`[{"name":"type","valueCode":"delete"},{"name":"path","valueString":"Patient.("}]`),
				http.StatusBadRequest, "fhirpath"},
			{"no content at the path", fhirPatch(`[{"name":"type","valueCode":"replace"},{"name":"path","valueString":"Patient.maritalStatus"},{"name":"value","valueCodeableConcept":{"text":"x"}}]`),
				http.StatusUnprocessableEntity, "no content found"},
			{"another resource", []byte(`{"resourceType":"Patient","id":"fp1"}`), http.StatusUnsupportedMediaType, "Parameters"},
			{"invalid result", fhirPatch(`[{"name":"type","valueCode":"replace"},{"name":"path","valueString":"Patient.birthDate"},{"name":"value","valueDate":"someday"}]`),
				http.StatusUnprocessableEntity, ""},
		} {
			r := c.do(http.MethodPatch, path, tc.body)
			if r.status != tc.status || !strings.Contains(string(r.body), tc.want) {
				t.Errorf("%s: %d %s, want %d containing %q", tc.name, r.status, r.body, tc.status, tc.want)
			}
		}
		if r := c.do(http.MethodGet, path, nil); r.header.Get("ETag") != `W/"3"` {
			t.Fatalf("failed patches changed the resource: %v", r.header.Get("ETag"))
		}
	})
}
