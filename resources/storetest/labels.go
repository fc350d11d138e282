package storetest

import (
	"context"
	"slices"
	"testing"

	"github.com/meizhou-yiyang/yiyang/resources"
	"github.com/meizhou-yiyang/yiyang/resources/search"
)

const (
	psy = "http://terminology.hl7.org/CodeSystem/v3-ActCode|PSY"
	hiv = "http://terminology.hl7.org/CodeSystem/v3-ActCode|HIV"
)

// labelled is the index of a Condition with the given security labels
// (system|code).
func labelled(labels ...string) *resources.Index {
	x := &resources.Index{Tokens: []resources.TokenEntry{{Param: "code", System: "http://snomed.info/sct", Code: "35489007"}}}
	for _, l := range labels {
		i := len(l) - len("|PSY")
		x.Tokens = append(x.Tokens, resources.TokenEntry{Param: "_security", System: l[:i], Code: l[i+1:]})
	}
	return x
}

// testSecurityLabels checks Query.ExcludeLabels: searches leave out the
// resources whose current version carries an excluded label, as written by
// create (one and batched), update, reindex and delete.
func testSecurityLabels(t *testing.T, s resources.Store) {
	ctx := context.Background()
	cond := []byte(`{"resourceType":"Condition","subject":{"reference":"Patient/p1"}}`)
	create := func(labels ...string) resources.Resource {
		t.Helper()
		r, err := s.Create(ctx, resources.CreateParams{Type: "Condition", Data: cond, Index: labelled(labels...)})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	plain := create()
	mental := create(psy)
	both := create(hiv, psy)
	other := create("http://example.org/labels|PSY") // same code, another system
	var ps []resources.CreateParams
	for i := range 20 {
		var x *resources.Index
		if i%2 == 0 {
			x = labelled(hiv)
		} else {
			x = labelled()
		}
		ps = append(ps, resources.CreateParams{Type: "Condition", Data: cond, Index: x})
	}
	batch, err := s.(resources.BatchCreator).CreateMany(ctx, ps)
	if err != nil {
		t.Fatal(err)
	}
	se := s.(Searcher)
	want := func(why string, exclude []string, rs ...resources.Resource) {
		t.Helper()
		for _, typ := range []string{"Condition", ""} {
			page, err := se.Search(ctx, &search.Query{Type: typ, Count: 100, Total: "accurate", ExcludeLabels: exclude})
			if err != nil {
				t.Fatal(err)
			}
			got, w := plainIDs(page.Matches), plainIDs(rs)
			slices.Sort(got)
			slices.Sort(w)
			if !slices.Equal(got, w) || page.Total != int64(len(w)) {
				t.Errorf("%s (type %q): %d matches (total %d), want %d", why, typ, len(got), page.Total, len(w))
			}
		}
	}
	var oddBatch []resources.Resource
	for i, r := range batch {
		if i%2 == 1 {
			oddBatch = append(oddBatch, r)
		}
	}
	all := append([]resources.Resource{plain, mental, both, other}, batch...)
	want("no exclusion", nil, all...)
	want("excluding PSY and HIV", []string{psy, hiv}, append([]resources.Resource{plain, other}, oddBatch...)...)
	want("excluding PSY", []string{psy}, append([]resources.Resource{plain, other}, batch...)...)

	// An update replaces the labels; so does a reindex; a deletion leaves.
	mental2, _, err := s.Update(ctx, resources.UpdateParams{Type: "Condition", ID: mental.ID, Data: cond, Index: labelled()})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = s.Update(ctx, resources.UpdateParams{Type: "Condition", ID: plain.ID, Data: cond, Index: labelled(psy)})
	if err != nil {
		t.Fatal(err)
	}
	if done, err := s.(Reindexer).Reindex(ctx, "Condition", both.ID, 1, labelled()); err != nil || !done {
		t.Fatalf("reindex: %v %v", done, err)
	}
	if done, err := s.(Reindexer).Reindex(ctx, "Condition", other.ID, 1, labelled(psy)); err != nil || !done {
		t.Fatalf("reindex: %v %v", done, err)
	}
	if _, err := s.Delete(ctx, resources.DeleteParams{Type: "Condition", ID: batch[1].ID}); err != nil {
		t.Fatal(err)
	}
	want("after updates, reindex and a delete", []string{psy, hiv}, append([]resources.Resource{mental2, both}, oddBatch[1:]...)...)
	// Labels are matched whole: no wildcard or prefix of one excludes.
	for _, l := range []string{"http://terminology.hl7.org/CodeSystem/v3-ActCode|PS", "%|PSY", "_ttp://terminology.hl7.org/CodeSystem/v3-ActCode|PSY"} {
		page, err := se.Search(ctx, &search.Query{Type: "Condition", Count: 100, ExcludeLabels: []string{l}})
		if err != nil || len(page.Matches) != len(all)-1 {
			t.Errorf("excluding %q: %d matches of %d (%v)", l, len(page.Matches), len(all)-1, err)
		}
	}
}

// LabelledForMigration creates, in a fresh store, a Condition labelled PSY
// and one without labels; a backend's test then runs LegacyLabelsSQL (the
// database as before migration 9), migrates again and calls
// CheckMigratedLabels.
func LabelledForMigration(t *testing.T, s resources.Store) (labelledID, plainID string) {
	t.Helper()
	ctx := context.Background()
	cond := []byte(`{"resourceType":"Condition","subject":{"reference":"Patient/p1"}}`)
	a, err := s.Create(ctx, resources.CreateParams{Type: "Condition", Data: cond, Index: labelled(psy)})
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Create(ctx, resources.CreateParams{Type: "Condition", Data: cond, Index: labelled()})
	if err != nil {
		t.Fatal(err)
	}
	return a.ID, b.ID
}

// LegacyLabelsSQL puts a database back to before migration 9.
var LegacyLabelsSQL = []string{
	"ALTER TABLE resources DROP COLUMN labels",
	"DELETE FROM schema_migrations WHERE version = 9",
}

// CheckMigratedLabels checks that migration 9 filled the labels of the
// resources from their _security index entries.
func CheckMigratedLabels(t *testing.T, s resources.Store, labelledID, plainID string) {
	t.Helper()
	page, err := s.(Searcher).Search(context.Background(), &search.Query{Type: "Condition", Count: 10, ExcludeLabels: []string{psy}})
	if err != nil {
		t.Fatal(err)
	}
	if got := plainIDs(page.Matches); !slices.Equal(got, []string{plainID}) {
		t.Errorf("after migration 9, excluding PSY finds %v, want only %s (not %s)", got, plainID, labelledID)
	}
}
