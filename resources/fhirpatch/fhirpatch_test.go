package fhirpatch

import (
	"bytes"
	"encoding/json"
	"errors"
	"github.com/meizhou-yiyang/yiyang/conformance/fhirdata"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// officialCase is one entry of fhir-patch-tests.json, converted from the
// XML original of the FHIR specification.
type officialCase struct {
	Name   string          `json:"name"`
	Mode   string          `json:"mode"`
	Input  json.RawMessage `json:"input"`
	Diff   json.RawMessage `json:"diff"`
	Output json.RawMessage `json:"output"`
	Error  string          `json:"error"`
}

// knownFailures are official cases expected to fail, each with the reason.
// Every other case must pass.
var knownFailures = map[string]string{}

func readCases(dir string) ([]byte, error) {
	return os.ReadFile(filepath.Join(dir, "patch-tests", "fhir-patch-tests.json"))
}

func loadOfficialCases(t *testing.T) []officialCase {
	t.Helper()
	dir := fhirdata.Require(t)
	data, err := readCases(dir)
	if err != nil {
		t.Fatalf("reading official FHIRPath Patch cases: %v", err)
	}
	var cases []officialCase
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatalf("decoding official FHIRPath Patch cases: %v", err)
	}
	return cases
}

func TestOfficialCases(t *testing.T) {
	cases := loadOfficialCases(t)
	if len(cases) == 0 {
		t.Fatal("no official FHIRPath Patch cases")
	}
	passed := 0
	for _, tc := range cases {
		if err := runOfficial(tc); err != nil {
			if reason, known := knownFailures[tc.Name]; known {
				t.Logf("%s: known failure: %s", tc.Name, reason)
				continue
			}
			t.Errorf("%s: %v", tc.Name, err)
			continue
		}
		if _, known := knownFailures[tc.Name]; known {
			t.Errorf("%s: passes but is listed as a known failure", tc.Name)
		}
		passed++
	}
	t.Logf("fhirpath patch: %d of %d passed", passed, len(cases))
}

// runOfficial applies one official case and reports how it differs from the
// expectation.
func runOfficial(tc officialCase) error {
	got, err := Apply(tc.Input, tc.Diff)
	if tc.Error != "" {
		if err == nil {
			return errors.New("applied, want error " + tc.Error)
		}
		var pe *Error
		if !errors.As(err, &pe) {
			return errors.New("error is not an *Error: " + err.Error())
		}
		return nil
	}
	if err != nil {
		return err
	}
	if !sameJSON(got, tc.Output) {
		return errors.New("got " + string(got) + "\nwant " + string(tc.Output))
	}
	return nil
}

// sameJSON compares two JSON texts ignoring member order. Narrative "div"
// strings are compared as XHTML, ignoring insignificant whitespace the way
// the XML original of the suite does: the JSON conversion re-serialised the
// expected divs (dropping indentation, writing \r\n) but not the patch values
// ("Full Resource" replaces Patient.text.div).
func sameJSON(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(normaliseDivs(x), normaliseDivs(y))
}

var (
	spaceBetweenTags = regexp.MustCompile(`>\s+<`)
	spaceRun         = regexp.MustCompile(`\s+`)
)

// normaliseDivs collapses whitespace in the string members named "div" of v.
func normaliseDivs(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if s, ok := e.(string); ok && k == "div" {
				v[k] = spaceRun.ReplaceAllString(spaceBetweenTags.ReplaceAllString(s, "><"), " ")
				continue
			}
			v[k] = normaliseDivs(e)
		}
	case []any:
		for i, e := range v {
			v[i] = normaliseDivs(e)
		}
	}
	return v
}

