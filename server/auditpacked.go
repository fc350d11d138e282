package server

import "github.com/meizhou-yiyang/yiyang/resources"

// The audit log keeps events packed (resources.PackAudit): the JSON with
// each of a fixed list of fragments replaced by one byte. The server writes
// the events it builds packed as it goes (appendPacked), instead of writing
// the JSON and then searching it for the fragments: that search was a fifth
// of what an event costs the request. auditFrags are the fragments'
// bytes, looked up by their text as this file writes them: a fragment the
// audit log does not know stops the server at start (and its tests).
var auditFrags = struct {
	head, meta, typ, subtype, subtypeEnd, action, recorded, outcome, outcomeDesc, agent,
	whoRef, whoDisplay, display, altID, name, network, networkEnd, requestor, purpose, source,
	firstEntity, nextEntity, systemObject, patient, query, entities, queryEnd byte
}{
	head:         auditFrag(`{"resourceType":"AuditEvent","id":"`),
	meta:         auditFrag(`","meta":{"versionId":"1","lastUpdated":"`),
	typ:          auditFrag(`"},"type":` + auditType.json),
	subtype:      auditFrag(`,"subtype":[{"system":"` + restfulInteraction + `","code":"`),
	subtypeEnd:   auditFrag(`"}],"action":"`),
	action:       auditFrag(`,"action":"`),
	recorded:     auditFrag(`","recorded":"`),
	outcome:      auditFrag(`","outcome":"`),
	outcomeDesc:  auditFrag(`","outcomeDesc":"`),
	agent:        auditFrag(`","agent":[{"type":` + string(auditAgentType.appendJSON(nil)) + `,"who":`),
	whoRef:       auditFrag(`{"reference":"`),
	whoDisplay:   auditFrag(`{"display":"`),
	display:      auditFrag(`","display":"`),
	altID:        auditFrag(`"},"altId":"`),
	name:         auditFrag(`","name":"`),
	network:      auditFrag(`,"requestor":true,"network":{"address":"`),
	networkEnd:   auditFrag(`","type":"2"}`),
	requestor:    auditFrag(`,"requestor":true`),
	purpose:      auditFrag(`,"purposeOfUse":[{"coding":[` + breakGlass[0].json + `],"text":"`),
	source:       auditFrag(`}],"source":{"site":"Yiyang","observer":{"display":"Yiyang FHIR server"},"type":[` + auditSourceType[0].json + `]}`),
	firstEntity:  auditFrag(`,"entity":[{"what":{"reference":"`),
	nextEntity:   auditFrag(`,{"what":{"reference":"`),
	systemObject: auditFrag(`"},"type":` + systemObject.json + `}`),
	patient:      auditFrag(`"},"type":` + person.json + `,"role":` + patientRole.json + `}`),
	query:        auditFrag(`{"type":` + queryObject.json + `,"role":` + queryRole.json + `,"query":"`),
	entities:     auditFrag(`,"entity":[`),
	queryEnd:     auditFrag(`"}]}`),
}

func auditFrag(fragment string) byte {
	c, ok := resources.AuditFragmentCode(fragment)
	if !ok {
		panic("server: the audit log has no packed fragment " + fragment)
	}
	return c
}

