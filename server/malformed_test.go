package server_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// badRequest is a malformed or refused request and what the server must say.
type badRequest struct {
	name    string
	method  string
	path    string
	body    []byte   // nil sends no body; the harness adds Content-Type application/fhir+json otherwise
	headers []string // name, value pairs, applied after the harness's own
	chunked bool     // send the body without Content-Length
	status  int
	// want, when set, must occur in the diagnostics or an expression of one
	// of the OperationOutcome's issues.
	want string
	// check, when set, replaces the OperationOutcome check (a batch answers
	// 200 with a Bundle).
	check func(t *testing.T, body []byte)
}

const (
	fhirCT  = "application/fhir+json"
	patchCT = "application/json-patch+json"
)

// maxBody is the body limit newServer configures.
const maxBody = 4 << 20

func badRequests() []badRequest {
	patient := func(extra string) []byte {
		return []byte(`{"resourceType":"Patient"` + extra + `}`)
	}
	deep := strings.Repeat(`{"extension":[`, 51) + `{}` + strings.Repeat(`]}`, 51)
	huge := `{"resourceType":"Patient","name":[{"family":"` + strings.Repeat("x", maxBody) + `"}]}`
	entries := func(typ string, es ...string) []byte {
		return []byte(`{"resourceType":"Bundle","type":"` + typ + `","entry":[` + strings.Join(es, ",") + `]}`)
	}
	binPatch := func(patch string) string {
		return `{"resourceType":"Binary","contentType":"application/json-patch+json","data":"` +
			base64.StdEncoding.EncodeToString([]byte(patch)) + `"}`
	}
	return []badRequest{
		// The body is not one JSON object.
		{name: "truncated JSON", method: "POST", path: "/Patient", body: []byte(`{"resourceType":"Patient","active":tr`), status: 400, want: "invalid JSON"},
		{name: "truncated after key", method: "POST", path: "/Patient", body: []byte(`{"resourceType":`), status: 400, want: "invalid JSON"},
		{name: "array", method: "POST", path: "/Patient", body: []byte(`[{"resourceType":"Patient"}]`), status: 400, want: "one JSON object"},
		{name: "string", method: "POST", path: "/Patient", body: []byte(`"Patient"`), status: 400, want: "one JSON object"},
		{name: "number", method: "POST", path: "/Patient", body: []byte(`42`), status: 400, want: "one JSON object"},
		{name: "null", method: "POST", path: "/Patient", body: []byte(`null`), status: 400},
		{name: "empty body", method: "POST", path: "/Patient", body: []byte{}, status: 400, want: "empty"},
		{name: "whitespace body", method: "POST", path: "/Patient", body: []byte(" \n\t "), status: 400},
		{name: "trailing garbage", method: "POST", path: "/Patient", body: []byte(`{"resourceType":"Patient"} x`), status: 400, want: "invalid JSON"},
		{name: "two objects", method: "POST", path: "/Patient", body: []byte(`{"resourceType":"Patient"}{"resourceType":"Patient"}`), status: 400, want: "invalid JSON"},
		{name: "invalid UTF-8", method: "POST", path: "/Patient", body: []byte("{\"resourceType\":\"Patient\",\"name\":[{\"family\":\"\xff\xfe\"}]}"), status: 400},
		{name: "nesting deeper than 100", method: "POST", path: "/Patient", body: []byte(`{"resourceType":"Patient","extension":[` + deep + `]}`), status: 400, want: "nested deeper"},

		// The object is not a valid R4 resource.
		{name: "missing resourceType", method: "POST", path: "/Patient", body: []byte(`{"active":true}`), status: 400, want: "resourceType"},
		{name: "resourceType not a string", method: "POST", path: "/Patient", body: []byte(`{"resourceType":7}`), status: 400, want: "resourceType"},
		{name: "unknown resourceType in body", method: "POST", path: "/Patient", body: []byte(`{"resourceType":"Martian"}`), status: 400, want: "Martian"},
		{name: "unknown element", method: "POST", path: "/Patient", body: patient(`,"favouriteColour":"blue"`), status: 400, want: "favouriteColour"},
		{name: "wrong primitive type", method: "POST", path: "/Patient", body: patient(`,"active":"yes"`), status: 400, want: "active"},
		{name: "number for string", method: "POST", path: "/Patient", body: patient(`,"name":[{"family":42}]`), status: 400, want: "family"},
		{name: "object for array", method: "POST", path: "/Patient", body: patient(`,"name":{"family":"Doe"}`), status: 400, want: "name"},
		{name: "bad date", method: "POST", path: "/Patient", body: patient(`,"birthDate":"1990-13-45"`), status: 400, want: "birthDate"},
		{name: "bad date format", method: "POST", path: "/Patient", body: patient(`,"birthDate":"31/12/1990"`), status: 400, want: "birthDate"},
		{name: "bad required code", method: "POST", path: "/Patient", body: patient(`,"gender":"martian"`), status: 400, want: "gender"},
		{name: "wrong choice type", method: "POST", path: "/Observation",
			body: []byte(`{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueFoo":1}`), status: 400, want: "valueFoo"},
		{name: "two choice types", method: "POST", path: "/Patient", body: patient(`,"deceasedBoolean":true,"deceasedDateTime":"2020-01-01"`), status: 400, want: "deceased"},
		{name: "duplicate top-level key", method: "POST", path: "/Patient", body: patient(`,"active":true,"active":false`), status: 400, want: "duplicate"},
		{name: "duplicate nested key", method: "POST", path: "/Patient", body: patient(`,"name":[{"family":"A","family":"B"}]`), status: 400, want: "duplicate"},
		{name: "missing required element", method: "POST", path: "/Observation", body: []byte(`{"resourceType":"Observation","status":"final"}`), status: 400, want: "code"},
		{name: "null element", method: "POST", path: "/Patient", body: patient(`,"active":null`), status: 400, want: "active"},
		{name: "empty array", method: "POST", path: "/Patient", body: patient(`,"name":[]`), status: 400, want: "name"},
		{name: "empty object", method: "POST", path: "/Patient", body: patient(`,"name":[{}]`), status: 400, want: "name"},
		{name: "empty string", method: "POST", path: "/Patient", body: patient(`,"name":[{"family":""}]`), status: 400, want: "family"},
		{name: "null in array", method: "POST", path: "/Patient", body: patient(`,"name":[null]`), status: 400, want: "name"},
		{name: "integer overflow", method: "POST", path: "/Patient", body: patient(`,"multipleBirthInteger":99999999999`), status: 400, want: "multipleBirth"},
		{name: "huge exponent", method: "POST", path: "/Patient", body: patient(`,"multipleBirthInteger":1e400`), status: 400, want: "multipleBirth"},
		{name: "decimal as string", method: "POST", path: "/Observation", body: []byte(`{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueQuantity":{"value":"1.5"}}`), status: 400, want: "value"},
		{name: "contained without resourceType", method: "POST", path: "/Patient", body: patient(`,"contained":[{"id":"c"}]`), status: 400, want: "contained"},
		{name: "bad reference type", method: "POST", path: "/Patient", body: patient(`,"generalPractitioner":[{"reference":"Observation/1"}]`), status: 400, want: "generalPractitioner"},
		{name: "primitive extension wrong shape", method: "POST", path: "/Patient", body: patient(`,"_active":"x"`), status: 400, want: "active"},
		{name: "bad id in body", method: "POST", path: "/Patient", body: patient(`,"id":"a b"`), status: 400, want: "id"},

		// Body size and media types.
		{name: "body over the limit", method: "POST", path: "/Patient", body: []byte(huge), status: 413, want: "limit"},
		{name: "chunked body over the limit", method: "POST", path: "/Patient", body: []byte(huge), chunked: true, status: 413, want: "limit"},
		{name: "Content-Type application/xml", method: "POST", path: "/Patient", body: []byte(`<Patient xmlns="http://hl7.org/fhir"/>`),
			headers: []string{"Content-Type", "application/xml"}, status: 415, want: "application/xml"},
		{name: "Content-Type application/fhir+xml", method: "PUT", path: "/Patient/p1", body: []byte(`<Patient xmlns="http://hl7.org/fhir"/>`),
			headers: []string{"Content-Type", "application/fhir+xml"}, status: 415},
		{name: "Content-Type text/plain", method: "POST", path: "/Patient", body: patient(``), headers: []string{"Content-Type", "text/plain"}, status: 415, want: "text/plain"},
		{name: "Content-Type unparsable", method: "POST", path: "/Patient", body: patient(``), headers: []string{"Content-Type", "/;;"}, status: 415},
		{name: "Accept application/xml", method: "GET", path: "/Patient/p1", headers: []string{"Accept", "application/xml"}, status: 406},
		{name: "Accept text/html", method: "GET", path: "/metadata", headers: []string{"Accept", "text/html"}, status: 406},
		{name: "_format=xml", method: "GET", path: "/Patient/p1?_format=xml", status: 406, want: "_format"},
		{name: "_format=application/fhir+xml", method: "POST", path: "/Patient?_format=application/fhir%2Bxml", body: patient(``), status: 406, want: "_format"},

		// URLs.
		{name: "unknown type read", method: "GET", path: "/Martian/1", status: 404, want: "Martian"},
		{name: "unknown type create", method: "POST", path: "/Martian", body: patient(``), status: 404, want: "Martian"},
		{name: "lower-case type", method: "GET", path: "/patient/p1", status: 404},
		{name: "id with a space", method: "GET", path: "/Patient/a%20b", status: 400, want: "id"},
		{name: "id of 65 characters", method: "GET", path: "/Patient/" + strings.Repeat("a", 65), status: 400, want: "id"},
		{name: "id with underscore", method: "PUT", path: "/Patient/a_b", body: patient(`,"id":"a_b"`), status: 400, want: "id"},
		{name: "id with a dollar inside", method: "GET", path: "/Patient/a$b", status: 400, want: "id"},
		{name: "unknown type operation", method: "GET", path: "/Patient/$bogus", status: 404, want: "$bogus"},
		{name: "unknown instance operation", method: "POST", path: "/Patient/p1/$bogus", body: patient(``), status: 404, want: "$bogus"},
		{name: "unknown route", method: "GET", path: "/Patient/p1/_history/1/extra", status: 404},
		{name: "conditional delete without criteria", method: "DELETE", path: "/Patient", status: 400, want: "criteria"},
		{name: "conditional update without criteria", method: "PUT", path: "/Patient", body: patient(``), status: 400, want: "criteria"},
		{name: "conditional update with a bad criterion", method: "PUT", path: "/Patient?birthdate=soon", body: patient(``), status: 400, want: "birthdate"},
		{name: "POST to an instance", method: "POST", path: "/Patient/p1", body: patient(``), status: 405},

		// Create, update and delete preconditions.
		{name: "type mismatch on create", method: "POST", path: "/Patient", body: []byte(`{"resourceType":"Observation","status":"final","code":{"text":"x"}}`), status: 400, want: "resourceType"},
		{name: "type mismatch on update", method: "PUT", path: "/Patient/p1", body: []byte(`{"resourceType":"Practitioner","id":"p1"}`), status: 400, want: "resourceType"},
		{name: "PUT without id", method: "PUT", path: "/Patient/p1", body: patient(``), status: 400, want: "Patient.id"},
		{name: "PUT id mismatch", method: "PUT", path: "/Patient/p1", body: patient(`,"id":"p2"`), status: 400, want: "Patient.id"},
		{name: "If-Match garbage", method: "PUT", path: "/Patient/p1", body: patient(`,"id":"p1"`), headers: []string{"If-Match", "garbage"}, status: 400, want: "If-Match"},
		{name: "If-Match version 0", method: "PUT", path: "/Patient/p1", body: patient(`,"id":"p1"`), headers: []string{"If-Match", `W/"0"`}, status: 400, want: "If-Match"},
		{name: "If-Match wrong version", method: "PUT", path: "/Patient/p1", body: patient(`,"id":"p1"`), headers: []string{"If-Match", `W/"99"`}, status: 412},
		{name: "DELETE If-Match garbage", method: "DELETE", path: "/Patient/p1", headers: []string{"If-Match", "W/x"}, status: 400, want: "If-Match"},
		{name: "DELETE If-Match wrong version", method: "DELETE", path: "/Patient/p1", headers: []string{"If-Match", `W/"99"`}, status: 412},
		{name: "conditional create with an unknown parameter", method: "POST", path: "/Patient", body: patient(``), headers: []string{"If-None-Exist", "colour=red"}, status: 400, want: "colour"},
		{name: "conditional create without criteria", method: "POST", path: "/Patient", body: patient(``), headers: []string{"If-None-Exist", "_count=1"}, status: 400, want: "criteria"},

		// Reads.
		{name: "vread non-numeric version", method: "GET", path: "/Patient/p1/_history/abc", status: 400, want: "vid"},
		{name: "vread version 0", method: "GET", path: "/Patient/p1/_history/0", status: 400, want: "vid"},
		{name: "vread unknown version", method: "GET", path: "/Patient/p1/_history/99", status: 404},
		{name: "read unknown id", method: "GET", path: "/Patient/nobody", status: 404},
		{name: "read deleted", method: "GET", path: "/Patient/gone", status: 410, want: "deleted"},
		{name: "If-Modified-Since garbage", method: "GET", path: "/Patient/p1", headers: []string{"If-Modified-Since", "yesterday"}, status: 400, want: "If-Modified-Since"},

		// PATCH.
		{name: "PATCH as FHIR JSON", method: "PATCH", path: "/Patient/p1", body: patient(`,"id":"p1"`), status: 415, want: "json-patch"},
		{name: "PATCH without Content-Type", method: "PATCH", path: "/Patient/p1", body: []byte(`[]`), headers: []string{"Content-Type", ""}, status: 415},
		{name: "PATCH not JSON", method: "PATCH", path: "/Patient/p1", body: []byte(`[{"op":`), headers: []string{"Content-Type", patchCT}, status: 400, want: "JSON Patch"},
		{name: "PATCH object instead of array", method: "PATCH", path: "/Patient/p1", body: []byte(`{"op":"remove","path":"/active"}`), headers: []string{"Content-Type", patchCT}, status: 400},
		{name: "PATCH unknown op", method: "PATCH", path: "/Patient/p1", body: []byte(`[{"op":"frobnicate","path":"/active"}]`), headers: []string{"Content-Type", patchCT}, status: 400},
		{name: "PATCH op without path", method: "PATCH", path: "/Patient/p1", body: []byte(`[{"op":"remove"}]`), headers: []string{"Content-Type", patchCT}, status: 400},
		{name: "PATCH empty body", method: "PATCH", path: "/Patient/p1", body: []byte{}, headers: []string{"Content-Type", patchCT}, status: 400},
		{name: "PATCH test fails", method: "PATCH", path: "/Patient/p1", body: []byte(`[{"op":"test","path":"/active","value":false}]`), headers: []string{"Content-Type", patchCT}, status: 422},
		{name: "PATCH remove missing path", method: "PATCH", path: "/Patient/p1", body: []byte(`[{"op":"remove","path":"/birthDate"}]`), headers: []string{"Content-Type", patchCT}, status: 422},
		{name: "PATCH makes resource invalid", method: "PATCH", path: "/Patient/p1", body: []byte(`[{"op":"add","path":"/gender","value":"martian"}]`), headers: []string{"Content-Type", patchCT}, status: 422, want: "gender"},
		{name: "PATCH changes id", method: "PATCH", path: "/Patient/p1", body: []byte(`[{"op":"replace","path":"/id","value":"p2"}]`), headers: []string{"Content-Type", patchCT}, status: 422, want: "id"},
		{name: "PATCH changes resourceType", method: "PATCH", path: "/Patient/p1", body: []byte(`[{"op":"replace","path":"/resourceType","value":"Person"}]`), headers: []string{"Content-Type", patchCT}, status: 422},
		{name: "PATCH unknown id", method: "PATCH", path: "/Patient/nobody", body: []byte(`[]`), headers: []string{"Content-Type", patchCT}, status: 404},
		{name: "PATCH deleted", method: "PATCH", path: "/Patient/gone", body: []byte(`[]`), headers: []string{"Content-Type", patchCT}, status: 410},
		{name: "PATCH If-Match wrong version", method: "PATCH", path: "/Patient/p1", body: []byte(`[]`), headers: []string{"Content-Type", patchCT, "If-Match", `W/"99"`}, status: 412},

		// Bundles posted to the base.
		{name: "bundle broken JSON", method: "POST", path: "/", body: []byte(`{"resourceType":"Bundle","type":"batch","entry":[`), status: 400, want: "invalid JSON"},
		{name: "bundle is an array", method: "POST", path: "/", body: []byte(`[]`), status: 400},
		{name: "bundle empty body", method: "POST", path: "/", body: []byte{}, status: 400, want: "empty"},
		{name: "bundle is a Patient", method: "POST", path: "/", body: patient(``), status: 400, want: "resourceType"},
		{name: "bundle without resourceType", method: "POST", path: "/", body: []byte(`{"type":"batch","entry":[]}`), status: 400, want: "resourceType"},
		{name: "bundle of type collection", method: "POST", path: "/", body: entries("collection"), status: 400, want: "Bundle.type"},
		{name: "bundle without type", method: "POST", path: "/", body: []byte(`{"resourceType":"Bundle","entry":[]}`), status: 400, want: "Bundle.type"},
		{name: "bundle type not a string", method: "POST", path: "/", body: []byte(`{"resourceType":"Bundle","type":["batch"]}`), status: 400},
		{name: "bundle entry not an array", method: "POST", path: "/", body: []byte(`{"resourceType":"Bundle","type":"transaction","entry":{}}`), status: 400, want: "Bundle.entry"},
		{name: "bundle as XML", method: "POST", path: "/", body: []byte(`<Bundle/>`), headers: []string{"Content-Type", "application/fhir+xml"}, status: 415},
		{name: "transaction entry is a number", method: "POST", path: "/", body: entries("transaction", `1`), status: 400, want: "Bundle.entry[0]"},
		{name: "transaction entry without request", method: "POST", path: "/", body: entries("transaction", `{"resource":{"resourceType":"Patient"}}`), status: 400, want: "Bundle.entry[0].request"},
		{name: "batch entry without request", method: "POST", path: "/", body: entries("batch",
			`{"resource":{"resourceType":"Patient"}}`, `{"request":{"method":"GET","url":"Patient/p1"}}`), status: 200,
			check: batchStatuses("400", "200")},
		{name: "transaction unknown method", method: "POST", path: "/", body: entries("transaction", `{"request":{"method":"FETCH","url":"Patient/p1"}}`), status: 400, want: "request.method"},
		{name: "batch unknown method", method: "POST", path: "/", body: entries("batch", `{"request":{"method":"FETCH","url":"Patient/p1"}}`), status: 200, check: batchStatuses("400")},
		{name: "transaction url with unknown type", method: "POST", path: "/", body: entries("transaction",
			`{"resource":{"resourceType":"Patient"},"request":{"method":"POST","url":"Martian"}}`), status: 400, want: "request.url"},
		{name: "transaction absolute url", method: "POST", path: "/", body: entries("transaction",
			`{"request":{"method":"GET","url":"http://elsewhere.example/Patient/p1"}}`), status: 400, want: "request.url"},
		{name: "transaction url without type", method: "POST", path: "/", body: entries("transaction", `{"request":{"method":"GET","url":""}}`), status: 400, want: "request.url"},
		{name: "transaction POST without resource", method: "POST", path: "/", body: entries("transaction", `{"request":{"method":"POST","url":"Patient"}}`), status: 400, want: "resource"},
		{name: "transaction POST to an id", method: "POST", path: "/", body: entries("transaction",
			`{"resource":{"resourceType":"Patient"},"request":{"method":"POST","url":"Patient/x"}}`), status: 400, want: "request.url"},
		{name: "transaction same resource twice", method: "POST", path: "/", body: entries("transaction",
			`{"resource":{"resourceType":"Patient","id":"twice"},"request":{"method":"PUT","url":"Patient/twice"}}`,
			`{"request":{"method":"DELETE","url":"Patient/twice"}}`), status: 400, want: "twice"},
		{name: "transaction duplicate fullUrl", method: "POST", path: "/", body: entries("transaction",
			`{"fullUrl":"urn:uuid:0b1f6a38-0000-4000-8000-000000000001","resource":{"resourceType":"Patient"},"request":{"method":"POST","url":"Patient"}}`,
			`{"fullUrl":"urn:uuid:0b1f6a38-0000-4000-8000-000000000001","resource":{"resourceType":"Patient"},"request":{"method":"POST","url":"Patient"}}`), status: 400, want: "fullUrl"},
		{name: "transaction invalid resource", method: "POST", path: "/", body: entries("transaction",
			`{"resource":{"resourceType":"Patient","gender":"martian"},"request":{"method":"POST","url":"Patient"}}`), status: 400, want: "Bundle.entry[0]"},
		{name: "transaction resource type mismatch", method: "POST", path: "/", body: entries("transaction",
			`{"resource":{"resourceType":"Patient"},"request":{"method":"POST","url":"Observation"}}`), status: 400, want: "Bundle.entry[0]"},
		{name: "transaction PATCH without Binary", method: "POST", path: "/", body: entries("transaction",
			`{"resource":{"resourceType":"Patient"},"request":{"method":"PATCH","url":"Patient/p1"}}`), status: 400, want: "Binary"},
		{name: "transaction PATCH test fails", method: "POST", path: "/", body: entries("transaction",
			`{"resource":`+binPatch(`[{"op":"test","path":"/active","value":false}]`)+`,"request":{"method":"PATCH","url":"Patient/p1"}}`), status: 422, want: "Bundle.entry[0]"},
		{name: "transaction If-Match wrong version", method: "POST", path: "/", body: entries("transaction",
			`{"resource":{"resourceType":"Patient","id":"p1"},"request":{"method":"PUT","url":"Patient/p1","ifMatch":"W/\"99\""}}`), status: 412},

		// History.
		{name: "history unknown parameter", method: "GET", path: "/Patient/_history?name=x", status: 400, want: "name"},
		{name: "history bad _since", method: "GET", path: "/_history?_since=last-week", status: 400, want: "_since"},
		{name: "history bad _at", method: "GET", path: "/Patient/p1/_history?_at=2024-13", status: 400, want: "_at"},
		{name: "history bad _count", method: "GET", path: "/Patient/_history?_count=-1", status: 400, want: "_count"},
		{name: "history bad _cursor", method: "GET", path: "/_history?_cursor=%21%21not-a-cursor", status: 400, want: "_cursor"},
		{name: "history bad _cursor base64", method: "GET", path: "/Patient/_history?_cursor=" + base64.RawURLEncoding.EncodeToString([]byte("zz")), status: 400, want: "_cursor"},
		{name: "history of unknown type", method: "GET", path: "/Martian/_history", status: 404},
		{name: "history of invalid id", method: "GET", path: "/Patient/a_b/_history", status: 400, want: "id"},
	}
}

