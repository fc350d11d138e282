package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestCRUDAndHTTPSemantics(t *testing.T) {
	eachBackend(t, func(t *testing.T, c *client) {
		res := c.do(http.MethodPost, "/Patient", []byte(`{"resourceType":"Patient","id":"ignored","active":true}`))
		if res.status != http.StatusCreated || res.header.Get("ETag") != `W/"1"` || res.header.Get("Last-Modified") == "" {
			t.Fatalf("create: %d %v", res.status, res.header)
		}
		loc := res.header.Get("Location")
		path := loc[strings.Index(loc, "/Patient/"):strings.Index(loc, "/_history/")]
		if strings.HasSuffix(path, "/ignored") {
			t.Fatal("create must assign its own id")
		}
		id := strings.TrimPrefix(path, "/Patient/")
		var created map[string]any
		json.Unmarshal(res.body, &created)
		meta := created["meta"].(map[string]any)
		if created["id"] != id || meta["versionId"] != "1" || meta["lastUpdated"] == nil {
			t.Fatalf("created body: %s", res.body)
		}

		read := c.do(http.MethodGet, path, nil)
		if read.status != http.StatusOK || read.header.Get("Content-Type") != "application/fhir+json; charset=utf-8" {
			t.Fatalf("read: %d %v", read.status, read.header)
		}
		// HEAD answers as GET does, without the body: read, search, history.
		for _, p := range []string{path, "/Patient?active=true", path + "/_history", path + "/_history/1"} {
			if r := c.do(http.MethodHead, p, nil); r.status != http.StatusOK || len(r.body) != 0 || r.header.Get("Content-Type") == "" {
				t.Fatalf("HEAD %s: %d %v %q", p, r.status, r.header, r.body)
			}
		}
		if r := c.do(http.MethodGet, path, nil, "If-None-Match", `W/"1"`); r.status != http.StatusNotModified || len(r.body) != 0 {
			t.Fatalf("If-None-Match current: %d", r.status)
		}
		if r := c.do(http.MethodGet, path, nil, "If-Modified-Since", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)); r.status != http.StatusNotModified {
			t.Fatalf("If-Modified-Since future: %d", r.status)
		}
		if r := c.do(http.MethodGet, path, nil, "If-Modified-Since", "Mon, 02 Jan 2006 15:04:05 GMT"); r.status != http.StatusOK {
			t.Fatalf("If-Modified-Since past: %d", r.status)
		}
		if r := c.do(http.MethodGet, path+"?_pretty=true", nil); !strings.Contains(string(r.body), "\n  \"resourceType\"") {
			t.Fatalf("_pretty: %s", r.body)
		}
		if r := c.do(http.MethodGet, path+"?_format=json", nil, "Accept", "application/xml"); r.status != http.StatusOK {
			t.Fatalf("_format overrides Accept: %d", r.status)
		}
		if r := c.do(http.MethodGet, path, nil, "Accept", "application/json"); r.header.Get("Content-Type") != "application/json; charset=utf-8" {
			t.Fatalf("Accept application/json: %v", r.header.Get("Content-Type"))
		}
		if r := c.do(http.MethodGet, path, nil, "Accept", "text/html,application/xhtml+xml,*/*;q=0.8"); r.status != http.StatusOK {
			t.Fatalf("browser Accept: %d", r.status)
		}

		body := []byte(fmt.Sprintf(`{"resourceType":"Patient","id":%q,"active":false}`, id))
		for pref, check := range map[string]func(result) bool{
			"return=minimal":          func(r result) bool { return len(r.body) == 0 },
			"return=representation":   func(r result) bool { return strings.Contains(string(r.body), `"active":false`) },
			"return=OperationOutcome": func(r result) bool { return strings.Contains(string(r.body), `"OperationOutcome"`) },
		} {
			r := c.do(http.MethodPut, path, body, "Prefer", pref)
			if r.status != http.StatusOK || !check(r) {
				t.Fatalf("PUT with Prefer %s: %d %s", pref, r.status, r.body)
			}
		}
		if r := c.do(http.MethodGet, path+"/_history/2", nil); r.status != http.StatusOK || r.header.Get("ETag") != `W/"2"` {
			t.Fatalf("vread 2: %d", r.status)
		}
		if r := c.do(http.MethodPut, path, body, "If-Match", `W/"1"`); r.status != http.StatusPreconditionFailed {
			t.Fatalf("stale If-Match: %d", r.status)
		}
		if r := c.do(http.MethodPut, path, body, "If-Match", `W/"4"`); r.status != http.StatusOK || r.header.Get("ETag") != `W/"5"` {
			t.Fatalf("current If-Match: %d %v", r.status, r.header.Get("ETag"))
		}
		// Update as create with a client-chosen id.
		if r := c.do(http.MethodPut, "/Patient/client-7", []byte(`{"resourceType":"Patient","id":"client-7"}`)); r.status != http.StatusCreated || r.header.Get("Location") == "" {
			t.Fatalf("update-as-create: %d", r.status)
		}
		// JSON Patch.
		patch := []byte(`[{"op":"test","path":"/active","value":false},{"op":"add","path":"/gender","value":"female"}]`)
		r := c.do(http.MethodPatch, path, patch, "Content-Type", "application/json-patch+json")
		if r.status != http.StatusOK || !strings.Contains(string(r.body), `"gender":"female"`) || r.header.Get("ETag") != `W/"6"` {
			t.Fatalf("patch: %d %s", r.status, r.body)
		}
		// Delete, then read is 410 and history keeps the delete.
		if r := c.do(http.MethodDelete, path, nil); r.status != http.StatusNoContent {
			t.Fatalf("delete: %d", r.status)
		}
		if r := c.do(http.MethodGet, path, nil); r.status != http.StatusGone || !strings.Contains(string(r.body), "OperationOutcome") {
			t.Fatalf("read deleted: %d %s", r.status, r.body)
		}
		if r := c.do(http.MethodDelete, path, nil); r.status != http.StatusNoContent {
			t.Fatalf("second delete: %d", r.status)
		}
		if r := c.do(http.MethodDelete, "/Patient/never-was", nil); r.status != http.StatusNoContent {
			t.Fatalf("delete of nothing: %d", r.status)
		}
		h := decodeBundle(t, c.do(http.MethodGet, path+"/_history", nil).body)
		if h.Type != "history" || len(h.Entry) != 7 || h.Entry[0].Request.Method != "DELETE" || h.Entry[0].Resource != nil {
			t.Fatalf("instance history: %d entries, first %+v", len(h.Entry), h.Entry[0].Request)
		}
		if h.Entry[1].Request.Method != "PATCH" || h.Entry[6].Request.Method != "POST" || h.Entry[6].Request.URL != "Patient" {
			t.Fatalf("history methods: %+v / %+v", h.Entry[1].Request, h.Entry[6].Request)
		}
		// The CapabilityStatement lists what is served.
		cs := c.do(http.MethodGet, "/metadata", nil)
		for _, want := range []string{`"CapabilityStatement"`, `"name":"birthdate"`, `"name":"everything"`, `"type":"Observation"`, `"code":"transaction"`, `"name":"validate"`, "authentication is OFF"} {
			if !strings.Contains(string(cs.body), want) {
				t.Fatalf("metadata lacks %s", want)
			}
		}
		if r := c.do(http.MethodPost, "/Patient/$validate", []byte(`{"resourceType":"Patient","gender":"robot"}`)); r.status != http.StatusOK || !strings.Contains(string(r.body), "Patient.gender") {
			t.Fatalf("$validate: %d %s", r.status, r.body)
		}
	})
}

