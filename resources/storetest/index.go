package storetest

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/meizhou-yiyang/yiyang/resources"
)

// Indexed is implemented by every store: it shows the index entries stored
// for a resource's current version.
type Indexed interface {
	IndexOf(ctx context.Context, typ, id string) (*resources.Index, error)
}

func sampleIndex(tag string) *resources.Index {
	return &resources.Index{
		Strings: []resources.StringEntry{
			{Param: "name", Norm: "li " + tag, Exact: "Li " + tag},
			{Param: "name", Norm: "wei", Exact: "Wei"},
		},
		Tokens: []resources.TokenEntry{
			{Param: "identifier", System: "urn:oid:2.16.156", Code: "110101" + tag},
			{Param: "gender", System: "http://hl7.org/fhir/administrative-gender", Code: "male", Text: "male"},
		},
		References: []resources.ReferenceEntry{
			{Param: "organization", TargetType: "Organization", TargetID: "o-" + tag},
			{Param: "general-practitioner", URL: "http://x.org/Practitioner/1"},
		},
		Dates:   []resources.DateEntry{{Param: "birthdate", Low: -631152000000000, High: -631065600000001}},
		Numbers: []resources.NumberEntry{{Param: "length", Value: 1.5, Low: 1.45, High: 1.55}},
		Quantities: []resources.QuantityEntry{{Param: "value-quantity", System: "http://unitsofmeasure.org", Code: "g",
			Value: 1500, Low: 1499.5, High: 1500.5, CanonCode: "g", CanonValue: 1500, CanonLow: 1499.5, CanonHigh: 1500.5}},
		URIs: []resources.URIEntry{{Param: "url", URI: "http://example.org/fhir/" + tag}},
		// Composite entries keep each field of up to three components.
		Composites: []resources.CompositeEntry{
			{Param: "component-code-value-quantity", Components: [resources.MaxComponents]resources.Component{
				{System: "http://loinc.org", Code: "8480-6"},
				{System: "http://unitsofmeasure.org", Code: "mm[Hg]", Value: 141.5, CanonCode: "mm[Hg]", CanonValue: 141.5}}},
			{Param: "relationship", Components: [resources.MaxComponents]resources.Component{
				{System: "DocumentReference", Code: "d-" + tag, Text: "http://x.org/DocumentReference/" + tag},
				{Code: "replaces"},
				{Value: -2.5, Low: -631152000000000, High: 9223372036854775807}}},
		},
		// The _text/_content row: replaced, removed and rolled back with the
		// entries above.
		Text: resources.TextEntry{Narrative: "li " + tag + " 北京", Content: "li " + tag + " wei 北京 urn:oid:2.16.156"},
	}
}

// Canonical returns a copy of x with every list sorted and empty lists nil,
// so that indexes built in different orders compare with reflect.DeepEqual.
func Canonical(x *resources.Index) *resources.Index {
	if x == nil {
		x = &resources.Index{}
	}
	c := *x
	c.Strings = sorted(c.Strings)
	c.Tokens = sorted(c.Tokens)
	c.References = sorted(c.References)
	c.Dates = sorted(c.Dates)
	c.Numbers = sorted(c.Numbers)
	c.Quantities = sorted(c.Quantities)
	c.URIs = sorted(c.URIs)
	c.Composites = sorted(c.Composites)
	return &c
}

