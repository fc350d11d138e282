package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/meizhou-yiyang/yiyang/resources"
	"github.com/meizhou-yiyang/yiyang/resources/index"
)

// loadChunk is a run of resources of one kind, generated and written together.
type loadChunk struct {
	kind       int
	start, end int
	ids        []string
	data       [][]byte
	idx        []*resources.Index
}

const loadChunkSize = 4000

// loadStats is what a bulk load measured.
type loadStats struct {
	resources, indexRows int64
	elapsed, analyze     time.Duration
}

// bulkLoad writes d into the schema of pool with COPY, as the store would
// have written it through creates: resources, resource_history and the
// idx_* rows the extractor computes. Generation and extraction run in
// genWorkers goroutines, writing in as many more.
func bulkLoad(ctx context.Context, pool *pgxpool.Pool, d searchData, genWorkers int, progress func(done, total int)) (loadStats, error) {
	start := time.Now()
	var chunks []loadChunk
	for k := range genKinds {
		// Chunks go in load order, so rids roughly follow it as they would
		// for data created over time.
		for s := 0; s < d.count(k); s += loadChunkSize {
			chunks = append(chunks, loadChunk{kind: k, start: s, end: min(s+loadChunkSize, d.count(k))})
		}
	}
	x := index.New()
	var st loadStats
	var next atomic.Int64
	var done atomic.Int64
	gctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	ready := make(chan *loadChunk, genWorkers)
	var gens, writers sync.WaitGroup
	for range genWorkers {
		gens.Go(func() {
			for i := int(next.Add(1)) - 1; i < len(chunks); i = int(next.Add(1)) - 1 {
				c := &chunks[i]
				if err := c.generate(d, x); err != nil {
					cancel(err)
					return
				}
				select {
				case ready <- c:
				case <-gctx.Done():
					return
				}
			}
		})
	}
	go func() { gens.Wait(); close(ready) }()
	for range genWorkers {
		writers.Go(func() {
			for c := range ready {
				if gctx.Err() != nil {
					continue // drain, so that the generators finish
				}
				n, err := c.write(gctx, pool, d)
				if err != nil {
					cancel(err)
					continue
				}
				atomic.AddInt64(&st.indexRows, n)
				atomic.AddInt64(&st.resources, int64(len(c.ids)))
				if progress != nil {
					progress(int(done.Add(int64(len(c.ids)))), d.total())
				}
				c.ids, c.data, c.idx = nil, nil, nil
			}
		})
	}
	writers.Wait()
	if err := context.Cause(gctx); err != nil {
		return st, err
	}
	st.elapsed = time.Since(start)
	t0 := time.Now()
	// VACUUM also sets the visibility map, as autovacuum would soon after
	// a load of this size, so that index-only scans work from the start.
	if _, err := pool.Exec(ctx, "VACUUM (ANALYZE) resources, resource_history, idx_string, idx_token, idx_reference, idx_date, idx_number, idx_quantity, idx_uri, idx_composite"); err != nil {
		return st, fmt.Errorf("vacuum analyze: %w", err)
	}
	st.analyze = time.Since(t0)
	return st, nil
}

// generate builds the chunk's resources and their index entries.
func (c *loadChunk) generate(d searchData, x *index.Extractor) error {
	n := c.end - c.start
	c.ids, c.data, c.idx = make([]string, n), make([][]byte, n), make([]*resources.Index, n)
	for j := range n {
		typ, id, data, err := d.resource(c.kind, c.start+j)
		if err != nil {
			return fmt.Errorf("generate %s/%s: %w", typ, id, err)
		}
		ix, err := x.Extract(typ, data)
		if err != nil {
			return fmt.Errorf("index %s/%s: %w", typ, id, err)
		}
		c.ids[j], c.data[j], c.idx[j] = id, data, ix
	}
	return nil
}

