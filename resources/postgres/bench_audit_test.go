package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/meizhou-yiyang/yiyang/resources"
	"github.com/meizhou-yiyang/yiyang/resources/postgres/pgtest"
	"github.com/meizhou-yiyang/yiyang/resources/storetest"
)

// BenchmarkAuditLogWrite writes AuditEvents as the server's audit writer
// does: stamped, with their audit log rows, without ids (the log numbers
// them), in transactions of 2,000 (its default batch) and of 4,000 (what a
// longer batch would save), and with ids of their own at 2,000 (what
// numbering saves); the events
// are a doctor's reads of 500 patients in turn, as in the server's security
// benchmarks. ns/op and db-µs/op (the CPU of the local PostgreSQL
// processes) are per event.
func BenchmarkAuditLogWrite(b *testing.B) {
	for _, c := range []struct {
		batch int
		ids   bool
	}{{2000, false}, {2000, true}, {4000, false}} {
		name := fmt.Sprintf("batch=%d", c.batch)
		if c.ids {
			name += "/ids"
		}
		b.Run(name, func(b *testing.B) { benchmarkAuditLogWrite(b, c.batch, c.ids) })
	}
}

// benchmarkAuditLogWrite writes the server's events (storetest.ServerAuditCreate)
// in batches: numbered by the log, as the server's audit trail has them,
// or with ids of their own (ids), as events were before migration 16.
func benchmarkAuditLogWrite(b *testing.B, batch int, ids bool) {
	s := open(b, pgtest.DSN(b))
	ctx := context.Background()
	const patients = 500
	at := time.Now().UTC().Truncate(time.Microsecond)
	ps := make([]resources.CreateParams, b.N)
	for i := range ps {
		ps[i] = storetest.ServerAuditCreate(b, at, "dr-li", fmt.Sprintf("p%d", i%patients))
		if ids {
			ps[i].ID = uuid.Must(uuid.NewV7()).String()
		}
	}
	b.ReportAllocs()
	db0 := pgtest.CPU()
	b.ResetTimer()
	for n := 0; n < b.N; n += batch {
		err := s.WithTx(ctx, func(ctx context.Context, tx resources.Ops) error {
			_, err := tx.(resources.BatchCreator).CreateMany(ctx, ps[n:min(n+batch, b.N)])
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(db0.Since().Nanoseconds())/float64(b.N)/1000, "db-µs/op")
}
