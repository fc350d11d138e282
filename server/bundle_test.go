package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// syntheaFiles returns the Synthea bundles, hospital and practitioner first.
func syntheaFiles(t *testing.T) []string {
	files, err := filepath.Glob(filepath.Join(fhirData(t), "synthea", "*.json"))
	if err != nil || len(files) != 12 {
		t.Fatalf("expected 12 Synthea bundles, found %d (%v)", len(files), err)
	}
	rank := func(f string) int {
		switch b := filepath.Base(f); {
		case strings.HasPrefix(b, "hospital"):
			return 0
		case strings.HasPrefix(b, "practitioner"):
			return 1
		}
		return 2
	}
	sort.SliceStable(files, func(i, j int) bool { return rank(files[i]) < rank(files[j]) })
	return files
}

type respBundle struct {
	ResourceType string `json:"resourceType"`
	Type         string `json:"type"`
	Total        int64  `json:"total"`
	Link         []struct {
		Relation, URL string
	} `json:"link"`
	Entry []struct {
		FullURL  string          `json:"fullUrl"`
		Resource json.RawMessage `json:"resource"`
		Response struct {
			Status   string          `json:"status"`
			Location string          `json:"location"`
			Etag     string          `json:"etag"`
			Outcome  json.RawMessage `json:"outcome"`
		} `json:"response"`
		Request struct{ Method, URL string } `json:"request"`
	} `json:"entry"`
}

// sortedIDs are the ids of a search Bundle's resources, sorted.
func sortedIDs(t *testing.T, body []byte) []string {
	t.Helper()
	var out []string
	for _, e := range decodeBundle(t, body).Entry {
		var r struct{ ID string }
		if err := json.Unmarshal(e.Resource, &r); err != nil {
			t.Fatalf("entry resource: %v", err)
		}
		out = append(out, r.ID)
	}
	slices.Sort(out)
	return out
}

func decodeBundle(t *testing.T, b []byte) respBundle {
	t.Helper()
	var rb respBundle
	if err := json.Unmarshal(b, &rb); err != nil || rb.ResourceType != "Bundle" {
		t.Fatalf("not a Bundle (%v): %.500s", err, b)
	}
	return rb
}

// allResources pages through system history and returns the current JSON of
// every resource keyed by Type/id.
func allResources(t *testing.T, c *client) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	next := "/_history?_count=500"
	for next != "" {
		res := c.do(http.MethodGet, next, nil)
		if res.status != http.StatusOK {
			t.Fatalf("history: %d %s", res.status, res.body)
		}
		b := decodeBundle(t, res.body)
		for _, e := range b.Entry {
			var head struct{ ResourceType, ID string }
			json.Unmarshal(e.Resource, &head)
			key := head.ResourceType + "/" + head.ID
			if _, seen := out[key]; !seen && len(e.Resource) > 0 {
				out[key] = e.Resource // newest first: the first seen is current
			}
		}
		next = ""
		for _, l := range b.Link {
			if l.Relation == "next" {
				next = strings.TrimPrefix(l.URL, c.base)
			}
		}
	}
	return out
}

// references collects every Reference.reference value in a JSON tree.
func references(v any, out *[]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if s, ok := val.(string); ok && k == "reference" {
				*out = append(*out, s)
			} else {
				references(val, out)
			}
		}
	case []any:
		for _, e := range x {
			references(e, out)
		}
	}
}