// TestMalformedRequests sends bad input of every kind: none may yield a 5xx,
// each gets its 4xx status with an OperationOutcome saying why.
func TestMalformedRequests(t *testing.T) {
	cases := badRequests()
	if len(cases) < 40 {
		t.Fatalf("only %d cases", len(cases))
	}
	eachBackend(t, func(t *testing.T, c *client) {
		setupMalformed(t, c)
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				var r result
				if tc.chunked {
					r = doChunked(t, c, tc.method, tc.path, tc.body, tc.headers...)
				} else {
					r = c.do(tc.method, tc.path, tc.body, tc.headers...)
				}
				if r.status >= 500 {
					t.Fatalf("%s %s: status %d (server error): %s", tc.method, tc.path, r.status, r.body)
				}
				if r.status != tc.status {
					t.Errorf("%s %s: status %d, want %d: %s", tc.method, tc.path, r.status, tc.status, clip(r.body))
				}
				if r.status == http.StatusMethodNotAllowed && r.header.Get("Allow") == "" {
					t.Errorf("405 without an Allow header (RFC 9110 section 15.5.6)")
				}
				if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, fhirCT) {
					t.Errorf("Content-Type %q, want %s", ct, fhirCT)
				}
				if tc.check != nil {
					tc.check(t, r.body)
					return
				}
				oo := checkOutcome(t, r.body)
				if tc.want != "" && !oo.mentions(tc.want) {
					t.Errorf("no issue mentions %q: %s", tc.want, clip(r.body))
				}
			})
		}
		// Nothing above may have changed the resource the cases aim at.
		r := c.do("GET", "/Patient/p1", nil)
		if r.status != http.StatusOK || r.header.Get("ETag") != `W/"1"` {
			t.Errorf("Patient/p1 changed by rejected requests: %d %s %s", r.status, r.header.Get("ETag"), r.body)
		}
	})
}

