package resources

import (
	"bytes"
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// AuditRow is an AuditEvent as the audit log keeps it (see the audit log in
// package resources/search): one row of audit_event plus one audit_ref row
// per distinct reference.
type AuditRow struct {
	// Seq orders the log; the store assigns it.
	Seq int64
	ID  string
	// Recorded is AuditEvent.recorded, LastUpdated the store's stamp, both
	// in microseconds since the Unix epoch.
	Recorded, LastUpdated int64
	Outcome, Action       string
	// Terms packs the subtype, altid and address values (AuditTerms).
	Terms string
	// Refs are the event's distinct references, each once with the
	// parameters (AuditRole bits) through which it is one, in
	// SortAuditRefs order; Packed is the same list as text (PackAuditRefs),
	// kept with the event for _include.
	Refs   []AuditRef
	Packed string
	// Data is the stamped JSON.
	Data []byte
}

// AuditRef is a reference of an AuditEvent and the parameters (a set of
// AuditRole bits) that hold it.
type AuditRef struct {
	Roles                     int
	TargetType, TargetID, URL string
}

// The reference parameters of the audit log, as bits of AuditRef.Roles.
const (
	AuditRolePatient = 1
	AuditRoleAgent   = 2
	AuditRoleEntity  = 4
)

// AddAuditRef adds a reference held through the roles bits to refs, as a
// new entry or into the equal one already there.
func AddAuditRef(refs []AuditRef, roles int, e ReferenceEntry) []AuditRef {
	for i, have := range refs {
		if have.TargetType == e.TargetType && have.TargetID == e.TargetID && have.URL == e.URL {
			refs[i].Roles |= roles
			return refs
		}
	}
	return append(refs, AuditRef{Roles: roles, TargetType: e.TargetType, TargetID: e.TargetID, URL: e.URL})
}

// SortAuditRefs puts references in the order the audit log keeps them:
// by type, id and URL.
func SortAuditRefs(refs []AuditRef) {
	slices.SortFunc(refs, func(a, b AuditRef) int {
		return cmp.Or(strings.Compare(a.TargetType, b.TargetType), strings.Compare(a.TargetID, b.TargetID), strings.Compare(a.URL, b.URL))
	})
}

// PackAuditRefs renders references one per line: roles, type, id and URL
// separated by tabs.
func PackAuditRefs(refs []AuditRef) string {
	n := 0
	for _, r := range refs {
		n += 8 + len(r.TargetType) + len(r.TargetID) + len(r.URL)
	}
	var b strings.Builder
	b.Grow(n)
	for _, r := range refs {
		b.WriteString(strconv.Itoa(r.Roles))
		for _, f := range [3]string{r.TargetType, r.TargetID, r.URL} {
			b.WriteByte('\t')
			b.WriteString(strings.ReplaceAll(OneLine(f), "\t", " "))
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// AuditTerms collects the entries of AuditRow.Terms: the parameter, a mark
// (# code, | system|code, ~ folded string, = exact string) and the value.
// They are written into one buffer and sorted as spans of it, so that
// packing them costs a few allocations however many there are: the server
// writes an event per request.
type AuditTerms struct {
	buf   []byte
	spans [][2]int
}

// Add appends the entry param mark a, or param mark a sep b when sep is
// not empty; values are kept on one line.
func (t *AuditTerms) Add(param, mark, a, sep, b string) {
	start := len(t.buf)
	t.buf = append(append(t.buf, param...), mark...)
	t.buf = append(t.buf, OneLine(a)...)
	if sep != "" {
		t.buf = append(append(t.buf, sep...), OneLine(b)...)
	}
	t.spans = append(t.spans, [2]int{start, len(t.buf)})
}

// Packed is the entries sorted, without repeats: "\n" + each entry and
// "\n", or "" when there are none.
func (t *AuditTerms) Packed() string {
	if len(t.spans) == 0 {
		return ""
	}
	entry := func(s [2]int) []byte { return t.buf[s[0]:s[1]] }
	slices.SortFunc(t.spans, func(a, b [2]int) int { return bytes.Compare(entry(a), entry(b)) })
	t.spans = slices.CompactFunc(t.spans, func(a, b [2]int) bool { return bytes.Equal(entry(a), entry(b)) })
	var out strings.Builder
	out.Grow(len(t.buf) + len(t.spans) + 1)
	out.WriteByte('\n')
	for _, s := range t.spans {
		out.Write(entry(s))
		out.WriteByte('\n')
	}
	return out.String()
}