// TestSyntheaTransactions loads the Synthea bundles as transactions and
// checks that every stored reference resolves.
func TestSyntheaTransactions(t *testing.T) {
	files := syntheaFiles(t)
	eachBackend(t, func(t *testing.T, c *client) {
		total := 0
		for _, f := range files {
			body, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			res := c.do(http.MethodPost, "/", body)
			if res.status != http.StatusOK {
				t.Fatalf("%s: %d %.2000s", filepath.Base(f), res.status, res.body)
			}
			rb := decodeBundle(t, res.body)
			var in struct{ Entry []json.RawMessage }
			json.Unmarshal(body, &in)
			if rb.Type != "transaction-response" || len(rb.Entry) != len(in.Entry) {
				t.Fatalf("%s: %s with %d entries for %d", filepath.Base(f), rb.Type, len(rb.Entry), len(in.Entry))
			}
			for i, e := range rb.Entry {
				if e.Response.Status != "201 Created" || !strings.Contains(e.Response.Location, "/_history/1") || e.Response.Etag != `W/"1"` {
					t.Fatalf("%s entry %d: %+v", filepath.Base(f), i, e.Response)
				}
			}
			total += len(rb.Entry)
		}
		stored := allResources(t, c)
		if len(stored) != total {
			t.Fatalf("%d resources stored, %d created", len(stored), total)
		}
		checked := 0
		for key, data := range stored {
			var m map[string]any
			if err := json.Unmarshal(data, &m); err != nil {
				t.Fatal(err)
			}
			var refs []string
			references(m, &refs)
			for _, ref := range refs {
				checked++
				if strings.HasPrefix(ref, "#") {
					if !containsID(m["contained"], ref[1:]) {
						t.Errorf("%s: contained reference %s does not resolve", key, ref)
					}
					continue
				}
				if _, ok := stored[ref]; !ok {
					t.Errorf("%s: reference %q does not resolve to a stored resource", key, ref)
				}
			}
		}
		t.Logf("%d resources loaded, %d references resolved", total, checked)
		if checked < 1000 {
			t.Errorf("only %d references checked; the rewrite found too few", checked)
		}
	})
}

func containsID(contained any, id string) bool {
	list, _ := contained.([]any)
	for _, c := range list {
		if m, ok := c.(map[string]any); ok && m["id"] == id {
			return true
		}
	}
	return false
}

const goodPatient = `{"resourceType":"Patient","name":[{"family":"Chen"}]}`

func entry(method, url, fullURL, resource string) string {
	e := fmt.Sprintf(`{"request":{"method":%q,"url":%q}`, method, url)
	if fullURL != "" {
		e += fmt.Sprintf(`,"fullUrl":%q`, fullURL)
	}
	if resource != "" {
		e += `,"resource":` + resource
	}
	return e + "}"
}

func bundleOf(typ string, entries ...string) []byte {
	return []byte(fmt.Sprintf(`{"resourceType":"Bundle","type":%q,"entry":[%s]}`, typ, strings.Join(entries, ",")))
}

