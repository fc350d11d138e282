package resources

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// serverEvent is an AuditEvent as the server's audit trail writes one (a
// doctor's read of a patient).
const serverEvent = `{"resourceType":"AuditEvent","id":"019ac3b2-7c1e-7d2a-9a55-3f1e2d3c4b5a","meta":{"versionId":"1","lastUpdated":"2026-11-26T10:33:03.267666Z"},` +
	`"type":{"system":"http://terminology.hl7.org/CodeSystem/audit-event-type","code":"rest","display":"Restful Operation"},` +
	`"subtype":[{"system":"http://hl7.org/fhir/restful-interaction","code":"read"}],"action":"R","recorded":"2026-11-26T10:33:03.267666Z","outcome":"0",` +
	`"agent":[{"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ParticipationType","code":"IRCP","display":"information recipient"}]},` +
	`"who":{"reference":"Practitioner/dr-li","display":"dr-li"},"altId":"dr-li","name":"his-app","requestor":true,"network":{"address":"192.0.2.1","type":"2"}}],` +
	`"source":{"site":"Yiyang","observer":{"display":"Yiyang FHIR server"},"type":[{"system":"http://terminology.hl7.org/CodeSystem/security-source-type","code":"4","display":"Application Server"}]},` +
	`"entity":[{"what":{"reference":"Patient/p17"},"type":{"system":"http://terminology.hl7.org/CodeSystem/audit-entity-type","code":"2","display":"System Object"}},` +
	`{"what":{"reference":"Patient/p17"},"type":{"system":"http://terminology.hl7.org/CodeSystem/audit-entity-type","code":"1","display":"Person"},` +
	`"role":{"system":"http://terminology.hl7.org/CodeSystem/object-role","code":"1","display":"Patient"}}]}`

// TestPackAudit: the server's events pack to a fifth of their size and
// unpack to the same bytes; data that packing must not or cannot shorten
// is kept as it is; data without the mark unpacks to itself.
func TestPackAudit(t *testing.T) {
	packed := PackAudit([]byte(serverEvent))
	if len(packed) > len(serverEvent)/5 || packed[0] != AuditPackMark {
		t.Errorf("server event packs to %d of %d bytes: %q", len(packed), len(serverEvent), packed)
	}
	if got := UnpackAudit(packed, "other"); string(got) != serverEvent {
		t.Errorf("unpacked:\n%s\nwant\n%s", got, serverEvent)
	}
	for _, keep := range []string{
		"",
		`{"resourceType":"Patient"}`,
		strings.Replace(serverEvent, `"id":`, "\n\t\"id\": ", 1), // whitespace: a byte below 0x20
		"\x01" + serverEvent,
	} {
		if got := PackAudit([]byte(keep)); string(got) != keep {
			t.Errorf("PackAudit(%.40q) = %.40q, want it unchanged", keep, got)
		}
	}
	for _, plain := range []string{"", serverEvent, `{"resourceType":"AuditEvent"}`, "\x02\x03"} {
		if got := UnpackAudit([]byte(plain), "x"); string(got) != plain {
			t.Errorf("UnpackAudit(%.40q) = %.40q, want it unchanged", plain, got)
		}
	}
	// A fragment's text inside a string value (escaped there) is left.
	quoted := `{"resourceType":"AuditEvent","outcomeDesc":"{\"resourceType\":\"AuditEvent\",\"id\":\""}`
	if got := UnpackAudit(PackAudit([]byte(quoted)), "x"); string(got) != quoted {
		t.Errorf("round trip of %s gave %s", quoted, got)
	}
}

// TestUnpackAuditID: AuditIDCode in packed data unpacks to the id the
// audit log keeps beside the event, wherever it stands.
func TestUnpackAuditID(t *testing.T) {
	var ev map[string]any
	if err := json.Unmarshal([]byte(serverEvent), &ev); err != nil {
		t.Fatal(err)
	}
	id := ev["id"].(string)
	packed := PackAudit([]byte(serverEvent))
	i := bytes.Index(packed, []byte(id))
	if i < 0 {
		t.Fatalf("the packed event does not hold its id %q: %q", id, packed)
	}
	withCode := slices.Concat(packed[:i], []byte{AuditIDCode}, packed[i+len(id):])
	for _, other := range []string{id, "ae-1048577", ""} {
		want := strings.Replace(serverEvent, `"id":"`+id+`"`, `"id":"`+other+`"`, 1)
		if got := UnpackAudit(withCode, other); string(got) != want {
			t.Errorf("with id %q unpacked to\n%s\nwant\n%s", other, got, want)
		}
	}
	// Only in packed data: elsewhere the byte is the data's own.
	if got := UnpackAudit([]byte{'x', AuditIDCode}, "ae-1"); string(got) != "x\x1f" {
		t.Errorf("unpacked data that is not packed: %q", got)
	}
}

// TestAuditFragments: the table packing depends on stays within its
// bytes, and no fragment could be taken for packed data.
func TestAuditFragments(t *testing.T) {
	if n := len(auditFragments); n+2 > int(AuditIDCode) {
		t.Fatalf("%d fragments: more than the bytes 0x02..0x1e (0x1f is AuditIDCode)", n)
	}
	seen := map[string]bool{}
	for i, f := range auditFragments {
		if len(f) < 2 || seen[f] || strings.IndexFunc(f, func(r rune) bool { return r < 0x20 }) >= 0 {
			t.Errorf("fragment %#x %q: too short, repeated or with a control character", i+2, f)
		}
		seen[f] = true
	}
}

// FuzzPackAudit: for any data that does not begin with the mark, packing
// never lengthens it and unpacking restores it; unpacking anything at all
// does not fail.
func FuzzPackAudit(f *testing.F) {
	f.Add([]byte(serverEvent))
	f.Add([]byte(`{"resourceType":"AuditEvent","id":"x"}`))
	f.Add([]byte(strings.Join(auditFragments[:], "")))
	f.Add([]byte(strings.Join(auditFragments[:], "x")))
	f.Add([]byte("\x01\x02\x1f\x20\xff"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		UnpackAudit(data, "ae-1")
		if len(data) > 0 && data[0] == AuditPackMark {
			return
		}
		packed := PackAudit(data)
		if len(packed) > len(data) {
			t.Fatalf("packing lengthened %d bytes to %d", len(data), len(packed))
		}
		if got := UnpackAudit(packed, "ae-1"); !bytes.Equal(got, data) {
			t.Fatalf("round trip of %q gave %q (packed %q)", data, got, packed)
		}
	})
}

func BenchmarkPackAudit(b *testing.B) {
	data := []byte(serverEvent)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		PackAudit(data)
	}
}

func BenchmarkUnpackAudit(b *testing.B) {
	data := PackAudit([]byte(serverEvent))
	b.SetBytes(int64(len(serverEvent)))
	for b.Loop() {
		UnpackAudit(data, "ae-1")
	}
}
