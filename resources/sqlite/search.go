package sqlite

import (
	"context"
	"database/sql"

	"github.com/meizhou-yiyang/yiyang/resources/index"
	"github.com/meizhou-yiyang/yiyang/resources/search"
)

var engine = search.Engine{Dialect: search.SQLite, Fold: index.Fold, Convert: index.CanonicalUnit}

// Search runs a parsed search on committed data.
func (s *Store) Search(ctx context.Context, q *search.Query) (search.Page, error) {
	return engine.Search(ctx, s, q)
}

// Each runs a query on the reader pool (search.Executor).
func (s *Store) Each(ctx context.Context, sql string, args []any, fn func(scan func(dest ...any) error) error) error {
	return each(ctx, s.r, sql, args, fn)
}

// each runs a query on q and calls fn for every row.
func each(ctx context.Context, q querier, sql string, args []any, fn func(scan func(dest ...any) error) error) error {
	rows, err := q.QueryContext(ctx, sql, args...)
	if err != nil {
		return wrap("search", err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows.Scan); err != nil {
			return wrap("search", err)
		}
	}
	return wrap("search", rows.Err())
}

// querier is satisfied by *sql.DB and *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// Search runs a search inside the transaction: it sees the transaction's
// own writes (conditional operations).
func (o ops) Search(ctx context.Context, q *search.Query) (search.Page, error) {
	return engine.Search(ctx, o, q)
}

// Each runs a query in the transaction (search.Executor).
func (o ops) Each(ctx context.Context, sql string, args []any, fn func(scan func(dest ...any) error) error) error {
	if o.tx == nil {
		return each(ctx, o.db, sql, args, fn)
	}
	return each(ctx, o.tx, sql, args, fn)
}

// Lock serialises transactions that use the same key until they end. SQLite
// write transactions are serialised already, so there is nothing to do.
func (o ops) Lock(ctx context.Context, key string) error { return nil }
