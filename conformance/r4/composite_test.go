package r4

import (
	"fmt"
	"strings"
	"testing"
)

func TestCompositeParts(t *testing.T) {
	for _, tt := range []struct {
		typ, code string
		want      string // type:expression of each part
	}{
		{"Observation", "code-value-quantity", "token:code quantity:value.as(Quantity)"},
		{"Observation", "combo-code-value-concept", "token:code token:value.as(CodeableConcept)"},
		{"Observation", "code-value-date", "token:code date:value.as(dateTime) | value.as(Period)"},
		{"Group", "characteristic-value", "token:code token:value"},
		{"MolecularSequence", "chromosome-variant-coordinate", "token:%resource.referenceSeq.chromosome number:start number:end"},
		// The package crosses these two; the definitions' order is kept.
		{"DocumentReference", "relationship", "reference:target token:code"},
		{"ValueSet", "context-type-quantity", "token:code quantity:value.as(Quantity) | value.as(Range)"},
	} {
		p, ok := LookupSearchParam(tt.typ, tt.code)
		if !ok {
			t.Fatalf("%s.%s not found", tt.typ, tt.code)
		}
		parts, err := p.CompositeParts(tt.typ)
		if err != nil {
			t.Fatalf("%s.%s: %v", tt.typ, tt.code, err)
		}
		var got []string
		for _, c := range parts {
			got = append(got, c.Param.Type+":"+c.Expression)
		}
		if g := strings.Join(got, " "); g != tt.want {
			t.Errorf("%s.%s parts = %q, want %q", tt.typ, tt.code, g, tt.want)
		}
	}
	code, _ := LookupSearchParam("Observation", "code")
	if _, err := code.CompositeParts("Observation"); err == nil {
		t.Error("a token parameter has no parts")
	}
}

// TestEveryCompositeResolves checks that every composite of the package
// resolves, with at most three parts of indexable types.
func TestEveryCompositeResolves(t *testing.T) {
	n := 0
	for _, p := range SearchParams() {
		if p.Type != "composite" {
			continue
		}
		for _, b := range p.Base {
			parts, err := p.CompositeParts(b)
			if err != nil {
				t.Errorf("%s on %s: %v", p.URL, b, err)
				continue
			}
			if len(parts) < 2 || len(parts) > 3 {
				t.Errorf("%s: %d parts", p.URL, len(parts))
			}
			for _, c := range parts {
				switch c.Param.Type {
				case "token", "quantity", "date", "string", "number", "reference", "uri":
				default:
					t.Errorf("%s: part %s of type %s", p.URL, c.Param.Name, c.Param.Type)
				}
			}
			n++
		}
	}
	if n < 40 {
		t.Errorf("only %d (composite, base) pairs", n)
	}
	t.Log(fmt.Sprint(n, " (composite, base) pairs"))
}

func TestSearchParamByURL(t *testing.T) {
	p, ok := SearchParamByURL(urlPrefix + "Observation-value-quantity")
	if !ok || p.Name != "value-quantity" || p.Type != "quantity" {
		t.Errorf("got %+v %v", p, ok)
	}
	if _, ok := SearchParamByURL(urlPrefix + "nope"); ok {
		t.Error("found nope")
	}
}
