// Package storetest is the conformance suite every resources.Store
// implementation must pass. A backend's test calls Run with a function that
// opens a fresh, empty store.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/meizhou-yiyang/yiyang/resources"
)

// Run exercises open's stores against the contract of resources.Store.
func Run(t *testing.T, open func(t *testing.T) resources.Store) {
	t.Helper()
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s resources.Store)
	}{
		{"CreateRead", testCreateRead},
		{"CreateWithID", testCreateWithID},
		{"UpdateAndVRead", testUpdateAndVRead},
		{"UpdateAsCreate", testUpdateAsCreate},
		{"IfMatch", testIfMatch},
		{"Delete", testDelete},
		{"InstanceHistory", testInstanceHistory},
		{"TypeAndSystemHistory", testTypeAndSystemHistory},
		{"HistoryPaging", testHistoryPaging},
		{"HistorySinceAt", testHistorySinceAt},
		{"TxCommit", testTxCommit},
		{"TxRollback", testTxRollback},
		{"ConcurrentIfMatch", testConcurrentIfMatch},
		{"ConcurrentUpdates", testConcurrentUpdates},
		{"CanceledContext", testCanceledContext},
		{"IndexEntries", testIndexEntries},
		{"Reindex", testReindex},
		{"Scope", testScope},
		{"CreateMany", testCreateMany},
		{"AuditLog", testAuditLog},
		{"AuditRowCreate", testAuditRowCreate},
		{"AuditPacked", testAuditPacked},
		{"AuditWriteOrder", testAuditWriteOrder},
		{"AuditAssignedIDs", testAuditAssignedIDs},
		{"ReadPatients", testReadPatients},
		{"AuditControlCharacters", testAuditControlCharacters},
		{"SecurityLabels", testSecurityLabels},
		{"LabelGuard", testLabelGuard},
		{"HistoryLabels", testHistoryLabels},
		{"VersionScope", testVersionScope},
		{"RestrictedVersions", testRestrictedVersions},
		{"DeviceVersions", testDeviceVersions},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			tc.fn(t, s)
		})
	}
}

func patient(family string) []byte {
	return []byte(fmt.Sprintf(`{"resourceType":"Patient","meta":{"versionId":"99","tag":[{"code":"t"}]},"active":true,"name":[{"family":%q}]}`, family))
}

// decode parses stored JSON into a map.
func decode(t *testing.T, data []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("stored data is not JSON: %v\n%s", err, data)
	}
	return m
}

func family(t *testing.T, data []byte) string {
	t.Helper()
	m := decode(t, data)
	names, _ := m["name"].([]any)
	if len(names) == 0 {
		t.Fatalf("no name in %s", data)
	}
	f, _ := names[0].(map[string]any)["family"].(string)
	return f
}

func mustCreate(t *testing.T, s resources.Ops, typ string, data []byte) resources.Resource {
	t.Helper()
	r, err := s.Create(context.Background(), resources.CreateParams{Type: typ, Data: data})
	if err != nil {
		t.Fatalf("create %s: %v", typ, err)
	}
	return r
}

func mustUpdate(t *testing.T, s resources.Ops, typ, id string, data []byte) resources.Resource {
	t.Helper()
	r, _, err := s.Update(context.Background(), resources.UpdateParams{Type: typ, ID: id, Data: data})
	if err != nil {
		t.Fatalf("update %s/%s: %v", typ, id, err)
	}
	return r
}

func wantErr(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("got error %v, want %v", err, want)
	}
}

