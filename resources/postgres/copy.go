package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/meizhou-yiyang/yiyang/resources"
	"github.com/meizhou-yiyang/yiyang/resources/search"
)

// minCopyBatch is the batch size from which CreateMany copies (COPY FROM)
// instead of pipelining one insert statement per resource: a statement
// writing a resource and its ~20 index rows through a dozen CTEs costs far
// more per row than COPY does.
const minCopyBatch = 16

// copyCreate writes new resources (stamped, version 1) with their index
// entries by COPY into resources, resource_history and the index tables, in
// the transaction q; their Patients are set (search.PatientsOf of their
// index entries). A resource whose id is taken fails the whole copy with
// ErrVersionConflict; the caller's transaction must then roll back. It
// returns the number of index rows written.
func copyCreate(ctx context.Context, q querier, rs []resources.Resource, idx []*resources.Index) (int64, error) {
	micros := func(r resources.Resource) int64 { return r.LastUpdated.UnixMicro() }
	labels := make([]string, len(rs))
	for j := range rs {
		labels[j] = idx[j].SecurityLabels()
	}
	_, err := q.CopyFrom(ctx, pgx.Identifier{"resources"}, []string{"type", "id", "version", "last_updated", "deleted", "data", "labels", "patients"},
		pgx.CopyFromSlice(len(rs), func(j int) ([]any, error) {
			return []any{rs[j].Type, rs[j].ID, int64(1), micros(rs[j]), false, rs[j].Data, labels[j], rs[j].Patients}, nil
		}))
	if err != nil {
		return 0, copyError(ctx, err)
	}
	types, ids := make([]string, len(rs)), make([]string, len(rs))
	for j, r := range rs {
		types[j], ids[j] = r.Type, r.ID
	}
	rids := make(map[[2]string]int64, len(rs))
	rows, err := q.Query(ctx, `SELECT r.type, r.id, r.rid FROM resources r
		JOIN unnest($1::text[], $2::text[]) AS n(type, id) ON r.type = n.type AND r.id = n.id`, types, ids)
	if err != nil {
		return 0, wrap(ctx, "create", err)
	}
	for rows.Next() {
		var k [2]string
		var rid int64
		if err := rows.Scan(&k[0], &k[1], &rid); err != nil {
			rows.Close()
			return 0, wrap(ctx, "create", err)
		}
		rids[k] = rid
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, wrap(ctx, "create", err)
	}
	if len(rids) != len(rs) {
		return 0, fmt.Errorf("postgres: create: %d rows for %d new resources", len(rids), len(rs))
	}
	_, err = q.CopyFrom(ctx, pgx.Identifier{"resource_history"}, []string{"type", "id", "version", "last_updated", "method", "deleted", "data", "labels", "patients"},
		pgx.CopyFromSlice(len(rs), func(j int) ([]any, error) {
			return []any{rs[j].Type, rs[j].ID, int64(1), micros(rs[j]), methodPOST, false, rs[j].Data, labels[j], rs[j].Patients}, nil
		}))
	if err != nil {
		return 0, copyError(ctx, err)
	}
	// The index rows, table by table, from the same arrays the insert
	// statement binds (indexArgs): per table its columns' arrays in order,
	// then the two text values.
	tables := make([][][]any, len(indexTables)+1)
	for j, r := range rs {
		rid := rids[[2]string{r.Type, r.ID}]
		args := indexArgs(idx[j])
		at := 0
		for ti, t := range indexTables {
			cols := args[at : at+len(t.columns)]
			at += len(t.columns)
			for k := range arrayLen(cols[0]) {
				row := make([]any, 0, 2+len(cols))
				row = append(row, rid, r.Type)
				for _, c := range cols {
					row = append(row, arrayAt(c, k))
				}
				tables[ti] = append(tables[ti], row)
			}
		}
		if narrative, content := args[at].(string), args[at+1].(string); narrative != "" || content != "" {
			tables[len(indexTables)] = append(tables[len(indexTables)], []any{rid, r.Type, narrative, content})
		}
	}
	var n int64
	for ti, rows := range tables {
		if len(rows) == 0 {
			continue
		}
		name, cols := "idx_text", []string{"rid", "res_type", "narrative", "content"}
		if ti < len(indexTables) {
			name, cols = indexTables[ti].name, append([]string{"rid", "res_type"}, indexTables[ti].columns...)
		}
		if _, err := q.CopyFrom(ctx, pgx.Identifier{name}, cols, pgx.CopyFromRows(rows)); err != nil {
			return 0, copyError(ctx, err)
		}
		n += int64(len(rows))
	}
	return n, nil
}

// CopyNew writes new resources, version 1 as given (Data stamped with their
// id and LastUpdated, see resources.Stamp), with their index entries, by
// COPY in one transaction: the bulk path for loading data sets (the search
// benchmark). It returns the number of index rows written.
func CopyNew(ctx context.Context, pool *pgxpool.Pool, rs []resources.Resource, idx []*resources.Index) (int64, error) {
	rs = slices.Clone(rs)
	for j, r := range rs {
		rs[j].Patients = search.PatientsOf(r.Type, r.ID, idx[j])
	}
	var n int64
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var err error
		n, err = copyCreate(ctx, tx, rs, idx)
		return err
	})
	return n, err
}

// copyError maps a unique violation (an id already taken) to the contract's
// error.
func copyError(ctx context.Context, err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return resources.ErrVersionConflict
	}
	return wrap(ctx, "create", err)
}

func arrayLen(a any) int {
	switch a := a.(type) {
	case []string:
		return len(a)
	case []int64:
		return len(a)
	case []float64:
		return len(a)
	}
	return 0
}

func arrayAt(a any, k int) any {
	switch a := a.(type) {
	case []string:
		return a[k]
	case []int64:
		return a[k]
	case []float64:
		return a[k]
	}
	return nil
}
