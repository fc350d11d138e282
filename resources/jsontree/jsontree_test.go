package jsontree

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func mustParse(t *testing.T, s string) any {
	t.Helper()
	v, err := Parse([]byte(s), 200)
	if err != nil {
		t.Fatalf("Parse(%s): %v", s, err)
	}
	return v
}

// nested returns n arrays nested in each other around inner.
func nested(n int, inner string) string {
	return strings.Repeat("[", n) + inner + strings.Repeat("]", n)
}

func TestParseEncode(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"scalar true", `true`, `true`},
		{"null", ` null `, `null`},
		{"numbers kept as written", `{"a":1.50,"b":1e+10,"c":-0.0,"d":2.500E-3,"e":12345678901234567890}`, `{"a":1.50,"b":1e+10,"c":-0.0,"d":2.500E-3,"e":12345678901234567890}`},
		{"member order kept", `{"b":1,"a":2,"c":{"z":0,"y":1}}`, `{"b":1,"a":2,"c":{"z":0,"y":1}}`},
		{"compact", " { \"a\" : [ 1 , 2 ] ,\n\t\"b\" : { } , \"c\" : [ ] } ", `{"a":[1,2],"b":{},"c":[]}`},
		{"no HTML escaping", `{"a":"<b>&amp;</b>","c":"\u2028"}`, "{\"a\":\"<b>&amp;</b>\",\"c\":\"\u2028\"}"},
		{"control characters escaped", `["\u0001\t\"\\\n\r\u001f/"]`, `["\u0001\t\"\\\n\r\u001f/"]`},
		{"escapes decoded", `"\u00e9\/"`, `"é/"`},
		{"invalid UTF-8 replaced", "\"a\xffb\"", "\"a\ufffdb\""},
		{"empty member name", `{"":1}`, `{"":1}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(Encode(nil, mustParse(t, tc.in))); got != tc.want {
				t.Errorf("Encode(Parse(%s)) = %s, want %s", tc.in, got, tc.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, in string
		kind     ErrorKind
		msg      string
	}{
		{"empty", ``, Truncated, "unexpected EOF"},
		{"blank", ` `, Truncated, "unexpected EOF"},
		{"unclosed object", `{`, Truncated, "unexpected EOF"},
		{"unclosed array", `[1,`, Truncated, "unexpected EOF"},
		{"truncated literal", `[tr`, Invalid, "unexpected EOF"},
		{"bad member", `{"a":}`, Invalid, "invalid character '}'"},
		{"trailing comma", `[1,]`, Invalid, "invalid character ']'"},
		{"trailing value", `[] []`, Trailing, "unexpected data after top-level value"},
		{"trailing garbage", `{} x`, Trailing, "invalid character 'x'"},
		{"duplicate", `{"a":{"b":1,"b":2}}`, Duplicate, `duplicate object member "b"`},
		{"duplicate in large object", `{"a":0,"b":0,"c":0,"d":0,"e":0,"f":0,"g":0,"h":0,"i":0,"j":0,"k":0,"l":0,"m":0,"n":0,"o":0,"p":0,"q":0,"r":0,"a":1}`, Duplicate, `duplicate object member "a"`},
		{"duplicate after switch to map", `{"a":0,"b":0,"c":0,"d":0,"e":0,"f":0,"g":0,"h":0,"i":0,"j":0,"k":0,"l":0,"m":0,"n":0,"o":0,"p":0,"q":0,"r":0,"r":1}`, Duplicate, `duplicate object member "r"`},
		{"too deep", nested(201, ""), TooDeep, "nesting deeper than 200 levels"},
		{"too deep in object", `{"a":` + nested(200, "") + `}`, TooDeep, "nesting deeper than 200 levels"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := Parse([]byte(tc.in), 200)
			if err == nil {
				t.Fatalf("Parse(%s) = %s, want an error", tc.in, Encode(nil, v))
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is a %T, want *ParseError", err, err)
			}
			if pe.Kind != tc.kind || !strings.Contains(pe.Error(), tc.msg) {
				t.Errorf("error %q of kind %d, want kind %d containing %q", pe, pe.Kind, tc.kind, tc.msg)
			}
		})
	}
}

func TestParseDepthLimit(t *testing.T) {
	if _, err := Parse([]byte(nested(200, "1")), 200); err != nil {
		t.Errorf("depth 200: %v", err)
	}
	if _, err := Parse([]byte(nested(3, "")), 3); err != nil {
		t.Errorf("depth 3 with limit 3: %v", err)
	}
	if _, err := Parse([]byte(nested(4, "")), 3); err == nil {
		t.Error("depth 4 with limit 3 accepted")
	}
	if _, err := Parse([]byte(`1`), 0); err != nil {
		t.Errorf("scalar with limit 0: %v", err)
	}
}

// TestDecoder walks the outer array itself, as a caller bounding the number
// of elements does, and lets the Decoder build the elements.
func TestDecoder(t *testing.T) {
	d := NewDecoder([]byte(` [ {"a":[1]} , 2 , "x" ] `), 3)
	tok, err := d.Token()
	if err != nil || tok != json.Delim('[') {
		t.Fatalf("Token = %v, %v; want [", tok, err)
	}
	var got []string
	for d.More() {
		tok, err := d.Token()
		if err != nil {
			t.Fatal(err)
		}
		v, err := d.Value(tok, 1)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(Encode(nil, v)))
	}
	if err := d.ReadDelim(']'); err != nil {
		t.Fatal(err)
	}
	if err := d.End(); err != nil {
		t.Fatal(err)
	}
	if want := `{"a":[1]}|2|"x"`; strings.Join(got, "|") != want {
		t.Errorf("elements %s, want %s", strings.Join(got, "|"), want)
	}

	// The depth passed to Value counts the containers the caller opened.
	d = NewDecoder([]byte(`[[[]]]`), 2)
	d.Token()
	tok, _ = d.Token()
	if _, err := d.Value(tok, 1); err == nil {
		t.Error("Value accepted a value nested 3 levels deep with limit 2")
	}
}

func TestObject(t *testing.T) {
	o := mustParse(t, `{"b":1,"a":2,"c":3}`).(*Object)
	if i := o.Index("a"); i != 1 {
		t.Errorf(`Index("a") = %d, want 1`, i)
	}
	if i := o.Index("x"); i != -1 {
		t.Errorf(`Index("x") = %d, want -1`, i)
	}
	if v, ok := o.Get("c"); !ok || v != json.Number("3") {
		t.Errorf(`Get("c") = %v, %t`, v, ok)
	}
	if v, ok := o.Get("x"); ok || v != nil {
		t.Errorf(`Get("x") = %v, %t`, v, ok)
	}
	o.Set("a", "x") // keeps its place
	o.Set("d", nil) // goes last
	o.Delete("b")
	o.Delete("nope")
	if got, want := string(Encode(nil, o)), `{"a":"x","c":3,"d":null}`; got != want {
		t.Errorf("after Set and Delete: %s, want %s", got, want)
	}
}

func TestCopy(t *testing.T) {
	orig := mustParse(t, `{"a":{"x":[1,{"y":true}]},"b":"s"}`)
	c := Copy(orig)
	if !Equal(orig, c) {
		t.Fatal("copy differs from the original")
	}
	x, _ := c.(*Object).Members[0].Val.(*Object).Get("x")
	x.(*Array).Elems = append(x.(*Array).Elems, json.Number("2"))
	x.(*Array).Elems[1].(*Object).Set("y", false)
	c.(*Object).Set("b", "t")
	if got, want := string(Encode(nil, orig)), `{"a":{"x":[1,{"y":true}]},"b":"s"}`; got != want {
		t.Errorf("original changed with its copy: %s", got)
	}
}

func TestDepthAndCount(t *testing.T) {
	tests := []struct {
		in           string
		depth, count int
	}{
		{`1`, 0, 1},
		{`[]`, 1, 1},
		{`{}`, 1, 1},
		{`[1,[2,{"a":[]}]]`, 4, 6},
		{`{"a":1,"b":{"c":null}}`, 2, 4},
	}
	for _, tc := range tests {
		v := mustParse(t, tc.in)
		if got := Depth(v); got != tc.depth {
			t.Errorf("Depth(%s) = %d, want %d", tc.in, got, tc.depth)
		}
		if got := Count(v, 1000); got != tc.count {
			t.Errorf("Count(%s) = %d, want %d", tc.in, got, tc.count)
		}
	}
	// Count stops early, but always reports more than the limit.
	big := mustParse(t, "["+strings.Repeat("0,", 10_000)+"0]")
	if got := Count(big, 10); got <= 10 || got > 12 {
		t.Errorf("Count with limit 10 = %d, want just above 10", got)
	}
}

func TestEqual(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{`1`, `1.0`, true},
		{`[100,0.5,-0,1E2]`, `[1e2,5e-1,0.0,10000e-2]`, true},
		{`{"a":1,"b":[true,null]}`, `{"b":[true,null],"a":1}`, true},
		{`"é\n"`, `"\u00e9\u000a"`, true},
		{`null`, `null`, true},
		{`[1,2]`, `[2,1]`, false},
		{`{"a":1}`, `{"a":1,"b":2}`, false},
		{`{"a":1}`, `{"b":1}`, false},
		{`10`, `"10"`, false},
		{`0`, `null`, false},
		{`false`, `null`, false},
		{`true`, `false`, false},
		{`[]`, `{}`, false},
		{`[12345678901234567890]`, `[12345678901234567891]`, false},
	}
	for _, tc := range tests {
		a, b := mustParse(t, tc.a), mustParse(t, tc.b)
		if got := Equal(a, b); got != tc.want {
			t.Errorf("Equal(%s, %s) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
		if got := Equal(b, a); got != tc.want {
			t.Errorf("Equal(%s, %s) = %v, want %v", tc.b, tc.a, got, tc.want)
		}
	}
}

func TestDecimalEquality(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"1", "1.0", true}, {"1", "1e0", true}, {"10", "1e1", true}, {"0.01", "1E-2", true},
		{"-0", "0", true}, {"0e5", "0.000", true}, {"120", "1.2e+2", true}, {"1.50", "1.5", true},
		{"1", "-1", false}, {"1", "10", false}, {"0.1", "0.01", false},
		{"1e999999999999999999999", "10e999999999999999999998", true},
		{"1e999999999999999999999", "1e999999999999999999998", false},
		{"100000000000000000000000000001", "100000000000000000000000000000", false},
		{"x", "x", true}, {"x", "y", false}, {"1", "1x", false},
	}
	for _, tc := range tests {
		if got := Equal(json.Number(tc.a), json.Number(tc.b)); got != tc.want {
			t.Errorf("Equal(%s, %s) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestEncodePanicsOnForeignTypes(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Encode of an int did not panic")
		}
	}()
	Encode(nil, 1)
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"a":[1,2.50,-0e+3],"b":{"":null,"c":"<&>\u2028"},"d":true}`,
		`[1,[2,[3]]]`, `"\u0000\ud800"`, `{"a":1,"a":2}`, `{} x`, nested(10, "{}"), ``,
		`{"a":0,"b":0,"c":0,"d":0,"e":0,"f":0,"g":0,"h":0,"i":0,"j":0,"k":0,"l":0,"m":0,"n":0,"o":0,"p":0,"q":0,"r":0}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := Parse(data, 20)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is a %T, want *ParseError", err, err)
			}
			return
		}
		if !json.Valid(data) {
			t.Fatalf("Parse accepted invalid JSON %q", data)
		}
		out := Encode(nil, v)
		if !json.Valid(out) {
			t.Fatalf("Encode returned invalid JSON %q", out)
		}
		again, err := Parse(out, 20)
		if err != nil {
			t.Fatalf("Parse(Encode(v)) = %v for %q", err, out)
		}
		if !Equal(v, again) {
			t.Fatalf("value changed through Encode: %q", out)
		}
		if out2 := Encode(nil, again); string(out2) != string(out) {
			t.Fatalf("encoding not stable: %q then %q", out, out2)
		}
		if Depth(v) > 20 {
			t.Fatalf("Parse accepted depth %d with limit 20", Depth(v))
		}
		if c := Copy(v); !Equal(v, c) || string(Encode(nil, c)) != string(out) {
			t.Fatalf("Copy differs from the original %q", out)
		}
	})
}
