package server_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/meizhou-yiyang/yiyang/operations"
	"github.com/meizhou-yiyang/yiyang/server"
)

// TestBodyLimit checks every interaction that reads a body answers 413 with
// an OperationOutcome when the body is over --max-body-bytes, whether the
// size is announced in Content-Length or only found out while reading a
// chunked body, and that nothing is stored.
func TestBodyLimit(t *testing.T) {
	const limit = 2048
	ops := operations.NewRegistry()
	if err := ops.Register(operations.Validate); err != nil {
		t.Fatal(err)
	}
	srv, _ := limitsServer(t, false, server.Config{MaxBodyBytes: limit, Operations: ops})
	h := srv.Handler()
	const addr = "192.0.2.1:1"
	if rec := call(t, h, addr, "PUT", "/Patient/p1", []byte(`{"resourceType":"Patient","id":"p1"}`)); rec.Code != http.StatusCreated {
		t.Fatalf("setup: %d %s", rec.Code, rec.Body)
	}
	pad := strings.Repeat("x", limit)
	patient := `{"resourceType":"Patient","id":"p1","name":[{"family":"` + pad + `"}]}`
	for _, tc := range []struct {
		name, method, path, contentType, body string
	}{
		{"create", "POST", "/Patient", "application/fhir+json", patient},
		{"update", "PUT", "/Patient/p1", "application/fhir+json", patient},
		{"conditional update", "PUT", "/Patient?_id=p1", "application/fhir+json", patient},
		{"transaction", "POST", "/", "application/fhir+json", string(bundleOf("transaction", entry("POST", "Patient", "", patient)))},
		{"batch", "POST", "/", "application/fhir+json", string(bundleOf("batch", entry("PUT", "Patient/p1", "", patient)))},
		{"JSON Patch", "PATCH", "/Patient/p1", "application/json-patch+json",
			`[{"op":"add","path":"/name","value":[{"family":"` + pad + `"}]}]`},
		{"FHIRPath Patch", "PATCH", "/Patient/p1", "application/fhir+json",
			`{"resourceType":"Parameters","parameter":[{"name":"operation","part":[{"name":"type","valueCode":"add"},` +
				`{"name":"path","valueString":"Patient"},{"name":"name","valueString":"gender"},{"name":"value","valueCode":"` + pad + `"}]}]}`},
		{"operation", "POST", "/Patient/$validate", "application/fhir+json", patient},
		{"search by POST", "POST", "/Patient/_search", "application/x-www-form-urlencoded", "name=" + pad},
	} {
		for _, chunked := range []bool{false, true} {
			name := tc.name
			if chunked {
				name += " chunked"
			}
			t.Run(name, func(t *testing.T) {
				req := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
				req.RemoteAddr = addr
				req.Header.Set("Content-Type", tc.contentType)
				if chunked {
					req.ContentLength = -1
					req.Body = io.NopCloser(strings.NewReader(tc.body))
					req.TransferEncoding = []string{"chunked"}
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusRequestEntityTooLarge {
					t.Fatalf("status %d, want 413: %s", rec.Code, rec.Body)
				}
				if code := issueCode(t, rec.Body.Bytes()); code != "too-costly" || !strings.Contains(rec.Body.String(), "2048 bytes") {
					t.Fatalf("outcome %s", rec.Body)
				}
			})
		}
	}
	if rec := call(t, h, addr, "GET", "/Patient/p1", nil); rec.Code != 200 || rec.Header().Get("ETag") != `W/"1"` {
		t.Fatalf("an oversized request changed p1: %d %s", rec.Code, rec.Header().Get("ETag"))
	}
	if rec := call(t, h, addr, "GET", "/Patient/_history", nil); strings.Count(rec.Body.String(), `"fullUrl"`) != 1 {
		t.Fatalf("an oversized request stored something: %s", rec.Body)
	}
}