// setupMalformed creates Patient/p1 (version 1, active) and the deleted Patient/gone.
func setupMalformed(t *testing.T, c *client) {
	t.Helper()
	if r := c.do("PUT", "/Patient/p1", []byte(`{"resourceType":"Patient","id":"p1","active":true}`)); r.status != http.StatusCreated {
		t.Fatalf("PUT Patient/p1: %d %s", r.status, r.body)
	}
	if r := c.do("PUT", "/Patient/gone", []byte(`{"resourceType":"Patient","id":"gone"}`)); r.status != http.StatusCreated {
		t.Fatalf("PUT Patient/gone: %d %s", r.status, r.body)
	}
	if r := c.do("DELETE", "/Patient/gone", nil); r.status != http.StatusNoContent {
		t.Fatalf("DELETE Patient/gone: %d %s", r.status, r.body)
	}
}

// doChunked sends body without a Content-Length, so only reading it can
// find that it is too large.
func doChunked(t *testing.T, c *client, method, path string, body []byte, headers ...string) result {
	t.Helper()
	req, err := http.NewRequest(method, c.base+path, io.MultiReader(bytes.NewReader(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", fhirCT)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return result{resp.StatusCode, resp.Header, b}
}

// outcome is the part of an OperationOutcome the tests look at.
type outcome struct {
	ResourceType string `json:"resourceType"`
	Issue        []struct {
		Severity    string   `json:"severity"`
		Code        string   `json:"code"`
		Diagnostics string   `json:"diagnostics"`
		Expression  []string `json:"expression"`
	} `json:"issue"`
}

// checkOutcome fails t unless body is an OperationOutcome whose issues all
// have a severity and a code.
func checkOutcome(t testing.TB, body []byte) outcome {
	t.Helper()
	var oo outcome
	if err := json.Unmarshal(body, &oo); err != nil {
		t.Fatalf("body is not JSON (%v): %s", err, clip(body))
	}
	if oo.ResourceType != "OperationOutcome" || len(oo.Issue) == 0 {
		t.Fatalf("body is not an OperationOutcome with issues: %s", clip(body))
	}
	for i, is := range oo.Issue {
		if is.Severity == "" || is.Code == "" {
			t.Errorf("issue %d lacks severity or code: %s", i, clip(body))
		}
	}
	return oo
}

// mentions reports whether s occurs in an issue's diagnostics or expression.
func (oo outcome) mentions(s string) bool {
	for _, is := range oo.Issue {
		if strings.Contains(is.Diagnostics, s) {
			return true
		}
		for _, e := range is.Expression {
			if strings.Contains(e, s) {
				return true
			}
		}
	}
	return false
}

// batchStatuses checks a batch-response whose entries answer with the
// given status codes, each failure carrying an OperationOutcome.
func batchStatuses(want ...string) func(t *testing.T, body []byte) {
	return func(t *testing.T, body []byte) {
		t.Helper()
		var b struct {
			ResourceType string `json:"resourceType"`
			Type         string `json:"type"`
			Entry        []struct {
				Response struct {
					Status  string          `json:"status"`
					Outcome json.RawMessage `json:"outcome"`
				} `json:"response"`
			} `json:"entry"`
		}
		if err := json.Unmarshal(body, &b); err != nil || b.ResourceType != "Bundle" || b.Type != "batch-response" {
			t.Fatalf("not a batch-response Bundle (%v): %s", err, clip(body))
		}
		if len(b.Entry) != len(want) {
			t.Fatalf("%d entries, want %d: %s", len(b.Entry), len(want), clip(body))
		}
		for i, e := range b.Entry {
			if !strings.HasPrefix(e.Response.Status, want[i]) {
				t.Errorf("entry %d: status %q, want %s", i, e.Response.Status, want[i])
			}
			if strings.HasPrefix(want[i], "4") {
				checkOutcome(t, e.Response.Outcome)
			}
		}
	}
}

// clip shortens a body for failure messages.
func clip(b []byte) string {
	if len(b) > 600 {
		return string(b[:600]) + "…"
	}
	return string(b)
}
