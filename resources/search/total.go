package search

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
)

// EstimateCap bounds the counting of _total=estimate on a store without a
// planner estimate (SQLite): it counts matches up to this many and reports
// the cap beyond.
const EstimateCap = 10000

// countFirst reports whether the total is counted before the page: an
// accurate total, and the searches that return only a count (_summary=count,
// _count=0 unless _total=none). _total=estimate is settled after the page,
// which often makes it exact for free.
func countFirst(q *Query) bool {
	return q.Summary == "count" || q.Total == "accurate" || (q.Count == 0 && q.Total != "none")
}

// count returns the number of matches of q, or an estimate of it: the
// planner's row estimate where the dialect has one (PlanEstimate), else a
// count that stops at EstimateCap.
func (e Engine) count(ctx context.Context, ex Executor, q *Query, estimate bool) (int64, error) {
	b := e.scoped(ctx)
	table, _, _, where, err := e.table(b, q, -1)
	if err != nil {
		return 0, err
	}
	var n int64
	scanCount := func(scan func(...any) error) error { return scan(&n) }
	// The planner's estimate comes from statistics over every resource, not
	// only those the caller may see: under a limiting scope it would tell a
	// patient how common a code is in everyone's records, and with labels
	// excluded how common it is among sensitive ones. Those estimates are
	// counted instead, up to EstimateCap.
	sc := b.scope
	planned := e.Dialect.PlanEstimate && len(b.exclude) == 0 && (sc == nil || sc.Compartment == nil && len(sc.Restrict) == 0 && len(sc.RestrictWrite) == 0)
	switch {
	case !estimate:
		err = ex.Each(ctx, "SELECT count(*) FROM "+table+" WHERE "+where, b.args, scanCount)
	case planned:
		var plan string
		err = ex.Each(ctx, "EXPLAIN (FORMAT JSON) SELECT 1 FROM "+table+" WHERE "+where, b.args, func(scan func(...any) error) error {
			return scan(&plan)
		})
		if err == nil {
			n, err = planRows(plan)
		}
	default:
		err = ex.Each(ctx, fmt.Sprintf("SELECT count(*) FROM (SELECT 1 FROM %s WHERE %s LIMIT %d) c", table, where, EstimateCap),
			b.args, scanCount)
	}
	return n, err
}

// planRows reads the estimated rows of the top node of an EXPLAIN (FORMAT
// JSON) plan.
func planRows(plan string) (int64, error) {
	var p []struct {
		Plan struct {
			Rows float64 `json:"Plan Rows"`
		}
	}
	if err := json.Unmarshal([]byte(plan), &p); err != nil {
		return 0, fmt.Errorf("search: reading the planner's estimate: %w", err)
	}
	if len(p) != 1 {
		return 0, fmt.Errorf("search: reading the planner's estimate: %d plans", len(p))
	}
	return int64(math.Round(p[0].Plan.Rows)), nil
}
