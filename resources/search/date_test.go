package search_test

import (
	"context"
	"math"
	"net/url"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/meizhou-yiyang/yiyang/resources"
	"github.com/meizhou-yiyang/yiyang/resources/postgres"
	"github.com/meizhou-yiyang/yiyang/resources/postgres/pgtest"
	"github.com/meizhou-yiyang/yiyang/resources/search"
	"github.com/meizhou-yiyang/yiyang/resources/sqlite"
)

// searchStore is what these tests need of a store.
type searchStore interface {
	Create(ctx context.Context, p resources.CreateParams) (resources.Resource, error)
	Search(ctx context.Context, q *search.Query) (search.Page, error)
}

// TestDateEq checks an eq date search on both backends against index rows
// at the edges of the value's range, including inverted ranges (a Period
// that ends before it starts), which the compiled SQL finds through an arm
// of their own: a row matches when its range lies within the value's.
func TestDateEq(t *testing.T) {
	ctx := context.Background()
	start, end, err := search.ParseDate("1958-06-14")
	if err != nil {
		t.Fatal(err)
	}
	vs, ve := start.UnixMicro(), end.UnixMicro()
	day := int64(24 * time.Hour / time.Microsecond)
	rows := []struct {
		id        string
		low, high int64
		match     bool
	}{
		{"day", vs, ve, true},
		{"second", vs + 3_600_000_000, vs + 3_601_000_000, true},
		{"first-instant", vs, vs, true},
		{"last-instant", ve, ve, true},
		{"day-before", vs - day, vs - 1, false},
		{"day-after", ve + 1, ve + day, false},
		{"two-days", vs - day, ve, false},
		{"overlap-end", vs + 1, ve + 1, false},
		{"open-start", math.MinInt64, ve, false},
		{"open-end", vs, math.MaxInt64, false},
		{"inverted-within", ve, vs, true},
		{"inverted-wide", vs + 100*365*day, vs - 100*365*day, true},
		{"inverted-after", ve + day, vs, true},
		{"inverted-low-before", vs - 1, vs - day, false},
		{"inverted-high-after", ve + day, ve + 1, false},
	}
	var want []string
	for _, r := range rows {
		if r.match {
			want = append(want, r.id)
		}
	}
	slices.Sort(want)
	for _, backend := range []struct {
		name string
		open func(t *testing.T) searchStore
	}{
		{"sqlite", func(t *testing.T) searchStore {
			s, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "y.db")})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}},
		{"postgres", func(t *testing.T) searchStore {
			s, err := postgres.Open(ctx, postgres.Config{DSN: pgtest.DSN(t)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}},
	} {
		t.Run(backend.name, func(t *testing.T) {
			s := backend.open(t)
			for _, r := range rows {
				_, err := s.Create(ctx, resources.CreateParams{Type: "Patient", ID: r.id, Data: []byte(`{"resourceType":"Patient"}`),
					Index: &resources.Index{Dates: []resources.DateEntry{{Param: "birthdate", Low: r.low, High: r.high}}}})
				if err != nil {
					t.Fatal(err)
				}
			}
			for _, v := range []string{"1958-06-14", "eq1958-06-14"} {
				q, err := search.Parse(search.R4, "Patient", url.Values{"birthdate": {v}}, search.Options{})
				if err != nil {
					t.Fatal(err)
				}
				page, err := s.Search(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, m := range page.Matches {
					got = append(got, m.ID)
				}
				slices.Sort(got)
				if !slices.Equal(got, want) {
					t.Errorf("birthdate=%s: got %v, want %v", v, got, want)
				}
			}
		})
	}
}
