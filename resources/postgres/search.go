package postgres

import (
	"context"

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
	rows, err := s.pool.Query(ctx, sql, args...)
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
