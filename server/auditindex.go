package server

import (
	"strings"
	"time"

	"github.com/meizhou-yiyang/yiyang/resources"
	"github.com/meizhou-yiyang/yiyang/resources/index"
)

// auditIndex returns the index entries of an AuditEvent the server built
// that the audit log keeps (search.AuditRowOf): its date, outcome, action,
// subtype, altid, address and its agent, entity and patient references, as
// the extractor finds them in its JSON (TestAuditIndex compares the rows
// the two give over every shape event produces), without evaluating the R4
// AuditEvent parameters' FHIRPath over it. The audit trail writes an event
// per request, and extraction was the largest part of that cost. base is
// the extractor's (Extractor.SetBase).
func auditIndex(ev *auditEvent, recorded time.Time, base string) *resources.Index {
	x := &resources.Index{
		Dates:  []resources.DateEntry{{Param: "date", Low: recorded.UnixMicro(), High: recorded.UnixMicro()}},
		Tokens: make([]resources.TokenEntry, 0, 4),
	}
	code := func(param, c string) {
		if c != "" {
			x.Tokens = append(x.Tokens, resources.TokenEntry{Param: param, Code: c})
		}
	}
	ref := func(param, reference string) {
		if e, ok := index.ReferenceEntry(param, "Reference", reference); ok {
			x.References = append(x.References, e)
		}
	}
	code("action", ev.Action)
	code("outcome", ev.Outcome)
	for _, c := range ev.Subtype {
		x.Tokens = append(x.Tokens, resources.TokenEntry{Param: "subtype", System: c.System, Code: c.Code})
	}
	for _, a := range ev.Agent {
		ref("agent", a.Who.Reference)
		code("altid", a.AltID)
		if a.Network != nil && a.Network.Address != "" {
			x.Strings = append(x.Strings, resources.StringEntry{Param: "address", Norm: index.Fold(a.Network.Address), Exact: a.Network.Address})
		}
		// agent.purposeOfUse (break-the-glass) has no R4 search parameter.
		if referenceType(a.Who.Reference) == "Patient" {
			ref("patient", a.Who.Reference)
		}
	}
	for _, e := range ev.Entity {
		if e.What != nil {
			ref("entity", e.What.Reference)
			if referenceType(e.What.Reference) == "Patient" {
				ref("patient", e.What.Reference)
			}
		}
	}
	if base != "" {
		index.Localize(x, base)
	}
	return x
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