// sorted is a sorted copy of list by its printed form, nil when empty.
func sorted[T any](list []T) []T {
	if len(list) == 0 {
		return nil
	}
	out := slices.Clone(list)
	slices.SortFunc(out, func(a, b T) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
	return out
}

func wantIndex(t *testing.T, s resources.Store, typ, id string, want *resources.Index) {
	t.Helper()
	ix, ok := s.(Indexed)
	if !ok {
		t.Fatalf("%T does not implement storetest.Indexed", s)
	}
	got, err := ix.IndexOf(context.Background(), typ, id)
	if err != nil {
		t.Fatalf("IndexOf %s/%s: %v", typ, id, err)
	}
	if g, w := Canonical(got), Canonical(want); !reflect.DeepEqual(g, w) {
		t.Fatalf("index of %s/%s:\n got %+v\nwant %+v", typ, id, g, w)
	}
}

func testIndexEntries(t *testing.T, s resources.Store) {
	ctx := context.Background()
	c, err := s.Create(ctx, resources.CreateParams{Type: "Patient", Data: patient("Li"), Index: sampleIndex("a")})
	if err != nil {
		t.Fatal(err)
	}
	wantIndex(t, s, "Patient", c.ID, sampleIndex("a"))
	// An update replaces the entries.
	if _, _, err := s.Update(ctx, resources.UpdateParams{Type: "Patient", ID: c.ID, Data: patient("Li"), Index: sampleIndex("b")}); err != nil {
		t.Fatal(err)
	}
	wantIndex(t, s, "Patient", c.ID, sampleIndex("b"))
	// Another resource's entries are its own.
	other, _, err := s.Update(ctx, resources.UpdateParams{Type: "Patient", ID: "other", Data: patient("W"), Index: sampleIndex("o")})
	if err != nil {
		t.Fatal(err)
	}
	wantIndex(t, s, "Patient", other.ID, sampleIndex("o"))
	wantIndex(t, s, "Patient", c.ID, sampleIndex("b"))
	// A delete removes them; a revival brings new ones.
	if _, err := s.Delete(ctx, resources.DeleteParams{Type: "Patient", ID: c.ID}); err != nil {
		t.Fatal(err)
	}
	wantIndex(t, s, "Patient", c.ID, nil)
	if _, _, err := s.Update(ctx, resources.UpdateParams{Type: "Patient", ID: c.ID, Data: patient("Li"), Index: sampleIndex("c")}); err != nil {
		t.Fatal(err)
	}
	wantIndex(t, s, "Patient", c.ID, sampleIndex("c"))
	// An update without entries clears them.
	if _, _, err := s.Update(ctx, resources.UpdateParams{Type: "Patient", ID: c.ID, Data: patient("Li")}); err != nil {
		t.Fatal(err)
	}
	wantIndex(t, s, "Patient", c.ID, nil)
	// Entries written in a rolled back transaction are gone with it; a
	// committed transaction keeps them.
	var rolled, kept string
	s.WithTx(ctx, func(ctx context.Context, tx resources.Ops) error {
		r, err := tx.Create(ctx, resources.CreateParams{Type: "Patient", Data: patient("x"), Index: sampleIndex("x")})
		rolled = r.ID
		if err != nil {
			return err
		}
		_, _, err = tx.Update(ctx, resources.UpdateParams{Type: "Patient", ID: other.ID, Data: patient("x"), Index: sampleIndex("x")})
		if err != nil {
			return err
		}
		return fmt.Errorf("roll back")
	})
	wantIndex(t, s, "Patient", other.ID, sampleIndex("o"))
	if _, err := s.(Indexed).IndexOf(ctx, "Patient", rolled); err != resources.ErrNotFound {
		t.Fatalf("rolled back resource: %v", err)
	}
	err = s.WithTx(ctx, func(ctx context.Context, tx resources.Ops) error {
		r, err := tx.Create(ctx, resources.CreateParams{Type: "Patient", Data: patient("k"), Index: sampleIndex("k")})
		kept = r.ID
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	wantIndex(t, s, "Patient", kept, sampleIndex("k"))
}

// Reindexer is implemented by every store: it rewrites the index entries of
// a current version ($reindex).
type Reindexer interface {
	Reindex(ctx context.Context, typ, id string, version int64, x *resources.Index) (bool, error)
}

func testReindex(t *testing.T, s resources.Store) {
	ctx := context.Background()
	rx, ok := s.(Reindexer)
	if !ok {
		t.Fatalf("%T does not implement storetest.Reindexer", s)
	}
	c, err := s.Create(ctx, resources.CreateParams{Type: "Patient", Data: patient("Li"), Index: sampleIndex("a")})
	if err != nil {
		t.Fatal(err)
	}
	if done, err := rx.Reindex(ctx, "Patient", c.ID, 1, sampleIndex("r")); err != nil || !done {
		t.Fatalf("reindex current version: %v %v", done, err)
	}
	wantIndex(t, s, "Patient", c.ID, sampleIndex("r"))
	if _, _, err := s.Update(ctx, resources.UpdateParams{Type: "Patient", ID: c.ID, Data: patient("Li"), Index: sampleIndex("u")}); err != nil {
		t.Fatal(err)
	}
	// A stale version is left alone: its successor was indexed by its own write.
	if done, err := rx.Reindex(ctx, "Patient", c.ID, 1, sampleIndex("stale")); err != nil || done {
		t.Fatalf("reindex of a stale version: %v %v", done, err)
	}
	wantIndex(t, s, "Patient", c.ID, sampleIndex("u"))
	if _, err := s.Delete(ctx, resources.DeleteParams{Type: "Patient", ID: c.ID}); err != nil {
		t.Fatal(err)
	}
	if done, err := rx.Reindex(ctx, "Patient", c.ID, 3, sampleIndex("gone")); err != nil || done {
		t.Fatalf("reindex of a deletion: %v %v", done, err)
	}
	wantIndex(t, s, "Patient", c.ID, nil)
}
