package server_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// invalidExamples are official R4 examples that the R4 definitions reject;
// each entry says why. Create must answer 400 with an OperationOutcome.
var invalidExamples = map[string]string{
	"DeviceMetric-example.json":        "DeviceMetric.parent references a DeviceDefinition; R4 allows only Device",
	"DeviceUseStatement-example.json":  "reasonReference points to a Procedure, which R4 does not allow there",
	"ImplementationGuide-fhir.json":    "lacks the required elements name and status",
	"ig-r4.json":                       "an ImplementationGuide lacking the required elements name and status",
	"MedicationRequest-medrx0301.json": "dispenseRequest.performer references a Practitioner; R4 allows only Organization",
	"Observation-clinical-gender.json": "performer references an Encounter, which R4 does not allow",
	"Questionnaire-qs1.json":           "nested items lack the required linkId",
}

// withoutMeta drops id and meta, the parts the server owns.
func withoutMeta(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	delete(m, "id")
	delete(m, "meta")
	return m
}

// TestOfficialExamplesRoundTrip creates every official R4 example and reads
// it back: the content must be the same apart from id and meta.
func TestOfficialExamplesRoundTrip(t *testing.T) {
	dir := filepath.Join(fhirData(t), "r4-examples")
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples in %s: %v", dir, err)
	}
	sort.Strings(files)
	if len(files) != 720 {
		t.Errorf("expected the 720 official examples, found %d", len(files))
	}
	eachBackend(t, func(t *testing.T, c *client) {
		created, rejected := 0, 0
		for _, f := range files {
			name := filepath.Base(f)
			body, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var head struct {
				ResourceType string `json:"resourceType"`
			}
			if err := json.Unmarshal(body, &head); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			res := c.do(http.MethodPost, "/"+head.ResourceType, body)
			if reason, bad := invalidExamples[name]; bad {
				if res.status != http.StatusBadRequest || !strings.Contains(string(res.body), `"OperationOutcome"`) {
					t.Errorf("%s (invalid: %s): got %d %s", name, reason, res.status, res.body)
				}
				rejected++
				continue
			}
			if res.status != http.StatusCreated {
				t.Errorf("%s: create got %d: %s", name, res.status, res.body)
				continue
			}
			created++
			loc := res.header.Get("Location")
			i := strings.Index(loc, "/"+head.ResourceType+"/")
			j := strings.Index(loc, "/_history/")
			if i < 0 || j < 0 {
				t.Fatalf("%s: bad Location %q", name, loc)
			}
			got := c.do(http.MethodGet, loc[i:j], nil)
			if got.status != http.StatusOK {
				t.Errorf("%s: read got %d", name, got.status)
				continue
			}
			if want, have := withoutMeta(t, body), withoutMeta(t, got.body); !reflect.DeepEqual(want, have) {
				t.Errorf("%s: read back differs from what was created", name)
			}
		}
		t.Logf("%d examples created and read back, %d rejected as listed", created, rejected)
		if created+rejected != len(files) {
			t.Errorf("%d + %d != %d", created, rejected, len(files))
		}
	})
}
