package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/meizhou-yiyang/yiyang/resources"
	"github.com/meizhou-yiyang/yiyang/resources/search"
)

// indexTables are the search index tables and their value columns.
var indexTables = []struct {
	name    string
	columns []string
}{
	{"idx_string", []string{"param", "norm", "exact"}},
	{"idx_token", []string{"param", "system", "code", "text"}},
	{"idx_reference", []string{"param", "target_type", "target_id", "url"}},
	{"idx_date", []string{"param", "low", "high"}},
	{"idx_number", []string{"param", "value", "low", "high"}},
	{"idx_quantity", []string{"param", "system", "code", "value", "low", "high", "canon_code", "canon_value", "canon_low", "canon_high"}},
	{"idx_uri", []string{"param", "uri"}},
	{"idx_composite", append([]string{"param"}, resources.CompositeColumns()...)},
}

// indexStatements insert into and delete from each index table, in the
// order of indexTables.
type indexStatements struct {
	insert, remove []*sql.Stmt
	text           textStatements
}

func prepareIndex(ctx context.Context, db *sql.DB) (*indexStatements, error) {
	st := &indexStatements{}
	for _, t := range indexTables {
		marks := strings.Repeat(", ?", len(t.columns))
		ins, err := db.PrepareContext(ctx, fmt.Sprintf("INSERT INTO %s (rid, res_type, %s) VALUES (?, ?%s)",
			t.name, strings.Join(t.columns, ", "), marks))
		if err != nil {
			st.close()
			return nil, fmt.Errorf("sqlite: prepare: %w", err)
		}
		st.insert = append(st.insert, ins)
		del, err := db.PrepareContext(ctx, "DELETE FROM "+t.name+" WHERE rid = ?")
		if err != nil {
			st.close()
			return nil, fmt.Errorf("sqlite: prepare: %w", err)
		}
		st.remove = append(st.remove, del)
	}
	var err error
	if st.text, err = prepareText(ctx, db); err != nil {
		st.close()
		return nil, err
	}
	return st, nil
}

func (st *indexStatements) close() {
	for _, s := range append(st.insert, st.remove...) {
		s.Close()
	}
	st.text.close()
}

// writeIndex replaces the index entries of resource rid (of type typ) with x.
func (o ops) writeIndex(ctx context.Context, rid int64, typ string, x *resources.Index, replace bool) error {
	if replace {
		for _, del := range o.idx.remove {
			if _, err := o.tx.StmtContext(ctx, del).ExecContext(ctx, rid); err != nil {
				return wrap("write index", err)
			}
		}
	}
	if err := o.writeText(ctx, rid, typ, x, replace); err != nil {
		return err
	}
	if x.Len() == 0 {
		return nil
	}
	rows := [][][]any{
		make([][]any, 0, len(x.Strings)), make([][]any, 0, len(x.Tokens)), make([][]any, 0, len(x.References)),
		make([][]any, 0, len(x.Dates)), make([][]any, 0, len(x.Numbers)), make([][]any, 0, len(x.Quantities)),
		make([][]any, 0, len(x.URIs)), make([][]any, 0, len(x.Composites)),
	}
	for _, e := range x.Strings {
		rows[0] = append(rows[0], []any{e.Param, e.Norm, e.Exact})
	}
	for _, e := range x.Tokens {
		rows[1] = append(rows[1], []any{e.Param, e.System, e.Code, e.Text})
	}
	for _, e := range x.References {
		rows[2] = append(rows[2], []any{e.Param, e.TargetType, e.TargetID, e.URL})
	}
	for _, e := range x.Dates {
		rows[3] = append(rows[3], []any{e.Param, e.Low, e.High})
	}
	for _, e := range x.Numbers {
		rows[4] = append(rows[4], []any{e.Param, e.Value, e.Low, e.High})
	}
	for _, e := range x.Quantities {
		rows[5] = append(rows[5], []any{e.Param, e.System, e.Code, e.Value, e.Low, e.High, e.CanonCode, e.CanonValue, e.CanonLow, e.CanonHigh})
	}
	for _, e := range x.URIs {
		rows[6] = append(rows[6], []any{e.Param, e.URI})
	}
	for _, e := range x.Composites {
		rows[7] = append(rows[7], append([]any{e.Param}, e.Fields()...))
	}
	for i, table := range rows {
		if len(table) == 0 {
			continue
		}
		ins := o.tx.StmtContext(ctx, o.idx.insert[i])
		for _, vals := range table {
			if _, err := ins.ExecContext(ctx, append([]any{rid, typ}, vals...)...); err != nil {
				return wrap("write index", err)
			}
		}
	}
	return nil
}

// IndexOf returns the search index entries stored for the current version of
// a resource (for tests and diagnostics). Errors: resources.ErrNotFound.
func (s *Store) IndexOf(ctx context.Context, typ, id string) (*resources.Index, error) {
	if typ == search.AuditType {
		return engine.AuditIndexOf(ctx, s, id)
	}
	var rid int64
	err := s.r.QueryRowContext(ctx, `SELECT rid FROM resources WHERE type = ?1 AND id = ?2`, typ, id).Scan(&rid)
	if err == sql.ErrNoRows {
		return nil, resources.ErrNotFound
	}
	if err != nil {
		return nil, wrap("index", err)
	}
	x := &resources.Index{}
	for _, t := range indexTables {
		rows, err := s.r.QueryContext(ctx, "SELECT "+strings.Join(t.columns, ", ")+" FROM "+t.name+" WHERE rid = ?", rid)
		if err != nil {
			return nil, wrap("index", err)
		}
		for rows.Next() {
			if err := x.Scan(strings.TrimPrefix(t.name, "idx_"), rows.Scan); err != nil {
				rows.Close()
				return nil, wrap("index", err)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, wrap("index", err)
		}
	}
	if err := s.textOf(ctx, rid, x); err != nil {
		return nil, err
	}
	return x, nil
}

// Reindex replaces the index entries of a resource's current version when
// it is still version (a newer version was indexed by its own write). It
// reports whether it did.
func (s *Store) Reindex(ctx context.Context, typ, id string, version int64, x *resources.Index) (done bool, err error) {
	err = s.WithTx(ctx, func(ctx context.Context, tx resources.Ops) error {
		o := tx.(ops)
		var rid int64
		err := o.tx.QueryRowContext(ctx, `SELECT rid FROM resources WHERE type = ?1 AND id = ?2 AND version = ?3 AND deleted = 0`,
			typ, id, version).Scan(&rid)
		if err == sql.ErrNoRows {
			return nil
		}
		if err != nil {
			return wrap("reindex", err)
		}
		done = true
		if _, err := o.tx.ExecContext(ctx, `UPDATE resources SET labels = ?1 WHERE rid = ?2`, x.SecurityLabels(), rid); err != nil {
			return wrap("reindex", err)
		}
		return o.writeIndex(ctx, rid, typ, x, true)
	})
	return done, err
}