// params builds a Parameters patch from operations, each a JSON list of parts.
func params(ops ...string) string {
	var b strings.Builder
	b.WriteString(`{"resourceType":"Parameters","parameter":[`)
	for i, op := range ops {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"name":"operation","part":` + op + `}`)
	}
	b.WriteString(`]}`)
	return b.String()
}

func TestApply(t *testing.T) {
	const patient = `{"resourceType":"Patient","id":"p","name":[{"family":"A","given":["x","y","z"],"_given":[null,{"id":"g2"},null]}],"birthDate":"1970-01-01","_birthDate":{"extension":[{"url":"u","valueString":"s"}]},"deceasedBoolean":false}`
	tests := []struct {
		name  string
		doc   string
		patch string
		want  string // exact output, when no error
		errOp int
		err   string // substring of the error; "" for success
		bad   bool   // Malformed
	}{
		{name: "empty patch", doc: patient, patch: `{"resourceType":"Parameters"}`, want: patient},
		{
			name:  "replace primitive keeps order, drops its extension",
			doc:   `{"resourceType":"Patient","birthDate":"1970-01-01","_birthDate":{"id":"b"},"active":true}`,
			patch: params(`[{"name":"type","valueCode":"replace"},{"name":"path","valueString":"Patient.birthDate"},{"name":"value","valueDate":"1980-02-02"}]`),
			want:  `{"resourceType":"Patient","birthDate":"1980-02-02","active":true}`,
		},
		{
			name:  "replace choice renames in place",
			doc:   patient,
			patch: params(`[{"name":"type","valueCode":"replace"},{"name":"path","valueString":"Patient.deceased"},{"name":"value","valueDateTime":"2020-01-01"}]`),
			want:  strings.Replace(patient, `"deceasedBoolean":false`, `"deceasedDateTime":"2020-01-01"`, 1),
		},
		{
			name:  "replace choice with wrong type",
			doc:   patient,
			patch: params(`[{"name":"type","valueCode":"replace"},{"name":"path","valueString":"Patient.deceased"},{"name":"value","valueString":"no"}]`),
			err:   "cannot be of type string",
		},
		{
			name:  "add choice element gets its suffix",
			doc:   `{"resourceType":"Patient"}`,
			patch: params(`[{"name":"type","valueCode":"add"},{"name":"path","valueString":"Patient"},{"name":"name","valueString":"deceased"},{"name":"value","valueBoolean":true}]`),
			want:  `{"resourceType":"Patient","deceasedBoolean":true}`,
		},
		{
			name:  "add existing single element",
			doc:   patient,
			patch: params(`[{"name":"type","valueCode":"add"},{"name":"path","valueString":"Patient"},{"name":"name","valueString":"deceased"},{"name":"value","valueBoolean":true}]`),
			err:   "already has deceasedBoolean",
		},
		{
			name:  "add decimal keeps its text, with extension",
			doc:   `{"resourceType":"Observation","status":"final"}`,
			patch: params(`[{"name":"type","valueCode":"add"},{"name":"path","valueString":"Observation"},{"name":"name","valueString":"value"},{"name":"value","valueQuantity":{"value":1.50,"unit":"mg"}}]`),
			want:  `{"resourceType":"Observation","status":"final","valueQuantity":{"value":1.50,"unit":"mg"}}`,
		},
		{
			name:  "add primitive list item keeps extensions aligned",
			doc:   patient,
			patch: params(`[{"name":"type","valueCode":"add"},{"name":"path","valueString":"Patient.name[0]"},{"name":"name","valueString":"given"},{"name":"value","valueString":"w","_valueString":{"id":"g4"}}]`),
			want:  strings.Replace(patient, `"given":["x","y","z"],"_given":[null,{"id":"g2"},null]`, `"given":["x","y","z","w"],"_given":[null,{"id":"g2"},null,{"id":"g4"}]`, 1),
		},
		{
			name:  "add extension to a primitive",
			doc:   `{"resourceType":"Patient","gender":"male"}`,
			patch: params(`[{"name":"type","valueCode":"add"},{"name":"path","valueString":"Patient.gender"},{"name":"name","valueString":"extension"},{"name":"value","part":[{"name":"url","valueUri":"http://x"},{"name":"value","valueCode":"y"}]}]`),
			want:  `{"resourceType":"Patient","gender":"male","_gender":{"extension":[{"url":"http://x","valueCode":"y"}]}}`,
		},
		{
			name:  "add parts with repeating and choice parts",
			doc:   `{"resourceType":"Patient"}`,
			patch: params(`[{"name":"type","valueCode":"add"},{"name":"path","valueString":"Patient"},{"name":"name","valueString":"name"},{"name":"value","part":[{"name":"family","valueString":"F"},{"name":"given","valueString":"a"},{"name":"given","valueString":"b"},{"name":"period","part":[{"name":"start","valueDateTime":"2001"}]}]}]`),
			want:  `{"resourceType":"Patient","name":[{"family":"F","given":["a","b"],"period":{"start":"2001"}}]}`,
		},
		{
			name:  "add unknown element",
			doc:   `{"resourceType":"Patient"}`,
			patch: params(`[{"name":"type","valueCode":"add"},{"name":"path","valueString":"Patient"},{"name":"name","valueString":"colour"},{"name":"value","valueString":"x"}]`),
			err:   `Patient has no element "colour"`,
		},
		{
			name:  "add to nothing",
			doc:   `{"resourceType":"Patient"}`,
			patch: params(`[{"name":"type","valueCode":"add"},{"name":"path","valueString":"Patient.contact"},{"name":"name","valueString":"gender"},{"name":"value","valueCode":"male"}]`),
			err:   "no content found at Patient.contact",
		},
		{
			name:  "insert into primitive list keeps extensions aligned",
			doc:   patient,
			patch: params(`[{"name":"type","valueCode":"insert"},{"name":"path","valueString":"Patient.name.given"},{"name":"index","valueInteger":1},{"name":"value","valueString":"n"}]`),
			want:  strings.Replace(patient, `"given":["x","y","z"],"_given":[null,{"id":"g2"},null]`, `"given":["x","n","y","z"],"_given":[null,null,{"id":"g2"},null]`, 1),
		},
		{
			name:  "insert into absent list",
			doc:   `{"resourceType":"Patient"}`,
			patch: params(`[{"name":"type","valueCode":"insert"},{"name":"path","valueString":"Patient.identifier"},{"name":"index","valueInteger":0},{"name":"value","valueIdentifier":{"value":"1"}}]`),
			want:  `{"resourceType":"Patient","identifier":[{"value":"1"}]}`,
		},
		{
			name:  "insert beyond the end",
			doc:   patient,
			patch: params(`[{"name":"type","valueCode":"insert"},{"name":"path","valueString":"Patient.name.given"},{"name":"index","valueInteger":4},{"name":"value","valueString":"n"}]`),
			err:   "beyond the end",
		},
		{
			name:  "insert into part of a list",
			doc:   patient,
			patch: params(`[{"name":"type","valueCode":"insert"},{"name":"path","valueString":"Patient.name.given.first()"},{"name":"index","valueInteger":0},{"name":"value","valueString":"n"}]`),
			err:   "selects 1 of the 3 items",
		},
		{
			name:  "move primitive list keeps extensions aligned",
			doc:   patient,
			patch: params(`[{"name":"type","valueCode":"move"},{"name":"path","valueString":"Patient.name.given"},{"name":"source","valueInteger":1},{"name":"destination","valueInteger":2}]`),
			want:  strings.Replace(patient, `"given":["x","y","z"],"_given":[null,{"id":"g2"},null]`, `"given":["x","z","y"],"_given":[null,null,{"id":"g2"}]`, 1),
		},
		{
			name:  "move out of range",
			doc:   patient,
			patch: params(`[{"name":"type","valueCode":"move"},{"name":"path","valueString":"Patient.name.given"},{"name":"source","valueInteger":3},{"name":"destination","valueInteger":0}]`),
			err:   "beyond the end",
		},
		{
			name:  "delete primitive list item with extension",
			doc:   patient,
			patch: params(`[{"name":"type","valueCode":"delete"},{"name":"path","valueString":"Patient.name.given[1]"}]`),
			want:  strings.Replace(patient, `"given":["x","y","z"],"_given":[null,{"id":"g2"},null]`, `"given":["x","z"]`, 1),
		},
		{
			name:  "delete primitive and its extension",
			doc:   patient,
			patch: params(`[{"name":"type","valueCode":"delete"},{"name":"path","valueString":"Patient.birthDate"}]`),
			want:  strings.Replace(patient, `"birthDate":"1970-01-01","_birthDate":{"extension":[{"url":"u","valueString":"s"}]},`, ``, 1),
		},
		{
			name:  "delete nothing is a no-op",
			doc:   patient,
			patch: params(`[{"name":"type","valueCode":"delete"},{"name":"path","valueString":"Patient.gender"}]`),
			want:  patient,
		},
		{
			name:  "delete more than one",
			doc:   patient,
			patch: params(`[{"name":"type","valueCode":"delete"},{"name":"path","valueString":"Patient.name.given"}]`),
			err:   "selects 3 elements",
		},
		{
			name:  "delete the resource",
			doc:   patient,
			patch: params(`[{"name":"type","valueCode":"delete"},{"name":"path","valueString":"Patient"}]`),
			err:   "resource itself",
		},
		{
			name:  "replace more than one",
			doc:   patient,
			patch: params(`[{"name":"type","valueCode":"delete"},{"name":"path","valueString":"Patient.id"}]`, `[{"name":"type","valueCode":"replace"},{"name":"path","valueString":"Patient.name.given"},{"name":"value","valueString":"q"}]`),
			errOp: 1,
			err:   "selects 3 elements, not one",
		},
		{
			name:  "replace a computed value",
			doc:   patient,
			patch: params(`[{"name":"type","valueCode":"replace"},{"name":"path","valueString":"Patient.birthDate.toString()"},{"name":"value","valueString":"q"}]`),
			err:   "does not select an element",
		},
		{name: "not JSON", doc: patient, patch: `{`, errOp: -1, err: "unexpected end", bad: true},
		{name: "not Parameters", doc: patient, patch: `{"resourceType":"Patient"}`, errOp: -1, err: "not a Parameters", bad: true},
		{name: "parameter not a list", doc: patient, patch: `{"resourceType":"Parameters","parameter":{}}`, errOp: -1, err: "not an array", bad: true},
		{
			name:  "wrong parameter name",
			doc:   patient,
			patch: `{"resourceType":"Parameters","parameter":[{"name":"op","part":[]}]}`,
			err:   `not "operation"`, bad: true,
		},
		{name: "unknown type", doc: patient, patch: params(`[{"name":"type","valueCode":"copy"},{"name":"path","valueString":"Patient"}]`), err: `unknown operation type "copy"`, bad: true},
		{name: "missing path", doc: patient, patch: params(`[{"name":"type","valueCode":"delete"}]`), err: `needs a "path" part`, bad: true},
		{name: "missing value", doc: patient, patch: params(`[{"name":"type","valueCode":"replace"},{"name":"path","valueString":"Patient.id"}]`), err: `needs a "value" part`, bad: true},
		{name: "extra part", doc: patient, patch: params(`[{"name":"type","valueCode":"delete"},{"name":"path","valueString":"Patient.id"},{"name":"index","valueInteger":1}]`), err: `takes no "index" part`, bad: true},
		{name: "duplicate part", doc: patient, patch: params(`[{"name":"type","valueCode":"delete"},{"name":"path","valueString":"Patient.id"},{"name":"path","valueString":"Patient.id"}]`), err: "given twice", bad: true},
		{name: "bad path", doc: patient, patch: params(`[{"name":"type","valueCode":"delete"},{"name":"path","valueString":"Patient.("}]`), err: "path: fhirpath", bad: true},
		{name: "unknown element in path", doc: patient, patch: params(`[{"name":"type","valueCode":"delete"},{"name":"path","valueString":"Patient.colour"}]`), err: "colour", bad: true},
		{name: "negative index", doc: patient, patch: params(`[{"name":"type","valueCode":"insert"},{"name":"path","valueString":"Patient.name"},{"name":"index","valueInteger":-1},{"name":"value","valueHumanName":{}}]`), err: "non-negative", bad: true},
		{name: "two values", doc: patient, patch: params(`[{"name":"type","valueCode":"replace"},{"name":"path","valueString":"Patient.id"},{"name":"value","valueId":"a","valueString":"b"}]`), err: "more than one value", bad: true},
		{name: "bad name", doc: patient, patch: params(`[{"name":"type","valueCode":"add"},{"name":"path","valueString":"Patient"},{"name":"name","valueString":"a.b"},{"name":"value","valueString":"b"}]`), err: "not an element name", bad: true},
		{name: "resource not JSON", doc: `[`, patch: `{"resourceType":"Parameters"}`, errOp: -1, err: "resource"},
		{name: "resource without type", doc: `{"id":"x"}`, patch: `{"resourceType":"Parameters"}`, errOp: -1, err: "no resourceType"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Apply([]byte(tc.doc), []byte(tc.patch))
			if tc.err == "" {
				if err != nil {
					t.Fatalf("Apply: %v", err)
				}
				if !bytes.Equal(got, []byte(tc.want)) {
					t.Fatalf("Apply =\n%s\nwant\n%s", got, tc.want)
				}
				return
			}
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("Apply = %s, %v; want *Error containing %q", got, err, tc.err)
			}
			if pe.Op != tc.errOp || pe.Malformed != tc.bad || !strings.Contains(pe.Error(), tc.err) {
				t.Fatalf("error %q (op %d, malformed %t), want op %d, malformed %t, containing %q",
					pe, pe.Op, pe.Malformed, tc.errOp, tc.bad, tc.err)
			}
		})
	}
}
