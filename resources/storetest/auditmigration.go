package storetest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/meizhou-yiyang/yiyang/resources"
	"github.com/meizhou-yiyang/yiyang/resources/search"
)

// LegacyAuditSQL returns statements that put a database back to before
// migration 8 (the audit log) with two AuditEvents stored as before it: in
// resources, resource_history and the index tables. blob renders a SQL
// literal of bytes from a string literal. A backend's test runs them, then
// migrates again and calls CheckMigratedAudit.
func LegacyAuditSQL(blob func(lit string) string) []string {
	stmts := []string{
		"DROP TABLE audit_ref",
		"DROP TABLE audit_event",
		"DELETE FROM schema_migrations WHERE version = 8",
	}
	for _, ev := range []struct{ id, outcome, subtype, patient, address string }{
		{"old-1", "4", "read", "p9", "10.1.2.3"},
		{"old-2", "0", "search-type", "p8", "10.1.2.4"},
	} {
		data := fmt.Sprintf(`{"resourceType":"AuditEvent","id":"%s","meta":{"versionId":"1","lastUpdated":"2025-01-01T00:00:00Z"},"recorded":"2025-01-01T00:00:00Z","outcome":"%s"}`,
			ev.id, ev.outcome)
		rid := fmt.Sprintf("(SELECT rid FROM resources WHERE type = 'AuditEvent' AND id = '%s')", ev.id)
		stmts = append(stmts,
			fmt.Sprintf("INSERT INTO resources (type, id, version, last_updated, deleted, data) VALUES ('AuditEvent', '%s', 1, 1735689600000000, false, %s)", ev.id, blob(data)),
			fmt.Sprintf("INSERT INTO resource_history (type, id, version, last_updated, method, deleted, data) VALUES ('AuditEvent', '%s', 1, 1735689600000000, 'POST', false, %s)", ev.id, blob(data)),
			fmt.Sprintf("INSERT INTO idx_date (rid, res_type, param, low, high) SELECT %s, 'AuditEvent', 'date', 1735689600000000, 1735689600000000", rid),
			fmt.Sprintf("INSERT INTO idx_token (rid, res_type, param, system, code, text) SELECT %s, 'AuditEvent', 'outcome', '', '%s', '%s'", rid, ev.outcome, ev.outcome),
			fmt.Sprintf("INSERT INTO idx_token (rid, res_type, param, system, code, text) SELECT %s, 'AuditEvent', 'subtype', 'http://hl7.org/fhir/restful-interaction', '%s', ''", rid, ev.subtype),
			fmt.Sprintf("INSERT INTO idx_token (rid, res_type, param, system, code, text) SELECT %s, 'AuditEvent', 'type', 'http://terminology.hl7.org/CodeSystem/audit-event-type', 'rest', ''", rid),
			fmt.Sprintf("INSERT INTO idx_string (rid, res_type, param, norm, exact) SELECT %s, 'AuditEvent', 'address', '%s', '%s'", rid, ev.address, ev.address),
			fmt.Sprintf("INSERT INTO idx_reference (rid, res_type, param, target_type, target_id, url) SELECT %s, 'AuditEvent', 'agent', 'Practitioner', 'li', ''", rid),
			fmt.Sprintf("INSERT INTO idx_reference (rid, res_type, param, target_type, target_id, url) SELECT %s, 'AuditEvent', 'entity', 'Patient', '%s', ''", rid, ev.patient),
			fmt.Sprintf("INSERT INTO idx_reference (rid, res_type, param, target_type, target_id, url) SELECT %s, 'AuditEvent', 'patient', 'Patient', '%s', ''", rid, ev.patient),
			fmt.Sprintf("INSERT INTO idx_text (rid, res_type, narrative, content) SELECT %s, 'AuditEvent', '', 'rest'", rid),
		)
	}
	return stmts
}

// LegacyAuditLeft is a query counting what migration 8 must have moved out
// of the generic tables; it must return 0.
const LegacyAuditLeft = `SELECT (SELECT count(*) FROM resources WHERE type = 'AuditEvent')
	+ (SELECT count(*) FROM resource_history WHERE type = 'AuditEvent')
	+ (SELECT count(*) FROM idx_token WHERE res_type = 'AuditEvent')
	+ (SELECT count(*) FROM idx_reference WHERE res_type = 'AuditEvent')
	+ (SELECT count(*) FROM idx_text WHERE res_type = 'AuditEvent')`

// CheckMigratedAudit checks, after LegacyAuditSQL and migrating again, that
// the AuditEvents moved into the audit log whole: readable and searchable
// by their date, outcome, subtype, address and references.
func CheckMigratedAudit(t *testing.T, s resources.Store) {
	t.Helper()
	ctx := context.Background()
	r, err := s.Read(ctx, search.AuditType, "old-1")
	if err != nil || !strings.Contains(string(r.Data), `"outcome":"4"`) || r.LastUpdated.Year() != 2025 {
		t.Fatalf("migrated AuditEvent: %+v %v", r, err)
	}
	for query, want := range map[string][]string{
		"patient=Patient/p9":    {"old-1"},
		"entity=p8":             {"old-2"},
		"agent=Practitioner/li": {"old-1", "old-2"},
		"outcome=4":             {"old-1"},
		"subtype=search-type":   {"old-2"},
		"subtype=http://hl7.org/fhir/restful-interaction|read": {"old-1"},
		"address=10.1.2.4":       {"old-2"},
		"address:exact=10.1.2.3": {"old-1"},
		"date=2025-01-01":        {"old-1", "old-2"},
	} {
		page := searchPage(ctx, t, s, search.AuditType, query)
		var got []string
		for _, m := range page.Matches {
			got = append(got, m.ID)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("migrated AuditEvent?%s: %v, want %v", query, got, want)
		}
	}
}
