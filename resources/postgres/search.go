package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/meizhou-yiyang/yiyang/resources/index"
	"github.com/meizhou-yiyang/yiyang/resources/search"
)

var engine = search.Engine{Dialect: search.Postgres, Fold: index.Fold, Convert: index.CanonicalUnit}

// Search runs a parsed search on committed data.
func (s *Store) Search(ctx context.Context, q *search.Query) (search.Page, error) {
	return engine.Search(ctx, s, q)
}

// Each runs a query on the pool (search.Executor).
func (s *Store) Each(ctx context.Context, sql string, args []any, fn func(scan func(dest ...any) error) error) error {
	return each(ctx, s.pool, sql, args, fn)
}

// each runs a query on q and calls fn for every row.
func each(ctx context.Context, q querier, sql string, args []any, fn func(scan func(dest ...any) error) error) error {
	// Searches run as unnamed statements, planned for each call's values: a
	// cached generic plan ignores how selective a patient or a code is
	// (662 ms instead of 0.9 ms at 1M Observations), and varying search SQL
	// would only churn the statement cache.
	rows, err := q.Query(ctx, sql, append([]any{pgx.QueryExecModeExec}, args...)...)
	if err != nil {
		return wrap(ctx, "search", err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows.Scan); err != nil {
			return wrap(ctx, "search", err)
		}
	}
	return wrap(ctx, "search", rows.Err())
}

// Search runs a search inside the transaction: it sees the transaction's
// own writes (conditional operations).
func (o *ops) Search(ctx context.Context, q *search.Query) (search.Page, error) {
	return engine.Search(ctx, o, q)
}

// Each runs a query in the transaction (search.Executor).
func (o *ops) Each(ctx context.Context, sql string, args []any, fn func(scan func(dest ...any) error) error) error {
	return each(ctx, o.q, sql, args, fn)
}

// Lock serialises the transactions that use the same key (conditional
// creates with the same criteria) until each ends: a transaction-level
// advisory lock on a hash of the key.
func (o *ops) Lock(ctx context.Context, key string) error {
	if o.pool != nil {
		return errors.New("postgres: Lock outside a transaction")
	}
	_, err := o.q.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, key)
	return wrap(ctx, "lock", err)
}
