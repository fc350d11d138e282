package postgres_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/meizhou-yiyang/yiyang/resources"
	"github.com/meizhou-yiyang/yiyang/resources/postgres/pgtest"
)

// The Bare benchmarks are the baselines of the performance targets: the same
// work done with pgx alone on a one-table schema. Compare with
//
//	go test -run '^$' -bench . ./resources/postgres/

var benchData = []byte(`{"resourceType":"Patient","active":true,"name":[{"family":"Li","given":["Wei"]}],"gender":"female","birthDate":"1948-03-02"}`)

func benchPool(b *testing.B, dsn string) *pgxpool.Pool {
	b.Helper()
	pool, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	if _, err := pool.Exec(context.Background(), `CREATE TABLE IF NOT EXISTS bare (id text PRIMARY KEY, data bytea NOT NULL)`); err != nil {
		b.Fatal(err)
	}
	return pool
}

func BenchmarkRead(b *testing.B) {
	s := open(b, pgtest.DSN(b))
	ctx := context.Background()
	r, err := s.Create(ctx, resources.CreateParams{Type: "Patient", Data: benchData})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Read(ctx, "Patient", r.ID); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkReadBare(b *testing.B) {
	pool := benchPool(b, pgtest.DSN(b))
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `INSERT INTO bare VALUES ('p1', $1)`, benchData); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var data []byte
		for pb.Next() {
			if err := pool.QueryRow(ctx, `SELECT data FROM bare WHERE id = $1`, "p1").Scan(&data); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkCreate(b *testing.B) {
	s := open(b, pgtest.DSN(b))
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Create(ctx, resources.CreateParams{Type: "Patient", Data: benchData}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkCreateBare(b *testing.B) {
	pool := benchPool(b, pgtest.DSN(b))
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := pool.Exec(ctx, `INSERT INTO bare (id, data) VALUES ($1, $2)`, uuid.Must(uuid.NewV7()).String(), benchData); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkUpdate(b *testing.B) {
	s := open(b, pgtest.DSN(b))
	ctx := context.Background()
	var n atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		// One resource per goroutine: measures the write path, not lock waits.
		id := fmt.Sprint("p", n.Add(1))
		for pb.Next() {
			if _, _, err := s.Update(ctx, resources.UpdateParams{Type: "Patient", ID: id, Data: benchData}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
