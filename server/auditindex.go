package server

import (
	"strings"
	"time"

	"github.com/meizhou-yiyang/yiyang/resources"
	"github.com/meizhou-yiyang/yiyang/resources/index"
)

// auditIndex returns the search index entries of an AuditEvent the server
// built: the entries the extractor finds in its JSON (TestAuditIndex
// compares the two over every shape event produces), without evaluating
// the R4 AuditEvent parameters' FHIRPath over it. The audit trail writes an
// event per request, and extraction was the largest part of that cost. base
// is the extractor's (Extractor.SetBase).
func auditIndex(ev *auditEvent, recorded time.Time, base string) *resources.Index {
	x := &resources.Index{}
	tok := func(param, system, code, display string) {
		x.Tokens = append(x.Tokens, resources.TokenEntry{Param: param, System: system, Code: code, Text: index.Fold(display)})
	}
	code := func(param, c string) {
		if c != "" {
			tok(param, "", c, c)
		}
	}
	str := func(param, s string) {
		if s != "" {
			x.Strings = append(x.Strings, resources.StringEntry{Param: param, Norm: index.Fold(s), Exact: s})
		}
	}
	ref := func(param, reference string) {
		if e, ok := index.ReferenceEntry(param, "Reference", reference); ok {
			x.References = append(x.References, e)
		}
	}
	code("action", ev.Action)
	code("outcome", ev.Outcome)
	code("site", ev.Source.Site)
	tok("type", ev.Type.System, ev.Type.Code, ev.Type.Display)
	for _, c := range ev.Subtype {
		tok("subtype", c.System, c.Code, c.Display)
	}
	x.Dates = append(x.Dates, resources.DateEntry{Param: "date", Low: recorded.UnixMicro(), High: recorded.UnixMicro()})
	var patients []string
	for _, a := range ev.Agent {
		ref("agent", a.Who.Reference)
		code("altid", a.AltID)
		str("agent-name", a.Name)
		if a.Network != nil {
			str("address", a.Network.Address)
		}
		// agent.purposeOfUse (break-the-glass) has no R4 search parameter.
		patients = append(patients, a.Who.Reference)
	}
	for _, e := range ev.Entity {
		if e.What != nil {
			ref("entity", e.What.Reference)
			patients = append(patients, e.What.Reference)
		}
		tok("entity-type", e.Type.System, e.Type.Code, e.Type.Display)
		if e.Role != nil {
			tok("entity-role", e.Role.System, e.Role.Code, e.Role.Display)
		}
	}
	// patient: the agents and entities that are Patients.
	for _, r := range patients {
		if e, ok := index.ReferenceEntry("patient", "Reference", r); ok && referenceType(r) == "Patient" {
			x.References = append(x.References, e)
		}
	}
	if base != "" {
		index.Localize(x, base)
	}
	index.Dedupe(x)
	x.Text = resources.TextEntry{Content: index.Fold(auditText(ev))}
	return x
}

// referenceType is the type FHIRPath's resolve() gives a reference: the
// segment before the id in Type/id, Type/id/_history/v or a URL ending so.
func referenceType(ref string) string {
	segs := strings.Split(ref, "/")
	if n := len(segs); n >= 4 && segs[n-2] == "_history" {
		segs = segs[:n-2]
	}
	if n := len(segs); n >= 2 && resources.IsResourceType(segs[n-2]) {
		return segs[n-2]
	}
	return ""
}

// auditText is what _content searches in an event: its string values in
// the order of its JSON, id and resourceType left out (the extractor's
// rule, unfolded).
func auditText(ev *auditEvent) string {
	var b strings.Builder
	add := func(ss ...string) {
		for _, s := range ss {
			index.AppendTerms(&b, s)
		}
	}
	cod := func(c coding) { add(c.System, c.Code, c.Display) }
	refer := func(r reference) { add(r.Reference, r.Display) }
	cod(ev.Type)
	for _, c := range ev.Subtype {
		cod(c)
	}
	add(ev.Action, ev.Recorded, ev.Outcome, ev.OutcomeDesc)
	for _, a := range ev.Agent {
		for _, c := range a.Type.Coding {
			cod(c)
		}
		add(a.Type.Text)
		refer(a.Who)
		add(a.AltID, a.Name)
		if a.Network != nil {
			add(a.Network.Address, a.Network.Type)
		}
		for _, p := range a.PurposeOfUse {
			for _, c := range p.Coding {
				cod(c)
			}
			add(p.Text)
		}
	}
	add(ev.Source.Site)
	refer(ev.Source.Observer)
	for _, c := range ev.Source.Type {
		cod(c)
	}
	for _, e := range ev.Entity {
		if e.What != nil {
			refer(*e.What)
		}
		cod(e.Type)
		if e.Role != nil {
			cod(*e.Role)
		}
		add(e.Query)
	}
	return b.String()
}
