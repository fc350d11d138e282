package server

import (
	"strings"
	"time"

	"github.com/meizhou-yiyang/yiyang/resources"
	"github.com/meizhou-yiyang/yiyang/resources/index"
)

// auditRow returns the audit log row (resources.AuditRow) of an AuditEvent
// the server built: its instant, outcome and action, its subtype, altid and
// address values and its agent, entity and patient references, as
// search.AuditRowOf makes it from the entries the extractor finds in its
// JSON (TestAuditIndex compares the two over every shape event produces),
// without evaluating the R4 AuditEvent parameters' FHIRPath over it or
// listing index entries first. The audit trail writes an event per
// request, and this was the largest part of that cost. base is the
// extractor's (Extractor.SetBase). ID, LastUpdated and Data are the
// store's to set (the audit log assigns the server's events their ids).
//
// The row and its first references are one allocation (auditRowRoom), and
// its terms and packed references one string: the row waits for the
// audit writer, and what it holds is garbage the collector would
// otherwise count piece by piece on every request.
func auditRow(ev *auditEvent, recorded time.Time, base string) *resources.AuditRow {
	room := &auditRowRoom{}
	row := &room.row
	*row = resources.AuditRow{Recorded: recorded.UnixMicro(), Outcome: ev.Outcome, Action: ev.Action, Refs: room.refs[:0]}
	ref := func(roles int, reference string) {
		e, ok := index.ReferenceEntry("", "Reference", reference)
		if !ok {
			return
		}
		if base != "" {
			index.LocalizeEntry(&e, base)
		}
		// A relative reference's type is the one ReferenceEntry checked;
		// an absolute one's is in its URL.
		typ := e.TargetType
		if e.URL != "" {
			typ = referenceType(reference)
		}
		if typ == "Patient" {
			roles |= resources.AuditRolePatient
		}
		row.Refs = resources.AddAuditRef(row.Refs, roles, e)
	}
	for _, a := range ev.Agent {
		ref(resources.AuditRoleAgent, a.Who.Reference)
		// agent.purposeOfUse (break-the-glass) has no R4 search parameter.
	}
	for _, e := range ev.Entity {
		if e.What != (reference{}) {
			ref(resources.AuditRoleEntity, e.What.Reference)
		}
	}
	if len(row.Refs) == 0 {
		row.Refs = nil // as search.AuditRowOf leaves it
	}
	resources.SortAuditRefs(row.Refs)
	var buf [512]byte
	b := appendAuditTerms(buf[:0], ev)
	terms := len(b)
	b = resources.AppendAuditRefs(b, row.Refs)
	text := string(b)
	row.Terms, row.Packed = text[:terms], text[terms:]
	return row
}

// auditRowRoom is an audit log row with room for the references of the
// events the server builds most: an agent, the resource and its patient.
type auditRowRoom struct {
	row  resources.AuditRow
	refs [3]resources.AuditRef
}

// referenceType is the type FHIRPath's resolve() gives a reference: the
// segment before the id in Type/id, Type/id/_history/v or a URL ending so.
func referenceType(ref string) string {
	s := ref
	if strings.Count(s, "/") >= 3 {
		i := strings.LastIndexByte(s, '/')
		if j := strings.LastIndexByte(s[:i], '/'); s[j+1:i] == "_history" {
			s = s[:j]
		}
	}
	i := strings.LastIndexByte(s, '/')
	if i < 0 {
		return ""
	}
	typ := s[:i]
	if k := strings.LastIndexByte(typ, '/'); k >= 0 {
		typ = typ[k+1:]
	}
	if resources.IsResourceType(typ) {
		return typ
	}
	return ""
}

// appendAuditTerms appends the Terms of an event's audit log row
// (resources.Lines packed): two lines per subtype, altid and address
// value; nothing when there are none. The events the server builds have
// one agent and at most one subtype, whose lines come in sorted order when
// written param by param (address=, address~, altid#, altid|, subtype#,
// subtype|) and cannot repeat: those are written directly, without
// sorting; other shapes go through resources.Lines.
func appendAuditTerms(b []byte, ev *auditEvent) []byte {
	if len(ev.Agent) != 1 || len(ev.Subtype) > 1 {
		var terms resources.Lines
		for _, c := range ev.Subtype {
			resources.AddAuditToken(&terms, "subtype", c.System, c.Code)
		}
		for _, a := range ev.Agent {
			if a.AltID != "" {
				resources.AddAuditToken(&terms, "altid", "", a.AltID)
			}
			if addr := a.Network.Address; addr != "" {
				resources.AddAuditString(&terms, "address", index.Fold(addr), addr)
			}
		}
		return append(b, terms.Packed()...)
	}
	start := len(b)
	// line appends a line: the constant head, then the values, each kept on
	// one line (resources.Lines.Add).
	line := func(head string, values ...string) {
		b = append(b, head...)
		for _, v := range values {
			b = append(b, resources.OneLine(v)...)
		}
		b = append(b, '\n')
	}
	b = append(b, '\n')
	a := &ev.Agent[0]
	if addr := a.Network.Address; addr != "" {
		line("address=", addr)
		line("address~", index.Fold(addr))
	}
	if a.AltID != "" {
		line("altid#", a.AltID)
		line("altid||", a.AltID)
	}
	for _, c := range ev.Subtype {
		if c.Code != "" {
			line("subtype#", c.Code)
		}
		line("subtype|", c.System, "|", c.Code)
	}
	if len(b) == start+1 {
		return b[:start]
	}
	return b
}
