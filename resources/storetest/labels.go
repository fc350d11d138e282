package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"sync"
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

// Backfill is a schema step that fills a column from data written before
// it: a backend's test calls Prepare on a fresh store, runs Legacy (the
// database as before the step), opens the store again (which migrates)
// and calls Check with Prepare's ids.
type Backfill struct {
	Name    string
	Prepare func(t *testing.T, s resources.Store) (first, second string)
	Legacy  []string
	Check   func(t *testing.T, s resources.Store, first, second string)
}

// Backfills are migrations 9 (resources.labels from the _security index
// entries), 10 (resource_history.labels from each version's meta.security),
// 11 (resource_history.patients from the reference index), 12 (the
// patients and labels of deletions from the versions they removed) and 15
// (resources.patients from the current version's history row).
var Backfills = []Backfill{
	{"ResourceLabels", LabelledForMigration, LegacyLabelsSQL, CheckMigratedLabels},
	{"HistoryLabels", HistoryLabelledForMigration, LegacyHistoryLabelsSQL, CheckMigratedHistoryLabels},
	{"HistoryPatients", patientsForMigration, []string{
		"ALTER TABLE resource_history DROP COLUMN patients",
		"DELETE FROM schema_migrations WHERE version = 11",
	}, checkMigratedPatients},
	{"DeletionPatients", deletedForMigration, legacyDeletions, checkMigratedDeletion},
	{"DeletionLabels", deletedLabelledForMigration, legacyDeletions, checkMigratedDeletionLabels},
	{"ResourcePatients", patientsForMigration, []string{
		"ALTER TABLE resources DROP COLUMN patients",
		"DELETE FROM schema_migrations WHERE version = 15",
	}, checkMigratedResourcePatients},
}

// checkMigratedResourcePatients checks that migration 15 gave the current
// versions written before it their patients: reads tell them, and a
// deletion keeps them (a's scope lists it in the Observation's history).
func checkMigratedResourcePatients(t *testing.T, s resources.Store, observationID, patientID string) {
	t.Helper()
	ctx := context.Background()
	want := "\n" + patientID + "\n"
	for typ, id := range map[string]string{"Observation": observationID, "Patient": patientID} {
		if r, err := s.Read(ctx, typ, id); err != nil || r.Patients != want {
			t.Errorf("after migration 15, read of %s/%s: patients %q (%v), want %q", typ, id, r.Patients, err, want)
		}
	}
	if _, err := s.Delete(ctx, resources.DeleteParams{Type: "Observation", ID: observationID}); err != nil {
		t.Fatal(err)
	}
	c, _ := search.CompartmentOf("Patient", patientID, true)
	page, err := s.History(search.WithScope(ctx, &search.Scope{Compartment: c}), resources.HistoryParams{Type: "Observation", ID: observationID, Count: 10})
	if err != nil || len(page.Entries) != 2 {
		t.Errorf("after migration 15, the deleted Observation's history under its patient's scope has %d versions (%v), want 2", len(page.Entries), err)
	}
}

// legacyDeletions puts the deletions back to before migration 12: no
// patients, no labels.
var legacyDeletions = []string{
	"UPDATE resource_history SET patients = '', labels = '' WHERE deleted = true",
	"DELETE FROM schema_migrations WHERE version = 12",
}

