package storetest

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meizhou-yiyang/yiyang/resources"
	"github.com/meizhou-yiyang/yiyang/resources/search"
)

// auditEvent is the JSON and index entries of an AuditEvent (as the
// extractor would find them in it).
func auditEvent(recorded, outcome, subtype, altid, address string, agent, entity string) ([]byte, *resources.Index) {
	at, err := time.Parse(time.RFC3339, recorded)
	if err != nil {
		panic(err)
	}
	data := fmt.Appendf(nil, `{"resourceType":"AuditEvent","type":{"system":"http://terminology.hl7.org/CodeSystem/audit-event-type","code":"rest"},`+
		`"subtype":[{"system":"http://hl7.org/fhir/restful-interaction","code":%q}],"action":"R","recorded":%q,"outcome":%q,`+
		`"agent":[{"who":{"reference":%q},"altId":%q,"requestor":true,"network":{"address":%q,"type":"2"}}],`+
		`"source":{"observer":{"display":"Yiyang"}},"entity":[{"what":{"reference":%q}}]}`,
		subtype, recorded, outcome, agent, altid, address, entity)
	ref := func(param, r string) resources.ReferenceEntry {
		typ, id, _ := strings.Cut(r, "/")
		return resources.ReferenceEntry{Param: param, TargetType: typ, TargetID: id}
	}
	x := &resources.Index{
		Dates: []resources.DateEntry{{Param: "date", Low: at.UnixMicro(), High: at.UnixMicro()}},
		Tokens: []resources.TokenEntry{
			{Param: "action", Code: "R", Text: "r"}, {Param: "outcome", Code: outcome, Text: outcome},
			{Param: "subtype", System: "http://hl7.org/fhir/restful-interaction", Code: subtype},
			{Param: "altid", Code: altid, Text: strings.ToLower(altid)},
			{Param: "type", System: "http://terminology.hl7.org/CodeSystem/audit-event-type", Code: "rest"},
		},
		Strings:    []resources.StringEntry{{Param: "address", Norm: address, Exact: address}},
		References: []resources.ReferenceEntry{ref("agent", agent), ref("entity", entity)},
	}
	for _, r := range []string{agent, entity} {
		if strings.HasPrefix(r, "Patient/") {
			x.References = append(x.References, ref("patient", r))
		}
	}
	return data, x
}

