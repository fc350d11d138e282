package postgres_test

import (
	"context"
	"testing"

	"github.com/meizhou-yiyang/yiyang/resources"
	"github.com/meizhou-yiyang/yiyang/resources/index"
	"github.com/meizhou-yiyang/yiyang/resources/postgres/pgtest"
)

// benchVitals are the Observations a wristband bridge posts most: a heart
// rate (one value) and a blood pressure (two components).
var benchVitals = [][]byte{
	[]byte(`{"resourceType":"Observation","status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],"code":{"coding":[{"system":"http://loinc.org","code":"8867-4","display":"Heart rate"}]},"subject":{"reference":"Patient/p1"},"effectiveDateTime":"2026-11-25T08:00:00+08:00","valueQuantity":{"value":72,"unit":"beats/minute","system":"http://unitsofmeasure.org","code":"/min"}}`),
	[]byte(`{"resourceType":"Observation","status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],"code":{"coding":[{"system":"http://loinc.org","code":"85354-9","display":"Blood pressure panel"}]},"subject":{"reference":"Patient/p1"},"effectiveDateTime":"2026-11-25T08:00:00+08:00","component":[{"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":128,"unit":"mmHg","system":"http://unitsofmeasure.org","code":"mm[Hg]"}},{"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"valueQuantity":{"value":82,"unit":"mmHg","system":"http://unitsofmeasure.org","code":"mm[Hg]"}}]}`),
}

// BenchmarkCreateObservation creates vital-sign Observations with their
// extracted index entries: the write path of device bridges.
func BenchmarkCreateObservation(b *testing.B) {
	s := open(b, pgtest.DSN(b))
	ctx := context.Background()
	x := index.New()
	var idx [2]*resources.Index
	for i, data := range benchVitals {
		var err error
		if idx[i], err = x.Extract("Observation", data); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			if _, err := s.Create(ctx, resources.CreateParams{Type: "Observation", Data: benchVitals[i%2], Index: idx[i%2]}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkCreateManyAuditEvents creates AuditEvents (with their extracted
// index entries) in batches of 200, as the asynchronous audit writer does;
// ns/op is per event.
func BenchmarkCreateManyAuditEvents(b *testing.B) {
	s := open(b, pgtest.DSN(b))
	ctx := context.Background()
	data := []byte(`{"resourceType":"AuditEvent","type":{"system":"http://terminology.hl7.org/CodeSystem/audit-event-type","code":"rest","display":"Restful Operation"},"subtype":[{"system":"http://hl7.org/fhir/restful-interaction","code":"read"}],"action":"R","recorded":"2026-11-26T01:00:00.123456Z","outcome":"0","agent":[{"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ParticipationType","code":"IRCP","display":"information recipient"}]},"who":{"reference":"Practitioner/li","display":"dr-li"},"altId":"dr-li","name":"his","requestor":true,"network":{"address":"127.0.0.1","type":"2"}}],"source":{"site":"Yiyang","observer":{"display":"Yiyang FHIR server"},"type":[{"system":"http://terminology.hl7.org/CodeSystem/security-source-type","code":"4","display":"Application Server"}]},"entity":[{"what":{"reference":"Patient/p1"},"type":{"system":"http://terminology.hl7.org/CodeSystem/audit-entity-type","code":"2","display":"System Object"}},{"what":{"reference":"Patient/p1"},"type":{"system":"http://terminology.hl7.org/CodeSystem/audit-entity-type","code":"1","display":"Person"},"role":{"system":"http://terminology.hl7.org/CodeSystem/object-role","code":"1","display":"Patient"}}]}`)
	x, err := index.New().Extract("AuditEvent", data)
	if err != nil {
		b.Fatal(err)
	}
	const batch = 200
	ps := make([]resources.CreateParams, batch)
	for i := range ps {
		ps[i] = resources.CreateParams{Type: "AuditEvent", Data: data, Index: x}
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i += batch {
		if _, err := s.CreateMany(ctx, ps); err != nil {
			b.Fatal(err)
		}
	}
}
