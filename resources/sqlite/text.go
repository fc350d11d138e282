package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/meizhou-yiyang/yiyang/resources"
)

// textStatements write the _text/_content row of a resource (idx_text).
type textStatements struct {
	insert, remove *sql.Stmt
}

func prepareText(ctx context.Context, db *sql.DB) (textStatements, error) {
	var st textStatements
	var err error
	if st.insert, err = db.PrepareContext(ctx, `INSERT INTO idx_text (rid, res_type, narrative, content) VALUES (?1, ?2, ?3, ?4)`); err != nil {
		return st, fmt.Errorf("sqlite: prepare: %w", err)
	}
	if st.remove, err = db.PrepareContext(ctx, `DELETE FROM idx_text WHERE rid = ?1`); err != nil {
		st.insert.Close()
		return st, fmt.Errorf("sqlite: prepare: %w", err)
	}
	return st, nil
}

func (st textStatements) close() {
	for _, s := range []*sql.Stmt{st.insert, st.remove} {
		if s != nil {
			s.Close()
		}
	}
}

// writeText replaces the text row of resource rid with x.Text: one row,
// none when the resource has no text (or x is nil, a deletion).
func (o ops) writeText(ctx context.Context, rid int64, typ string, x *resources.Index, replace bool) error {
	if replace {
		if _, err := o.tx.StmtContext(ctx, o.idx.text.remove).ExecContext(ctx, rid); err != nil {
			return wrap("write index", err)
		}
	}
	if x == nil || (x.Text.Narrative == "" && x.Text.Content == "") {
		return nil
	}
	_, err := o.tx.StmtContext(ctx, o.idx.text.insert).ExecContext(ctx, rid, typ, x.Text.Narrative, x.Text.Content)
	return wrap("write index", err)
}

// textOf reads back the text row of resource rid (IndexOf).
func (s *Store) textOf(ctx context.Context, rid int64, x *resources.Index) error {
	err := s.r.QueryRowContext(ctx, `SELECT narrative, content FROM idx_text WHERE rid = ?1`, rid).Scan(&x.Text.Narrative, &x.Text.Content)
	if err == sql.ErrNoRows {
		return nil
	}
	return wrap("index", err)
}
