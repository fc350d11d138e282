package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"

	"github.com/meizhou-yiyang/yiyang/resources"
	"github.com/meizhou-yiyang/yiyang/resources/search"
)

// indexTable describes one search index table: its value columns and their
// PostgreSQL array types, in the order indexArgs supplies them.
type indexTable struct {
	name    string
	columns []string
	types   []string
}

var indexTables = []indexTable{
	{"idx_string", []string{"param", "norm", "exact"}, []string{"text", "text", "text"}},
	{"idx_token", []string{"param", "system", "code", "text"}, []string{"text", "text", "text", "text"}},
	{"idx_reference", []string{"param", "target_type", "target_id", "url"}, []string{"text", "text", "text", "text"}},
	{"idx_date", []string{"param", "low", "high"}, []string{"text", "int8", "int8"}},
	{"idx_number", []string{"param", "value", "low", "high"}, []string{"text", "float8", "float8", "float8"}},
	{"idx_quantity", []string{"param", "system", "code", "value", "low", "high", "canon_code", "canon_value", "canon_low", "canon_high"},
		[]string{"text", "text", "text", "float8", "float8", "float8", "text", "float8", "float8", "float8"}},
	{"idx_uri", []string{"param", "uri"}, []string{"text", "text"}},
	compositeTable(),
}

// indexCTEs returns the data-modifying CTEs that write the index entries of
// the resource row produced by CTE r, whose type is parameter $1; the
// arrays are parameters first, first+1, ... With replace, the row's old
// entries are deleted in the same statement.
func indexCTEs(first int, replace bool) string { return indexCTEsFor(first, replace, allTables) }

// tableMask selects index tables by their position in indexTables; the bit
// after the last is idx_text.
type tableMask uint32

var (
	textBit   = tableMask(1) << len(indexTables)
	allTables = textBit<<1 - 1
)

// indexCTEsFor is indexCTEs writing only the tables in m: a resource has
// entries in a few of them, and every CTE of a statement costs PostgreSQL
// executor work even when its arrays are empty. Deletions (replace) still
// cover every table. The parameters are those of pick(indexArgs(x), m).
func indexCTEsFor(first int, replace bool, m tableMask) string {
	var b strings.Builder
	n := first
	for i, t := range indexTables {
		if replace {
			fmt.Fprintf(&b, ",\nd%d AS (DELETE FROM %s WHERE rid IN (SELECT rid FROM r))", i, t.name)
		}
		if m&(1<<i) == 0 {
			continue
		}
		args := make([]string, len(t.columns))
		for j, typ := range t.types {
			args[j] = fmt.Sprintf("$%d::%s[]", n, typ)
			n++
		}
		fmt.Fprintf(&b, ",\ni%d AS (INSERT INTO %s (rid, res_type, %s) SELECT r.rid, $1, u.* FROM r, unnest(%s) AS u)",
			i, t.name, strings.Join(t.columns, ", "), strings.Join(args, ", "))
	}
	b.WriteString(textCTEs(n, replace, m&textBit != 0))
	return b.String()
}

// maskOf is the mask of the tables indexArgs' args have entries for.
func maskOf(args []any) tableMask {
	var m tableMask
	at := 0
	for i, t := range indexTables {
		if arrayLen(args[at]) > 0 {
			m |= 1 << i
		}
		at += len(t.columns)
	}
	if args[at].(string) != "" || args[at+1].(string) != "" {
		m |= textBit
	}
	return m
}

// pick keeps the parameters of the tables in m, in order.
func pick(args []any, m tableMask) []any {
	if m == allTables {
		return args
	}
	out := make([]any, 0, len(args))
	at := 0
	for i, t := range indexTables {
		if m&(1<<i) != 0 {
			out = append(out, args[at:at+len(t.columns)]...)
		}
		at += len(t.columns)
	}
	if m&textBit != 0 {
		out = append(out, args[at:]...)
	}
	return out
}

// statements caches the SQL of a statement per table mask.
type statements struct {
	m     sync.Map // tableMask → string
	build func(tableMask) string
}

func (s *statements) sql(m tableMask) string {
	if v, ok := s.m.Load(m); ok {
		return v.(string)
	}
	v, _ := s.m.LoadOrStore(m, s.build(m))
	return v.(string)
}

