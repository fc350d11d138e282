package jsonpatch

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/meizhou-yiyang/yiyang/conformance/fhirdata"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// officialCase is one entry of json-patch-tests.json.
type officialCase struct {
	Comment  string          `json:"comment"`
	Doc      json.RawMessage `json:"doc"`
	Patch    json.RawMessage `json:"patch"`
	Expected json.RawMessage `json:"expected"`
	Error    json.RawMessage `json:"error"`
	Disabled bool            `json:"disabled"`
}

// loadOfficialCases returns the official cases, or ok == false when the
// reference data is not available.
func loadOfficialCases(tb testing.TB) (cases []officialCase, ok bool) {
	dir := fhirdata.Dir()
	if dir == "" {
		return nil, false
	}
	data, err := os.ReadFile(filepath.Join(dir, "patch-tests", "json-patch-tests.json"))
	if err != nil {
		tb.Fatalf("reading official JSON Patch cases: %v", err)
	}
	if err := json.Unmarshal(data, &cases); err != nil {
		tb.Fatalf("decoding official JSON Patch cases: %v", err)
	}
	return cases, true
}

func TestOfficialCases(t *testing.T) {
	cases, ok := loadOfficialCases(t)
	if !ok {
		fhirdata.Require(t) // skips, or fails in CI
	}
	if len(cases) == 0 {
		t.Fatal("no official JSON Patch cases")
	}
	for i, tc := range cases {
		t.Run(fmt.Sprintf("%02d %s", i, tc.Comment), func(t *testing.T) {
			if tc.Disabled {
				t.Skip("case is marked disabled in the official suite")
			}
			got, err := Apply(tc.Doc, tc.Patch)
			if tc.Error != nil {
				if err == nil {
					t.Fatalf("Apply succeeded with %s, want error %s", got, tc.Error)
				}
				var perr *Error
				if !errors.As(err, &perr) {
					t.Fatalf("error %v has type %T, want *Error", err, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if !sameJSON(t, got, tc.Expected) {
				t.Errorf("Apply = %s, want %s", got, tc.Expected)
			}
		})
	}
}

// sameJSON compares two JSON texts semantically with encoding/json, numbers
// normalised through big.Rat, independently of this package's own equality.
func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	return reflect.DeepEqual(decodeNormalised(t, a), decodeNormalised(t, b))
}

func decodeNormalised(t *testing.T, data []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decoding %s: %v", data, err)
	}
	var norm func(any) any
	norm = func(v any) any {
		switch x := v.(type) {
		case json.Number:
			r, ok := new(big.Rat).SetString(string(x))
			if !ok {
				t.Fatalf("bad number %s", x)
			}
			return r.RatString()
		case []any:
			for i := range x {
				x[i] = norm(x[i])
			}
		case map[string]any:
			for k := range x {
				x[k] = norm(x[k])
			}
		}
		return v
	}
	return norm(v)
}

// applyCase is a table case: either want (exact output) or an error at errOp
// whose Path is errPath and whose message contains errMsg.
type applyCase struct {
	name    string
	doc     string
	patch   string
	want    string
	errOp   int
	errPath string
	errMsg  string
}

var successCases = []applyCase{
	// add
	{name: "add member goes last", doc: `{"b":1,"a":2}`, patch: `[{"op":"add","path":"/c","value":3}]`, want: `{"b":1,"a":2,"c":3}`},
	{name: "add existing member keeps position", doc: `{"b":1,"a":2}`, patch: `[{"op":"add","path":"/b","value":[5]}]`, want: `{"b":[5],"a":2}`},
	{name: "add null value", doc: `{}`, patch: `[{"op":"add","path":"/a","value":null}]`, want: `{"a":null}`},
	{name: "add array front", doc: `[1,2]`, patch: `[{"op":"add","path":"/0","value":0}]`, want: `[0,1,2]`},
	{name: "add array middle", doc: `[1,3]`, patch: `[{"op":"add","path":"/1","value":2}]`, want: `[1,2,3]`},
	{name: "add array at length", doc: `[1,2]`, patch: `[{"op":"add","path":"/2","value":3}]`, want: `[1,2,3]`},
	{name: "add array dash appends", doc: `{"a":[]}`, patch: `[{"op":"add","path":"/a/-","value":{"x":1}},{"op":"add","path":"/a/-","value":2}]`, want: `{"a":[{"x":1},2]}`},
	{name: "add root replaces document", doc: `{"a":1}`, patch: `[{"op":"add","path":"","value":[1,{"z":0,"y":1}]}]`, want: `[1,{"z":0,"y":1}]`},
	{name: "add then modify added value", doc: `{}`, patch: `[{"op":"add","path":"/a","value":{}},{"op":"add","path":"/a/b","value":1}]`, want: `{"a":{"b":1}}`},
	{name: "unknown members ignored", doc: `{}`, patch: `[{"op":"add","path":"/a","value":1,"from":7,"x":{}}]`, want: `{"a":1}`},
	// remove
	{name: "remove keeps order", doc: `{"c":1,"b":2,"a":3}`, patch: `[{"op":"remove","path":"/b"}]`, want: `{"c":1,"a":3}`},
	{name: "remove array element", doc: `[1,2,3]`, patch: `[{"op":"remove","path":"/1"}]`, want: `[1,3]`},
	{name: "remove nested", doc: `{"a":{"b":[{"c":1,"d":2}]}}`, patch: `[{"op":"remove","path":"/a/b/0/c"}]`, want: `{"a":{"b":[{"d":2}]}}`},
	// replace
	{name: "replace keeps position", doc: `{"a":1,"b":2,"c":3}`, patch: `[{"op":"replace","path":"/b","value":"x"}]`, want: `{"a":1,"b":"x","c":3}`},
	{name: "replace array element", doc: `[1,2,3]`, patch: `[{"op":"replace","path":"/2","value":null}]`, want: `[1,2,null]`},
	{name: "replace root", doc: `3`, patch: `[{"op":"replace","path":"","value":"x"}]`, want: `"x"`},
	// move
	{name: "move member goes last", doc: `{"a":1,"b":2,"c":3}`, patch: `[{"op":"move","from":"/a","path":"/d"}]`, want: `{"b":2,"c":3,"d":1}`},
	{name: "move onto itself", doc: `{"a":1,"b":2}`, patch: `[{"op":"move","from":"/a","path":"/a"}]`, want: `{"a":1,"b":2}`},
	{name: "move array element", doc: `["all","grass","cows","eat"]`, patch: `[{"op":"move","from":"/1","path":"/3"}]`, want: `["all","cows","eat","grass"]`},
	{name: "move to parent", doc: `{"a":{"b":{"c":1}}}`, patch: `[{"op":"move","from":"/a/b","path":"/a"}]`, want: `{"a":{"c":1}}`},
	{name: "move to sibling with common prefix", doc: `{"a":1,"ab":{}}`, patch: `[{"op":"move","from":"/a","path":"/ab/x"}]`, want: `{"ab":{"x":1}}`},
	// copy
	{name: "copy is deep", doc: `{"a":{"x":[1]}}`, patch: `[{"op":"copy","from":"/a","path":"/b"},{"op":"add","path":"/b/x/-","value":2}]`, want: `{"a":{"x":[1]},"b":{"x":[1,2]}}`},
	{name: "copy into own child", doc: `{"a":{"b":1}}`, patch: `[{"op":"copy","from":"/a","path":"/a/c"}]`, want: `{"a":{"b":1,"c":{"b":1}}}`},
	{name: "copy root", doc: `{"a":1}`, patch: `[{"op":"copy","from":"","path":"/b"}]`, want: `{"a":1,"b":{"a":1}}`},
	{name: "copy array element", doc: `[1,[2]]`, patch: `[{"op":"copy","from":"/1","path":"/0"}]`, want: `[[2],1,[2]]`},
	// test
	{name: "test integer equals decimal", doc: `{"a":1}`, patch: `[{"op":"test","path":"/a","value":1.0}]`, want: `{"a":1}`},
	{name: "test exponents", doc: `[100,0.5,-0,1E2]`, patch: `[{"op":"test","path":"","value":[1e2,5e-1,0.0,10000e-2]}]`, want: `[100,0.5,-0,1E2]`},
	{name: "test big integers exactly", doc: `[12345678901234567890]`, patch: `[{"op":"test","path":"/0","value":12345678901234567890.000}]`, want: `[12345678901234567890]`},
	{name: "test object member order", doc: `{"o":{"a":1,"b":[true,null]}}`, patch: `[{"op":"test","path":"/o","value":{"b":[true,null],"a":1}}]`, want: `{"o":{"a":1,"b":[true,null]}}`},
	{name: "test null", doc: `{"a":null}`, patch: `[{"op":"test","path":"/a","value":null}]`, want: `{"a":null}`},
	{name: "test string escapes", doc: `{"a":"\u00e9\n"}`, patch: `[{"op":"test","path":"/a","value":"é\u000a"}]`, want: `{"a":"é\n"}`},
	// pointers
	{name: "escaped slash and tilde", doc: `{"a/b":1,"m~n":2}`, patch: `[{"op":"test","path":"/a~1b","value":1},{"op":"replace","path":"/m~0n","value":3}]`, want: `{"a/b":1,"m~n":3}`},
	{name: "escape ordering", doc: `{}`, patch: `[{"op":"add","path":"/~01","value":1}]`, want: `{"~1":1}`},
	{name: "empty member name", doc: `{"":1,"a":{"":2}}`, patch: `[{"op":"replace","path":"/","value":0},{"op":"remove","path":"/a/"}]`, want: `{"":0,"a":{}}`},
	{name: "digits are member names in objects", doc: `{"01":1}`, patch: `[{"op":"replace","path":"/01","value":2},{"op":"add","path":"/-","value":3}]`, want: `{"01":2,"-":3}`},
	// representation
	{name: "numbers kept as written", doc: `{"a":1.50,"b":1e+10,"c":-0.0}`, patch: `[{"op":"add","path":"/d","value":2.500E-3}]`, want: `{"a":1.50,"b":1e+10,"c":-0.0,"d":2.500E-3}`},
	{name: "compact output", doc: " { \"a\" : [ 1 , 2 ] ,\n\t\"b\" : { } } ", patch: `[]`, want: `{"a":[1,2],"b":{}}`},
	{name: "no HTML escaping", doc: `{"a":"<b>&amp;</b>","c":"\u2028"}`, patch: `[]`, want: "{\"a\":\"<b>&amp;</b>\",\"c\":\"\u2028\"}"},
	{name: "control characters escaped", doc: `["\u0001\t\"\\"]`, patch: `[]`, want: `["\u0001\t\"\\"]`},
	{name: "scalar document", doc: `true`, patch: `[{"op":"test","path":"","value":true}]`, want: `true`},
}

var errorCases = []applyCase{
	// whole-patch and document problems
	{name: "patch is an object", doc: `{}`, patch: `{"op":"add","path":"/a","value":1}`, errOp: -1, errMsg: "must be a JSON array, not an object"},
	{name: "patch is not JSON", doc: `{}`, patch: `[{"op":]`, errOp: -1, errMsg: "invalid patch document"},
	{name: "patch is empty", doc: `{}`, patch: ``, errOp: -1, errMsg: "invalid patch document"},
	{name: "patch has trailing data", doc: `{}`, patch: `[] []`, errOp: -1, errMsg: "invalid patch document"},
	{name: "document is not JSON", doc: `{"a":}`, patch: `[]`, errOp: -1, errMsg: "invalid document"},
	{name: "document has trailing data", doc: `{} x`, patch: `[]`, errOp: -1, errMsg: "invalid document"},
	{name: "document is empty", doc: ` `, patch: `[]`, errOp: -1, errMsg: "invalid document"},
	{name: "duplicate keys in document", doc: `{"a":{"b":1,"b":2}}`, patch: `[]`, errOp: -1, errMsg: `duplicate object member "b"`},
	{name: "duplicate keys in large object", doc: `{"a":0,"b":0,"c":0,"d":0,"e":0,"f":0,"g":0,"h":0,"i":0,"j":0,"k":0,"l":0,"m":0,"n":0,"o":0,"p":0,"q":0,"r":0,"a":1}`, patch: `[]`, errOp: -1, errMsg: `duplicate object member "a"`},
	{name: "document too deep", doc: strings.Repeat("[", 201) + strings.Repeat("]", 201), patch: `[]`, errOp: -1, errMsg: "nesting deeper than 200 levels"},
	{name: "patch too deep", doc: `{}`, patch: `[{"op":"add","path":"/a","value":` + strings.Repeat("[", 199) + strings.Repeat("]", 199) + `}]`, errOp: -1, errMsg: "nesting deeper than 200 levels"},
	{name: "too many operations", doc: `{}`, patch: "[" + strings.Repeat(`{"op":"test","path":""},`, MaxOperations) + "{}]", errOp: -1, errMsg: "more than 10000 operations"},
	// malformed operations
	{name: "operation not an object", doc: `{}`, patch: `[[]]`, errOp: 0, errMsg: "operation must be a JSON object, not an array"},
	{name: "missing op", doc: `{}`, patch: `[{"path":"/a","value":1}]`, errOp: 0, errMsg: `missing "op" member`},
	{name: "op not a string", doc: `{}`, patch: `[{"op":1,"path":"/a"}]`, errOp: 0, errMsg: `"op" must be a string, not a number`},
	{name: "unknown op", doc: `{}`, patch: `[{"op":"test","path":"","value":{}},{"op":"Add","path":"/a","value":1}]`, errOp: 1, errMsg: `unknown operation "Add"`},
	{name: "missing path", doc: `{}`, patch: `[{"op":"remove"}]`, errOp: 0, errMsg: `missing "path" member`},
	{name: "path not a string", doc: `{}`, patch: `[{"op":"remove","path":null}]`, errOp: 0, errMsg: `"path" must be a string, not a null`},
	{name: "path without leading slash", doc: `{"a":1}`, patch: `[{"op":"remove","path":"a"}]`, errOp: 0, errPath: "a", errMsg: "not a valid JSON pointer"},
	{name: "bad escape", doc: `{"a":1}`, patch: `[{"op":"remove","path":"/~2"}]`, errOp: 0, errPath: "/~2", errMsg: `"~" must be followed by "0" or "1"`},
	{name: "trailing tilde", doc: `{"a":1}`, patch: `[{"op":"remove","path":"/a~"}]`, errOp: 0, errPath: "/a~", errMsg: "not a valid JSON pointer"},
	{name: "add without value", doc: `{}`, patch: `[{"op":"add","path":"/a"}]`, errOp: 0, errPath: "/a", errMsg: `missing "value" member`},
	{name: "replace without value", doc: `{"a":1}`, patch: `[{"op":"replace","path":"/a"}]`, errOp: 0, errPath: "/a", errMsg: `missing "value" member`},
	{name: "test without value", doc: `{"a":1}`, patch: `[{"op":"test","path":"/a"}]`, errOp: 0, errPath: "/a", errMsg: `missing "value" member`},
	{name: "move without from", doc: `{"a":1}`, patch: `[{"op":"move","path":"/b"}]`, errOp: 0, errMsg: `missing "from" member`},
	{name: "copy without from", doc: `{"a":1}`, patch: `[{"op":"copy","path":"/b"}]`, errOp: 0, errMsg: `missing "from" member`},
	{name: "from not a string", doc: `{"a":1}`, patch: `[{"op":"copy","from":["a"],"path":"/b"}]`, errOp: 0, errMsg: `"from" must be a string, not an array`},
	{name: "from invalid pointer", doc: `{"a":1}`, patch: `[{"op":"move","from":"a","path":"/b"}]`, errOp: 0, errPath: "a", errMsg: "not a valid JSON pointer"},
	// locations
	{name: "remove missing member", doc: `{"a":1}`, patch: `[{"op":"remove","path":"/b"}]`, errOp: 0, errPath: "/b", errMsg: `path "/b" does not exist`},
	{name: "remove index out of range", doc: `{"name":[1,2]}`, patch: `[{"op":"remove","path":"/name/2"}]`, errOp: 0, errPath: "/name/2", errMsg: "index 2 is out of range for an array of length 2"},
	{name: "remove dash", doc: `[1]`, patch: `[{"op":"remove","path":"/-"}]`, errOp: 0, errPath: "/-", errMsg: "nonexistent element after the last"},
	{name: "remove root", doc: `{}`, patch: `[{"op":"remove","path":""}]`, errOp: 0, errPath: "", errMsg: "cannot be removed"},
	{name: "leading zero index", doc: `[1,2]`, patch: `[{"op":"replace","path":"/01","value":0}]`, errOp: 0, errPath: "/01", errMsg: `array index "01" has leading zeros`},
	{name: "non-numeric index", doc: `[1,2]`, patch: `[{"op":"test","path":"/x","value":1}]`, errOp: 0, errPath: "/x", errMsg: `"x" is not an array index`},
	{name: "signed index", doc: `[1,2]`, patch: `[{"op":"add","path":"/-1","value":1}]`, errOp: 0, errPath: "/-1", errMsg: `"-1" is not an array index`},
	{name: "empty index", doc: `[1,2]`, patch: `[{"op":"add","path":"/","value":1}]`, errOp: 0, errPath: "/", errMsg: `"" is not an array index`},
	{name: "add index past end", doc: `[1,2]`, patch: `[{"op":"add","path":"/3","value":1}]`, errOp: 0, errPath: "/3", errMsg: "index 3 is out of range"},
	{name: "huge index", doc: `[1]`, patch: `[{"op":"add","path":"/99999999999999999999999","value":1}]`, errOp: 0, errMsg: "out of range"},
	{name: "replace dash", doc: `[1]`, patch: `[{"op":"replace","path":"/-","value":1}]`, errOp: 0, errMsg: "nonexistent element"},
	{name: "add to missing parent", doc: `{"q":{"bar":2}}`, patch: `[{"op":"add","path":"/a/b","value":1}]`, errOp: 0, errPath: "/a/b", errMsg: `path "/a/b" does not exist`},
	{name: "add below scalar", doc: `{"a":"s"}`, patch: `[{"op":"add","path":"/a/b","value":1}]`, errOp: 0, errMsg: "cannot descend into a string"},
	{name: "test below scalar", doc: `{"a":{"b":3}}`, patch: `[{"op":"test","path":"/a/b/c","value":1}]`, errOp: 0, errMsg: "cannot descend into a number"},
	{name: "replace missing", doc: `{"a":1}`, patch: `[{"op":"replace","path":"/b","value":1}]`, errOp: 0, errPath: "/b", errMsg: "does not exist"},
	{name: "test missing", doc: `{"a":1}`, patch: `[{"op":"test","path":"/b","value":1}]`, errOp: 0, errPath: "/b", errMsg: "does not exist"},
	{name: "move from missing", doc: `{"a":1}`, patch: `[{"op":"move","from":"/x","path":"/b"}]`, errOp: 0, errPath: "/x", errMsg: `from "/x" does not exist`},
	{name: "copy from missing", doc: `[1]`, patch: `[{"op":"copy","from":"/1","path":"/0"}]`, errOp: 0, errPath: "/1", errMsg: "out of range"},
	{name: "move into own child", doc: `{"a":{"b":{}}}`, patch: `[{"op":"move","from":"/a","path":"/a/b/c"}]`, errOp: 0, errPath: "/a/b/c", errMsg: "cannot be moved into itself"},
	{name: "move root into child", doc: `{"a":1}`, patch: `[{"op":"move","from":"","path":"/b"}]`, errOp: 0, errPath: "/b", errMsg: "cannot be moved into itself"},
	{name: "move to missing parent", doc: `{"a":1}`, patch: `[{"op":"move","from":"/a","path":"/x/y"}]`, errOp: 0, errPath: "/x/y", errMsg: "does not exist"},
	// test failures
	{name: "test different string", doc: `{"baz":"qux"}`, patch: `[{"op":"test","path":"/baz","value":"bar"}]`, errOp: 0, errPath: "/baz", errMsg: "test failed: value differs from the expected string"},
	{name: "test number vs string", doc: `{"a":10}`, patch: `[{"op":"test","path":"/a","value":"10"}]`, errOp: 0, errMsg: "found a number, expected a string"},
	{name: "test null vs number", doc: `{"a":0}`, patch: `[{"op":"test","path":"/a","value":null}]`, errOp: 0, errMsg: "found a number, expected a null"},
	{name: "test close big numbers", doc: `[12345678901234567890]`, patch: `[{"op":"test","path":"/0","value":12345678901234567891}]`, errOp: 0, errMsg: "differs"},
	{name: "test array order", doc: `[1,2]`, patch: `[{"op":"test","path":"","value":[2,1]}]`, errOp: 0, errMsg: "differs"},
	{name: "test extra member", doc: `{"a":1}`, patch: `[{"op":"test","path":"","value":{"a":1,"b":2}}]`, errOp: 0, errMsg: "differs"},
	{name: "test fails after changes", doc: `{"a":1}`, patch: `[{"op":"add","path":"/b","value":2},{"op":"remove","path":"/a"},{"op":"test","path":"/a","value":1}]`, errOp: 2, errPath: "/a", errMsg: "does not exist"},
}

func TestApply(t *testing.T) {
	for _, tc := range successCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Apply([]byte(tc.doc), []byte(tc.patch))
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if string(got) != tc.want {
				t.Errorf("Apply = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestApplyErrors(t *testing.T) {
	for _, tc := range errorCases {
		t.Run(tc.name, func(t *testing.T) {
			checkError(t, tc)
		})
	}
}

func checkError(t *testing.T, tc applyCase) {
	t.Helper()
	got, err := Apply([]byte(tc.doc), []byte(tc.patch))
	if err == nil {
		t.Fatalf("Apply = %s, want an error", got)
	}
	if got != nil {
		t.Errorf("Apply returned output %s along with error", got)
	}
	perr, ok := err.(*Error)
	if !ok {
		t.Fatalf("error %v has type %T, want *Error", err, err)
	}
	if perr.Op != tc.errOp {
		t.Errorf("Op = %d, want %d (%v)", perr.Op, tc.errOp, err)
	}
	if tc.errPath != "" && perr.Path != tc.errPath {
		t.Errorf("Path = %q, want %q (%v)", perr.Path, tc.errPath, err)
	}
	if !strings.Contains(perr.Msg, tc.errMsg) {
		t.Errorf("Msg = %q, want it to contain %q", perr.Msg, tc.errMsg)
	}
}

func TestErrorMessage(t *testing.T) {
	tests := []struct{ doc, patch, want string }{
		{`{"name":[1,2]}`, `[{"op":"test","path":"/name/0","value":1},{"op":"add","path":"/x","value":1},{"op":"remove","path":"/name/5"}]`,
			`operation 2 (remove): path "/name/5" does not exist: index 5 is out of range for an array of length 2`},
		{`{"a":1}`, `[{"op":"remove","path":"/b"}]`, `operation 0 (remove): path "/b" does not exist`},
		{`{}`, `[{"op":"nope","path":""}]`, `operation 0: unknown operation "nope"`},
		{`{}`, `{}`, `json patch: invalid patch document: must be a JSON array, not an object`},
	}
	for _, tc := range tests {
		_, err := Apply([]byte(tc.doc), []byte(tc.patch))
		if err == nil || err.Error() != tc.want {
			t.Errorf("Apply(%s, %s) error = %v, want %s", tc.doc, tc.patch, err, tc.want)
		}
	}
}

// nested returns n arrays nested in each other around inner.
func nested(n int, inner string) string {
	return strings.Repeat("[", n) + inner + strings.Repeat("]", n)
}

func TestLimits(t *testing.T) {
	path150 := strings.Repeat("/0", 150)
	var doubling strings.Builder
	doubling.WriteString("[")
	for i := range 25 {
		if i > 0 {
			doubling.WriteString(",")
		}
		fmt.Fprintf(&doubling, `{"op":"copy","from":"","path":"/k%d"}`, i)
	}
	doubling.WriteString("]")

	cases := []applyCase{
		{name: "add result too deep", doc: nested(151, ""), patch: `[{"op":"add","path":"` + path150 + `","value":` + nested(60, "") + `}]`,
			errOp: 0, errPath: path150, errMsg: "deeper than 200 levels"},
		{name: "replace result too deep", doc: nested(151, "1"), patch: `[{"op":"replace","path":"` + path150 + `/0","value":` + nested(60, "") + `}]`,
			errOp: 0, errMsg: "deeper than 200 levels"},
		{name: "copy result too deep", doc: nested(150, ""), patch: `[{"op":"copy","from":"","path":"` + strings.Repeat("/0", 149) + `"}]`,
			errOp: 0, errMsg: "deeper than 200 levels"},
		{name: "move result too deep", doc: `{"a":` + nested(120, "") + `,"b":` + nested(100, "") + `}`,
			patch: `[{"op":"move","from":"/a","path":"/b` + strings.Repeat("/0", 99) + `"}]`, errOp: 0, errMsg: "deeper than 200 levels"},
		{name: "copy amplification", doc: `{"a":1,"b":2}`, patch: doubling.String(), errOp: 15, errPath: "", errMsg: "more than 100000 values"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { checkError(t, tc) })
	}

	// Exactly at the limits is fine.
	if _, err := Apply([]byte(nested(200, "")), []byte(`[]`)); err != nil {
		t.Errorf("document of depth 200: %v", err)
	}
	if _, err := Apply([]byte(nested(150, "")), []byte(`[{"op":"add","path":"`+path150[:len(path150)-2]+`/0","value":`+nested(50, "")+`}]`)); err != nil {
		t.Errorf("result of depth 200: %v", err)
	}
	// A document larger than MaxCopiedValues may be copied once, not twice.
	big := `{"a":[` + strings.Repeat("0,", 150_000) + `0]}`
	if _, err := Apply([]byte(big), []byte(`[{"op":"copy","from":"/a","path":"/b"}]`)); err != nil {
		t.Errorf("copying a large part of a large document: %v", err)
	}
	checkError(t, applyCase{doc: big, patch: `[{"op":"copy","from":"/a","path":"/b"},{"op":"copy","from":"/a","path":"/c"}]`,
		errOp: 1, errPath: "/a", errMsg: "more than 150003 values"})
	ops := "[" + strings.Repeat(`{"op":"test","path":"","value":{}},`, MaxOperations-1) + `{"op":"test","path":"","value":{}}]`
	if _, err := Apply([]byte(`{}`), []byte(ops)); err != nil {
		t.Errorf("patch of %d operations: %v", MaxOperations, err)
	}
}

func FuzzApply(f *testing.F) {
	for _, tc := range successCases {
		f.Add([]byte(tc.doc), []byte(tc.patch))
	}
	for _, tc := range errorCases {
		if len(tc.patch) < 4096 {
			f.Add([]byte(tc.doc), []byte(tc.patch))
		}
	}
	if cases, ok := loadOfficialCases(f); ok {
		for _, tc := range cases {
			f.Add([]byte(tc.Doc), []byte(tc.Patch))
		}
	}
	f.Fuzz(func(t *testing.T, doc, patch []byte) {
		out, err := Apply(doc, patch)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error %v has type %T, want *Error", err, err)
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("Apply returned invalid JSON %q", out)
		}
		// The output must be acceptable input, and already in canonical form.
		again, err := Apply(out, []byte(`[]`))
		if err != nil {
			t.Fatalf("re-applying to output %q: %v", out, err)
		}
		if !bytes.Equal(again, out) {
			t.Fatalf("output not stable: %q then %q", out, again)
		}
	})
}
