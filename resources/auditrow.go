package resources

import (
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
	// ID is the event's id; empty for an event the log numbered, whose id
	// is AuditNumberedID(Seq) (AssignedID).
	ID string
	// Recorded is AuditEvent.recorded, LastUpdated the store's stamp, both
	// in microseconds since the Unix epoch.
	Recorded, LastUpdated int64
	Outcome, Action       string
	// Terms packs the subtype, altid and address values (Lines, by
	// AddAuditToken and AddAuditString).
	Terms string
	// Refs are the event's distinct references, each once with the
	// parameters (AuditRole bits) through which it is one, in
	// SortAuditRefs order; Packed is the same list as text (PackAuditRefs),
	// kept with the event for _include.
	Refs   []AuditRef
	Packed string
	// Data is the stamped JSON, packed (PackAudit) by the row's makers
	// (search.AuditRowOf, search.AuditRowFor).
	Data []byte
}

// AssignedID is the row's id: ID, else the one its number gives it; "" when
// it has neither yet.
func (row *AuditRow) AssignedID() string {
	switch {
	case row.ID != "":
		return row.ID
	case row.Seq != 0:
		return AuditNumberedID(row.Seq)
	}
	return ""
}

// AuditNumberedPrefix begins the ids of numbered AuditEvents: the events of
// the server's audit trail that the audit log copies in batches get no id
// of their own but their number in the log, which spares the log an index
// entry (and 36 bytes) per event.
const AuditNumberedPrefix = "ae-"

// AuditNumberedID is the id of the AuditEvent numbered seq (seq > 0).
func AuditNumberedID(seq int64) string {
	var buf [24]byte
	return string(strconv.AppendInt(append(buf[:0], AuditNumberedPrefix...), seq, 10))
}

// AuditNumberedSeq is the number of the AuditEvent that AuditNumberedID
// named id, if it is one: "ae-" and a decimal number between 1 and
// 999,999,999,999,999,999 without leading zeros.
func AuditNumberedSeq(id string) (int64, bool) {
	digits, ok := strings.CutPrefix(id, AuditNumberedPrefix)
	if !ok || len(digits) == 0 || len(digits) > 18 || digits[0] == '0' {
		return 0, false
	}
	var n int64
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
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
	var buf [256]byte // an event's few references fit: one allocation, the string
	return string(AppendAuditRefs(buf[:0], refs))
}

// AppendAuditRefs appends PackAuditRefs(refs).
func AppendAuditRefs(b []byte, refs []AuditRef) []byte {
	for _, r := range refs {
		b = strconv.AppendInt(b, int64(r.Roles), 10)
		for _, f := range [3]string{r.TargetType, r.TargetID, r.URL} {
			b = append(b, '\t')
			if hasControl(f) {
				f = strings.ReplaceAll(OneLine(f), "\t", " ")
			}
			b = append(b, f...)
		}
		b = append(b, '\n')
	}
	return b
}

// hasControl reports whether s holds a byte below 0x20: the line breaks,
// NUL and tab that PackAuditRefs replaces are among them. (One pass over
// the references every audit event names, where OneLine and ReplaceAll
// would make four.)
func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 {
			return true
		}
	}
	return false
}

// AddAuditToken adds to an AuditRow's Terms the entries of a token value
// of param: param#code (when there is a code) and param|system|code.
func AddAuditToken(terms *Lines, param, system, code string) {
	if code != "" {
		terms.Add(param, "#", code)
	}
	terms.Add(param, "|", system, "|", code)
}

// AddAuditString adds to an AuditRow's Terms the entries of a string value
// of param: param~folded and param=exact.
func AddAuditString(terms *Lines, param, norm, exact string) {
	terms.Add(param, "~", norm)
	terms.Add(param, "=", exact)
}

// UnpackAuditRefs reads PackAuditRefs' text.
func UnpackAuditRefs(s string) []AuditRef {
	var out []AuditRef
	for _, line := range strings.Split(s, "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 4 {
			continue
		}
		roles, err := strconv.Atoi(f[0])
		if err != nil {
			continue
		}
		out = append(out, AuditRef{Roles: roles, TargetType: f[1], TargetID: f[2], URL: f[3]})
	}
	return out
}