// write copies the chunk into resources, then, with the rids PostgreSQL
// assigned, into resource_history and the index tables. It returns the
// number of index rows.
func (c *loadChunk) write(ctx context.Context, pool *pgxpool.Pool, d searchData) (int64, error) {
	typ := genTypes[c.kind]
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Release()
	micros := func(j int) int64 { return d.lastUpdated(c.kind, c.start+j).UnixMicro() }
	_, err = conn.CopyFrom(ctx, pgx.Identifier{"resources"}, []string{"type", "id", "version", "last_updated", "deleted", "data"},
		pgx.CopyFromSlice(len(c.ids), func(j int) ([]any, error) {
			return []any{typ, c.ids[j], int64(1), micros(j), false, c.data[j]}, nil
		}))
	if err != nil {
		return 0, fmt.Errorf("copy %s resources: %w", typ, err)
	}
	rids := make(map[string]int64, len(c.ids))
	rows, err := conn.Query(ctx, `SELECT id, rid FROM resources WHERE type = $1 AND id = ANY($2)`, typ, c.ids)
	if err != nil {
		return 0, fmt.Errorf("rids of %s: %w", typ, err)
	}
	for rows.Next() {
		var id string
		var rid int64
		if err := rows.Scan(&id, &rid); err != nil {
			rows.Close()
			return 0, err
		}
		rids[id] = rid
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("rids of %s: %w", typ, err)
	}
	if len(rids) != len(c.ids) {
		return 0, fmt.Errorf("rids of %s: got %d for %d resources", typ, len(rids), len(c.ids))
	}
	_, err = conn.CopyFrom(ctx, pgx.Identifier{"resource_history"}, []string{"type", "id", "version", "last_updated", "method", "deleted", "data"},
		pgx.CopyFromSlice(len(c.ids), func(j int) ([]any, error) {
			return []any{typ, c.ids[j], int64(1), micros(j), "POST", false, c.data[j]}, nil
		}))
	if err != nil {
		return 0, fmt.Errorf("copy %s history: %w", typ, err)
	}
	var total int64
	for _, t := range searchIndexTables {
		var rowsOf [][]any
		for j, ix := range c.idx {
			rowsOf = t.rows(rowsOf, rids[c.ids[j]], typ, ix)
		}
		if len(rowsOf) == 0 {
			continue
		}
		if _, err := conn.CopyFrom(ctx, pgx.Identifier{t.name}, t.columns, pgx.CopyFromRows(rowsOf)); err != nil {
			return 0, fmt.Errorf("copy %s %s: %w", typ, t.name, err)
		}
		total += int64(len(rowsOf))
	}
	return total, nil
}

// searchIndexTable is one idx_* table of migrations/postgres/002 and how an
// Index fills it.
type searchIndexTable struct {
	name    string
	columns []string
	rows    func(out [][]any, rid int64, typ string, x *resources.Index) [][]any
}

var searchIndexTables = []searchIndexTable{
	{"idx_string", []string{"rid", "res_type", "param", "norm", "exact"}, func(out [][]any, rid int64, typ string, x *resources.Index) [][]any {
		for _, e := range x.Strings {
			out = append(out, []any{rid, typ, e.Param, e.Norm, e.Exact})
		}
		return out
	}},
	{"idx_token", []string{"rid", "res_type", "param", "system", "code", "text"}, func(out [][]any, rid int64, typ string, x *resources.Index) [][]any {
		for _, e := range x.Tokens {
			out = append(out, []any{rid, typ, e.Param, e.System, e.Code, e.Text})
		}
		return out
	}},
	{"idx_reference", []string{"rid", "res_type", "param", "target_type", "target_id", "url"}, func(out [][]any, rid int64, typ string, x *resources.Index) [][]any {
		for _, e := range x.References {
			out = append(out, []any{rid, typ, e.Param, e.TargetType, e.TargetID, e.URL})
		}
		return out
	}},
	{"idx_date", []string{"rid", "res_type", "param", "low", "high"}, func(out [][]any, rid int64, typ string, x *resources.Index) [][]any {
		for _, e := range x.Dates {
			out = append(out, []any{rid, typ, e.Param, e.Low, e.High})
		}
		return out
	}},
	{"idx_number", []string{"rid", "res_type", "param", "value", "low", "high"}, func(out [][]any, rid int64, typ string, x *resources.Index) [][]any {
		for _, e := range x.Numbers {
			out = append(out, []any{rid, typ, e.Param, e.Value, e.Low, e.High})
		}
		return out
	}},
	{"idx_quantity", []string{"rid", "res_type", "param", "system", "code", "value", "low", "high", "canon_code", "canon_value", "canon_low", "canon_high"},
		func(out [][]any, rid int64, typ string, x *resources.Index) [][]any {
			for _, e := range x.Quantities {
				out = append(out, []any{rid, typ, e.Param, e.System, e.Code, e.Value, e.Low, e.High, e.CanonCode, e.CanonValue, e.CanonLow, e.CanonHigh})
			}
			return out
		}},
	{"idx_uri", []string{"rid", "res_type", "param", "uri"}, func(out [][]any, rid int64, typ string, x *resources.Index) [][]any {
		for _, e := range x.URIs {
			out = append(out, []any{rid, typ, e.Param, e.URI})
		}
		return out
	}},
	{"idx_composite", append([]string{"rid", "res_type", "param"}, resources.CompositeColumns()...), func(out [][]any, rid int64, typ string, x *resources.Index) [][]any {
		for _, e := range x.Composites {
			out = append(out, append([]any{rid, typ, e.Param}, e.Fields()...))
		}
		return out
	}},
	{"idx_text", []string{"rid", "res_type", "narrative", "content"}, func(out [][]any, rid int64, typ string, x *resources.Index) [][]any {
		if x.Text.Narrative == "" && x.Text.Content == "" {
			return out // as the stores write it: no row without text
		}
		return append(out, []any{rid, typ, x.Text.Narrative, x.Text.Content})
	}},
}
