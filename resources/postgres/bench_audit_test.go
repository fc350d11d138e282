package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/meizhou-yiyang/yiyang/resources"
	"github.com/meizhou-yiyang/yiyang/resources/postgres/pgtest"
	"github.com/meizhou-yiyang/yiyang/resources/search"
	"github.com/meizhou-yiyang/yiyang/resources/storetest"
)

// BenchmarkAuditLogWrite writes AuditEvents as the server's audit writer
// does: stamped, with their audit log rows, in transactions of 2,000 (its
// default batch) and of 4,000 (what a longer batch would save); the events
// are a doctor's reads of 500 patients in turn, as in the server's security
// benchmarks. ns/op and db-µs/op (the CPU of the local PostgreSQL
// processes) are per event.
func BenchmarkAuditLogWrite(b *testing.B) {
	for _, batch := range []int{2000, 4000} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) { benchmarkAuditLogWrite(b, batch) })
	}
}

func benchmarkAuditLogWrite(b *testing.B, batch int) {
	s := open(b, pgtest.DSN(b))
	ctx := context.Background()
	const patients = 500
	at := time.Now().UTC().Truncate(time.Microsecond)
	ps := make([]resources.CreateParams, b.N)
	for i := range ps {
		id := fmt.Sprintf("ae-%07d", i)
		patient := fmt.Sprintf("p%d", i%patients)
		data := storetest.ServerAuditEvent(id, at, "Practitioner/dr-li", "Patient/"+patient)
		x := &resources.Index{
			Dates: []resources.DateEntry{{Param: "date", Low: at.UnixMicro(), High: at.UnixMicro()}},
			Tokens: []resources.TokenEntry{{Param: "outcome", Code: "0"}, {Param: "action", Code: "R"},
				{Param: "subtype", System: "http://hl7.org/fhir/restful-interaction", Code: "read"}, {Param: "altid", Code: "dr-li"}},
			Strings: []resources.StringEntry{{Param: "address", Norm: "10.2.0.1", Exact: "10.2.0.1"}},
			References: []resources.ReferenceEntry{
				{Param: "agent", TargetType: "Practitioner", TargetID: "dr-li"},
				{Param: "entity", TargetType: "Patient", TargetID: patient},
				{Param: "patient", TargetType: "Patient", TargetID: patient},
			},
		}
		row := search.AuditRowOf(resources.Resource{Type: search.AuditType, ID: id, LastUpdated: at, Data: data}, x)
		ps[i] = resources.CreateParams{Type: search.AuditType, ID: id, Data: data, Stamped: at, Audit: &row}
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
