package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/meizhou-yiyang/yiyang/resources/sqlite"
)

// fuzzServer is an in-process server on a SQLite store opened once per fuzz
// target; requests go straight to its handler.
type fuzzServer struct{ h http.Handler }

func newFuzzServer(f *testing.F) fuzzServer {
	st, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(f.TempDir(), "fuzz.db"), Synchronous: "NORMAL"})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	return fuzzServer{newServer(f, st).Handler()}
}

func (s fuzzServer) do(method, path string, body []byte, headers ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	if body != nil {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	s.h.ServeHTTP(rec, req)
	return rec
}

// fuzzSeeds are the bodies of the malformed requests sent to path, plus extra.
func fuzzSeeds(path string, extra ...string) [][]byte {
	var out [][]byte
	for _, tc := range badRequests() {
		if tc.path == path && tc.body != nil && len(tc.body) < 64<<10 {
			out = append(out, tc.body)
		}
	}
	for _, e := range extra {
		out = append(out, []byte(e))
	}
	return out
}

// FuzzCreate posts (or puts, when put is set) arbitrary bodies as a Patient:
// the server never answers 5xx, every 4xx is an OperationOutcome, and every
// success reads back equal to what was sent and returned.
func FuzzCreate(f *testing.F) {
	seeds := fuzzSeeds("/Patient",
		`{"resourceType":"Patient"}`,
		`{"resourceType":"Patient","id":"x"}`,
		`{"resourceType":"Patient","id":"x","active":true,"gender":"female","birthDate":"1970-01"}`,
		`{"resourceType":"Patient","id":"x","meta":{"versionId":"7","tag":[{"system":"urn:t","code":"a"}]},"name":[{"family":"Ünïcødé \u2603","given":["A","B"]}]}`,
		`{"resourceType":"Patient","name":[{"text":"escaped \"quote\" and \\ backslash \u0000"}],"multipleBirthInteger":3}`,
		`{"resourceType":"Patient","contained":[{"resourceType":"Organization","id":"o","name":"Org"}],"managingOrganization":{"reference":"#o"}}`,
		`{"resourceType":"Patient","extension":[{"url":"http://example.org/x","valueDecimal":1.50}]}`,
		`{"resourceType":"Patient","_active":{"extension":[{"url":"http://example.org/y","valueString":"why"}]},"active":false}`,
		`{"resourceType":"Patient","deceasedDateTime":"2020-02-29T23:59:59.999+14:00"}`,
		`{"resourceType":"Patient","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">hi</div>"}}`,
		`{"resourceType":"Patient","meta":{"versionId":"1","versionId":"2"}}`,
		`{"resourceType":"Patient","meta":"not an object"}`,
		` {"resourceType" : "Patient" , "active" : true } `,
	)
	for i, b := range seeds {
		f.Add(b, i%2 == 1)
	}
	srv := newFuzzServer(f)
	f.Fuzz(func(t *testing.T, body []byte, put bool) {
		method, path := http.MethodPost, "/Patient"
		if put {
			method, path = http.MethodPut, "/Patient/x"
		}
		rec := srv.do(method, path, body)
		checkNoServerError(t, method, path, body, rec)
		switch {
		case rec.Code >= 400:
			return
		case rec.Code != http.StatusCreated && rec.Code != http.StatusOK:
			t.Fatalf("%s %s: status %d, want 200, 201 or 4xx\nbody: %q\nresponse: %s", method, path, rec.Code, body, rec.Body)
		}
		loc := rec.Header().Get("Location")
		readPath := path
		if !put {
			_, after, ok := strings.Cut(loc, "/Patient/")
			id, _, _ := strings.Cut(after, "/")
			if !ok || id == "" {
				t.Fatalf("POST /Patient: 201 with Location %q", loc)
			}
			readPath = "/Patient/" + id
		}
		got := srv.do(http.MethodGet, readPath, nil)
		if got.Code != http.StatusOK {
			t.Fatalf("GET %s after %s: status %d: %s", readPath, method, got.Code, got.Body)
		}
		if !jsonEqual(t, got.Body.Bytes(), rec.Body.Bytes()) {
			t.Fatalf("GET %s differs from the %s response\nGET: %s\n%s: %s", readPath, method, got.Body, method, rec.Body)
		}
		if !jsonEqual(t, normalizeServerParts(t, got.Body.Bytes()), normalizeServerParts(t, body)) {
			t.Fatalf("GET %s differs from what was sent\nsent: %s\nread: %s", readPath, body, got.Body)
		}
	})
}

// FuzzBundle posts arbitrary bodies as a Bundle to the base: never a 5xx,
// every 4xx (of the whole bundle or of a batch entry) is an
// OperationOutcome, and every entry that returns a resource and its location
// reads back equal.
func FuzzBundle(f *testing.F) {
	seeds := fuzzSeeds("/",
		`{"resourceType":"Bundle","type":"batch"}`,
		`{"resourceType":"Bundle","type":"transaction","entry":[]}`,
		`{"resourceType":"Bundle","type":"transaction","entry":[
			{"fullUrl":"urn:uuid:11111111-1111-4111-8111-111111111111","resource":{"resourceType":"Patient","name":[{"family":"Tx"}]},"request":{"method":"POST","url":"Patient"}},
			{"resource":{"resourceType":"Observation","status":"final","code":{"text":"bp"},"subject":{"reference":"urn:uuid:11111111-1111-4111-8111-111111111111"}},"request":{"method":"POST","url":"Observation"}}]}`,
		`{"resourceType":"Bundle","type":"batch","entry":[
			{"resource":{"resourceType":"Patient","id":"b1","active":true},"request":{"method":"PUT","url":"Patient/b1"}},
			{"request":{"method":"GET","url":"Patient/b1"}},
			{"request":{"method":"GET","url":"Patient/b1/_history"}},
			{"request":{"method":"HEAD","url":"Patient/b1"}},
			{"request":{"method":"DELETE","url":"Patient/nobody"}}]}`,
		`{"resourceType":"Bundle","type":"batch","entry":[
			{"resource":{"resourceType":"Binary","contentType":"application/json-patch+json","data":"W3sib3AiOiJyZXBsYWNlIiwicGF0aCI6Ii9hY3RpdmUiLCJ2YWx1ZSI6ZmFsc2V9XQ=="},"request":{"method":"PATCH","url":"Patient/b1"}},
			{"request":{"method":"GET","url":"Patient/b1/_history/1"}},
			{"request":{"method":"GET","url":"metadata"}},
			{"request":{"method":"POST","url":"Patient/$validate"},"resource":{"resourceType":"Parameters"}}]}`,
		`{"resourceType":"Bundle","type":"transaction","entry":[
			{"resource":{"resourceType":"Patient","id":"t1"},"request":{"method":"PUT","url":"Patient/t1","ifMatch":"W/\"1\""}},
			{"request":{"method":"DELETE","url":"Patient/t2"}}]}`,
		`{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","url":"Patient?_count=1"}},{"request":{"method":"GET","url":"_history"}},{"request":{"method":"GET","url":"Patient/../metadata"}}]}`,
		`{"resourceType":"Bundle","type":"batch","entry":[null,{},[],"x",{"request":null},{"request":{"method":null,"url":7}}]}`,
		`{"resourceType":"Bundle","type":"transaction","entry":[{"fullUrl":"Patient/1","resource":{"resourceType":"Patient","link":[{"other":{"reference":"Patient/1"},"type":"seealso"}]},"request":{"method":"POST","url":"Patient"}}]}`,
	)
	for _, b := range seeds {
		f.Add(b)
	}
	srv := newFuzzServer(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		rec := srv.do(http.MethodPost, "/", body, "Prefer", "return=representation")
		checkNoServerError(t, http.MethodPost, "/", body, rec)
		if rec.Code >= 400 {
			return
		}
		if rec.Code != http.StatusOK {
			t.Fatalf("POST /: status %d, want 200 or 4xx\nbody: %q\nresponse: %s", rec.Code, body, rec.Body)
		}
		var b struct {
			ResourceType string `json:"resourceType"`
			Type         string `json:"type"`
			Entry        []struct {
				Resource json.RawMessage `json:"resource"`
				Response *struct {
					Status   string          `json:"status"`
					Location string          `json:"location"`
					Outcome  json.RawMessage `json:"outcome"`
				} `json:"response"`
			} `json:"entry"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil || b.ResourceType != "Bundle" ||
			(b.Type != "batch-response" && b.Type != "transaction-response") {
			t.Fatalf("POST /: 200 without a response Bundle (%v)\nbody: %q\nresponse: %s", err, body, rec.Body)
		}
		for i, e := range b.Entry {
			if e.Response == nil {
				t.Fatalf("entry %d has no response: %s", i, rec.Body)
			}
			if strings.HasPrefix(e.Response.Status, "5") {
				t.Fatalf("entry %d: status %s\nbody: %q\nresponse: %s", i, e.Response.Status, body, rec.Body)
			}
			if strings.HasPrefix(e.Response.Status, "4") {
				checkOutcome(t, e.Response.Outcome)
				continue
			}
			if e.Resource == nil || e.Response.Location == "" {
				continue
			}
			got := srv.do(http.MethodGet, "/"+strings.TrimPrefix(e.Response.Location, "/"), nil)
			if got.Code != http.StatusOK {
				t.Fatalf("entry %d: GET %s: status %d: %s", i, e.Response.Location, got.Code, got.Body)
			}
			if !jsonEqual(t, got.Body.Bytes(), e.Resource) {
				t.Fatalf("entry %d: GET %s differs from the entry's resource\nGET: %s\nentry: %s", i, e.Response.Location, got.Body, e.Resource)
			}
		}
	})
}

// checkNoServerError fails on a 5xx and checks that a 4xx is an OperationOutcome.
func checkNoServerError(t *testing.T, method, path string, body []byte, rec *httptest.ResponseRecorder) {
	t.Helper()
	if rec.Code >= 500 {
		t.Fatalf("%s %s: status %d\nbody: %q\nresponse: %s", method, path, rec.Code, body, rec.Body)
	}
	if rec.Code >= 400 {
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/fhir+json") {
			t.Fatalf("%s %s: status %d with Content-Type %q\nbody: %q", method, path, rec.Code, ct, body)
		}
		checkOutcome(t, rec.Body.Bytes())
	}
}

// jsonEqual compares two JSON documents by value, numbers by their text.
func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	return reflect.DeepEqual(decodeJSON(t, a), decodeJSON(t, b))
}

func decodeJSON(t *testing.T, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("not JSON (%v): %q", err, b)
	}
	return v
}

// normalizeServerParts drops what the server owns (id, meta.versionId,
// meta.lastUpdated, then meta if empty) so a sent and a stored resource compare.
func normalizeServerParts(t *testing.T, b []byte) []byte {
	t.Helper()
	m, ok := decodeJSON(t, b).(map[string]any)
	if !ok {
		t.Fatalf("not a JSON object: %q", b)
	}
	delete(m, "id")
	if meta, ok := m["meta"].(map[string]any); ok {
		delete(meta, "versionId")
		delete(meta, "lastUpdated")
		if len(meta) == 0 {
			delete(m, "meta")
		}
	}
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
