package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestCustomSearchParameter: a POSTed SearchParameter becomes searchable
// after $reindex, for resources created before it.
func TestCustomSearchParameter(t *testing.T) {
	eachBackend(t, func(t *testing.T, c *client) {
		hukou := func(place string) []byte {
			return []byte(`{"resourceType":"Patient","extension":[{"url":"http://yiyang.meizhou/fhir/StructureDefinition/hukou","valueString":"` + place + `"}]}`)
		}
		for _, p := range []string{"梅州市梅江区", "梅州市兴宁市", "广州市"} {
			if res := c.do(http.MethodPost, "/Patient", hukou(p)); res.status != http.StatusCreated {
				t.Fatalf("create: %d %s", res.status, res.body)
			}
		}
		sp := []byte(`{"resourceType":"SearchParameter","url":"http://yiyang.meizhou/fhir/SearchParameter/Patient-hukou",
			"name":"hukou","status":"active","description":"Household registration place (户口所在地)","code":"hukou",
			"base":["Patient"],"type":"string",
			"expression":"Patient.extension.where(url = 'http://yiyang.meizhou/fhir/StructureDefinition/hukou').value"}`)
		if res := c.do(http.MethodPost, "/SearchParameter", sp); res.status != http.StatusCreated {
			t.Fatalf("SearchParameter: %d %s", res.status, res.body)
		}
		if res := c.do(http.MethodGet, "/Patient?hukou=梅州", nil); res.status != http.StatusBadRequest {
			t.Fatalf("before $reindex the parameter is unknown: %d", res.status)
		}
		res := c.do(http.MethodPost, "/Patient/$reindex", []byte(`{"resourceType":"Parameters"}`))
		loc := res.header.Get("Content-Location")
		if res.status != http.StatusAccepted || !strings.Contains(loc, "/_jobs/") {
			t.Fatalf("$reindex: %d %v %s", res.status, res.header, res.body)
		}
		var job struct {
			Status              string
			Total, Processed    int
			ActivatedParameters []string
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			st := c.do(http.MethodGet, strings.TrimPrefix(loc, c.base), nil)
			json.Unmarshal(st.body, &job)
			if job.Status != "running" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("reindex still running: %s", st.body)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if job.Status != "completed" || job.Processed != 3 || job.Total != 3 || len(job.ActivatedParameters) != 1 {
			t.Fatalf("job: %+v", job)
		}
		got, _, _ := searchAll(t, c, "/Patient?hukou=梅州")
		if len(got) != 2 {
			t.Fatalf("hukou=梅州 found %d patients, want 2", len(got))
		}
		// New writes are indexed by the active parameter at once.
		c.do(http.MethodPost, "/Patient", hukou("梅州市大埔县"))
		if got, _, _ := searchAll(t, c, "/Patient?hukou:exact=梅州市大埔县"); len(got) != 1 {
			t.Fatalf("a patient created after $reindex: %d", len(got))
		}
		if res := c.do(http.MethodGet, "/_jobs/unknown", nil); res.status != http.StatusNotFound {
			t.Fatalf("unknown job: %d", res.status)
		}
	})
}
