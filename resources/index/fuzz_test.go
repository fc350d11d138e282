package index

import (
	"strings"
	"testing"

	"github.com/meizhou-yiyang/yiyang/resources"
)

// FuzzReferenceEntry: ReferenceEntry never panics, and reads a relative
// reference as splitting it into Type/id or Type/id/_history/v segments
// does (it cuts in place, without allocating).
func FuzzReferenceEntry(f *testing.F) {
	for _, seed := range []string{"Patient/p1", "Patient/p1/_history/2", "Patient/p1/_history", "Patient/p1/_history/",
		"Patient//p1", "/", "#c1", "urn:uuid:1", "https://h/fhir/Patient/p1", "Questionnaire/q|1.0", "Patient/p1/_history/2/3"} {
		f.Add(seed, "Reference")
		f.Add(seed, "canonical")
	}
	f.Fuzz(func(t *testing.T, ref, typ string) {
		e, ok := ReferenceEntry("p", typ, ref)
		if ref == "" || strings.HasPrefix(ref, "#") || strings.Contains(ref, "://") || strings.HasPrefix(ref, "urn:") ||
			typ == "canonical" || typ == "uri" || typ == "url" {
			return
		}
		segs := strings.Split(ref, "/")
		want := (len(segs) == 2 || len(segs) == 4 && segs[2] == "_history") &&
			resources.IsResourceType(segs[0]) && resources.ValidID(segs[1])
		if ok != want || ok && (e.TargetType != segs[0] || e.TargetID != segs[1]) {
			t.Fatalf("ReferenceEntry(%q) = %+v %v, want %v", ref, e, ok, want)
		}
	})
}