// appendPacked appends the event packed for the audit log: what
// resources.PackAudit makes of appendJSON's output, in that
// resources.UnpackAudit gives appendJSON's output back (TestAuditIndex).
// It writes the shapes buildEvent makes, stamped; false (and b unchanged)
// for any other, which the caller packs from the JSON. An event without an
// id gets resources.AuditIDCode in its place: the audit log assigns it.
func (ev *auditEvent) appendPacked(b []byte) ([]byte, bool) {
	f := &auditFrags
	if ev.ResourceType != "AuditEvent" || ev.Meta.VersionID != "1" || ev.Meta.LastUpdated == "" ||
		ev.Type.json != auditType.json || len(ev.Subtype) > 1 || len(ev.Agent) != 1 || !sameSource(ev.Source) {
		return b, false
	}
	a := &ev.Agent[0]
	if len(a.Type.Coding) != 1 || a.Type.Coding[0].json != auditAgentType.Coding[0].json || a.Type.Text != "" ||
		(a.Who.Reference == "" && a.Who.Display == "") || !a.Requestor || (a.Network != (network{}) && a.Network.Type != "2") ||
		len(a.PurposeOfUse) > 1 || (len(a.PurposeOfUse) == 1 && !breakGlassPurpose(a.PurposeOfUse[0])) {
		return b, false
	}
	for i := range ev.Subtype {
		if c := &ev.Subtype[i]; c.System != restfulInteraction || c.Display != "" {
			return b, false
		}
	}
	for i := range ev.Entity {
		if !packableEntity(&ev.Entity[i]) {
			return b, false
		}
	}
	b = append(b, resources.AuditPackMark, f.head)
	if ev.ID == "" {
		b = append(b, resources.AuditIDCode) // the audit log's to assign
	} else {
		b = appendStringContent(b, ev.ID)
	}
	b = append(b, f.meta)
	b = appendStringContent(b, ev.Meta.LastUpdated)
	b = append(b, f.typ)
	if len(ev.Subtype) == 1 {
		b = append(b, f.subtype)
		b = appendStringContent(b, ev.Subtype[0].Code)
		b = append(b, f.subtypeEnd)
	} else {
		b = append(b, f.action)
	}
	b = appendStringContent(b, ev.Action)
	b = append(b, f.recorded)
	b = appendStringContent(b, ev.Recorded)
	b = append(b, f.outcome)
	b = appendStringContent(b, ev.Outcome)
	if ev.OutcomeDesc != "" {
		b = append(b, f.outcomeDesc)
		b = appendStringContent(b, ev.OutcomeDesc)
	}
	b = append(b, f.agent)
	// The who reference; its last string stays open.
	if a.Who.Reference != "" {
		b = append(b, f.whoRef)
		b = appendStringContent(b, a.Who.Reference)
		if a.Who.Display != "" {
			b = append(b, f.display)
			b = appendStringContent(b, a.Who.Display)
		}
	} else {
		b = append(b, f.whoDisplay)
		b = appendStringContent(b, a.Who.Display)
	}
	switch {
	case a.AltID != "":
		b = append(b, f.altID)
		b = appendStringContent(b, a.AltID)
		if a.Name != "" {
			b = append(b, f.name)
			b = appendStringContent(b, a.Name)
		}
		b = append(b, '"')
	case a.Name != "":
		b = append(b, `"},"name":"`...)
		b = appendStringContent(b, a.Name)
		b = append(b, '"')
	default:
		b = append(b, `"}`...)
	}
	if a.Network != (network{}) {
		b = append(b, f.network)
		b = appendStringContent(b, a.Network.Address)
		b = append(b, f.networkEnd)
	} else {
		b = append(b, f.requestor)
	}
	if len(a.PurposeOfUse) == 1 {
		b = append(b, f.purpose)
		b = appendStringContent(b, a.PurposeOfUse[0].Text)
		b = append(b, `"}]`...)
	}
	b = append(b, f.source)
	if len(ev.Entity) == 0 {
		return append(b, '}'), true
	}
	for i := range ev.Entity {
		e := &ev.Entity[i]
		if e.What.Reference == "" { // the query
			if i == 0 {
				b = append(b, f.entities)
			} else {
				b = append(b, ',')
			}
			b = append(b, f.query)
			b = appendStringContent(b, e.Query)
			if i == len(ev.Entity)-1 {
				return append(b, f.queryEnd), true
			}
			b = append(b, `"}`...)
			continue
		}
		if i == 0 {
			b = append(b, f.firstEntity)
		} else {
			b = append(b, f.nextEntity)
		}
		b = appendStringContent(b, e.What.Reference)
		if e.Role == nil {
			b = append(b, f.systemObject)
		} else {
			b = append(b, f.patient)
		}
	}
	return append(b, ']', '}'), true
}

// restfulInteraction is the system of the events' subtype codings.
const restfulInteraction = "http://hl7.org/fhir/restful-interaction"

// sameSource reports whether s is the source every event names.
func sameSource(s auditSource) bool {
	return s.Site == "Yiyang" && s.Observer == (reference{Display: "Yiyang FHIR server"}) &&
		len(s.Type) == 1 && s.Type[0].json == auditSourceType[0].json
}

// breakGlassPurpose reports whether p is a break-the-glass purposeOfUse
// as buildEvent writes it.
func breakGlassPurpose(p codeable) bool {
	return len(p.Coding) == 1 && p.Coding[0].json == breakGlass[0].json && p.Text != ""
}

// packableEntity reports whether e is one of the entities buildEvent
// writes: the resource (a system object), a patient, or the query.
func packableEntity(e *auditEntity) bool {
	switch {
	case e.What.Reference != "" && e.What.Display == "" && e.Query == "":
		return (e.Role == nil && e.Type.json == systemObject.json) ||
			(e.Role != nil && e.Role.json == patientRole.json && e.Type.json == person.json)
	case e.What == (reference{}) && e.Query != "":
		return e.Role != nil && e.Role.json == queryRole.json && e.Type.json == queryObject.json
	}
	return false
}
