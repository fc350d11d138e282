package server

import (
	"strconv"
	"unicode/utf8"
)

// appendJSON appends the event's JSON, as encoding/json would write it
// (TestAuditIndex compares the two): written by hand because the server
// encodes an event per request, and reflection was a third of that cost.
func (ev *auditEvent) appendJSON(b []byte) []byte {
	b = append(b, `{"resourceType":`...)
	b = appendString(b, ev.ResourceType)
	if ev.ID != "" {
		b = append(b, `,"id":`...)
		b = appendString(b, ev.ID)
	}
	if m := ev.Meta; m != (auditMeta{}) {
		b = append(b, `,"meta":{"versionId":`...)
		b = appendString(b, m.VersionID)
		b = append(b, `,"lastUpdated":`...)
		b = appendString(b, m.LastUpdated)
		b = append(b, '}')
	}
	b = append(b, `,"type":`...)
	b = ev.Type.appendJSON(b)
	if len(ev.Subtype) > 0 {
		b = appendList(append(b, `,"subtype":`...), ev.Subtype)
	}
	b = append(b, `,"action":`...)
	b = appendString(b, ev.Action)
	b = append(b, `,"recorded":`...)
	b = appendString(b, ev.Recorded)
	b = append(b, `,"outcome":`...)
	b = appendString(b, ev.Outcome)
	if ev.OutcomeDesc != "" {
		b = append(b, `,"outcomeDesc":`...)
		b = appendString(b, ev.OutcomeDesc)
	}
	b = appendList(append(b, `,"agent":`...), ev.Agent)
	b = append(b, `,"source":{"site":`...)
	b = appendString(b, ev.Source.Site)
	b = append(b, `,"observer":`...)
	b = ev.Source.Observer.appendJSON(b)
	b = appendList(append(b, `,"type":`...), ev.Source.Type)
	b = append(b, '}')
	if len(ev.Entity) > 0 {
		b = appendList(append(b, `,"entity":`...), ev.Entity)
	}
	return append(b, '}')
}

// appendList appends a JSON array of the items.
func appendList[T interface{ appendJSON([]byte) []byte }](b []byte, items []T) []byte {
	b = append(b, '[')
	for i, x := range items {
		if i > 0 {
			b = append(b, ',')
		}
		b = x.appendJSON(b)
	}
	return append(b, ']')
}

func (c coding) appendJSON(b []byte) []byte {
	if c.json != "" {
		return append(b, c.json...)
	}
	b = append(b, '{')
	if c.System != "" {
		b = append(b, `"system":`...)
		b = appendString(b, c.System)
		b = append(b, ',')
	}
	b = append(b, `"code":`...)
	b = appendString(b, c.Code)
	if c.Display != "" {
		b = append(b, `,"display":`...)
		b = appendString(b, c.Display)
	}
	return append(b, '}')
}

func (r reference) appendJSON(b []byte) []byte {
	b = append(b, '{')
	sep := false
	if r.Reference != "" {
		b = append(b, `"reference":`...)
		b = appendString(b, r.Reference)
		sep = true
	}
	if r.Display != "" {
		if sep {
			b = append(b, ',')
		}
		b = append(b, `"display":`...)
		b = appendString(b, r.Display)
	}
	return append(b, '}')
}

func (c codeable) appendJSON(b []byte) []byte {
	b = append(b, '{')
	if len(c.Coding) > 0 {
		b = appendList(append(b, `"coding":`...), c.Coding)
	}
	if c.Text != "" {
		if len(c.Coding) > 0 {
			b = append(b, ',')
		}
		b = append(b, `"text":`...)
		b = appendString(b, c.Text)
	}
	return append(b, '}')
}

func (a auditAgent) appendJSON(b []byte) []byte {
	b = append(b, `{"type":`...)
	b = a.Type.appendJSON(b)
	b = append(b, `,"who":`...)
	b = a.Who.appendJSON(b)
	if a.AltID != "" {
		b = append(b, `,"altId":`...)
		b = appendString(b, a.AltID)
	}
	if a.Name != "" {
		b = append(b, `,"name":`...)
		b = appendString(b, a.Name)
	}
	b = append(b, `,"requestor":`...)
	b = strconv.AppendBool(b, a.Requestor)
	if a.Network != (network{}) {
		b = append(b, `,"network":{"address":`...)
		b = appendString(b, a.Network.Address)
		b = append(b, `,"type":`...)
		b = appendString(b, a.Network.Type)
		b = append(b, '}')
	}
	if len(a.PurposeOfUse) > 0 {
		b = appendList(append(b, `,"purposeOfUse":`...), a.PurposeOfUse)
	}
	return append(b, '}')
}

func (e auditEntity) appendJSON(b []byte) []byte {
	b = append(b, '{')
	if e.What != (reference{}) {
		b = append(b, `"what":`...)
		b = e.What.appendJSON(b)
		b = append(b, ',')
	}
	b = append(b, `"type":`...)
	b = e.Type.appendJSON(b)
	if e.Role != nil {
		b = append(b, `,"role":`...)
		b = e.Role.appendJSON(b)
	}
	if e.Query != "" {
		b = append(b, `,"query":`...)
		b = appendString(b, e.Query)
	}
	return append(b, '}')
}

// appendString appends s as a JSON string as encoding/json writes it:
// quotes, backslashes and control characters escaped, <, > and & too (its
// HTML-safe default), U+2028 and U+2029 escaped, invalid UTF-8 replaced.
func appendString(b []byte, s string) []byte {
	return append(appendStringContent(append(b, '"'), s), '"')
}

// appendStringContent appends s as the inside of a JSON string
// (appendString without the quotes).
func appendStringContent(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if jsonSafe[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(b, s[start:]...)
}

// jsonSafe marks the bytes appendString copies as they are: ASCII but the
// control characters, quote, backslash and the HTML-sensitive <, > and &.
var jsonSafe = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()
