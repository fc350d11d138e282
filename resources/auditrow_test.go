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
