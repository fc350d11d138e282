package server_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/meizhou-yiyang/yiyang/server"
)

// TestAbsoluteLocalReferences: with --base-url set, a reference written as
// an absolute URL under it is a local reference for searches, chains,
// includes, compartments and patient-context confinement, on both backends.
func TestAbsoluteLocalReferences(t *testing.T) {
	const base = "https://fhir.example.cn/fhir"
	iss, v := testIssuer(t)
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			_, c := serve(t, server.Config{Store: b.open(t), Auth: v, BaseURL: base, Operations: newOperations(t)})
			admin := "Bearer " + iss.Token(t, "admin", "user/*.cruds", nil)
			for path, body := range map[string]string{
				"/Patient/p1":     `{"resourceType":"Patient","id":"p1","name":[{"family":"Wang"}]}`,
				"/Observation/o1": `{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"x"},"subject":{"reference":"` + base + `/Patient/p1"}}`,
				"/Observation/o2": `{"resourceType":"Observation","id":"o2","status":"final","code":{"text":"x"},"subject":{"reference":"https://elsewhere.example.org/fhir/Patient/p1"}}`,
			} {
				if res := c.do(http.MethodPut, path, []byte(body), "Authorization", admin); res.status != http.StatusCreated {
					t.Fatalf("%s: %d %s", path, res.status, res.body)
				}
			}
			ids := func(token, path string) []string {
				res := c.do(http.MethodGet, path, nil, "Authorization", token)
				if res.status != http.StatusOK {
					t.Fatalf("%s: %d %s", path, res.status, res.body)
				}
				return sortedIDs(t, res.body)
			}
			patient := "Bearer " + iss.Token(t, "app", "patient/*.rs", map[string]any{"patient": "p1"})
			for _, tc := range []struct {
				token, path string
				want        []string
			}{
				{admin, "/Observation?subject=Patient/p1", []string{"o1"}},
				{admin, "/Observation?subject=" + base + "/Patient/p1", []string{"o1"}},
				{admin, "/Observation?subject=https://elsewhere.example.org/fhir/Patient/p1", []string{"o2"}},
				{admin, "/Observation?subject:Patient.name=Wang", []string{"o1"}},
				{admin, "/Observation?_id=o1&_include=Observation:subject", []string{"o1", "p1"}},
				{admin, "/Patient?_has:Observation:subject:code:text=x", []string{"p1"}},
				{admin, "/Patient/p1/Observation", []string{"o1"}},
				{patient, "/Observation", []string{"o1"}},
			} {
				if got := ids(tc.token, tc.path); !slices.Equal(got, tc.want) {
					t.Errorf("%s: got %v, want %v", tc.path, got, tc.want)
				}
			}
		})
	}
}
