package server_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/meizhou-yiyang/yiyang/resources"
	"github.com/meizhou-yiyang/yiyang/server"
)

// internals are what must never reach a client: SQL, table and driver
// names, Go source paths and stack traces.
var internals = []string{
	"SELECT ", "INSERT ", "UPDATE ", "DELETE FROM", " FROM ", " WHERE ", "ON CONFLICT", "sql:", "SQLSTATE",
	"sqlite", "SQLITE", "pgx", "postgres", "pq:", "resource_history", "resources_new", "idx_string", "idx_token",
	"idx_date", "idx_reference", "idx_number", "idx_quantity", "idx_uri", "database is closed", "syntax error",
	".go:", "goroutine ", "runtime/", "runtime.", "panic", "github.com/",
}

// assertNoInternals fails when a response shows server internals; 5xx
// answers must be OperationOutcomes with a generic message.
func assertNoInternals(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	text := rec.Body.String()
	for k, vs := range rec.Header() {
		text += "\n" + k + ": " + strings.Join(vs, ", ")
	}
	for _, x := range internals {
		if strings.Contains(text, x) {
			t.Errorf("response %d shows %q: %s", rec.Code, x, text)
		}
	}
	if rec.Code >= 400 && rec.Header().Get("Content-Type") != "text/plain; charset=utf-8" { // /readyz is plain text
		issueCode(t, rec.Body.Bytes())
	}
}

// leakyStore fails the way a careless driver would: with SQL, table names
// and source positions in its errors and panics.
type leakyStore struct{ resources.Store }

const leak = `sqlite: SELECT data FROM resource_history WHERE type = $1: database is locked (resources/sqlite/ops.go:88) goroutine 7 [running]`

func (leakyStore) Read(ctx context.Context, typ, id string) (resources.Resource, error) {
	return resources.Resource{}, fmt.Errorf("read %s/%s: %s", typ, id, leak)
}

func (leakyStore) VRead(ctx context.Context, typ, id string, v int64) (resources.Resource, error) {
	panic(leak)
}

func (leakyStore) History(ctx context.Context, p resources.HistoryParams) (resources.HistoryPage, error) {
	return resources.HistoryPage{}, fmt.Errorf("history: %w: %s", context.DeadlineExceeded, leak)
}

func (leakyStore) Ping(ctx context.Context) error { return fmt.Errorf("ping: %s", leak) }

