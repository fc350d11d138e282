package resources

import (
	"slices"
	"strings"
	"testing"
)

// TestPackAuditRefs: the packed references read back as they were, one per
// line, unless a field holds a tab, a line break or a NUL, which become a
// space, a space and U+FFFD so that the packing stays one line of four
// fields per reference.
func TestPackAuditRefs(t *testing.T) {
	refs := []AuditRef{
		{Roles: AuditRolePatient | AuditRoleEntity, TargetType: "Patient", TargetID: "p1"},
		{Roles: AuditRoleAgent, URL: "https://idp.example.cn/users/张三"},
		{Roles: AuditRoleEntity, TargetType: "Observation", TargetID: "o-1.2", URL: "https://h/fhir/Observation/o-1.2"},
	}
	packed := PackAuditRefs(refs)
	if want := "5\tPatient\tp1\t\n2\t\t\thttps://idp.example.cn/users/张三\n4\tObservation\to-1.2\thttps://h/fhir/Observation/o-1.2\n"; packed != want {
		t.Fatalf("PackAuditRefs = %q, want %q", packed, want)
	}
	if got := UnpackAuditRefs(packed); !slices.Equal(got, refs) {
		t.Fatalf("UnpackAuditRefs(PackAuditRefs(refs)) = %v, want %v", got, refs)
	}
	for in, want := range map[string]string{
		"urn:x\ty": "urn:x y", "urn:x\ny": "urn:x y", "urn:x\ry": "urn:x y", "urn:x\x00y": "urn:x\ufffdy",
		"urn:x\t\r\n\x00": "urn:x   \ufffd",
	} {
		odd := []AuditRef{{Roles: AuditRoleAgent, TargetID: in, URL: in}}
		p := PackAuditRefs(odd)
		got := UnpackAuditRefs(p)
		if len(got) != 1 || got[0].URL != want || got[0].TargetID != want || strings.Count(p, "\n") != 1 {
			t.Errorf("%q packs to %q, reads back as %v; want %q on one line", in, p, got, want)
		}
	}
}

// TestAuditNumberedID: numbered events' ids name their numbers, and only
// the canonical form of a number is taken for one.
func TestAuditNumberedID(t *testing.T) {
	for _, n := range []int64{1, 1024, 1048577, 999_999_999_999_999_999} {
		id := AuditNumberedID(n)
		if got, ok := AuditNumberedSeq(id); !ok || got != n || !ValidID(id) {
			t.Errorf("AuditNumberedSeq(%q) = %d, %v; want %d (and a valid id)", id, got, ok, n)
		}
	}
	for _, id := range []string{"", "ae-", "ae-0", "ae-01", "ae--1", "ae-1x", "AE-1", "ae-1000000000000000000", "x-1", "1",
		"019ac3b2-7c1e-7d2a-9a55-3f1e2d3c4b5a"} {
		if n, ok := AuditNumberedSeq(id); ok {
			t.Errorf("AuditNumberedSeq(%q) = %d, want no number", id, n)
		}
	}
	row := AuditRow{Seq: 7}
	if got := row.AssignedID(); got != "ae-7" {
		t.Errorf("numbered row's id %q", got)
	}
	row.ID = "e1"
	if got := row.AssignedID(); got != "e1" {
		t.Errorf("row with an id: %q", got)
	}
	if got := (&AuditRow{}).AssignedID(); got != "" {
		t.Errorf("row with neither: %q", got)
	}
}

// FuzzAuditNumberedSeq: a number read from an id is the one that id
// names, written back the same way.
func FuzzAuditNumberedSeq(f *testing.F) {
	for _, s := range []string{"ae-1", "ae-0", "ae-01", "ae-999999999999999999", "ae-1000000000000000000", "ae-", "ae-+1", "ae-１"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		n, ok := AuditNumberedSeq(id)
		if !ok {
			return
		}
		if n <= 0 || AuditNumberedID(n) != id {
			t.Fatalf("AuditNumberedSeq(%q) = %d, which names %q", id, n, AuditNumberedID(n))
		}
	})
}