// TestTransactionAllOrNothing: one bad entry and nothing is stored.
func TestTransactionAllOrNothing(t *testing.T) {
	eachBackend(t, func(t *testing.T, c *client) {
		keep := c.do(http.MethodPut, "/Patient/keep", []byte(`{"resourceType":"Patient","id":"keep","active":true}`))
		if keep.status != http.StatusCreated {
			t.Fatalf("setup: %d %s", keep.status, keep.body)
		}
		b := bundleOf("transaction",
			entry("POST", "Patient", "urn:uuid:11111111-1111-1111-1111-111111111111", goodPatient),
			entry("PUT", "Patient/keep", "", `{"resourceType":"Patient","id":"keep","active":false}`),
			entry("DELETE", "Patient/keep", "", ""),
			entry("POST", "Observation", "", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"urn:uuid:11111111-1111-1111-1111-111111111111"}}`),
		)
		// PUT and DELETE on the same resource: rejected before anything runs.
		if res := c.do(http.MethodPost, "/", b); res.status != http.StatusBadRequest {
			t.Fatalf("overlapping entries: %d %s", res.status, res.body)
		}
		b = bundleOf("transaction",
			entry("POST", "Patient", "urn:uuid:11111111-1111-1111-1111-111111111111", goodPatient),
			entry("PUT", "Patient/keep", "", `{"resourceType":"Patient","id":"keep","active":false}`),
			entry("POST", "Observation", "", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"urn:uuid:11111111-1111-1111-1111-111111111111"}}`),
			entry("POST", "Patient", "", `{"resourceType":"Patient","birthDate":"not-a-date"}`),
		)
		res := c.do(http.MethodPost, "/", b)
		if res.status != http.StatusBadRequest || !strings.Contains(string(res.body), "Bundle.entry[3]") {
			t.Fatalf("bad entry: %d %s", res.status, res.body)
		}
		if got := c.do(http.MethodGet, "/Patient/keep", nil); !strings.Contains(string(got.body), `"active":true`) || got.header.Get("ETag") != `W/"1"` {
			t.Fatalf("the PUT of a failed transaction is visible: %s", got.body)
		}
		for _, typ := range []string{"Patient", "Observation"} {
			h := decodeBundle(t, c.do(http.MethodGet, "/"+typ+"/_history", nil).body)
			want := map[string]int{"Patient": 1, "Observation": 0}[typ]
			if len(h.Entry) != want {
				t.Fatalf("%s history has %d entries after a failed transaction, want %d", typ, len(h.Entry), want)
			}
		}
		// The same transaction without the bad entry commits, with references rewritten.
		b = bundleOf("transaction",
			entry("GET", "Patient/keep", "", ""),
			entry("POST", "Observation", "", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"urn:uuid:11111111-1111-1111-1111-111111111111"}}`),
			entry("PUT", "Patient/keep", "", `{"resourceType":"Patient","id":"keep","active":false}`),
			entry("POST", "Patient", "urn:uuid:11111111-1111-1111-1111-111111111111", goodPatient),
		)
		res = c.do(http.MethodPost, "/", b)
		if res.status != http.StatusOK {
			t.Fatalf("good transaction: %d %s", res.status, res.body)
		}
		rb := decodeBundle(t, res.body)
		statuses := []string{"200 OK", "201 Created", "200 OK", "201 Created"}
		for i, e := range rb.Entry {
			if e.Response.Status != statuses[i] {
				t.Fatalf("entry %d: %s, want %s", i, e.Response.Status, statuses[i])
			}
		}
		// GET runs last (after the PUT) in a transaction.
		if !strings.Contains(string(rb.Entry[0].Resource), `"active":false`) {
			t.Fatalf("GET entry must see the transaction's PUT: %s", rb.Entry[0].Resource)
		}
		patientLoc := rb.Entry[3].Response.Location
		obs := c.do(http.MethodGet, "/"+strings.Split(rb.Entry[1].Response.Location, "/_history")[0], nil)
		wantRef := strings.Split(patientLoc, "/_history")[0]
		if !strings.Contains(string(obs.body), `"reference":"`+wantRef+`"`) {
			t.Fatalf("urn:uuid reference not rewritten to %s: %s", wantRef, obs.body)
		}
	})
}

// TestBatchIndependentEntries: one bad entry fails alone.
func TestBatchIndependentEntries(t *testing.T) {
	eachBackend(t, func(t *testing.T, c *client) {
		b := bundleOf("batch",
			entry("POST", "Patient", "", goodPatient),
			entry("POST", "Patient", "", `{"resourceType":"Patient","gender":"robot"}`),
			entry("PUT", "Patient/b1", "", `{"resourceType":"Patient","id":"b1"}`),
			entry("GET", "Patient/missing", "", ""),
			`{"resource":{"resourceType":"Patient"}}`,
			entry("DELETE", "Patient/b1", "", ""),
		)
		res := c.do(http.MethodPost, "/", b, "Prefer", "return=representation")
		if res.status != http.StatusOK {
			t.Fatalf("batch: %d %s", res.status, res.body)
		}
		rb := decodeBundle(t, res.body)
		want := []string{"201", "400", "201", "404", "400", "204"}
		if rb.Type != "batch-response" || len(rb.Entry) != len(want) {
			t.Fatalf("batch-response: %s with %d entries", rb.Type, len(rb.Entry))
		}
		for i, e := range rb.Entry {
			if !strings.HasPrefix(e.Response.Status, want[i]) {
				t.Errorf("entry %d: %s, want %s", i, e.Response.Status, want[i])
			}
			if want[i] >= "400" && !strings.Contains(string(e.Response.Outcome), "OperationOutcome") {
				t.Errorf("entry %d: failure without an OperationOutcome", i)
			}
		}
		if !strings.Contains(string(rb.Entry[0].Resource), `"Chen"`) {
			t.Errorf("return=representation must include the created resource")
		}
		h := decodeBundle(t, c.do(http.MethodGet, "/Patient/_history", nil).body)
		if len(h.Entry) != 3 { // create, PUT, DELETE
			t.Fatalf("batch stored %d versions, want 3", len(h.Entry))
		}
	})
}
