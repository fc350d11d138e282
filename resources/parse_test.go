package resources

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	p, err := NewParser()
	if err != nil {
		t.Fatal(err)
	}
	deep := `{"resourceType":"Patient","extension":[` + strings.Repeat(`{"url":"http://x","extension":[`, 60) + `{"url":"http://y","valueString":"v"}` + strings.Repeat(`]}`, 60) + `]}`
	for _, tc := range []struct {
		name, body string
		where      string // expected expression of the first issue; "" for valid
		msg        string
	}{
		{"valid", `{"resourceType":"Patient","id":"p1","active":true,"name":[{"family":"Li","given":["Wei"]}]}`, "", ""},
		{"primitive extension kept", `{"resourceType":"Patient","birthDate":"1950-01-01","_birthDate":{"extension":[{"url":"http://x","valueString":"y"}]}}`, "", ""},
		{"syntax", `{"resourceType":"Patient",`, "", "invalid JSON"},
		{"not an object", `[1,2]`, "", "JSON object"},
		{"no resourceType", `{"id":"x"}`, "resourceType", "missing"},
		{"resourceType not string", `{"resourceType":7}`, "resourceType", "string"},
		{"unknown type", `{"resourceType":"Pet"}`, "resourceType", "not an R4 resource type"},
		{"unknown element", `{"resourceType":"Patient","colour":"red"}`, "Patient.colour", "unknown field"},
		{"bad date", `{"resourceType":"Patient","birthDate":"1990-13-01"}`, "Patient.birthDate", "expected date"},
		{"bad code", `{"resourceType":"Patient","gender":"robot"}`, "Patient.gender", "AdministrativeGender"},
		{"wrong choice", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueFoo":1}`, "Observation.valueFoo", "unknown field"},
		{"bad id", `{"resourceType":"Patient","id":"a b"}`, "Patient.id", "Id"},
		{"wrong primitive type", `{"resourceType":"Patient","active":"yes"}`, "Patient.active", "boolean"},
		{"nested duplicate", `{"resourceType":"Patient","name":[{"family":"A","family":"B"}]}`, "Patient.name[0].family", "duplicate"},
		{"escaped duplicate", `{"resourceType":"Patient","a\u0063tive":true,"active":false}`, "Patient.active", "duplicate"},
		{"empty array", `{"resourceType":"Patient","name":[]}`, "Patient.name", "empty array"},
		{"empty object", `{"resourceType":"Patient","name":[{}]}`, "Patient.name[0]", "empty object"},
		{"empty string", `{"resourceType":"Patient","name":[{"given":["a",""]}]}`, "Patient.name[0].given[1]", "empty string"},
		{"too deep", deep, "", "nested deeper"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := p.Parse([]byte(tc.body))
			if tc.msg == "" {
				if err != nil {
					t.Fatalf("valid resource rejected: %v", err)
				}
				if !json.Valid(got.JSON) || got.Type == "" {
					t.Fatalf("bad result %+v", got)
				}
				return
			}
			var inv *InvalidError
			if !errors.As(err, &inv) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("want *InvalidError, got %v", err)
			}
			first := inv.Issues[0]
			if !strings.Contains(first.Diagnostics, tc.msg) {
				t.Errorf("diagnostics %q lacks %q", first.Diagnostics, tc.msg)
			}
			if tc.where != "" && (len(first.Expression) == 0 || first.Expression[0] != tc.where) {
				t.Errorf("expression %v, want %s", first.Expression, tc.where)
			}
		})
	}
}

func TestStamp(t *testing.T) {
	in := []byte(`{"active":true,"meta":{"versionId":"9","tag":[{"code":"x"}]},"resourceType":"Patient","id":"old"}`)
	out, err := Stamp(in, "new", 3, mustTime(t, "2026-01-02T03:04:05.123456Z"))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"resourceType":"Patient","id":"new","meta":{"versionId":"3","lastUpdated":"2026-01-02T03:04:05.123456Z","tag":[{"code":"x"}]},"active":true}`
	if string(out) != want {
		t.Fatalf("got  %s\nwant %s", out, want)
	}
}

func TestCursorRoundTrip(t *testing.T) {
	c := Cursor{Micros: 1764100000123456, Seq: 42}
	got, err := DecodeCursor(EncodeCursor(c))
	if err != nil || got != c {
		t.Fatalf("%+v %v", got, err)
	}
	for _, bad := range []string{"", "!!", "bm90LWEtY3Vyc29y", EncodeCursor(Cursor{1, 2}) + "x"} {
		if _, err := DecodeCursor(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("cursor %q accepted", bad)
		}
	}
}

// FuzzParse: the parser never panics; it returns a resource whose JSON is
// valid and whose type is known, or an *InvalidError.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"resourceType":"Patient","name":[{"family":"Li"}]}`,
		`{"resourceType":"Observation","status":"final","code":{"text":"hr"},"valueQuantity":{"value":72,"unit":"/min"}}`,
		`{"resourceType":"Patient","_birthDate":{"extension":[{"url":"u","valueString":"v"}]}}`,
		`{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Patient"}}]}`,
		`{"resourceType":"Patient","contained":[{"resourceType":"Organization","id":"o"}],"managingOrganization":{"reference":"#o"}}`,
		`{"a":"\u0000"}`, `[]`, `"x"`, `{"resourceType":"Patient","name":[{"family":"A","family":"B"}]}`, `{{`,
	} {
		f.Add([]byte(s))
	}
	p, err := NewParser()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := p.Parse(data)
		if err != nil {
			var inv *InvalidError
			if !errors.As(err, &inv) || len(inv.Issues) == 0 {
				t.Fatalf("error is not an *InvalidError with issues: %v", err)
			}
			return
		}
		if !json.Valid(got.JSON) || !IsResourceType(got.Type) {
			t.Fatalf("accepted %q as %q", got.JSON, got.Type)
		}
		if _, err := Stamp(got.JSON, "x", 1, mustTime(t, "2026-01-01T00:00:00Z")); err != nil {
			t.Fatalf("accepted resource cannot be stamped: %v", err)
		}
	})
}
