package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"testing"

	"github.com/meizhou-yiyang/yiyang/resources"
	"github.com/meizhou-yiyang/yiyang/resources/search"
)

// Searcher is implemented by every store.
type Searcher interface {
	Search(ctx context.Context, q *search.Query) (search.Page, error)
}

// scopeFixture holds two patients' records and one shared resource.
type scopeFixture struct {
	a, b           resources.Resource // Patients
	aObs, aLab     resources.Resource // A's vital-signs and laboratory Observations
	bObs           resources.Resource // B's Observation
	org            resources.Resource // outside the Patient compartment
	patientA       *search.Scope
	vitalsOfA      *search.Scope
	categoryFilter search.Filter
}

func observation(t *testing.T, s resources.Ops, patient, category string) resources.Resource {
	t.Helper()
	data := fmt.Appendf(nil, `{"resourceType":"Observation","status":"final","category":[{"coding":[{"code":%q}]}],"code":{"text":"x"},"subject":{"reference":"Patient/%s"}}`, category, patient)
	x := &resources.Index{
		References: []resources.ReferenceEntry{{Param: "subject", TargetType: "Patient", TargetID: patient}, {Param: "patient", TargetType: "Patient", TargetID: patient}},
		Tokens:     []resources.TokenEntry{{Param: "category", System: "http://terminology.hl7.org/CodeSystem/observation-category", Code: category}},
	}
	r, err := s.Create(context.Background(), resources.CreateParams{Type: "Observation", Data: data, Index: x})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func newScopeFixture(t *testing.T, s resources.Store) *scopeFixture {
	f := &scopeFixture{}
	f.a = mustCreate(t, s, "Patient", patient("A"))
	f.b = mustCreate(t, s, "Patient", patient("B"))
	f.aObs = observation(t, s, f.a.ID, "vital-signs")
	f.aLab = observation(t, s, f.a.ID, "laboratory")
	f.bObs = observation(t, s, f.b.ID, "vital-signs")
	f.org = mustCreate(t, s, "Organization", []byte(`{"resourceType":"Organization","name":"Meizhou"}`))
	comp := &search.Compartment{Type: "Patient", ID: f.a.ID, Params: map[string][]string{
		"Patient": {"{def}", "link"}, "Observation": {"subject", "performer"},
	}}
	f.patientA = &search.Scope{Compartment: comp}
	f.categoryFilter = categoryFilter("vital-signs")
	f.vitalsOfA = &search.Scope{Compartment: comp, Restrict: map[string][][]search.Filter{"Observation": {{f.categoryFilter}}}}
	return f
}

// testScope checks that a search.Scope in the context confines every
// interaction of the store inside its queries.
func testScope(t *testing.T, s resources.Store) {
	f := newScopeFixture(t, s)
	ctx := search.WithScope(context.Background(), f.patientA)

	// Reads: B's resources are not found; A's and shared ones are.
	for _, r := range []resources.Resource{f.a, f.aObs, f.aLab, f.org} {
		if _, err := s.Read(ctx, r.Type, r.ID); err != nil {
			t.Errorf("read %s/%s in scope: %v", r.Type, r.ID, err)
		}
		if _, err := s.VRead(ctx, r.Type, r.ID, 1); err != nil {
			t.Errorf("vread %s/%s in scope: %v", r.Type, r.ID, err)
		}
	}
	for _, r := range []resources.Resource{f.b, f.bObs} {
		_, err := s.Read(ctx, r.Type, r.ID)
		wantErr(t, err, resources.ErrNotFound)
		_, err = s.VRead(ctx, r.Type, r.ID, 1)
		wantErr(t, err, resources.ErrNotFound)
		_, err = s.History(ctx, resources.HistoryParams{Type: r.Type, ID: r.ID})
		wantErr(t, err, resources.ErrNotFound)
	}

	// History at every level lists only what the scope admits.
	for _, p := range []resources.HistoryParams{{Type: "Observation"}, {Type: "Patient"}, {}} {
		page, err := s.History(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Entries {
			if e.ID == f.b.ID || e.ID == f.bObs.ID {
				t.Errorf("history %+v returned %s/%s of patient B", p, e.Type, e.ID)
			}
		}
		if p.Type == "" && !slices.Contains(plainIDs(page.Entries), f.org.ID) {
			t.Errorf("system history lost the shared Organization")
		}
	}
	if page, err := s.History(ctx, resources.HistoryParams{Type: "Observation", ID: f.aObs.ID}); err != nil || len(page.Entries) != 1 {
		t.Errorf("instance history of A's Observation: %v %v", page, err)
	}

	// Searches: the main query, with and without filters.
	se := s.(Searcher)
	page, err := se.Search(ctx, &search.Query{Type: "Observation", Count: 50})
	if err != nil {
		t.Fatal(err)
	}
	if got := plainIDs(page.Matches); len(got) != 2 || slices.Contains(got, f.bObs.ID) {
		t.Errorf("Observation search in A's scope: %v", got)
	}
	page, err = se.Search(ctx, &search.Query{Count: 50, Total: "accurate"})
	if err != nil {
		t.Fatal(err)
	}
	if got := plainIDs(page.Matches); slices.Contains(got, f.b.ID) || slices.Contains(got, f.bObs.ID) || !slices.Contains(got, f.org.ID) || page.Total != int64(len(got)) {
		t.Errorf("system search in A's scope: %v (total %d)", got, page.Total)
	}

	// Writes: creating, updating or deleting outside the compartment is refused.
	bData := fmt.Appendf(nil, `{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/%s"}}`, f.b.ID)
	bIndex := &resources.Index{References: []resources.ReferenceEntry{{Param: "subject", TargetType: "Patient", TargetID: f.b.ID}}}
	aIndex := &resources.Index{References: []resources.ReferenceEntry{{Param: "subject", TargetType: "Patient", TargetID: f.a.ID}}}
	_, err = s.Create(ctx, resources.CreateParams{Type: "Observation", Data: bData, Index: bIndex})
	wantErr(t, err, search.ErrOutOfScope)
	_, _, err = s.Update(ctx, resources.UpdateParams{Type: "Observation", ID: f.bObs.ID, Data: bData, Index: aIndex})
	wantErr(t, err, search.ErrOutOfScope)
	_, _, err = s.Update(ctx, resources.UpdateParams{Type: "Observation", ID: f.aObs.ID, Data: bData, Index: bIndex})
	wantErr(t, err, search.ErrOutOfScope)
	_, _, err = s.Update(ctx, resources.UpdateParams{Type: "Observation", ID: "new-for-b", Data: bData, Index: bIndex})
	wantErr(t, err, search.ErrOutOfScope)
	// Under a limiting scope an update never creates, not even in the
	// compartment: it would tell free ids from others' (see RefuseUpdate).
	_, _, err = s.Update(ctx, resources.UpdateParams{Type: "Observation", ID: "new-for-a", Data: bData, Index: aIndex})
	wantErr(t, err, search.ErrOutOfScope)
	_, err = s.Delete(ctx, resources.DeleteParams{Type: "Observation", ID: f.bObs.ID})
	wantErr(t, err, resources.ErrNotFound)
	if r, err := s.Read(context.Background(), "Observation", f.bObs.ID); err != nil || r.VersionID != 1 {
		t.Fatalf("B's Observation changed by refused writes: %+v %v", r, err)
	}
	kept := &resources.Index{References: aIndex.References, Tokens: []resources.TokenEntry{{Param: "category", Code: "vital-signs"}}}
	if _, _, err := s.Update(ctx, resources.UpdateParams{Type: "Observation", ID: f.aObs.ID, Data: bData, Index: kept}); err != nil {
		t.Errorf("update of A's Observation in scope: %v", err)
	}

	// Inside a transaction the same holds.
	err = s.WithTx(ctx, func(ctx context.Context, tx resources.Ops) error {
		if _, err := tx.Read(ctx, "Observation", f.bObs.ID); !errors.Is(err, resources.ErrNotFound) {
			return fmt.Errorf("tx read of B's Observation: %v", err)
		}
		if _, err := tx.Delete(ctx, resources.DeleteParams{Type: "Patient", ID: f.b.ID}); !errors.Is(err, resources.ErrNotFound) {
			return fmt.Errorf("tx delete of Patient B: %v", err)
		}
		page, err := tx.(Searcher).Search(ctx, &search.Query{Type: "Patient", Count: 10})
		if err != nil {
			return err
		}
		if got := plainIDs(page.Matches); len(got) != 1 || got[0] != f.a.ID {
			return fmt.Errorf("tx Patient search: %v", got)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}

	// A granular restriction narrows further, on reads and on writes.
	vctx := search.WithScope(context.Background(), f.vitalsOfA)
	if _, err := s.Read(vctx, "Observation", f.aLab.ID); !errors.Is(err, resources.ErrNotFound) {
		t.Errorf("laboratory Observation read under a vital-signs scope: %v", err)
	}
	page, err = se.Search(vctx, &search.Query{Type: "Observation", Count: 50})
	if err != nil {
		t.Fatal(err)
	}
	if got := plainIDs(page.Matches); len(got) != 1 {
		t.Errorf("Observation search under a vital-signs scope: %v", got)
	}
	labIndex := &resources.Index{References: aIndex.References, Tokens: []resources.TokenEntry{{Param: "category", Code: "laboratory"}}}
	_, err = s.Create(vctx, resources.CreateParams{Type: "Observation", Data: bData, Index: labIndex})
	wantErr(t, err, search.ErrOutOfScope)

	// Without a scope nothing is limited.
	if _, err := s.Read(context.Background(), "Patient", f.b.ID); err != nil {
		t.Errorf("unscoped read: %v", err)
	}
}

func plainIDs(rs []resources.Resource) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

// subjectIndex is the index of an Observation whose subject is Patient/id.
func subjectIndex(id string) *resources.Index {
	return &resources.Index{References: []resources.ReferenceEntry{{Param: "subject", TargetType: "Patient", TargetID: id}}}
}

// historyVersions lists the versions of a history page (up to 100) as
// id/version, sorted.
func historyVersions(t *testing.T, s resources.Store, ctx context.Context, p resources.HistoryParams) []string {
	t.Helper()
	p.Count = 100
	page, err := s.History(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range page.Entries {
		out = append(out, e.ID+"/"+strconv.FormatInt(e.VersionID, 10))
	}
	sort.Strings(out)
	return out
}

// categoryFilter is a granular scope's category=code.
func categoryFilter(code string) search.Filter {
	return search.Filter{Param: search.ParamDef{Code: "category", Type: "token"}, Values: []search.Value{{Raw: code, Code: code}}}
}

// testVersionScope: under a patient's scope, vread and history (instance,
// type and system) show only the versions that were in the patient's
// compartment: an Observation filed under B and then corrected to A shows
// A its second version, not its first; one moved from A to B shows A
// nothing. A deletion is in the compartment of the version it removed.
func testVersionScope(t *testing.T, s resources.Store) {
	bg := context.Background()
	obs := []byte(`{"resourceType":"Observation","status":"final","code":{"text":"x"}}`)
	put := func(id, patient string) {
		t.Helper()
		if _, _, err := s.Update(bg, resources.UpdateParams{Type: "Observation", ID: id, Data: obs, Index: subjectIndex(patient)}); err != nil {
			t.Fatal(err)
		}
	}
	put("to-a", "b")
	put("to-a", "a")
	put("to-b", "a")
	put("to-b", "b")
	put("stays", "a")
	c, _ := search.CompartmentOf("Patient", "a", true)
	ctx := search.WithScope(bg, &search.Scope{Compartment: c})
	vread := func(id string, v int64) error {
		_, err := s.VRead(ctx, "Observation", id, v)
		return err
	}
	if err := vread("to-a", 2); err != nil {
		t.Errorf("vread of the version in A's compartment: %v", err)
	}
	for _, v := range []struct {
		id string
		n  int64
	}{{"to-a", 1}, {"to-b", 1}, {"to-b", 2}} {
		if err := vread(v.id, v.n); !errors.Is(err, resources.ErrNotFound) {
			t.Errorf("vread %s/%d under A's scope: %v, want not found", v.id, v.n, err)
		}
	}
	versions := func(p resources.HistoryParams) []string { return historyVersions(t, s, ctx, p) }
	if got, want := versions(resources.HistoryParams{Type: "Observation", ID: "to-a"}), []string{"to-a/2"}; !slices.Equal(got, want) {
		t.Errorf("instance history: %v, want %v", got, want)
	}
	for _, typ := range []string{"Observation", ""} {
		if got, want := versions(resources.HistoryParams{Type: typ}), []string{"stays/1", "to-a/2"}; !slices.Equal(got, want) {
			t.Errorf("history %q: %v, want %v", typ, got, want)
		}
	}
	// A deletion belongs to the record it removed from: the patient's
	// scope reads it as gone and lists it in history (as a client syncing
	// through history must), B's and a restricted scope do not.
	if _, err := s.Delete(ctx, resources.DeleteParams{Type: "Observation", ID: "stays"}); err != nil {
		t.Fatalf("delete under A's scope: %v", err)
	}
	if _, err := s.Read(ctx, "Observation", "stays"); !errors.Is(err, resources.ErrGone) {
		t.Errorf("read of A's deleted Observation under A's scope: %v, want gone", err)
	}
	// Deleting it again changes nothing and answers with the deletion, as
	// it would without a scope.
	if d, err := s.Delete(ctx, resources.DeleteParams{Type: "Observation", ID: "stays", IfMatch: 2}); err != nil || !d.Deleted || d.VersionID != 2 {
		t.Errorf("repeated delete under A's scope: %+v %v, want the deletion", d, err)
	}
	if err := vread("stays", 2); !errors.Is(err, resources.ErrGone) {
		t.Errorf("vread of the deletion under A's scope: %v, want gone", err)
	}
	if got, want := versions(resources.HistoryParams{Type: "Observation", ID: "stays"}), []string{"stays/1", "stays/2"}; !slices.Equal(got, want) {
		t.Errorf("instance history after a delete: %v, want %v", got, want)
	}
	for _, typ := range []string{"Observation", ""} {
		if got, want := versions(resources.HistoryParams{Type: typ}), []string{"stays/1", "stays/2", "to-a/2"}; !slices.Equal(got, want) {
			t.Errorf("history %q after a delete: %v, want %v", typ, got, want)
		}
	}
	cb, _ := search.CompartmentOf("Patient", "b", true)
	restricted := &search.Scope{Compartment: c, Restrict: map[string][][]search.Filter{"Observation": {{categoryFilter("vital-signs")}}}}
	for name, scope := range map[string]*search.Scope{"B's": {Compartment: cb}, "a restricted": restricted} {
		sctx := search.WithScope(bg, scope)
		if _, err := s.Read(sctx, "Observation", "stays"); !errors.Is(err, resources.ErrNotFound) {
			t.Errorf("read of A's deleted Observation under %s scope: %v, want not found", name, err)
		}
		if _, err := s.VRead(sctx, "Observation", "stays", 2); !errors.Is(err, resources.ErrNotFound) {
			t.Errorf("vread of A's deletion under %s scope: %v, want not found", name, err)
		}
		if _, err := s.Delete(sctx, resources.DeleteParams{Type: "Observation", ID: "stays", IfMatch: 2}); !errors.Is(err, resources.ErrNotFound) {
			t.Errorf("repeated delete of A's deletion under %s scope: %v, want not found", name, err)
		}
		page, err := s.History(sctx, resources.HistoryParams{Type: "Observation", Count: 100})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Entries {
			if e.ID == "stays" {
				t.Errorf("history under %s scope lists %s/%d", name, e.ID, e.VersionID)
			}
		}
	}
}

// testRestrictedVersions: under a granular scope (Observation restricted to
// category vital-signs), vread and history show only the current version
// of a resource that matches: an earlier version may not have matched
// (here it was a laboratory result), and no version of one that no longer
// matches is shown.
func testRestrictedVersions(t *testing.T, s resources.Store) {
	bg := context.Background()
	obs := []byte(`{"resourceType":"Observation","status":"final","code":{"text":"x"}}`)
	put := func(id, category string) {
		t.Helper()
		x := &resources.Index{Tokens: []resources.TokenEntry{{Param: "category", Code: category}}}
		if _, _, err := s.Update(bg, resources.UpdateParams{Type: "Observation", ID: id, Data: obs, Index: x}); err != nil {
			t.Fatal(err)
		}
	}
	put("now-vital", "laboratory")
	put("now-vital", "vital-signs")
	put("now-lab", "vital-signs")
	put("now-lab", "laboratory")
	ctx := search.WithScope(bg, &search.Scope{Restrict: map[string][][]search.Filter{"Observation": {{categoryFilter("vital-signs")}}}})
	if _, err := s.VRead(ctx, "Observation", "now-vital", 2); err != nil {
		t.Errorf("vread of the current, matching version: %v", err)
	}
	for _, v := range []struct {
		id string
		n  int64
	}{{"now-vital", 1}, {"now-lab", 1}, {"now-lab", 2}} {
		if _, err := s.VRead(ctx, "Observation", v.id, v.n); !errors.Is(err, resources.ErrNotFound) {
			t.Errorf("vread %s/%d under the restricted scope: %v, want not found", v.id, v.n, err)
		}
	}
	for _, p := range []resources.HistoryParams{{Type: "Observation", ID: "now-vital"}, {Type: "Observation"}, {}} {
		if got, want := historyVersions(t, s, ctx, p), []string{"now-vital/2"}; !slices.Equal(got, want) {
			t.Errorf("history %+v under the restricted scope: %v, want %v", p, got, want)
		}
	}
}

// testDeviceVersions: under a device's compartment (a device bridge), vread
// and history show only the current version of the device's resources: an
// Observation first recorded by another device for another patient and
// then re-attributed shows nothing of its first version.
func testDeviceVersions(t *testing.T, s resources.Store) {
	bg := context.Background()
	put := func(id, device, patient, text string) {
		t.Helper()
		x := &resources.Index{References: []resources.ReferenceEntry{
			{Param: "device", TargetType: "Device", TargetID: device},
			{Param: "subject", TargetType: "Patient", TargetID: patient},
		}}
		data := []byte(`{"resourceType":"Observation","status":"final","code":{"text":"` + text + `"}}`)
		if _, _, err := s.Update(bg, resources.UpdateParams{Type: "Observation", ID: id, Data: data, Index: x}); err != nil {
			t.Fatal(err)
		}
	}
	put("re-attributed", "d2", "b", "b-reading")
	put("re-attributed", "d1", "a", "a-reading")
	c, ok := search.CompartmentOf("Device", "d1", true)
	if !ok {
		t.Fatal("no Device compartment")
	}
	ctx := search.WithScope(bg, &search.Scope{Compartment: c})
	if _, err := s.VRead(ctx, "Observation", "re-attributed", 2); err != nil {
		t.Fatalf("vread of d1's version: %v", err)
	}
	if r, err := s.VRead(ctx, "Observation", "re-attributed", 1); !errors.Is(err, resources.ErrNotFound) {
		t.Errorf("vread of d2's version for Patient b under d1's scope: %v %s, want not found", err, r.Data)
	}
	for _, p := range []resources.HistoryParams{{Type: "Observation", ID: "re-attributed"}, {Type: "Observation"}, {}} {
		if got, want := historyVersions(t, s, ctx, p), []string{"re-attributed/2"}; !slices.Equal(got, want) {
			t.Errorf("history %+v under d1's scope: %v, want %v", p, got, want)
		}
	}
}

// testReadPatients: Create, CreateMany and Update tell the patients of the
// version they write; Read tells those recorded with the current version,
// also under a patient's scope; VRead tells those of the version it reads;
// a resource in no patient's compartment has none.
func testReadPatients(t *testing.T, s resources.Store) {
	ctx := context.Background()
	o := observation(t, s, "pa", "vital-signs")
	if o.Patients != "\npa\n" {
		t.Fatalf("create: patients %q", o.Patients)
	}
	for _, n := range []int{2, 20} { // pipelined, and copied (PostgreSQL)
		var ps []resources.CreateParams
		for i := range n {
			ps = append(ps, resources.CreateParams{Type: "Observation", Data: []byte(`{"resourceType":"Observation","status":"final","code":{"text":"x"}}`),
				Index: &resources.Index{References: []resources.ReferenceEntry{{Param: "subject", TargetType: "Patient", TargetID: fmt.Sprintf("pm%d", i)}}}})
		}
		many, err := s.(resources.BatchCreator).CreateMany(ctx, ps)
		if err != nil || len(many) != n {
			t.Fatalf("CreateMany of %d: %d %v", n, len(many), err)
		}
		for i, r := range many {
			if want := fmt.Sprintf("\npm%d\n", i); r.Patients != want {
				t.Fatalf("CreateMany of %d, resource %d: patients %q, want %q", n, i, r.Patients, want)
			}
		}
	}
	if r, err := s.Read(ctx, "Observation", o.ID); err != nil || r.Patients != "\npa\n" {
		t.Fatalf("read: patients %q %v", r.Patients, err)
	}
	data := []byte(`{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/pb"},"performer":[{"reference":"Patient/pa"}]}`)
	x := &resources.Index{References: []resources.ReferenceEntry{{Param: "subject", TargetType: "Patient", TargetID: "pb"},
		{Param: "patient", TargetType: "Patient", TargetID: "pb"}, {Param: "performer", TargetType: "Patient", TargetID: "pa"}}}
	if r, _, err := s.Update(ctx, resources.UpdateParams{Type: "Observation", ID: o.ID, Data: data, Index: x}); err != nil || r.Patients != "\npa\npb\n" {
		t.Fatalf("update: patients %q %v", r.Patients, err)
	}
	if r, err := s.Read(ctx, "Observation", o.ID); err != nil || r.Patients != "\npa\npb\n" || r.VersionID != 2 {
		t.Fatalf("read of version 2: patients %q v%d %v", r.Patients, r.VersionID, err)
	}
	pb, _ := search.CompartmentOf("Patient", "pb", true)
	if r, err := s.Read(search.WithScope(ctx, &search.Scope{Compartment: pb}), "Observation", o.ID); err != nil || r.Patients != "\npa\npb\n" {
		t.Fatalf("read of version 2 under pb's scope: patients %q %v", r.Patients, err)
	}
	if r, err := s.VRead(ctx, "Observation", o.ID, 1); err != nil || r.Patients != "\npa\n" {
		t.Fatalf("vread of version 1: %q %v", r.Patients, err)
	}
	org := mustCreate(t, s, "Organization", []byte(`{"resourceType":"Organization","name":"x"}`))
	if r, err := s.Read(ctx, "Organization", org.ID); err != nil || r.Patients != "" {
		t.Fatalf("read of an Organization: patients %q %v", r.Patients, err)
	}
	if _, err := s.Delete(ctx, resources.DeleteParams{Type: "Observation", ID: o.ID}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Read(ctx, "Observation", o.ID); !errors.Is(err, resources.ErrGone) {
		t.Fatalf("read of a deleted resource: %v", err)
	}
	// The deletion keeps the patients of the version it removed: pb's
	// history of the Observation lists it.
	h, err := s.History(search.WithScope(ctx, &search.Scope{Compartment: pb}), resources.HistoryParams{Type: "Observation", ID: o.ID, Count: 10})
	if err != nil || len(h.Entries) != 2 || !h.Entries[0].Deleted {
		t.Fatalf("history of the deleted Observation under pb's scope: %d entries %v", len(h.Entries), err)
	}
}