func testCreateRead(t *testing.T, s resources.Store) {
	ctx := context.Background()
	before := time.Now().Add(-time.Second)
	c := mustCreate(t, s, "Patient", patient("Li"))
	if c.ID == "" || !resources.ValidID(c.ID) || c.VersionID != 1 || c.Method != "POST" || c.LastUpdated.Before(before) {
		t.Fatalf("create returned %+v", c)
	}
	r, err := s.Read(ctx, "Patient", c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if r.VersionID != 1 || !r.LastUpdated.Equal(c.LastUpdated) || r.Deleted {
		t.Fatalf("read returned %+v, created %+v", r, c)
	}
	m := decode(t, r.Data)
	meta := m["meta"].(map[string]any)
	if m["id"] != c.ID || meta["versionId"] != "1" || meta["lastUpdated"] != resources.FormatInstant(c.LastUpdated) {
		t.Fatalf("id/meta not stamped: %s", r.Data)
	}
	if tags, _ := meta["tag"].([]any); len(tags) != 1 {
		t.Fatalf("meta.tag lost: %s", r.Data)
	}
	if m["active"] != true || family(t, r.Data) != "Li" {
		t.Fatalf("content changed: %s", r.Data)
	}
	if string(r.Data) != string(c.Data) {
		t.Fatalf("read %s, create returned %s", r.Data, c.Data)
	}
	_, err = s.Read(ctx, "Patient", "does-not-exist")
	wantErr(t, err, resources.ErrNotFound)
	_, err = s.Read(ctx, "Observation", c.ID)
	wantErr(t, err, resources.ErrNotFound)
	_, err = s.VRead(ctx, "Patient", c.ID, 2)
	wantErr(t, err, resources.ErrNotFound)
}

func testCreateWithID(t *testing.T, s resources.Store) {
	ctx := context.Background()
	r, err := s.Create(ctx, resources.CreateParams{Type: "Patient", ID: "p1", Data: patient("Wang")})
	if err != nil || r.ID != "p1" {
		t.Fatalf("create with id: %+v %v", r, err)
	}
	_, err = s.Create(ctx, resources.CreateParams{Type: "Patient", ID: "p1", Data: patient("Zhang")})
	wantErr(t, err, resources.ErrVersionConflict)
	// The same id under another type is a different resource.
	if _, err := s.Create(ctx, resources.CreateParams{Type: "Group", ID: "p1", Data: []byte(`{"resourceType":"Group","type":"person","actual":true}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Delete(ctx, resources.DeleteParams{Type: "Patient", ID: "p1"}); err != nil {
		t.Fatal(err)
	}
	_, err = s.Create(ctx, resources.CreateParams{Type: "Patient", ID: "p1", Data: patient("Zhang")})
	wantErr(t, err, resources.ErrVersionConflict)
	got, _ := s.VRead(ctx, "Patient", "p1", 1)
	if family(t, got.Data) != "Wang" {
		t.Fatalf("conflicting create changed data: %s", got.Data)
	}
}

func testUpdateAndVRead(t *testing.T, s resources.Store) {
	ctx := context.Background()
	c := mustCreate(t, s, "Patient", patient("v1"))
	u, created, err := s.Update(ctx, resources.UpdateParams{Type: "Patient", ID: c.ID, Data: patient("v2")})
	if err != nil || created || u.VersionID != 2 || u.Method != "PUT" || u.LastUpdated.Before(c.LastUpdated) {
		t.Fatalf("update: %+v created=%v err=%v", u, created, err)
	}
	p, _, err := s.Update(ctx, resources.UpdateParams{Type: "Patient", ID: c.ID, Data: patient("v3"), Method: "PATCH"})
	if err != nil || p.VersionID != 3 || p.Method != "PATCH" {
		t.Fatalf("patch-update: %+v %v", p, err)
	}
	for v, want := range map[int64]string{1: "v1", 2: "v2", 3: "v3"} {
		r, err := s.VRead(ctx, "Patient", c.ID, v)
		if err != nil {
			t.Fatalf("vread %d: %v", v, err)
		}
		if family(t, r.Data) != want || r.VersionID != v {
			t.Fatalf("vread %d: %s", v, r.Data)
		}
		if decode(t, r.Data)["meta"].(map[string]any)["versionId"] != fmt.Sprint(v) {
			t.Fatalf("vread %d: versionId in JSON: %s", v, r.Data)
		}
	}
	r, _ := s.Read(ctx, "Patient", c.ID)
	if r.VersionID != 3 || family(t, r.Data) != "v3" {
		t.Fatalf("read after updates: %+v", r)
	}
}

func testUpdateAsCreate(t *testing.T, s resources.Store) {
	ctx := context.Background()
	r, created, err := s.Update(ctx, resources.UpdateParams{Type: "Patient", ID: "client-1", Data: patient("A")})
	if err != nil || !created || r.VersionID != 1 || r.ID != "client-1" {
		t.Fatalf("update-as-create: %+v %v %v", r, created, err)
	}
	r, created, err = s.Update(ctx, resources.UpdateParams{Type: "Patient", ID: "client-1", Data: patient("B")})
	if err != nil || created || r.VersionID != 2 {
		t.Fatalf("second update: %+v %v %v", r, created, err)
	}
}

func testIfMatch(t *testing.T, s resources.Store) {
	ctx := context.Background()
	c := mustCreate(t, s, "Patient", patient("A"))
	_, _, err := s.Update(ctx, resources.UpdateParams{Type: "Patient", ID: c.ID, Data: patient("B"), IfMatch: 2})
	wantErr(t, err, resources.ErrPreconditionFailed)
	r, _, err := s.Update(ctx, resources.UpdateParams{Type: "Patient", ID: c.ID, Data: patient("B"), IfMatch: 1})
	if err != nil || r.VersionID != 2 {
		t.Fatalf("matching If-Match: %+v %v", r, err)
	}
	_, _, err = s.Update(ctx, resources.UpdateParams{Type: "Patient", ID: "nobody", Data: patient("B"), IfMatch: 1})
	wantErr(t, err, resources.ErrPreconditionFailed)
	if _, err := s.Read(ctx, "Patient", "nobody"); !errors.Is(err, resources.ErrNotFound) {
		t.Fatalf("failed conditional update-as-create stored something: %v", err)
	}
	_, err = s.Delete(ctx, resources.DeleteParams{Type: "Patient", ID: c.ID, IfMatch: 1})
	wantErr(t, err, resources.ErrPreconditionFailed)
	if _, err := s.Delete(ctx, resources.DeleteParams{Type: "Patient", ID: c.ID, IfMatch: 2}); err != nil {
		t.Fatal(err)
	}
}

func testDelete(t *testing.T, s resources.Store) {
	ctx := context.Background()
	c := mustCreate(t, s, "Patient", patient("A"))
	d, err := s.Delete(ctx, resources.DeleteParams{Type: "Patient", ID: c.ID})
	if err != nil || !d.Deleted || d.VersionID != 2 || d.Method != "DELETE" {
		t.Fatalf("delete: %+v %v", d, err)
	}
	r, err := s.Read(ctx, "Patient", c.ID)
	wantErr(t, err, resources.ErrGone)
	if r.VersionID != 2 || !r.Deleted || r.Data != nil || !r.LastUpdated.Equal(d.LastUpdated) {
		t.Fatalf("read of deleted: %+v", r)
	}
	_, err = s.VRead(ctx, "Patient", c.ID, 2)
	wantErr(t, err, resources.ErrGone)
	if v1, err := s.VRead(ctx, "Patient", c.ID, 1); err != nil || family(t, v1.Data) != "A" {
		t.Fatalf("vread of version before delete: %v", err)
	}
	again, err := s.Delete(ctx, resources.DeleteParams{Type: "Patient", ID: c.ID})
	if err != nil || again.VersionID != 2 || !again.Deleted {
		t.Fatalf("second delete must be a no-op: %+v %v", again, err)
	}
	_, err = s.Delete(ctx, resources.DeleteParams{Type: "Patient", ID: "never"})
	wantErr(t, err, resources.ErrNotFound)
	back, created, err := s.Update(ctx, resources.UpdateParams{Type: "Patient", ID: c.ID, Data: patient("B")})
	if err != nil || created || back.VersionID != 3 {
		t.Fatalf("revive by update: %+v created=%v %v", back, created, err)
	}
	if r, err := s.Read(ctx, "Patient", c.ID); err != nil || family(t, r.Data) != "B" {
		t.Fatalf("read revived: %v", err)
	}
	h, err := s.History(ctx, resources.HistoryParams{Type: "Patient", ID: c.ID})
	if err != nil || len(h.Entries) != 3 {
		t.Fatalf("history after delete/revive: %d entries, %v", len(h.Entries), err)
	}
	if !h.Entries[1].Deleted || h.Entries[1].Data != nil || h.Entries[1].Method != "DELETE" {
		t.Fatalf("history must keep the delete: %+v", h.Entries[1])
	}
}

func testInstanceHistory(t *testing.T, s resources.Store) {
	ctx := context.Background()
	c := mustCreate(t, s, "Patient", patient("1"))
	mustUpdate(t, s, "Patient", c.ID, patient("2"))
	mustUpdate(t, s, "Patient", c.ID, patient("3"))
	mustCreate(t, s, "Patient", patient("other"))
	h, err := s.History(ctx, resources.HistoryParams{Type: "Patient", ID: c.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Entries) != 3 || h.Next != "" {
		t.Fatalf("want 3 entries and no next page, got %d, next %q", len(h.Entries), h.Next)
	}
	for i, want := range []string{"3", "2", "1"} {
		e := h.Entries[i]
		if family(t, e.Data) != want || e.VersionID != int64(3-i) || e.ID != c.ID {
			t.Fatalf("entry %d: %+v", i, e)
		}
	}
	if h.Entries[2].Method != "POST" || h.Entries[0].Method != "PUT" {
		t.Fatalf("methods: %s %s", h.Entries[2].Method, h.Entries[0].Method)
	}
	_, err = s.History(ctx, resources.HistoryParams{Type: "Patient", ID: "unknown"})
	wantErr(t, err, resources.ErrNotFound)
}

func testTypeAndSystemHistory(t *testing.T, s resources.Store) {
	ctx := context.Background()
	p := mustCreate(t, s, "Patient", patient("p"))
	o := mustCreate(t, s, "Observation", []byte(`{"resourceType":"Observation","status":"final","code":{"text":"hr"}}`))
	mustUpdate(t, s, "Patient", p.ID, patient("p2"))
	th, err := s.History(ctx, resources.HistoryParams{Type: "Patient"})
	if err != nil || len(th.Entries) != 2 {
		t.Fatalf("type history: %d %v", len(th.Entries), err)
	}
	for _, e := range th.Entries {
		if e.Type != "Patient" {
			t.Fatalf("type history leaked %s", e.Type)
		}
	}
	sh, err := s.History(ctx, resources.HistoryParams{})
	if err != nil || len(sh.Entries) != 3 {
		t.Fatalf("system history: %d %v", len(sh.Entries), err)
	}
	if sh.Entries[0].ID != p.ID || sh.Entries[0].VersionID != 2 || sh.Entries[1].ID != o.ID {
		t.Fatalf("system history must be newest first: %+v", sh.Entries)
	}
}

func testHistoryPaging(t *testing.T, s resources.Store) {
	ctx := context.Background()
	want := map[string]bool{}
	for i := 0; i < 23; i++ {
		r := mustCreate(t, s, "Patient", patient(fmt.Sprint(i)))
		want[r.ID] = true
	}
	seen := map[string]bool{}
	cursor, pages := "", 0
	var prev time.Time
	for {
		h, err := s.History(ctx, resources.HistoryParams{Type: "Patient", Count: 5, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(h.Entries) > 5 {
			t.Fatalf("page of %d entries, asked 5", len(h.Entries))
		}
		for _, e := range h.Entries {
			if seen[e.ID] {
				t.Fatalf("duplicate %s across pages", e.ID)
			}
			if !prev.IsZero() && e.LastUpdated.After(prev) {
				t.Fatalf("history not newest first")
			}
			prev = e.LastUpdated
			seen[e.ID] = true
		}
		if h.Next == "" {
			break
		}
		cursor = h.Next
		if pages > 10 {
			t.Fatal("paging does not end")
		}
	}
	if pages != 5 || len(seen) != len(want) {
		t.Fatalf("%d pages, %d of %d resources", pages, len(seen), len(want))
	}
	_, err := s.History(ctx, resources.HistoryParams{Cursor: "%%%not-a-cursor"})
	wantErr(t, err, resources.ErrInvalid)
}

func testHistorySinceAt(t *testing.T, s resources.Store) {
	ctx := context.Background()
	a := mustCreate(t, s, "Patient", patient("a1"))
	time.Sleep(5 * time.Millisecond)
	mark := time.Now()
	time.Sleep(5 * time.Millisecond)
	a2 := mustUpdate(t, s, "Patient", a.ID, patient("a2"))
	b := mustCreate(t, s, "Patient", patient("b1"))
	h, err := s.History(ctx, resources.HistoryParams{Type: "Patient", Since: mark})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(h.Entries); len(got) != 2 || got[0] != b.ID+"/1" || got[1] != a.ID+"/2" {
		t.Fatalf("_since: %v", got)
	}
	// At mark, version 1 of a was current and b did not exist.
	h, err = s.History(ctx, resources.HistoryParams{Type: "Patient", AtStart: mark, AtEnd: mark})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(h.Entries); len(got) != 1 || got[0] != a.ID+"/1" {
		t.Fatalf("_at instant: %v", got)
	}
	// Over [mark, now] both versions of a and b's first were current at some point.
	h, _ = s.History(ctx, resources.HistoryParams{Type: "Patient", AtStart: mark, AtEnd: a2.LastUpdated.Add(time.Hour)})
	if got := ids(h.Entries); len(got) != 3 {
		t.Fatalf("_at period: %v", got)
	}
}

func ids(es []resources.Resource) []string {
	var out []string
	for _, e := range es {
		out = append(out, fmt.Sprintf("%s/%d", e.ID, e.VersionID))
	}
	return out
}

func testTxCommit(t *testing.T, s resources.Store) {
	ctx := context.Background()
	var created []string
	err := s.WithTx(ctx, func(ctx context.Context, tx resources.Ops) error {
		for i := 0; i < 3; i++ {
			r := mustCreate(t, tx, "Patient", patient(fmt.Sprint(i)))
			created = append(created, r.ID)
		}
		// Writes are visible inside the transaction.
		if _, err := tx.Read(ctx, "Patient", created[0]); err != nil {
			return err
		}
		_, _, err := tx.Update(ctx, resources.UpdateParams{Type: "Patient", ID: created[0], Data: patient("x"), IfMatch: 1})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range created {
		if _, err := s.Read(ctx, "Patient", id); err != nil {
			t.Fatalf("committed resource %s: %v", id, err)
		}
	}
}

func testTxRollback(t *testing.T, s resources.Store) {
	ctx := context.Background()
	keep := mustCreate(t, s, "Patient", patient("keep"))
	boom := errors.New("entry 3 failed")
	var created string
	err := s.WithTx(ctx, func(ctx context.Context, tx resources.Ops) error {
		created = mustCreate(t, tx, "Patient", patient("gone")).ID
		mustUpdate(t, tx, "Patient", keep.ID, patient("changed"))
		if _, err := tx.Delete(ctx, resources.DeleteParams{Type: "Patient", ID: keep.ID}); err != nil {
			return err
		}
		return boom
	})
	if err != boom {
		t.Fatalf("WithTx must return fn's error unchanged, got %v", err)
	}
	_, err = s.Read(ctx, "Patient", created)
	wantErr(t, err, resources.ErrNotFound)
	r, err := s.Read(ctx, "Patient", keep.ID)
	if err != nil || r.VersionID != 1 || family(t, r.Data) != "keep" {
		t.Fatalf("rolled back changes are visible: %+v %v", r, err)
	}
	h, _ := s.History(ctx, resources.HistoryParams{Type: "Patient"})
	if len(h.Entries) != 1 {
		t.Fatalf("rolled back history is visible: %d entries", len(h.Entries))
	}
}

func testConcurrentIfMatch(t *testing.T, s resources.Store) {
	ctx := context.Background()
	c := mustCreate(t, s, "Patient", patient("0"))
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, failed := 0, 0
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, _, err := s.Update(ctx, resources.UpdateParams{Type: "Patient", ID: c.ID, Data: patient(fmt.Sprint(i)), IfMatch: 1})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, resources.ErrPreconditionFailed):
				failed++
			default:
				t.Errorf("unexpected error: %v", err)
			}
		}(i)
	}
	wg.Wait()
	if ok != 1 || failed != 49 {
		t.Fatalf("%d succeeded and %d failed; want 1 and 49", ok, failed)
	}
}

func testConcurrentUpdates(t *testing.T, s resources.Store) {
	ctx := context.Background()
	c := mustCreate(t, s, "Patient", patient("0"))
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, _, err := s.Update(ctx, resources.UpdateParams{Type: "Patient", ID: c.ID, Data: patient(fmt.Sprint(i))})
			errs <- err
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent update: %v", err)
		}
	}
	var versions []int64
	cursor := ""
	for {
		h, err := s.History(ctx, resources.HistoryParams{Type: "Patient", ID: c.ID, Count: 1000, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range h.Entries {
			versions = append(versions, e.VersionID)
		}
		if cursor = h.Next; cursor == "" {
			break
		}
	}
	sort.Slice(versions, func(i, j int) bool { return versions[i] < versions[j] })
	if len(versions) != 201 {
		t.Fatalf("history has %d versions, want 201", len(versions))
	}
	for i, v := range versions {
		if v != int64(i+1) {
			t.Fatalf("version gap: position %d holds version %d", i, v)
		}
	}
	if r, _ := s.Read(ctx, "Patient", c.ID); r.VersionID != 201 {
		t.Fatalf("current version %d, want 201", r.VersionID)
	}
}

func testCanceledContext(t *testing.T, s resources.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.Create(ctx, resources.CreateParams{Type: "Patient", Data: patient("x")})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("create with a canceled context: %v", err)
	}
}

// testCreateMany: BatchCreator on the store and inside a transaction creates
// every resource, and a conflict fails the whole transaction.
func testCreateMany(t *testing.T, s resources.Store) {
	ctx := context.Background()
	bc, ok := s.(resources.BatchCreator)
	if !ok {
		t.Fatalf("%T does not implement resources.BatchCreator", s)
	}
	var ps []resources.CreateParams
	for i := range 30 {
		ps = append(ps, resources.CreateParams{Type: "Patient", Data: patient(fmt.Sprintf("Batch%d", i)), Index: sampleIndex(fmt.Sprint(i))})
	}
	out, err := bc.CreateMany(ctx, ps)
	if err != nil || len(out) != len(ps) {
		t.Fatalf("CreateMany: %d %v", len(out), err)
	}
	for i, r := range out {
		got, err := s.Read(ctx, "Patient", r.ID)
		if err != nil || family(t, got.Data) != fmt.Sprintf("Batch%d", i) || got.VersionID != 1 {
			t.Fatalf("read back %d: %v", i, err)
		}
	}
	wantIndex(t, s, "Patient", out[7].ID, sampleIndex("7"))
	err = s.WithTx(ctx, func(ctx context.Context, tx resources.Ops) error {
		_, err := tx.(resources.BatchCreator).CreateMany(ctx, []resources.CreateParams{
			{Type: "Patient", ID: "batch-new", Data: patient("New")},
			{Type: "Patient", ID: out[0].ID, Data: patient("Dup")},
		})
		return err
	})
	wantErr(t, err, resources.ErrVersionConflict)
	_, err = s.Read(ctx, "Patient", "batch-new")
	wantErr(t, err, resources.ErrNotFound)
}