// deletedLabelledForMigration writes a PSY-labelled Condition and deletes it.
func deletedLabelledForMigration(t *testing.T, s resources.Store) (conditionID, _ string) {
	t.Helper()
	ctx := context.Background()
	c, err := s.Create(ctx, resources.CreateParams{Type: "Condition", Data: []byte(`{"resourceType":"Condition"}`), Index: labelled(psy)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Delete(ctx, resources.DeleteParams{Type: "Condition", ID: c.ID}); err != nil {
		t.Fatal(err)
	}
	return c.ID, ""
}

// checkMigratedDeletionLabels checks that migration 12 gave a deletion
// recorded before it the labels of the version it removed: history
// excluding PSY shows nothing of the Condition.
func checkMigratedDeletionLabels(t *testing.T, s resources.Store, conditionID, _ string) {
	t.Helper()
	page, err := s.History(context.Background(), resources.HistoryParams{Type: "Condition", ExcludeLabels: []string{psy}, Count: 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range page.Entries {
		t.Errorf("after migration 12, history excluding PSY lists %s/%d", e.ID, e.VersionID)
	}
}

// deletedForMigration writes an Observation of Patient a's and deletes it.
func deletedForMigration(t *testing.T, s resources.Store) (observationID, patientID string) {
	t.Helper()
	id, patient := patientsForMigration(t, s)
	if _, err := s.Delete(context.Background(), resources.DeleteParams{Type: "Observation", ID: id}); err != nil {
		t.Fatal(err)
	}
	return id, patient
}

// checkMigratedDeletion checks that migration 12 put a deletion recorded
// before it in the compartment of the version it removed: a's scope reads
// the Observation as gone and lists both its versions.
func checkMigratedDeletion(t *testing.T, s resources.Store, observationID, patientID string) {
	t.Helper()
	c, _ := search.CompartmentOf("Patient", patientID, true)
	ctx := search.WithScope(context.Background(), &search.Scope{Compartment: c})
	if _, err := s.Read(ctx, "Observation", observationID); !errors.Is(err, resources.ErrGone) {
		t.Errorf("after migration 12, read of the deleted Observation under its patient's scope: %v, want gone", err)
	}
	page, err := s.History(ctx, resources.HistoryParams{Type: "Observation", ID: observationID, Count: 10})
	if err != nil || len(page.Entries) != 2 {
		t.Errorf("after migration 12, the Observation's history under its patient's scope has %d versions (%v), want 2", len(page.Entries), err)
	}
}

// patientsForMigration writes Patient/a and an Observation of a's.
func patientsForMigration(t *testing.T, s resources.Store) (observationID, patientID string) {
	t.Helper()
	ctx := context.Background()
	if _, _, err := s.Update(ctx, resources.UpdateParams{Type: "Patient", ID: "a", Data: []byte(`{"resourceType":"Patient"}`)}); err != nil {
		t.Fatal(err)
	}
	o, err := s.Create(ctx, resources.CreateParams{Type: "Observation", Data: []byte(`{"resourceType":"Observation","status":"final","code":{"text":"x"}}`),
		Index: subjectIndex("a")})
	if err != nil {
		t.Fatal(err)
	}
	return o.ID, "a"
}

// checkMigratedPatients checks that migration 11 put the versions written
// before it in their patient's compartment: a's scope reads both.
func checkMigratedPatients(t *testing.T, s resources.Store, observationID, patientID string) {
	t.Helper()
	c, _ := search.CompartmentOf("Patient", patientID, true)
	ctx := search.WithScope(context.Background(), &search.Scope{Compartment: c})
	for typ, id := range map[string]string{"Observation": observationID, "Patient": patientID} {
		if _, err := s.VRead(ctx, typ, id, 1); err != nil {
			t.Errorf("after migration 11, vread of %s/%s/1 under its patient's scope: %v", typ, id, err)
		}
	}
	page, err := s.History(ctx, resources.HistoryParams{Count: 10})
	if err != nil || len(page.Entries) != 2 {
		t.Errorf("after migration 11, the system history under the patient's scope has %d versions (%v), want 2", len(page.Entries), err)
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

// testLabelGuard: an update's or delete's LabelGuard sees the labels of
// the current version (as Index.SecurityLabels renders them), in the
// write's transaction; its error aborts the write, which leaves no
// version, and comes back as it is. It is not asked when there is no
// current version or it is deleted. Concurrent relabelling cannot slip
// between the guard and the write: updates racing a guard that refuses
// the label are all either refused or applied to an unlabelled version.
func testLabelGuard(t *testing.T, s resources.Store) {
	ctx := context.Background()
	cond := []byte(`{"resourceType":"Condition","subject":{"reference":"Patient/p1"}}`)
	r, err := s.Create(ctx, resources.CreateParams{Type: "Condition", Data: cond, Index: labelled(psy, hiv)})
	if err != nil {
		t.Fatal(err)
	}
	refused := errors.New("refused by the guard")
	var seen []string
	deny := func(labels string) error { seen = append(seen, labels); return refused }
	allow := func(labels string) error { seen = append(seen, labels); return nil }
	wantLabels := labelled(psy, hiv).SecurityLabels()

	_, _, err = s.Update(ctx, resources.UpdateParams{Type: "Condition", ID: r.ID, Data: cond, Guard: deny})
	if !errors.Is(err, refused) || len(seen) != 1 || seen[0] != wantLabels {
		t.Fatalf("refusing guard on update: %v, saw %q, want %q", err, seen, wantLabels)
	}
	_, err = s.Delete(ctx, resources.DeleteParams{Type: "Condition", ID: r.ID, Guard: deny})
	if !errors.Is(err, refused) || len(seen) != 2 || seen[1] != wantLabels {
		t.Fatalf("refusing guard on delete: %v, saw %q", err, seen)
	}
	if cur, err := s.Read(ctx, "Condition", r.ID); err != nil || cur.VersionID != 1 {
		t.Fatalf("after refused writes: version %d, %v; want 1", cur.VersionID, err)
	}
	// Inside a transaction too.
	err = s.WithTx(ctx, func(ctx context.Context, tx resources.Ops) error {
		_, _, err := tx.Update(ctx, resources.UpdateParams{Type: "Condition", ID: r.ID, Data: cond, Guard: deny})
		return err
	})
	if !errors.Is(err, refused) {
		t.Fatalf("refusing guard in a transaction: %v", err)
	}
	// Allowed: the update writes version 2 without labels; the guard of the
	// next write sees none.
	seen = nil
	if _, _, err := s.Update(ctx, resources.UpdateParams{Type: "Condition", ID: r.ID, Data: cond, Index: labelled(), Guard: allow}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Delete(ctx, resources.DeleteParams{Type: "Condition", ID: r.ID, Guard: allow}); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 2 || seen[0] != wantLabels || seen[1] != "" {
		t.Fatalf("allowing guards saw %q, want %q then none", seen, wantLabels)
	}
	// Deleted, or absent: nothing to guard.
	seen = nil
	if _, _, err := s.Update(ctx, resources.UpdateParams{Type: "Condition", ID: r.ID, Data: cond, Guard: deny}); err != nil {
		t.Fatalf("update of a deleted resource: %v", err)
	}
	if _, created, err := s.Update(ctx, resources.UpdateParams{Type: "Condition", ID: "guard-new", Data: cond, Guard: deny}); err != nil || !created {
		t.Fatalf("update-as-create: %v %v", created, err)
	}
	if len(seen) != 0 {
		t.Fatalf("guard asked without a current version: %q", seen)
	}

	// Race: writers label the resource sensitive and back while others
	// update it under a guard that refuses the label. A guarded update must
	// never replace a labelled version: in the history, no version a
	// guarded writer wrote follows a labelled one.
	base, err := s.Create(ctx, resources.CreateParams{Type: "Condition", Data: text(cond, "plain"), Index: labelled()})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var failures []string
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 15 {
				var err error
				if w%2 == 0 {
					data, x := text(cond, "plain"), labelled()
					if i%2 == 0 {
						data, x = text(cond, "psy"), labelled(psy)
					}
					_, _, err = s.Update(ctx, resources.UpdateParams{Type: "Condition", ID: base.ID, Data: data, Index: x})
				} else {
					_, _, err = s.Update(ctx, resources.UpdateParams{Type: "Condition", ID: base.ID, Data: text(cond, "guarded"),
						Index: labelled(), Guard: func(labels string) error {
							if labels != "" {
								return refused
							}
							return nil
						}})
				}
				if err != nil && !errors.Is(err, refused) {
					mu.Lock()
					failures = append(failures, err.Error())
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("concurrent updates failed: %v", failures)
	}
	page, err := s.History(ctx, resources.HistoryParams{Type: "Condition", ID: base.ID, Count: resources.MaxPageSize})
	if err != nil {
		t.Fatal(err)
	}
	guarded := 0
	for i := len(page.Entries) - 2; i >= 0; i-- { // oldest first
		prev, cur := textOf(t, page.Entries[i+1].Data), textOf(t, page.Entries[i].Data)
		if cur == "guarded" {
			guarded++
			if prev == "psy" {
				t.Fatalf("version %d, by a guarded writer, replaced labelled version %d", page.Entries[i].VersionID, page.Entries[i+1].VersionID)
			}
		}
	}
	if guarded == 0 || len(page.Entries) < 10 {
		t.Fatalf("the race ran too little to test anything: %d versions, %d guarded", len(page.Entries), guarded)
	}
}

// text is a Condition with code.text set.
func text(cond []byte, s string) []byte {
	return append(cond[:len(cond)-1:len(cond)-1], `,"code":{"text":"`+s+`"}}`...)
}

func textOf(t *testing.T, data []byte) string {
	var c struct {
		Code struct {
			Text string `json:"text"`
		} `json:"code"`
	}
	if err := json.Unmarshal(data, &c); err != nil {
		t.Fatal(err)
	}
	return c.Code.Text
}

// testHistoryLabels checks HistoryParams.ExcludeLabels: type and system
// history leave out the versions carrying an excluded label in their query
// (pages are full), judging each version by its own labels as create (one
// and batched), update and delete wrote them; a deletion carries none.
func testHistoryLabels(t *testing.T, s resources.Store) {
	ctx := context.Background()
	cond := []byte(`{"resourceType":"Condition","subject":{"reference":"Patient/p1"}}`)
	// Versions in the order written, each kept or left out when PSY and
	// HIV are excluded.
	type version struct {
		id      string
		version int64
		kept    bool
	}
	var written []version
	note := func(r resources.Resource, kept bool) {
		written = append(written, version{r.ID, r.VersionID, kept})
	}
	a, err := s.Create(ctx, resources.CreateParams{Type: "Condition", Data: cond, Index: labelled(psy)})
	if err != nil {
		t.Fatal(err)
	}
	note(a, false)
	b, err := s.Create(ctx, resources.CreateParams{Type: "Condition", Data: cond, Index: labelled()})
	if err != nil {
		t.Fatal(err)
	}
	note(b, true)
	var ps []resources.CreateParams
	for i := range 20 { // enough for a backend's bulk path
		x := labelled()
		if i%3 == 0 {
			x = labelled(hiv)
		}
		ps = append(ps, resources.CreateParams{Type: "Condition", Data: cond, Index: x})
	}
	batch, err := s.(resources.BatchCreator).CreateMany(ctx, ps)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range batch {
		note(r, i%3 != 0)
	}
	// The label is lifted from a (its first version stays hidden) and
	// put on b (its first version stays visible).
	a2, _, err := s.Update(ctx, resources.UpdateParams{Type: "Condition", ID: a.ID, Data: cond, Index: labelled()})
	if err != nil {
		t.Fatal(err)
	}
	note(a2, true)
	b2, _, err := s.Update(ctx, resources.UpdateParams{Type: "Condition", ID: b.ID, Data: cond, Index: labelled(hiv)})
	if err != nil {
		t.Fatal(err)
	}
	note(b2, false)
	p, err := s.Create(ctx, resources.CreateParams{Type: "Patient", Data: []byte(`{"resourceType":"Patient"}`), Index: labelled(psy)})
	if err != nil {
		t.Fatal(err)
	}
	note(p, false)
	// A deletion carries the labels of the version it removes: the
	// deletion of a sensitive resource is as hidden as its versions.
	d, err := s.Delete(ctx, resources.DeleteParams{Type: "Condition", ID: batch[0].ID})
	if err != nil {
		t.Fatal(err)
	}
	note(d, false)
	// History tells a deletion's labels, which its missing data cannot.
	if page, err := s.History(ctx, resources.HistoryParams{Type: "Condition", ID: batch[0].ID, Count: 10}); err != nil ||
		len(page.Entries) != 2 || !page.Entries[0].Deleted || page.Entries[0].Labels != "\n"+hiv+"\n" || page.Entries[1].Labels != "" {
		t.Errorf("history of a deleted labelled Condition: %+v %v, want the deletion with its labels", page.Entries, err)
	}
	d, err = s.Delete(ctx, resources.DeleteParams{Type: "Condition", ID: batch[1].ID})
	if err != nil {
		t.Fatal(err)
	}
	note(d, true)

	exclude := []string{psy, hiv}
	for _, typ := range []string{"Condition", ""} {
		var want []version
		for i := len(written) - 1; i >= 0; i-- {
			if v := written[i]; v.kept && (typ == "" || v.id != p.ID) {
				want = append(want, v)
			}
		}
		// Pages of 3 hold 3 versions each until the last.
		var got []version
		cursor := ""
		for pages := 0; ; pages++ {
			if pages > len(written) {
				t.Fatalf("history %q does not end", typ)
			}
			page, err := s.History(ctx, resources.HistoryParams{Type: typ, Count: 3, Cursor: cursor, ExcludeLabels: exclude})
			if err != nil {
				t.Fatal(err)
			}
			if page.Next != "" && len(page.Entries) != 3 {
				t.Fatalf("history %q: a page of %d versions before the last, want 3", typ, len(page.Entries))
			}
			for _, e := range page.Entries {
				got = append(got, version{e.ID, e.VersionID, true})
			}
			if cursor = page.Next; cursor == "" {
				break
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("history %q excluding PSY and HIV:\n got %v\nwant %v", typ, got, want)
		}
		all, err := s.History(ctx, resources.HistoryParams{Type: typ, Count: 100})
		if err != nil {
			t.Fatal(err)
		}
		if n := len(written); typ != "" {
			n--
			if len(all.Entries) != n {
				t.Errorf("history %q without exclusion: %d versions, want %d", typ, len(all.Entries), n)
			}
		} else if len(all.Entries) != n {
			t.Errorf("system history without exclusion: %d versions, want %d", len(all.Entries), n)
		}
	}
	// Labels are matched whole.
	page, err := s.History(ctx, resources.HistoryParams{Type: "Condition", Count: 100,
		ExcludeLabels: []string{"%|PSY", "http://terminology.hl7.org/CodeSystem/v3-ActCode|PS"}})
	if err != nil || len(page.Entries) != len(written)-1 {
		t.Errorf("excluding a pattern or a prefix: %d versions of %d (%v)", len(page.Entries), len(written)-1, err)
	}
}

// HistoryLabelledForMigration writes, in a fresh store, a Condition whose
// first version carries PSY and another label (with a line break in its
// code) in its meta.security and whose second carries none, and a plain
// Condition; a backend's test then runs LegacyHistoryLabelsSQL (the
// database as before migration 10), migrates again and calls
// CheckMigratedHistoryLabels with the ids.
func HistoryLabelledForMigration(t *testing.T, s resources.Store) (labelledID, plainID string) {
	t.Helper()
	ctx := context.Background()
	data := []byte(`{"resourceType":"Condition","meta":{"security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"PSY"},` +
		`{"system":"http://example.org/labels","code":"two\nlines"}]},"subject":{"reference":"Patient/p1"}}`)
	a, err := s.Create(ctx, resources.CreateParams{Type: "Condition", Data: data, Index: labelled(psy, migratedLabel)})
	if err != nil {
		t.Fatal(err)
	}
	plain := []byte(`{"resourceType":"Condition","subject":{"reference":"Patient/p1"}}`)
	if _, _, err := s.Update(ctx, resources.UpdateParams{Type: "Condition", ID: a.ID, Data: plain, Index: labelled()}); err != nil {
		t.Fatal(err)
	}
	b, err := s.Create(ctx, resources.CreateParams{Type: "Condition", Data: plain, Index: labelled()})
	if err != nil {
		t.Fatal(err)
	}
	return a.ID, b.ID
}

// migratedLabel is a label whose code has a line break (kept as a space).
var migratedLabel = resources.Label("http://example.org/labels", "two\nlines")

// LegacyHistoryLabelsSQL puts a database back to before migration 10.
var LegacyHistoryLabelsSQL = []string{
	"ALTER TABLE resource_history DROP COLUMN labels",
	"DELETE FROM schema_migrations WHERE version = 10",
}

// CheckMigratedHistoryLabels checks that migration 10 filled the labels of
// the versions from their meta.security: excluding either label leaves out
// the first version of the labelled Condition, and only that.
func CheckMigratedHistoryLabels(t *testing.T, s resources.Store, labelledID, plainID string) {
	t.Helper()
	for _, l := range []string{psy, migratedLabel} {
		page, err := s.History(context.Background(), resources.HistoryParams{Type: "Condition", ExcludeLabels: []string{l}})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range page.Entries {
			got = append(got, e.ID+"/"+strconv.FormatInt(e.VersionID, 10))
		}
		if want := []string{plainID + "/1", labelledID + "/2"}; !slices.Equal(got, want) {
			t.Errorf("after migration 10, history excluding %q has %v, want %v", l, got, want)
		}
	}
}