func TestHistoryPagingAndFilters(t *testing.T) {
	eachBackend(t, func(t *testing.T, c *client) {
		for i := 0; i < 7; i++ {
			c.do(http.MethodPost, "/Observation", []byte(`{"resourceType":"Observation","status":"final","code":{"text":"hr"}}`))
		}
		mark := time.Now().UTC()
		time.Sleep(10 * time.Millisecond)
		for i := 0; i < 3; i++ {
			c.do(http.MethodPost, "/Observation", []byte(`{"resourceType":"Observation","status":"final","code":{"text":"bp"}}`))
		}
		seen := map[string]bool{}
		next, pages := "/Observation/_history?_count=3", 0
		for next != "" {
			res := c.do(http.MethodGet, next, nil)
			b := decodeBundle(t, res.body)
			pages++
			next = ""
			for _, l := range b.Link {
				if l.Relation == "next" {
					next = strings.TrimPrefix(l.URL, c.base)
				}
			}
			for _, e := range b.Entry {
				if seen[e.FullURL] {
					t.Fatalf("duplicate across pages: %s", e.FullURL)
				}
				seen[e.FullURL] = true
			}
		}
		if pages != 4 || len(seen) != 10 {
			t.Fatalf("%d pages, %d entries", pages, len(seen))
		}
		since := c.do(http.MethodGet, "/Observation/_history?_since="+mark.Format(time.RFC3339Nano), nil)
		if n := len(decodeBundle(t, since.body).Entry); n != 3 {
			t.Fatalf("_since: %d entries, want 3", n)
		}
		at := c.do(http.MethodGet, "/_history?_at="+mark.Format(time.RFC3339Nano), nil)
		if n := len(decodeBundle(t, at.body).Entry); n != 7 {
			t.Fatalf("_at: %d entries, want 7", n)
		}
	})
}

