package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/meizhou-yiyang/yiyang/resources"
)

// textCTEs returns the data-modifying CTEs that write the _text/_content
// row (idx_text) of the resource row produced by CTE r, whose type is
// parameter $1, from parameters first (narrative) and first+1 (content):
// one row, none when both are empty. With replace, the row's old text is
// deleted in the same statement; without insert, there is no insert CTE
// (and no parameters).
func textCTEs(first int, replace, insert bool) string {
	s := ""
	if replace {
		s = ",\ntd AS (DELETE FROM idx_text WHERE rid IN (SELECT rid FROM r))"
	}
	if !insert {
		return s
	}
	return s + fmt.Sprintf(`,
ti AS (INSERT INTO idx_text (rid, res_type, narrative, content) SELECT r.rid, $1, $%d::text, $%d::text FROM r
	WHERE $%d::text <> '' OR $%d::text <> '')`, first, first+1, first, first+1)
}

// textArgs returns the parameters textCTEs expects.
func textArgs(x *resources.Index) []any {
	if x == nil {
		return []any{"", ""}
	}
	return []any{x.Text.Narrative, x.Text.Content}
}

// textOf reads back the text row of resource rid (IndexOf).
func (s *Store) textOf(ctx context.Context, rid int64, x *resources.Index) error {
	err := s.pool.QueryRow(ctx, `SELECT narrative, content FROM idx_text WHERE rid = $1`, rid).Scan(&x.Text.Narrative, &x.Text.Content)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	return wrap(ctx, "index", err)
}