func TestNoInternalsInErrors(t *testing.T) {
	parser, err := resources.NewParser()
	if err != nil {
		t.Fatal(err)
	}
	patient := []byte(`{"resourceType":"Patient","id":"p1","name":[{"family":"Li"}]}`)

	t.Run("driver errors and panics", func(t *testing.T) {
		srv, err := server.New(server.Config{Store: leakyStore{backends()[0].open(t)}, Parser: parser, Logger: testLogger(t), AuthDisabled: true})
		if err != nil {
			t.Fatal(err)
		}
		h := srv.Handler()
		for _, tc := range []struct {
			method, path string
			status       int
		}{
			{"GET", "/Patient/p1", 500},
			{"GET", "/Patient/p1/_history/1", 500}, // the store panics
			{"GET", "/Patient/_history", 503},
			{"GET", "/readyz", 503},
		} {
			rec := call(t, h, "192.0.2.1:1", tc.method, tc.path, nil)
			if rec.Code != tc.status {
				t.Errorf("%s %s: %d, want %d: %s", tc.method, tc.path, rec.Code, tc.status, rec.Body)
			}
			assertNoInternals(t, rec)
		}
	})

	t.Run("closed database", func(t *testing.T) {
		st := backends()[0].open(t)
		srv, err := server.New(server.Config{Store: st, Parser: parser, Logger: testLogger(t), AuthDisabled: true})
		if err != nil {
			t.Fatal(err)
		}
		h := srv.Handler()
		if rec := call(t, h, "192.0.2.1:1", "PUT", "/Patient/p1", patient); rec.Code != http.StatusCreated {
			t.Fatalf("setup: %d %s", rec.Code, rec.Body)
		}
		st.Close()
		tx := bundleOf("transaction", entry("POST", "Patient", "", goodPatient))
		for _, tc := range []struct {
			method, path string
			body         []byte
		}{
			{"GET", "/Patient/p1", nil},
			{"GET", "/Patient/p1/_history/1", nil},
			{"POST", "/Patient", patient},
			{"PUT", "/Patient/p1", patient},
			{"DELETE", "/Patient/p1", nil},
			{"GET", "/Patient?name=Li", nil},
			{"GET", "/Patient?name=Li&_sort=birthdate", nil},
			{"GET", "/_history", nil},
			{"POST", "/", tx},
			{"POST", "/Patient?_id=p1", patient},
			{"GET", "/readyz", nil},
		} {
			rec := call(t, h, "192.0.2.1:1", tc.method, tc.path, tc.body)
			if rec.Code < 500 {
				t.Errorf("%s %s on a closed database: %d %s", tc.method, tc.path, rec.Code, rec.Body)
			}
			assertNoInternals(t, rec)
		}
	})

	for _, b := range backends() {
		t.Run("bad input on "+b.name, func(t *testing.T) {
			st := b.open(t)
			srv, err := server.New(server.Config{Store: st, Parser: parser, Logger: testLogger(t), AuthDisabled: true})
			if err != nil {
				t.Fatal(err)
			}
			h := srv.Handler()
			if rec := call(t, h, "192.0.2.1:1", "PUT", "/Patient/p1", patient); rec.Code != http.StatusCreated {
				t.Fatalf("setup: %d %s", rec.Code, rec.Body)
			}
			cursor := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
			long := strings.Repeat("长", 12000) // 36 kB of UTF-8, beyond any index row
			for _, tc := range []struct {
				name, method, path string
				body               []byte
			}{
				{"garbage cursor", "GET", "/Patient?name=Li&_cursor=garbage!", nil},
				{"cursor of another search", "GET", "/Patient?_sort=birthdate&_cursor=" + cursor(`["s' OR 1=1 --","i1"]`), nil},
				{"cursor with wrong types", "GET", "/Patient?_sort=-_lastUpdated&_cursor=" + cursor(`["x9","x"]`), nil},
				{"cursor injection", "GET", "/Patient?_sort=family&_cursor=" + cursor(`["s'; DROP TABLE resources; --"]`), nil},
				{"history cursor", "GET", "/_history?_cursor=" + cursor(`{"v":"'; --"}`), nil},
				{"huge cursor", "GET", "/Patient?_cursor=" + strings.Repeat("A", 40000), nil},
				{"long search value", "GET", "/Patient?name=" + long, nil},
				{"long token", "GET", "/Patient?identifier=" + long + "|" + long, nil},
				{"NUL in a search value", "GET", "/Patient?name=a%00b", nil},
				{"invalid UTF-8 in a search value", "GET", "/Patient?name=%ff%fe", nil},
				{"date out of range", "GET", "/Patient?birthdate=99999-01-01", nil},
				{"number out of range", "GET", "/RiskAssessment?probability=1e400", nil},
				{"long value stored", "POST", "/Patient", []byte(`{"resourceType":"Patient","name":[{"family":"` + long + `"}]}`)},
				{"long identifier stored", "POST", "/Patient", []byte(`{"resourceType":"Patient","identifier":[{"system":"urn:x","value":"` + long + `"}]}`)},
				{"long conditional create", "POST", "/Patient", []byte(`{"resourceType":"Patient"}`)},
				{"NUL in a stored string", "POST", "/Patient", []byte(`{"resourceType":"Patient","name":[{"family":"a\u0000b"}]}`)},
				{"NUL in a conditional create", "POST", "/Patient", []byte(`{"resourceType":"Patient"}`)},
				{"NUL in a conditional update", "PUT", "/Patient?name=a%00b", []byte(`{"resourceType":"Patient"}`)},
				{"NUL in a token", "GET", "/Patient?identifier=urn:x%7Ca%00b", nil},
				{"NUL in a history parameter", "GET", "/Patient/_history?_since=2020%00", nil},
				{"NUL in a POST search", "POST", "/Patient/_search", []byte("name=a%00b")},
				{"NUL in a bundle entry", "POST", "/", bundleOf("batch", entry("GET", "Patient?name=a%00b", "", ""))},
			} {
				t.Run(tc.name, func(t *testing.T) {
					var hd []string
					switch tc.name {
					case "long conditional create":
						hd = []string{"If-None-Exist", "identifier=urn:x|" + long}
					case "NUL in a conditional create":
						hd = []string{"If-None-Exist", "name=a%00b"}
					case "NUL in a POST search":
						hd = []string{"Content-Type", "application/x-www-form-urlencoded"}
					}
					rec := call(t, h, "192.0.2.1:1", tc.method, tc.path, tc.body, hd...)
					if rec.Code >= 500 || strings.Contains(rec.Body.String(), `"status":"5`) { // a batch entry's status
						t.Errorf("bad input answered %d: %s", rec.Code, rec.Body)
					}
					assertNoInternals(t, rec)
				})
			}
		})
	}
}
