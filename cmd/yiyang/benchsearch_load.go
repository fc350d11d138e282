package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/meizhou-yiyang/yiyang/resources"
	"github.com/meizhou-yiyang/yiyang/resources/index"
	"github.com/meizhou-yiyang/yiyang/resources/postgres"
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

// write copies the chunk into resources, resource_history and the index
// tables, as the store's bulk path does (postgres.CopyNew). It returns the
// number of index rows.
func (c *loadChunk) write(ctx context.Context, pool *pgxpool.Pool, d searchData) (int64, error) {
	typ := genTypes[c.kind]
	rs := make([]resources.Resource, len(c.ids))
	for j, id := range c.ids {
		rs[j] = resources.Resource{Type: typ, ID: id, VersionID: 1, LastUpdated: d.lastUpdated(c.kind, c.start+j), Data: c.data[j]}
	}
	n, err := postgres.CopyNew(ctx, pool, rs, c.idx)
	if err != nil {
		return 0, fmt.Errorf("copy %s: %w", typ, err)
	}
	return n, nil
}
