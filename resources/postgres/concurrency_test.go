package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/meizhou-yiyang/yiyang/resources"
	"github.com/meizhou-yiyang/yiyang/resources/postgres"
	"github.com/meizhou-yiyang/yiyang/resources/postgres/pgtest"
)

// TestConcurrentWrites races writers on one resource and checks that every
// version is handed out exactly once, with strictly increasing lastUpdated.
func TestConcurrentWrites(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	// Enough connections that writers really meet in the database, so that
	// several find no row and race to create it.
	s, err := postgres.Open(ctx, postgres.Config{DSN: dsn, MaxConns: 40})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	const n = 200
	type result struct {
		r       resources.Resource
		created bool
		err     error
	}
	run := func(id string, ifMatch int64, inTx bool) []result {
		out := make([]result, n)
		var wg sync.WaitGroup
		for i := range out {
			wg.Go(func() {
				p := resources.UpdateParams{Type: "Patient", ID: id, Data: patient(fmt.Sprint(i)), IfMatch: ifMatch}
				res := &out[i]
				if inTx && i%2 == 0 {
					res.err = s.WithTx(ctx, func(ctx context.Context, tx resources.Ops) error {
						var err error
						res.r, res.created, err = tx.Update(ctx, p)
						return err
					})
					return
				}
				res.r, res.created, res.err = s.Update(ctx, p)
			})
		}
		wg.Wait()
		return out
	}

	t.Run("update-as-create", func(t *testing.T) {
		seen := map[int64]bool{}
		created := 0
		for _, res := range run("race", 0, true) {
			if res.err != nil {
				t.Fatalf("concurrent update-as-create: %v", res.err)
			}
			if res.created {
				created++
				if res.r.VersionID != 1 {
					t.Fatalf("created version %d", res.r.VersionID)
				}
			}
			if seen[res.r.VersionID] {
				t.Fatalf("version %d handed out twice", res.r.VersionID)
			}
			seen[res.r.VersionID] = true
		}
		if created != 1 || len(seen) != n || !seen[1] || !seen[n] {
			t.Fatalf("%d creates, %d distinct versions", created, len(seen))
		}
		h := all(t, s, resources.HistoryParams{Type: "Patient", ID: "race"}, 37)
		if len(h) != n {
			t.Fatalf("history holds %d versions, want %d", len(h), n)
		}
		for i, e := range h {
			if e.VersionID != int64(n-i) {
				t.Fatalf("history position %d holds version %d", i, e.VersionID)
			}
			if i > 0 && !e.LastUpdated.Before(h[i-1].LastUpdated) {
				t.Fatalf("version %d is not older than version %d", e.VersionID, h[i-1].VersionID)
			}
		}
	})

	t.Run("if-match", func(t *testing.T) {
		if _, err := s.Create(ctx, resources.CreateParams{Type: "Patient", ID: "cas", Data: patient("0")}); err != nil {
			t.Fatal(err)
		}
		won := 0
		for _, res := range run("cas", 1, true) {
			switch {
			case res.err == nil:
				won++
				if res.r.VersionID != 2 {
					t.Fatalf("winner wrote version %d", res.r.VersionID)
				}
			case !errors.Is(res.err, resources.ErrPreconditionFailed):
				t.Fatalf("loser got %v", res.err)
			}
		}
		if won != 1 {
			t.Fatalf("%d conditional updates succeeded, want 1", won)
		}
		if got := query(t, dsn, `SELECT count(*) FROM resource_history WHERE id = 'cas'`); got[0] != "2" {
			t.Fatalf("%v history rows, want 2", got)
		}
	})

	t.Run("create", func(t *testing.T) {
		errs := make([]error, 20)
		var wg sync.WaitGroup
		for i := range errs {
			wg.Go(func() {
				_, errs[i] = s.Create(ctx, resources.CreateParams{Type: "Patient", ID: "once", Data: patient("c")})
			})
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, resources.ErrVersionConflict):
				t.Fatalf("concurrent create: %v", err)
			}
		}
		if ok != 1 {
			t.Fatalf("%d creates of one id succeeded", ok)
		}
	})
}