// indexArgs returns the arrays indexCTEs expects, in order.
func indexArgs(x *resources.Index) []any {
	if x == nil {
		x = &resources.Index{}
	}
	var s [3][]string
	for _, e := range x.Strings {
		s[0], s[1], s[2] = append(s[0], e.Param), append(s[1], e.Norm), append(s[2], e.Exact)
	}
	var t [4][]string
	for _, e := range x.Tokens {
		t[0], t[1], t[2], t[3] = append(t[0], e.Param), append(t[1], e.System), append(t[2], e.Code), append(t[3], e.Text)
	}
	var r [4][]string
	for _, e := range x.References {
		r[0], r[1], r[2], r[3] = append(r[0], e.Param), append(r[1], e.TargetType), append(r[2], e.TargetID), append(r[3], e.URL)
	}
	var dp []string
	var dl, dh []int64
	for _, e := range x.Dates {
		dp, dl, dh = append(dp, e.Param), append(dl, e.Low), append(dh, e.High)
	}
	var np []string
	var n [3][]float64
	for _, e := range x.Numbers {
		np = append(np, e.Param)
		n[0], n[1], n[2] = append(n[0], e.Value), append(n[1], e.Low), append(n[2], e.High)
	}
	var qs [4][]string
	var qf [6][]float64
	for _, e := range x.Quantities {
		qs[0], qs[1], qs[2], qs[3] = append(qs[0], e.Param), append(qs[1], e.System), append(qs[2], e.Code), append(qs[3], e.CanonCode)
		qf[0], qf[1], qf[2] = append(qf[0], e.Value), append(qf[1], e.Low), append(qf[2], e.High)
		qf[3], qf[4], qf[5] = append(qf[3], e.CanonValue), append(qf[4], e.CanonLow), append(qf[5], e.CanonHigh)
	}
	var u [2][]string
	for _, e := range x.URIs {
		u[0], u[1] = append(u[0], e.Param), append(u[1], e.URI)
	}
	args := []any{
		s[0], s[1], s[2],
		t[0], t[1], t[2], t[3],
		r[0], r[1], r[2], r[3],
		dp, dl, dh,
		np, n[0], n[1], n[2],
		qs[0], qs[1], qs[2], qf[0], qf[1], qf[2], qs[3], qf[3], qf[4], qf[5],
		u[0], u[1],
	}
	args = append(args, compositeArgs(x)...)
	return append(args, textArgs(x)...)
}

// IndexOf returns the search index entries stored for the current version of
// a resource (for tests and diagnostics). Errors: resources.ErrNotFound.
func (s *Store) IndexOf(ctx context.Context, typ, id string) (*resources.Index, error) {
	if typ == search.AuditType {
		return engine.AuditIndexOf(ctx, s, id)
	}
	var rid int64
	err := s.pool.QueryRow(ctx, `SELECT rid FROM resources WHERE type = $1 AND id = $2`, typ, id).Scan(&rid)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, resources.ErrNotFound
	}
	if err != nil {
		return nil, wrap(ctx, "index", err)
	}
	x := &resources.Index{}
	for _, t := range indexTables {
		rows, err := s.pool.Query(ctx, "SELECT "+strings.Join(t.columns, ", ")+" FROM "+t.name+" WHERE rid = $1", rid)
		if err != nil {
			return nil, wrap(ctx, "index", err)
		}
		for rows.Next() {
			if err := x.Scan(strings.TrimPrefix(t.name, "idx_"), rows.Scan); err != nil {
				rows.Close()
				return nil, wrap(ctx, "index", err)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, wrap(ctx, "index", err)
		}
	}
	if err := s.textOf(ctx, rid, x); err != nil {
		return nil, err
	}
	return x, nil
}

// sqlReindex replaces the index entries of a current, live version.
var sqlReindex = `WITH r AS (
	UPDATE resources SET labels = $4 WHERE type = $1 AND id = $2 AND version = $3 AND NOT deleted RETURNING rid)` +
	indexCTEs(5, true) + `
SELECT count(*) FROM r`

// Reindex replaces the index entries of a resource's current version when
// it is still version (a newer version was indexed by its own write). It
// reports whether it did.
func (s *Store) Reindex(ctx context.Context, typ, id string, version int64, x *resources.Index) (bool, error) {
	var n int64
	args := append([]any{typ, id, version, x.SecurityLabels()}, indexArgs(x)...)
	if err := s.pool.QueryRow(ctx, sqlReindex, args...).Scan(&n); err != nil {
		return false, wrap(ctx, "reindex", err)
	}
	return n == 1, nil
}