// TestConcurrentUpdatesHTTP: 50 concurrent updates with the same If-Match give
// one 200 and 49 × 412; 200 without If-Match give versions 1..201 without gaps.
func TestConcurrentUpdatesHTTP(t *testing.T) {
	eachBackend(t, func(t *testing.T, c *client) {
		c.do(http.MethodPut, "/Patient/race", []byte(`{"resourceType":"Patient","id":"race"}`))
		codes := make([]int, 50)
		var wg sync.WaitGroup
		for i := range codes {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				body := []byte(fmt.Sprintf(`{"resourceType":"Patient","id":"race","name":[{"family":"n%d"}]}`, i))
				codes[i] = c.do(http.MethodPut, "/Patient/race", body, "If-Match", `W/"1"`).status
			}(i)
		}
		wg.Wait()
		count := map[int]int{}
		for _, s := range codes {
			count[s]++
		}
		if count[200] != 1 || count[412] != 49 {
			t.Fatalf("If-Match race: %v", count)
		}

		c.do(http.MethodPut, "/Patient/many", []byte(`{"resourceType":"Patient","id":"many"}`))
		for i := 0; i < 200; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				body := []byte(fmt.Sprintf(`{"resourceType":"Patient","id":"many","name":[{"family":"n%d"}]}`, i))
				if s := c.do(http.MethodPut, "/Patient/many", body).status; s != 200 {
					t.Errorf("update %d: %d", i, s)
				}
			}(i)
		}
		wg.Wait()
		var versions []int
		next := "/Patient/many/_history?_count=1000"
		for next != "" {
			b := decodeBundle(t, c.do(http.MethodGet, next, nil).body)
			next = ""
			for _, l := range b.Link {
				if l.Relation == "next" {
					next = strings.TrimPrefix(l.URL, c.base)
				}
			}
			for _, e := range b.Entry {
				var v int
				fmt.Sscanf(e.Response.Etag, `W/"%d"`, &v)
				versions = append(versions, v)
			}
		}
		sort.Ints(versions)
		if len(versions) != 201 || versions[0] != 1 || versions[200] != 201 {
			t.Fatalf("history holds %d versions", len(versions))
		}
		for i, v := range versions {
			if v != i+1 {
				t.Fatalf("gap: position %d has version %d", i, v)
			}
		}
	})
}
