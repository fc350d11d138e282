package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/meizhou-yiyang/yiyang/resources"
	"github.com/meizhou-yiyang/yiyang/resources/postgres"
	"github.com/meizhou-yiyang/yiyang/resources/postgres/pgtest"
)

// all pages through History with page size count and returns every entry.
func all(t *testing.T, s *postgres.Store, p resources.HistoryParams, count int) []resources.Resource {
	t.Helper()
	p.Count = count
	var out []resources.Resource
	for pages := 0; ; pages++ {
		h, err := s.History(context.Background(), p)
		if err != nil {
			t.Fatalf("history %+v: %v", p, err)
		}
		if len(h.Entries) > count || (h.Next != "" && len(h.Entries) != count) {
			t.Fatalf("page of %d entries with next %q, page size %d", len(h.Entries), h.Next, count)
		}
		out = append(out, h.Entries...)
		if h.Next == "" {
			return out
		}
		if pages > 1000 {
			t.Fatal("paging does not end")
		}
		p.Cursor = h.Next
	}
}

func keys(es []resources.Resource) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = fmt.Sprintf("%s/%s/%d", e.Type, e.ID, e.VersionID)
	}
	return out
}

// TestHistoryFilters checks every scope and filter against the same
// selection computed in Go from the full history, with page sizes that split
// the result everywhere.
func TestHistoryFilters(t *testing.T) {
	dsn := pgtest.DSN(t)
	s := open(t, dsn)
	ctx := context.Background()
	// Some versions of different resources share a lastUpdated, so ordering
	// and paging must fall back on seq.
	for i := range 3 {
		query(t, dsn, `WITH r AS (INSERT INTO resources VALUES ('Group', $1, 1, 1000, false, '{}') RETURNING 1)
			INSERT INTO resource_history (type, id, version, last_updated, method, data) SELECT 'Group', $1, 1, 1000, 'POST', '{}' FROM r`,
			fmt.Sprint("g", i))
	}
	for i := range 6 {
		typ := []string{"Patient", "Observation"}[i%2]
		id := fmt.Sprint("r", i)
		if _, _, err := s.Update(ctx, resources.UpdateParams{Type: typ, ID: id, Data: []byte(`{"resourceType":"` + typ + `"}`)}); err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			if _, err := s.Delete(ctx, resources.DeleteParams{Type: typ, ID: id}); err != nil {
				t.Fatal(err)
			}
		}
		if i%2 == 0 {
			if _, _, err := s.Update(ctx, resources.UpdateParams{Type: typ, ID: id, Data: []byte(`{"resourceType":"` + typ + `"}`)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	full := all(t, s, resources.HistoryParams{}, resources.MaxPageSize)
	if len(full) != 3+6+2+3 {
		t.Fatalf("system history has %d entries", len(full))
	}
	for i, e := range full {
		if i > 0 && e.LastUpdated.After(full[i-1].LastUpdated) {
			t.Fatalf("entry %d is newer than entry %d", i, i-1)
		}
		if e.Deleted != (e.Method == "DELETE") || e.Deleted != (e.Data == nil) {
			t.Fatalf("entry %+v: Deleted, Method and Data disagree", e)
		}
	}
	// The three tied Group creates come last, newest seq first.
	if got := keys(full[len(full)-3:]); !slices.Equal(got, []string{"Group/g2/1", "Group/g1/1", "Group/g0/1"}) {
		t.Fatalf("tied entries in order %v", got)
	}

	// next maps each version to the lastUpdated of the version replacing it.
	next := map[string]time.Time{}
	for _, e := range full {
		next[fmt.Sprintf("%s/%s/%d", e.Type, e.ID, e.VersionID-1)] = e.LastUpdated
	}
	mid := full[len(full)/2].LastUpdated
	late := full[2].LastUpdated
	cases := []struct {
		name string
		p    resources.HistoryParams
		keep func(e resources.Resource) bool
	}{
		{"system", resources.HistoryParams{}, func(resources.Resource) bool { return true }},
		{"type", resources.HistoryParams{Type: "Patient"}, func(e resources.Resource) bool { return e.Type == "Patient" }},
		{"instance", resources.HistoryParams{Type: "Patient", ID: "r0"}, func(e resources.Resource) bool { return e.ID == "r0" }},
		{"since", resources.HistoryParams{Since: mid}, func(e resources.Resource) bool { return !e.LastUpdated.Before(mid) }},
		{"since sub-microsecond", resources.HistoryParams{Since: mid.Add(time.Nanosecond)},
			func(e resources.Resource) bool { return e.LastUpdated.After(mid) }},
		{"at instant", resources.HistoryParams{AtStart: mid, AtEnd: mid}, current(next, mid, mid)},
		{"at period", resources.HistoryParams{AtStart: mid, AtEnd: late}, current(next, mid, late)},
		{"type at period", resources.HistoryParams{Type: "Observation", AtStart: mid, AtEnd: late},
			func(e resources.Resource) bool { return e.Type == "Observation" && current(next, mid, late)(e) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var want []string
			for _, e := range full {
				if tc.keep(e) {
					want = append(want, keys([]resources.Resource{e})[0])
				}
			}
			if len(want) == 0 {
				t.Fatal("the case selects nothing; it would prove nothing")
			}
			for _, count := range []int{1, 2, 3, len(want), len(want) + 1} {
				if got := keys(all(t, s, tc.p, count)); !slices.Equal(got, want) {
					t.Fatalf("page size %d: got %v, want %v", count, got, want)
				}
			}
		})
	}
}

// current selects versions that were current at some moment of [start, end].
func current(next map[string]time.Time, start, end time.Time) func(resources.Resource) bool {
	return func(e resources.Resource) bool {
		replaced, ok := next[fmt.Sprintf("%s/%s/%d", e.Type, e.ID, e.VersionID)]
		return !e.LastUpdated.After(end) && (!ok || replaced.After(start))
	}
}

func TestHistoryErrors(t *testing.T) {
	s := open(t, pgtest.DSN(t))
	ctx := context.Background()
	c, err := s.Create(ctx, resources.CreateParams{Type: "Patient", Data: patient("x")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.History(ctx, resources.HistoryParams{Type: "Patient", ID: "nobody"})
	if !errors.Is(err, resources.ErrNotFound) {
		t.Fatalf("history of an unknown resource: %v", err)
	}
	// An empty page of a known resource is not an error.
	h, err := s.History(ctx, resources.HistoryParams{Type: "Patient", ID: c.ID, Since: c.LastUpdated.Add(time.Hour)})
	if err != nil || len(h.Entries) != 0 || h.Next != "" {
		t.Fatalf("history filtered to nothing: %+v %v", h, err)
	}
	_, err = s.History(ctx, resources.HistoryParams{Cursor: "!"})
	var inv *resources.InvalidError
	if !errors.As(err, &inv) || err.Error() != "_cursor: the paging cursor is malformed or expired; start again from the first page" {
		t.Fatalf("bad cursor: %v", err)
	}
	// Count is clamped to the default page size.
	for range 60 {
		if _, err := s.Create(ctx, resources.CreateParams{Type: "Patient", Data: patient("y")}); err != nil {
			t.Fatal(err)
		}
	}
	h, err = s.History(ctx, resources.HistoryParams{Count: -1})
	if err != nil || len(h.Entries) != 50 || h.Next == "" {
		t.Fatalf("default page: %d entries, next %q, %v", len(h.Entries), h.Next, err)
	}
}
