package resources

import "slices"

// Packed AuditEvents. The server writes an AuditEvent per request, and most
// of each event's JSON is the same in all of them: the codings of its type,
// agent type, source and entities, and the names of its elements (about a
// thousand of its 1,300 bytes). The audit log keeps events packed: the byte
// AuditPackMark, then the JSON with each occurrence of a fixed list of
// fragments replaced by one byte. That is a quarter of the bytes to copy,
// write ahead, store and cache per event. Stores pack what they write to
// the audit log (PackAudit) and unpack what they read from it (UnpackAudit).
//
// Packing needs no parsing and cannot change a byte of the JSON: the bytes
// standing for fragments are control characters below 0x20, which JSON
// text can hold only as whitespace (tab, line feed, carriage return);
// input with any byte below 0x20 is kept as it is, as is input that packing
// would not shorten. Unpacking anything that does not begin with the mark
// (the events written before packing, data of other kinds) returns it
// unchanged.

// AuditPackMark begins packed data; the bytes standing for fragments
// follow it: auditFragments[i] is byte i+2.
const AuditPackMark byte = 0x01

// AuditIDCode in packed data stands for the event's id, which the audit log
// keeps beside it (AuditRow.AssignedID): the server packs its events before
// the log has numbered them (resources.CreateParams.Audit).
const AuditIDCode byte = 0x1f

// auditFragments are the fragments packing replaces. Packed events in
// databases name them by position: never change, remove or reorder one;
// new ones may be added at the end, up to byte 0x1e (29 in all): 0x1f is
// AuditIDCode.
var auditFragments = [...]string{
	// 0x02..0x0a: the head of an event the server writes.
	`{"resourceType":"AuditEvent","id":"`,
	`","meta":{"versionId":"1","lastUpdated":"`,
	`"},"type":{"system":"http://terminology.hl7.org/CodeSystem/audit-event-type","code":"rest","display":"Restful Operation"}`,
	`,"subtype":[{"system":"http://hl7.org/fhir/restful-interaction","code":"`,
	`"}],"action":"`,
	`,"action":"`,
	`","recorded":"`,
	`","outcome":"`,
	`","outcomeDesc":"`,
	// 0x0b..0x14: its agent and source.
	`","agent":[{"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ParticipationType","code":"IRCP","display":"information recipient"}]},"who":`,
	`{"reference":"`,
	`{"display":"`,
	`","display":"`,
	`"},"altId":"`,
	`","name":"`,
	`,"requestor":true,"network":{"address":"`,
	`","type":"2"}`,
	`,"purposeOfUse":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActReason","code":"BTG","display":"break the glass"}],"text":"`,
	`}],"source":{"site":"Yiyang","observer":{"display":"Yiyang FHIR server"},"type":[{"system":"http://terminology.hl7.org/CodeSystem/security-source-type","code":"4","display":"Application Server"}]}`,
	// 0x15..0x1c: its entities, and pieces of the less common shapes.
	`,"entity":[{"what":{"reference":"`,
	`,{"what":{"reference":"`,
	`"},"type":{"system":"http://terminology.hl7.org/CodeSystem/audit-entity-type","code":"2","display":"System Object"}}`,
	`"},"type":{"system":"http://terminology.hl7.org/CodeSystem/audit-entity-type","code":"1","display":"Person"},"role":{"system":"http://terminology.hl7.org/CodeSystem/object-role","code":"1","display":"Patient"}}`,
	`{"type":{"system":"http://terminology.hl7.org/CodeSystem/audit-entity-type","code":"2"},"role":{"system":"http://terminology.hl7.org/CodeSystem/object-role","code":"24","display":"Query"},"query":"`,
	`,"entity":[`,
	`"}]}`,
	`,"requestor":true`,
}

// auditByFirst lists, per first byte, the fragments that begin with it,
// longest first.
var auditByFirst = func() (t [256][]byte) {
	for i, f := range auditFragments {
		t[f[0]] = append(t[f[0]], byte(i))
	}
	for _, list := range t {
		slices.SortFunc(list, func(a, b byte) int { return len(auditFragments[b]) - len(auditFragments[a]) })
	}
	return t
}()

// PackAudit returns an AuditEvent's JSON packed for the audit log, or data
// itself when it holds a byte below 0x20 or packing would not shorten it.
// UnpackAudit(PackAudit(data)) is data for any data that does not begin
// with byte 0x01, as JSON never does.
func PackAudit(data []byte) []byte {
	if len(data) == 0 || data[0] < 0x20 {
		return data // (packed already, among others)
	}
	out := make([]byte, 1, len(data)/3+64)
	out[0] = AuditPackMark
	run := 0 // data[run:i] is still to copy
	for i := 0; i < len(data); i++ {
		c := data[i]
		if c < 0x20 {
			return data
		}
		for _, f := range auditByFirst[c] {
			if frag := auditFragments[f]; len(data)-i >= len(frag) && string(data[i:i+len(frag)]) == frag {
				out = append(append(out, data[run:i]...), f+2)
				i += len(frag) - 1
				run = i + 1
				break
			}
		}
	}
	out = append(out, data[run:]...)
	if len(out) >= len(data) {
		return data
	}
	return out
}

// UnpackAudit returns the JSON of the AuditEvent id as the audit log keeps
// it: data itself unless it was packed (PackAudit, or the server's packing
// with AuditIDCode where id goes).
func UnpackAudit(data []byte, id string) []byte {
	if len(data) == 0 || data[0] != AuditPackMark {
		return data
	}
	n := 0
	for _, c := range data[1:] {
		if k := int(c) - 2; k >= 0 && k < len(auditFragments) {
			n += len(auditFragments[k])
		} else if c == AuditIDCode {
			n += len(id)
		} else {
			n++
		}
	}
	out := make([]byte, 0, n)
	for _, c := range data[1:] {
		if k := int(c) - 2; k >= 0 && k < len(auditFragments) {
			out = append(out, auditFragments[k]...)
		} else if c == AuditIDCode {
			out = append(out, id...)
		} else {
			out = append(out, c)
		}
	}
	return out
}

// AuditFragmentCode is the byte standing for fragment in packed data, for
// writers that pack as they write (the server's AuditEvents); false when
// fragment is not one of the fixed fragments.
func AuditFragmentCode(fragment string) (byte, bool) {
	for i, f := range auditFragments {
		if f == fragment {
			return byte(i + 2), true
		}
	}
	return 0, false
}