// testAuditLog checks the audit log that keeps AuditEvents: create (one,
// batched, stamped), read, immutability, history, the AuditEvent search
// parameters, sorting, paging, totals, _include, _revinclude, _has,
// compartments and scope confinement.
func testAuditLog(t *testing.T, s resources.Store) {
	ctx := context.Background()
	pa := mustCreate(t, s, "Patient", patient("A"))
	pb := mustCreate(t, s, "Patient", patient("B"))
	pr := mustCreate(t, s, "Practitioner", []byte(`{"resourceType":"Practitioner","name":[{"family":"Li"}]}`))
	A, B, PR := "Patient/"+pa.ID, "Patient/"+pb.ID, "Practitioner/"+pr.ID

	create := func(data []byte, x *resources.Index) resources.Resource {
		t.Helper()
		r, err := s.Create(ctx, resources.CreateParams{Type: search.AuditType, Data: data, Index: x})
		if err != nil {
			t.Fatalf("create AuditEvent: %v", err)
		}
		return r
	}
	e1 := create(auditEvent("2026-01-01T10:00:00Z", "0", "read", "dr-li", "10.0.0.1", PR, A))
	e2 := create(auditEvent("2026-01-02T10:00:00Z", "4", "search-type", "dr-li", "10.0.0.2", PR, B))
	e3 := create(auditEvent("2026-01-03T10:00:00Z", "0", "read", "zhang", "192.168.1.5", A, A))
	var ps []resources.CreateParams
	for i := range 17 {
		data, x := auditEvent(fmt.Sprintf("2026-02-%02dT08:00:00Z", i+1), "0", "vread", "dr-li", "10.0.0.1", PR, A)
		ps = append(ps, resources.CreateParams{Type: search.AuditType, Data: data, Index: x})
	}
	batch, err := s.(resources.BatchCreator).CreateMany(ctx, ps)
	if err != nil || len(batch) != len(ps) {
		t.Fatalf("CreateMany of AuditEvents: %d %v", len(batch), err)
	}
	all := append([]resources.Resource{e1, e2, e3}, batch...)
	idsOf := func(rs ...resources.Resource) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.ID)
		}
		slices.Sort(out)
		return out
	}

	// Read, vread: the stored, stamped version.
	got, err := s.Read(ctx, search.AuditType, e2.ID)
	if err != nil || got.VersionID != 1 || string(got.Data) != string(e2.Data) || !got.LastUpdated.Equal(e2.LastUpdated) {
		t.Fatalf("read AuditEvent: %+v %v", got, err)
	}
	if m := decode(t, got.Data); m["id"] != e2.ID || m["outcome"] != "4" {
		t.Fatalf("read AuditEvent: %s", got.Data)
	}
	if v, err := s.VRead(ctx, search.AuditType, e2.ID, 1); err != nil || string(v.Data) != string(e2.Data) || v.Method != "POST" {
		t.Fatalf("vread AuditEvent 1: %+v %v", v, err)
	}
	_, err = s.VRead(ctx, search.AuditType, e2.ID, 2)
	wantErr(t, err, resources.ErrNotFound)
	_, err = s.Read(ctx, search.AuditType, "no-such-event")
	wantErr(t, err, resources.ErrNotFound)

	// Immutable; ids unique, also in a batch, which then writes nothing.
	_, _, err = s.Update(ctx, resources.UpdateParams{Type: search.AuditType, ID: e1.ID, Data: e1.Data})
	wantErr(t, err, resources.ErrInvalid)
	_, err = s.Delete(ctx, resources.DeleteParams{Type: search.AuditType, ID: e1.ID})
	wantErr(t, err, resources.ErrInvalid)
	data, x := auditEvent("2026-03-01T00:00:00Z", "0", "read", "x", "10.9.9.9", PR, B)
	_, err = s.Create(ctx, resources.CreateParams{Type: search.AuditType, ID: e1.ID, Data: data, Index: x})
	wantErr(t, err, resources.ErrVersionConflict)
	err = s.WithTx(ctx, func(ctx context.Context, tx resources.Ops) error {
		_, err := tx.(resources.BatchCreator).CreateMany(ctx, []resources.CreateParams{
			{Type: search.AuditType, ID: "audit-new", Data: data, Index: x},
			{Type: search.AuditType, ID: e3.ID, Data: data, Index: x},
		})
		return err
	})
	wantErr(t, err, resources.ErrVersionConflict)
	_, err = s.Read(ctx, search.AuditType, "audit-new")
	wantErr(t, err, resources.ErrNotFound)

	// A stamped create is kept as it came.
	at := time.Now().UTC().Truncate(time.Microsecond)
	stamped, err := resources.Stamp(data, "audit-stamped", 1, at)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, resources.CreateParams{Type: search.AuditType, ID: "audit-stamped", Data: stamped, Index: x, Stamped: at}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Read(ctx, search.AuditType, "audit-stamped"); err != nil || string(got.Data) != string(stamped) || !got.LastUpdated.Equal(at) {
		t.Fatalf("stamped AuditEvent read back: %+v %v", got, err)
	}
	stampedEvent, _ := s.Read(ctx, search.AuditType, "audit-stamped")
	all = append(all, stampedEvent)

	se := s.(Searcher)
	find := func(ctx context.Context, typ, query string) search.Page {
		t.Helper()
		return searchPage(ctx, t, s, typ, query)
	}
	wantIDs := func(query string, want ...resources.Resource) {
		t.Helper()
		page := find(ctx, search.AuditType, query+"&_count=100")
		if g, w := idsOf(page.Matches...), idsOf(want...); !slices.Equal(g, w) {
			t.Errorf("AuditEvent?%s: %d matches %v, want %d %v", query, len(g), g, len(w), w)
		}
	}
	ofA := append([]resources.Resource{e1, e3}, batch...)
	byPR := append([]resources.Resource{e1, e2}, batch...)
	wantIDs("patient="+A, ofA...)
	wantIDs("patient="+pa.ID, ofA...)
	wantIDs("patient="+B, e2, stampedEvent)
	wantIDs("agent="+PR, append(byPR, stampedEvent)...)
	wantIDs("agent:Patient="+pa.ID, e3)
	wantIDs("entity="+B, e2, stampedEvent)
	wantIDs("outcome=4", e2)
	wantIDs("outcome:not=0", e2)
	wantIDs("outcome=http://hl7.org/fhir/audit-event-outcome|4")
	wantIDs("subtype=search-type", e2)
	wantIDs("subtype=http://hl7.org/fhir/restful-interaction|read", e1, e3, stampedEvent)
	wantIDs("subtype=http://hl7.org/fhir/restful-interaction|", all...)
	wantIDs("subtype=|read")
	wantIDs("altid=zhang", e3)
	wantIDs("address=192.168", e3)
	wantIDs("address:exact=10.0.0.2", e2)
	wantIDs("address:exact=10.0.0", nil...)
	wantIDs("date=2026-01-02", e2)
	wantIDs("date=ge2026-01-02&date=lt2026-01-03T12:00:00Z", e2, e3)
	wantIDs("date=2026-02", batch...)
	wantIDs("_id="+e1.ID+","+e3.ID, e1, e3)
	wantIDs("_lastUpdated=gt2000", all...)
	wantIDs("patient="+A+"&outcome=0&date=lt2026-02", e1, e3)
	wantIDs("action=R", all...)
	// Parameters and features the audit log does not answer are refused.
	for _, q := range []string{"type=rest", "site=x", "patient.name=A", "address:contains=0.0", "outcome:missing=true",
		"_sort=outcome", "_content=read", "_has:Provenance:entity:agent=" + PR} {
		vals, _ := url.ParseQuery(q)
		parsed, err := search.Parse(search.R4, search.AuditType, vals, search.Options{})
		if err == nil {
			_, err = se.Search(ctx, parsed)
		}
		wantErr(t, err, resources.ErrInvalid)
	}

	// Sorting, paging and totals.
	var seen []resources.Resource
	query := "patient=" + A + "&_sort=-date&_count=6&_total=accurate"
	page := find(ctx, search.AuditType, query)
	if page.Total != int64(len(ofA)) {
		t.Errorf("total of %s: %d, want %d", query, page.Total, len(ofA))
	}
	for {
		seen = append(seen, page.Matches...)
		if page.Next == "" || len(seen) > len(ofA) {
			break
		}
		vals, _ := url.ParseQuery(query)
		q, _ := search.Parse(search.R4, search.AuditType, vals, search.Options{})
		q.Cursor = page.Next
		if page, err = se.Search(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if g, w := idsOf(seen...), idsOf(ofA...); !slices.Equal(g, w) {
		t.Errorf("pages of %s: %v, want %v", query, g, w)
	}
	for i := 1; i < len(seen); i++ {
		if decode(t, seen[i-1].Data)["recorded"].(string) < decode(t, seen[i].Data)["recorded"].(string) {
			t.Errorf("_sort=-date: %s before %s", seen[i-1].ID, seen[i].ID)
		}
	}
	if page := find(ctx, search.AuditType, "outcome=0&_summary=count"); page.Total != int64(len(all)-1) || len(page.Matches) != 0 {
		t.Errorf("_summary=count: %d (%d matches)", page.Total, len(page.Matches))
	}

	// _include, _revinclude and _has across the audit log.
	page = find(ctx, search.AuditType, "_id="+e2.ID+","+e3.ID+"&_include=AuditEvent:patient")
	if g := idsOf(page.Included...); !slices.Equal(g, idsOf(pa, pb)) {
		t.Errorf("_include=AuditEvent:patient: %v", g)
	}
	page = find(ctx, search.AuditType, "_id="+e2.ID+"&_include=AuditEvent:agent:Practitioner")
	if g := idsOf(page.Included...); !slices.Equal(g, idsOf(pr)) {
		t.Errorf("_include=AuditEvent:agent: %v", g)
	}
	page = find(ctx, "Patient", "_id="+pb.ID+"&_revinclude=AuditEvent:patient")
	if g := idsOf(page.Included...); !slices.Equal(g, idsOf(e2, stampedEvent)) {
		t.Errorf("Patient _revinclude=AuditEvent:patient: %v", g)
	}
	page = find(ctx, "Patient", "_has:AuditEvent:patient:outcome=4")
	if g := idsOf(page.Matches...); !slices.Equal(g, idsOf(pb)) {
		t.Errorf("Patient?_has:AuditEvent:patient:outcome=4: %v", g)
	}
	comp, _ := search.CompartmentOf("Patient", pb.ID, true)
	if page, err := se.Search(ctx, &search.Query{Type: search.AuditType, Count: 50, Compartment: comp}); err != nil ||
		!slices.Equal(idsOf(page.Matches...), idsOf(e2, stampedEvent)) {
		t.Errorf("Patient/B/AuditEvent: %v %v", idsOf(page.Matches...), err)
	}

	// History: one version each, newest first, paged; none in system history.
	h, err := s.History(ctx, resources.HistoryParams{Type: search.AuditType, ID: e1.ID})
	if err != nil || len(h.Entries) != 1 || h.Entries[0].Method != "POST" || string(h.Entries[0].Data) != string(e1.Data) {
		t.Fatalf("instance history of an AuditEvent: %+v %v", h, err)
	}
	_, err = s.History(ctx, resources.HistoryParams{Type: search.AuditType, ID: "no-such-event"})
	wantErr(t, err, resources.ErrNotFound)
	var listed []resources.Resource
	p := resources.HistoryParams{Type: search.AuditType, Count: 7}
	for {
		h, err := s.History(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		listed = append(listed, h.Entries...)
		if h.Next == "" || len(listed) > len(all) {
			break
		}
		p.Cursor = h.Next
	}
	if g, w := idsOf(listed...), idsOf(all...); !slices.Equal(g, w) {
		t.Errorf("AuditEvent type history: %v, want %v", g, w)
	}
	if listed[0].ID != "audit-stamped" || listed[len(listed)-1].ID != e1.ID {
		t.Errorf("AuditEvent history is not newest first: %s ... %s", listed[0].ID, listed[len(listed)-1].ID)
	}
	if h, err := s.History(ctx, resources.HistoryParams{Type: search.AuditType, Since: batch[0].LastUpdated}); err != nil || len(h.Entries) != len(batch)+1 {
		t.Errorf("AuditEvent history _since the batch: %d %v", len(h.Entries), err)
	}
	if h, err := s.History(ctx, resources.HistoryParams{Count: 1000}); err != nil {
		t.Fatal(err)
	} else {
		for _, e := range h.Entries {
			if e.Type == search.AuditType {
				t.Fatalf("system history lists AuditEvent/%s", e.ID)
			}
		}
	}

	// A patient's scope confines the audit log too: B's events are not seen
	// by any path.
	compA, _ := search.CompartmentOf("Patient", pa.ID, true)
	scoped := search.WithScope(ctx, &search.Scope{Compartment: compA})
	for _, r := range []resources.Resource{e2, stampedEvent} {
		_, err := s.Read(scoped, search.AuditType, r.ID)
		wantErr(t, err, resources.ErrNotFound)
		_, err = s.VRead(scoped, search.AuditType, r.ID, 1)
		wantErr(t, err, resources.ErrNotFound)
		_, err = s.History(scoped, resources.HistoryParams{Type: search.AuditType, ID: r.ID})
		wantErr(t, err, resources.ErrNotFound)
	}
	if _, err := s.Read(scoped, search.AuditType, e1.ID); err != nil {
		t.Errorf("read A's AuditEvent in A's scope: %v", err)
	}
	page, err = se.Search(scoped, &search.Query{Type: search.AuditType, Count: 100, Total: "accurate"})
	if err != nil || !slices.Equal(idsOf(page.Matches...), idsOf(ofA...)) || page.Total != int64(len(ofA)) {
		t.Errorf("AuditEvent search in A's scope: %v (total %d) %v", idsOf(page.Matches...), page.Total, err)
	}
	if page := find(scoped, search.AuditType, "outcome=4"); len(page.Matches) != 0 {
		t.Errorf("A's scope finds B's failed access: %v", idsOf(page.Matches...))
	}
	if page := find(scoped, "Patient", "_id="+pa.ID+"&_revinclude=AuditEvent:patient"); slices.Contains(idsOf(page.Included...), e2.ID) {
		t.Errorf("A's scope revincludes B's AuditEvent")
	}
	if h, err := s.History(scoped, resources.HistoryParams{Type: search.AuditType, Count: 1000}); err != nil ||
		!slices.Equal(idsOf(h.Entries...), idsOf(ofA...)) {
		t.Errorf("AuditEvent history in A's scope: %v %v", idsOf(h.Entries...), err)
	}
}

// testAuditRowCreate: stamped AuditEvents that come with their audit log
// row (resources.CreateParams.Audit, no index entries: how the server
// writes its audit trail), one at a time and in batches large enough to be
// copied, are found by every parameter the row holds, as events created
// with index entries are.
func testAuditRowCreate(t *testing.T, s resources.Store) {
	ctx := context.Background()
	pa := mustCreate(t, s, "Patient", patient("A"))
	pr := mustCreate(t, s, "Practitioner", []byte(`{"resourceType":"Practitioner","name":[{"family":"Li"}]}`))
	A, PR := "Patient/"+pa.ID, "Practitioner/"+pr.ID
	at := time.Now().UTC().Truncate(time.Microsecond)
	params := func(n int, prefix string, withRow bool) []resources.CreateParams {
		var ps []resources.CreateParams
		for i := range n {
			data, x := auditEvent(fmt.Sprintf("2026-04-%02dT08:00:00Z", 1+i%28), "4", "read", "dr-"+prefix, "10.1.0.1", PR, A)
			id := fmt.Sprintf("%s-%d", prefix, i)
			stamped, err := resources.Stamp(data, id, 1, at)
			if err != nil {
				t.Fatal(err)
			}
			p := resources.CreateParams{Type: search.AuditType, ID: id, Data: stamped, Stamped: at, Index: x}
			if withRow {
				row := search.AuditRowOf(resources.Resource{Type: search.AuditType, ID: id, LastUpdated: at, Data: stamped}, x)
				p.Audit, p.Index = &row, nil
			}
			ps = append(ps, p)
		}
		return ps
	}
	one := params(1, "row1", true)[0]
	if _, err := s.Create(ctx, one); err != nil {
		t.Fatalf("create with its row: %v", err)
	}
	if _, err := s.(resources.BatchCreator).CreateMany(ctx, params(20, "rowN", true)); err != nil {
		t.Fatalf("CreateMany with rows: %v", err)
	}
	if _, err := s.(resources.BatchCreator).CreateMany(ctx, params(20, "idxN", false)); err != nil {
		t.Fatalf("CreateMany with index entries: %v", err)
	}
	got, err := s.Read(ctx, search.AuditType, one.ID)
	if err != nil || string(got.Data) != string(one.Data) || !got.LastUpdated.Equal(at) {
		t.Fatalf("read back: %+v %v", got, err)
	}
	// A batch large enough to be copied, one of whose ids is taken, is
	// refused whole.
	for _, withRow := range []bool{true, false} {
		dup := params(20, "dupN", withRow)
		dup[13].ID = "rowN-3"
		_, err := s.(resources.BatchCreator).CreateMany(ctx, dup)
		wantErr(t, err, resources.ErrVersionConflict)
	}
	count := func(query string) map[string]int {
		t.Helper()
		page := searchPage(ctx, t, s, search.AuditType, query+"&_count=100")
		n := map[string]int{}
		for _, m := range page.Matches {
			prefix, _, _ := strings.Cut(m.ID, "-")
			n[prefix]++
		}
		return n
	}
	want := map[string]int{"row1": 1, "rowN": 20, "idxN": 20}
	for _, q := range []string{"patient=" + A, "agent=" + PR, "entity=" + A, "outcome=4", "action=R", "subtype=read",
		"subtype=http://hl7.org/fhir/restful-interaction|read", "address=10.1", "address:exact=10.1.0.1",
		"date=ge2026-04-01&date=lt2026-05", "_lastUpdated=" + resources.FormatInstant(at)} {
		if got := count(q); !maps.Equal(got, want) {
			t.Errorf("AuditEvent?%s: %v, want %v", q, got, want)
		}
	}
	for prefix, n := range map[string]int{"row1": 1, "rowN": 20, "idxN": 20} {
		if got := count("altid=dr-" + prefix); got[prefix] != n || len(got) != 1 {
			t.Errorf("AuditEvent?altid=dr-%s: %v", prefix, got)
		}
	}
}

// testAuditWriteOrder: history lists the audit log newest first in the
// order it was written, across events written one at a time and batches
// copied in several blocks of sequence numbers (PostgreSQL hands the
// writer 1,024 at a time), page after page, with none lost or repeated.
func testAuditWriteOrder(t *testing.T, s resources.Store) {
	ctx := context.Background()
	pa := mustCreate(t, s, "Patient", patient("A"))
	at := time.Now().UTC().Truncate(time.Microsecond)
	var written []string
	event := func() resources.CreateParams {
		id := fmt.Sprintf("w-%05d", len(written))
		written = append(written, id)
		data := ServerAuditEvent(id, at, "Practitioner/dr-li", "Patient/"+pa.ID)
		x := &resources.Index{
			Dates: []resources.DateEntry{{Param: "date", Low: at.UnixMicro(), High: at.UnixMicro()}},
			References: []resources.ReferenceEntry{
				{Param: "patient", TargetType: "Patient", TargetID: pa.ID},
				{Param: "agent", TargetType: "Practitioner", TargetID: "dr-li"},
			},
		}
		row := search.AuditRowOf(resources.Resource{Type: search.AuditType, ID: id, LastUpdated: at, Data: data}, x)
		return resources.CreateParams{Type: search.AuditType, ID: id, Data: data, Stamped: at, Audit: &row}
	}
	batch := func(n int) {
		ps := make([]resources.CreateParams, n)
		for i := range ps {
			ps[i] = event()
		}
		if _, err := s.(resources.BatchCreator).CreateMany(ctx, ps); err != nil {
			t.Fatalf("CreateMany of %d AuditEvents: %v", n, err)
		}
	}
	one := func() {
		if _, err := s.Create(ctx, event()); err != nil {
			t.Fatal(err)
		}
	}
	one()
	batch(2100) // three blocks
	one()
	batch(30)
	one()
	batch(1024) // exactly one block
	one()
	var listed []string
	p := resources.HistoryParams{Type: search.AuditType, Count: 500}
	for pages := 0; pages < 20; pages++ {
		h, err := s.History(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range h.Entries {
			listed = append(listed, e.ID)
		}
		if h.Next == "" {
			break
		}
		p.Cursor = h.Next
	}
	want := slices.Clone(written)
	slices.Reverse(want)
	if !slices.Equal(listed, want) {
		n := 0
		for n < min(len(listed), len(want)) && listed[n] == want[n] {
			n++
		}
		t.Fatalf("AuditEvent history lists %d events, want %d; first difference at %d", len(listed), len(want), n)
	}
	for _, id := range []string{written[0], written[1], written[2100], written[2101], written[len(written)-1]} {
		if r, err := s.Read(ctx, search.AuditType, id); err != nil || r.ID != id {
			t.Errorf("read AuditEvent/%s: %v", id, err)
		}
	}

	// Every event is found by its references, which a batch stores
	// grouped (PostgreSQL: a row per reference and up to 192 events).
	search1 := func(typ, query string) search.Page { t.Helper(); return searchPage(ctx, t, s, typ, query) }
	for _, q := range []string{"patient=Patient/" + pa.ID, "agent=Practitioner/dr-li", "patient=" + pa.ID + "&agent=dr-li"} {
		if page := search1(search.AuditType, q+"&_summary=count"); page.Total != int64(len(written)) {
			t.Errorf("AuditEvent?%s: %d events, want %d", q, page.Total, len(written))
		}
	}
	// _revinclude includes the first 1,000 written (search.maxIncluded),
	// from every group that holds them.
	page := search1("Patient", "_id="+pa.ID+"&_revinclude=AuditEvent:patient")
	var included []string
	for _, inc := range page.Included {
		included = append(included, inc.ID)
	}
	slices.Sort(included)
	if !slices.Equal(included, written[:1000]) {
		t.Errorf("Patient?_revinclude=AuditEvent:patient includes %d events, not the first 1000 written", len(included))
	}
	if page := search1("Patient", "_has:AuditEvent:patient:agent=Practitioner/dr-li"); len(page.Matches) != 1 || page.Matches[0].ID != pa.ID {
		t.Errorf("Patient?_has:AuditEvent:patient:agent: %d matches", len(page.Matches))
	}
}

// testAuditAssignedIDs: AuditEvents that the server's audit trail writes
// without an id (their row along, packed, resources.AuditIDCode where the id
// goes: search.LogAssigned) get one from the audit log, one at a time and
// in batches large enough to be copied (PostgreSQL numbers those). The id a
// create returns reads, version-reads, searches (_id, _id:not, _sort=_id,
// _include) and lists in history the event with that id in its JSON; the
// callers' rows record the ids, so that writing the same events again (a
// retry after a failure that may have come after the commit) conflicts
// instead of storing them twice; and a client's AuditEvent cannot take an
// id of the numbered form.
func testAuditAssignedIDs(t *testing.T, s resources.Store) {
	ctx := context.Background()
	pa := mustCreate(t, s, "Patient", patient("A"))
	at := time.Now().UTC().Truncate(time.Microsecond)
	const agent = "Practitioner/dr-zhou"
	event := func() resources.CreateParams { return ServerAuditCreate(t, at, "dr-zhou", pa.ID) }
	one := event()
	r, err := s.Create(ctx, one)
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{r.ID}
	ps := make([]resources.CreateParams, 40)
	for i := range ps {
		ps[i] = event()
	}
	out, err := s.(resources.BatchCreator).CreateMany(ctx, ps)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range out {
		ids = append(ids, r.ID)
		if r.ID == "" || r.ID != ps[i].Audit.AssignedID() || !resources.ValidID(r.ID) {
			t.Fatalf("CreateMany's event %d has id %q; its row records %q", i, r.ID, ps[i].Audit.AssignedID())
		}
		if _, numbered := resources.AuditNumberedSeq(r.ID); numbered != (s.Backend() == "postgres") {
			t.Fatalf("CreateMany's event %d has id %q on %s: PostgreSQL numbers the events of a copied batch, SQLite does not", i, r.ID, s.Backend())
		}
	}
	if one.Audit.AssignedID() != ids[0] || ids[0] == "" {
		t.Fatalf("Create returned id %q; the row records %q", ids[0], one.Audit.AssignedID())
	}
	if distinct := slices.Compact(slices.Sorted(slices.Values(ids))); len(distinct) != len(ids) {
		t.Fatalf("the log assigned %d distinct ids to %d events: %v", len(distinct), len(ids), ids)
	}
	for _, id := range []string{ids[0], ids[1], ids[len(ids)-1]} {
		want := string(ServerAuditEvent(id, at, agent, "Patient/"+pa.ID))
		if got, err := s.Read(ctx, search.AuditType, id); err != nil || got.ID != id || string(got.Data) != want {
			t.Errorf("read AuditEvent/%s: %v, %s", id, err, got.Data)
		}
		if got, err := s.VRead(ctx, search.AuditType, id, 1); err != nil || string(got.Data) != want {
			t.Errorf("vread AuditEvent/%s/_history/1: %v, %s", id, err, got.Data)
		}
		h, err := s.History(ctx, resources.HistoryParams{Type: search.AuditType, ID: id})
		if err != nil || len(h.Entries) != 1 || h.Entries[0].ID != id || string(h.Entries[0].Data) != want {
			t.Errorf("history of AuditEvent/%s: %v, %+v", id, err, h.Entries)
		}
	}
	find := func(query string) search.Page { t.Helper(); return searchPage(ctx, t, s, search.AuditType, query) }
	matched := func(page search.Page) []string {
		var got []string
		for _, m := range page.Matches {
			got = append(got, m.ID)
			if want := string(ServerAuditEvent(m.ID, at, agent, "Patient/"+pa.ID)); string(m.Data) != want {
				t.Errorf("AuditEvent %s found with JSON %s", m.ID, m.Data)
			}
		}
		return got
	}
	if got := matched(find("_id=" + ids[0] + "," + ids[5] + ",ae-999999999999999999,nothing")); !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values([]string{ids[0], ids[5]}))) {
		t.Errorf("_id=%s,%s: %v", ids[0], ids[5], got)
	}
	if got := matched(find("agent=" + agent + "&_id:not=" + ids[0] + "," + ids[5] + "&_count=100")); len(got) != len(ids)-2 || slices.Contains(got, ids[0]) || slices.Contains(got, ids[5]) {
		t.Errorf("_id:not=%s,%s: %d events %v", ids[0], ids[5], len(got), got)
	}
	sorted := slices.Sorted(slices.Values(ids))
	if got := matched(find("agent=" + agent + "&_sort=_id&_count=100")); !slices.Equal(got, sorted) {
		t.Errorf("_sort=_id: %v, want %v", got, sorted)
	}
	page := find("_id=" + ids[len(ids)-1] + "&_include=AuditEvent:patient")
	if len(page.Matches) != 1 || len(page.Included) != 1 || page.Included[0].ID != pa.ID {
		t.Errorf("_include=AuditEvent:patient of %s: %d matches, %d included", ids[len(ids)-1], len(page.Matches), len(page.Included))
	}
	// Written again, the same events conflict: none is stored twice.
	_, err = s.(resources.BatchCreator).CreateMany(ctx, ps)
	wantErr(t, err, resources.ErrVersionConflict)
	_, err = s.Create(ctx, one)
	wantErr(t, err, resources.ErrVersionConflict)
	if n := find("agent=" + agent + "&_summary=count").Total; n != int64(len(ids)) {
		t.Errorf("after the retries, %d events; want %d", n, len(ids))
	}
	// The numbered form of id is the log's.
	data, x := auditEvent("2026-04-01T08:00:00Z", "0", "read", "dr-x", "10.1.0.1", agent, "Patient/"+pa.ID)
	_, err = s.Create(ctx, resources.CreateParams{Type: search.AuditType, ID: "ae-5", Data: data, Index: x})
	wantErr(t, err, resources.ErrInvalid)
}

// searchPage runs a search of typ with the query string query on s, in
// ctx (which may carry a scope).
func searchPage(ctx context.Context, t *testing.T, s resources.Store, typ, query string) search.Page {
	t.Helper()
	vals, err := url.ParseQuery(query)
	if err != nil {
		t.Fatal(err)
	}
	q, err := search.Parse(search.R4, typ, vals, search.Options{})
	if err != nil {
		t.Fatal(err)
	}
	page, err := s.(Searcher).Search(ctx, q)
	if err != nil {
		t.Fatalf("%s?%s: %v", typ, query, err)
	}
	return page
}

// ServerAuditCreate is the create of an AuditEvent as the server's audit
// trail makes it (ServerAuditEvent, stamped at, agent Practitioner/agent
// reading Patient/patient): with its row, packed, and without an id, which
// the audit log assigns (search.LogAssigned).
func ServerAuditCreate(t testing.TB, at time.Time, agent, patient string) resources.CreateParams {
	t.Helper()
	x := &resources.Index{
		Dates: []resources.DateEntry{{Param: "date", Low: at.UnixMicro(), High: at.UnixMicro()}},
		Tokens: []resources.TokenEntry{{Param: "outcome", Code: "0"}, {Param: "action", Code: "R"},
			{Param: "subtype", System: "http://hl7.org/fhir/restful-interaction", Code: "read"}, {Param: "altid", Code: "dr-li"}},
		Strings: []resources.StringEntry{{Param: "address", Norm: "10.2.0.1", Exact: "10.2.0.1"}},
		References: []resources.ReferenceEntry{
			{Param: "agent", TargetType: "Practitioner", TargetID: agent},
			{Param: "entity", TargetType: "Patient", TargetID: patient},
			{Param: "patient", TargetType: "Patient", TargetID: patient},
		},
	}
	const pending = "id-to-be-assigned"
	packed := resources.PackAudit(ServerAuditEvent(pending, at, "Practitioner/"+agent, "Patient/"+patient))
	i := bytes.Index(packed, []byte(pending))
	if i < 0 || packed[0] != resources.AuditPackMark {
		t.Fatalf("the server's event does not pack with its id: %q", packed)
	}
	packed = slices.Concat(packed[:i], []byte{resources.AuditIDCode}, packed[i+len(pending):])
	row := search.AuditRowOf(resources.Resource{Type: search.AuditType, LastUpdated: at, Data: packed}, x)
	return resources.CreateParams{Type: search.AuditType, Data: packed, Stamped: at, Audit: &row}
}

// ServerAuditEvent is the JSON of an AuditEvent as the server's audit trail
// writes one, stamped with id and at: agent's read of patient.
func ServerAuditEvent(id string, at time.Time, agent, patient string) []byte {
	instant := resources.FormatInstant(at)
	return fmt.Appendf(nil, `{"resourceType":"AuditEvent","id":%q,"meta":{"versionId":"1","lastUpdated":%q},`+
		`"type":{"system":"http://terminology.hl7.org/CodeSystem/audit-event-type","code":"rest","display":"Restful Operation"},`+
		`"subtype":[{"system":"http://hl7.org/fhir/restful-interaction","code":"read"}],"action":"R","recorded":%q,"outcome":"0",`+
		`"agent":[{"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ParticipationType","code":"IRCP","display":"information recipient"}]},`+
		`"who":{"reference":%q,"display":"dr-li"},"altId":"dr-li","name":"his-app","requestor":true,"network":{"address":"10.2.0.1","type":"2"}}],`+
		`"source":{"site":"Yiyang","observer":{"display":"Yiyang FHIR server"},"type":[{"system":"http://terminology.hl7.org/CodeSystem/security-source-type","code":"4","display":"Application Server"}]},`+
		`"entity":[{"what":{"reference":%q},"type":{"system":"http://terminology.hl7.org/CodeSystem/audit-entity-type","code":"2","display":"System Object"}},`+
		`{"what":{"reference":%q},"type":{"system":"http://terminology.hl7.org/CodeSystem/audit-entity-type","code":"1","display":"Person"},`+
		`"role":{"system":"http://terminology.hl7.org/CodeSystem/object-role","code":"1","display":"Patient"}}]}`,
		id, instant, instant, agent, patient, patient)
}

// testAuditPacked: the audit log keeps events packed (resources.PackAudit)
// and every way of reading them gives back the JSON written, byte for
// byte: events written one at a time and in batches large enough to be
// copied, with their rows (as the server writes them) and with index
// entries (as a client's POST is), read, version read, searched, listed in
// history and included.
func testAuditPacked(t *testing.T, s resources.Store) {
	ctx := context.Background()
	pa := mustCreate(t, s, "Patient", patient("A"))
	A, PR := "Patient/"+pa.ID, "Practitioner/dr-li"
	at := time.Now().UTC().Truncate(time.Microsecond)
	written := map[string][]byte{}
	event := func(id string, withRow bool) resources.CreateParams {
		data := ServerAuditEvent(id, at, PR, A)
		written[id] = data
		x := &resources.Index{
			Dates:      []resources.DateEntry{{Param: "date", Low: at.UnixMicro(), High: at.UnixMicro()}},
			References: []resources.ReferenceEntry{{Param: "patient", TargetType: "Patient", TargetID: pa.ID}},
		}
		p := resources.CreateParams{Type: search.AuditType, ID: id, Data: data, Stamped: at, Index: x}
		if withRow {
			row := search.AuditRowOf(resources.Resource{Type: search.AuditType, ID: id, LastUpdated: at, Data: data}, x)
			p.Audit, p.Index = &row, nil
		}
		return p
	}
	if _, err := s.Create(ctx, event("packed-one", true)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, event("packed-indexed", false)); err != nil {
		t.Fatal(err)
	}
	var ps []resources.CreateParams
	for i := range 20 {
		ps = append(ps, event(fmt.Sprintf("packed-%02d", i), i%2 == 0))
	}
	if _, err := s.(resources.BatchCreator).CreateMany(ctx, ps); err != nil {
		t.Fatal(err)
	}
	check := func(how string, r resources.Resource) {
		t.Helper()
		if want, ok := written[r.ID]; !ok || string(r.Data) != string(want) {
			t.Errorf("%s %s: got %q\nwant %s", how, r.ID, r.Data, want)
		}
	}
	for id := range written {
		r, err := s.Read(ctx, search.AuditType, id)
		if err != nil {
			t.Fatalf("read %s: %v", id, err)
		}
		check("read", r)
		if r, err = s.VRead(ctx, search.AuditType, id, 1); err != nil {
			t.Fatalf("vread %s: %v", id, err)
		}
		check("vread", r)
	}
	for _, typ := range []string{search.AuditType, ""} {
		page, err := s.History(ctx, resources.HistoryParams{Type: typ, Count: 100})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page.Entries {
			if r.Type == search.AuditType {
				check("history "+typ, r)
			}
		}
	}
	for _, query := range []string{"AuditEvent?patient=" + A, "AuditEvent?_id=packed-one,packed-03", "Patient?_id=" + pa.ID + "&_revinclude=AuditEvent:patient"} {
		typ, qs, _ := strings.Cut(query, "?")
		vals, _ := url.ParseQuery(qs + "&_count=100")
		q, err := search.Parse(search.R4, typ, vals, search.Options{})
		if err != nil {
			t.Fatal(err)
		}
		page, err := s.(Searcher).Search(ctx, q)
		if err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		n := 0
		for _, r := range append(page.Matches, page.Included...) {
			if r.Type == search.AuditType {
				check(query, r)
				n++
			}
		}
		if n == 0 {
			t.Errorf("%s: no AuditEvents", query)
		}
	}
}

// CheckAuditPacked: the audit log holds the server's events packed, in a
// fraction of their bytes; storedLen is the length of an event's data as
// the store's table holds it.
func CheckAuditPacked(t *testing.T, s resources.Store, storedLen func(id string) (int, error)) {
	t.Helper()
	at := time.Now().UTC().Truncate(time.Microsecond)
	data := ServerAuditEvent("packed-size", at, "Practitioner/dr-li", "Patient/p1")
	if _, err := s.Create(context.Background(), resources.CreateParams{Type: search.AuditType, ID: "packed-size", Data: data, Stamped: at}); err != nil {
		t.Fatal(err)
	}
	n, err := storedLen("packed-size")
	if err != nil || n == 0 || n > len(data)/4 {
		t.Fatalf("an event of %d bytes is stored in %d (%v)", len(data), n, err)
	}
}

// testAuditControlCharacters: an AuditEvent whose packed values hold a NUL
// or a line break (an agent's altid, an address) is stored, on PostgreSQL
// too, whose text columns refuse NULs, and the values around it are still
// found: the audit trail must not lose an event to its content.
func testAuditControlCharacters(t *testing.T, s resources.Store) {
	ctx := context.Background()
	data, x := auditEvent("2026-05-01T08:00:00Z", "0", "read", "evil\x00sub", "10.0.0.9\nforged", "Practitioner/p", "Patient/a")
	for i := range x.Tokens {
		if x.Tokens[i].Param == "altid" {
			x.Tokens[i].Text = "evil\x00sub"
		}
	}
	e, err := s.Create(ctx, resources.CreateParams{Type: search.AuditType, Data: data, Index: x})
	if err != nil {
		t.Fatalf("create an AuditEvent with a NUL in its values: %v", err)
	}
	for _, query := range []string{"subtype=read", "outcome=0", "entity=Patient/a", "date=2026-05-01"} {
		vals, _ := url.ParseQuery(query)
		q, err := search.Parse(search.R4, search.AuditType, vals, search.Options{})
		if err != nil {
			t.Fatal(err)
		}
		page, err := s.(Searcher).Search(ctx, q)
		if err != nil || len(page.Matches) != 1 || page.Matches[0].ID != e.ID {
			t.Errorf("AuditEvent?%s: %d matches (%v), want the event", query, len(page.Matches), err)
		}
	}
}
