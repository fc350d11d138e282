package resources

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// member is one name/value pair of a JSON object, value kept raw.
type member struct {
	name  string
	value json.RawMessage
	// raw is the name as written, quoted and escaped.
	raw []byte
}

// splitObject returns the members of a compact JSON object in document order,
// values raw. Duplicate names are an error: FHIR JSON forbids them and keeping
// either value would silently lose data. The input must be valid compact JSON
// (as json.Compact leaves it); anything else is reported, never panics.
func splitObject(data []byte) ([]member, error) {
	if len(data) < 2 || data[0] != '{' || data[len(data)-1] != '}' {
		return nil, fmt.Errorf("expected a JSON object")
	}
	out := make([]member, 0, 16)
	i := 1
	for i < len(data)-1 {
		if data[i] != '"' {
			return nil, fmt.Errorf("expected a member name at offset %d", i)
		}
		end := stringEnd(data, i)
		rawName := data[i : end+1]
		name := string(rawName[1 : len(rawName)-1])
		if bytes.IndexByte(rawName, '\\') >= 0 {
			if err := json.Unmarshal(rawName, &name); err != nil {
				return nil, err
			}
		}
		i = end + 1
		if i >= len(data) || data[i] != ':' {
			return nil, fmt.Errorf("expected ':' at offset %d", i)
		}
		i++
		vend := valueEnd(data, i)
		if vend <= i {
			return nil, fmt.Errorf("expected a value at offset %d", i)
		}
		for _, m := range out {
			if m.name == name {
				return nil, fmt.Errorf("duplicate property %q", name)
			}
		}
		out = append(out, member{name: name, value: data[i:vend], raw: rawName})
		i = vend
		if i < len(data)-1 {
			if data[i] != ',' {
				return nil, fmt.Errorf("expected ',' at offset %d", i)
			}
			i++
		}
	}
	return out, nil
}

// valueEnd returns the offset just past the compact JSON value starting at i.
func valueEnd(data []byte, i int) int {
	depth := 0
	for j := i; j < len(data); j++ {
		switch c := data[j]; c {
		case '"':
			j = stringEnd(data, j)
			if depth == 0 {
				return j + 1
			}
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return j // the end of the enclosing object
			}
			depth--
			if depth == 0 {
				return j + 1
			}
		case ',':
			if depth == 0 {
				return j
			}
		}
	}
	return len(data)
}

// instantLayout is FormatInstant's layout.
const instantLayout = "2006-01-02T15:04:05.000000Z"

// FormatInstant renders t as a FHIR instant in UTC with microseconds, the
// precision the stores keep. Digits are written directly for the years
// 0000-9999 (every write stamps one and every request's AuditEvent two;
// time.Format's layout interpretation was most of that cost); other years
// as time.Format writes them.
func FormatInstant(t time.Time) string {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.Format(instantLayout)
	}
	hour, minute, sec := t.Clock()
	var b [len(instantLayout)]byte
	digits := func(at, n, v int) {
		for i := at + n - 1; i >= at; i-- {
			b[i] = byte('0' + v%10)
			v /= 10
		}
	}
	digits(0, 4, year)
	b[4] = '-'
	digits(5, 2, int(month))
	b[7] = '-'
	digits(8, 2, day)
	b[10] = 'T'
	digits(11, 2, hour)
	b[13] = ':'
	digits(14, 2, minute)
	b[16] = ':'
	digits(17, 2, sec)
	b[19] = '.'
	digits(20, 6, t.Nanosecond()/1000)
	b[26] = 'Z'
	return string(b[:])
}

// Stamp returns the canonical JSON of a resource: resourceType first, then id,
// then meta with versionId and lastUpdated set (other meta elements kept), then
// every other element in the order received. data must be a compact JSON
// object as returned by Parser.Parse.
func Stamp(data []byte, id string, version int64, lastUpdated time.Time) ([]byte, error) {
	members, err := splitObject(data)
	if err != nil {
		return nil, Invalid("structure", "", "resource is not a JSON object: "+err.Error())
	}
	var rt json.RawMessage
	var meta []member
	rest := members[:0:0]
	for _, m := range members {
		switch m.name {
		case "resourceType":
			rt = m.value
		case "id":
		case "meta":
			meta, err = splitObject(m.value)
			if err != nil {
				return nil, Invalid("structure", "meta", "meta is not a JSON object")
			}
		default:
			rest = append(rest, m)
		}
	}
	if rt == nil {
		return nil, Invalid("required", "", "resourceType is missing")
	}
	var b bytes.Buffer
	b.Grow(len(data) + 128)
	b.WriteString(`{"resourceType":`)
	b.Write(rt)
	b.WriteString(`,"id":`)
	writeString(&b, id)
	b.WriteString(`,"meta":{"versionId":"`)
	b.WriteString(strconv.FormatInt(version, 10))
	b.WriteString(`","lastUpdated":"`)
	b.WriteString(FormatInstant(lastUpdated))
	b.WriteByte('"')
	for _, m := range meta {
		if m.name == "versionId" || m.name == "lastUpdated" {
			continue
		}
		writeMember(&b, m)
	}
	b.WriteByte('}')
	for _, m := range rest {
		writeMember(&b, m)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// writeMember writes ,"name":value.
func writeMember(b *bytes.Buffer, m member) {
	b.WriteByte(',')
	if m.raw != nil {
		b.Write(m.raw)
	} else {
		writeString(b, m.name)
	}
	b.WriteByte(':')
	b.Write(m.value)
}

func writeString(b *bytes.Buffer, s string) {
	enc, _ := json.Marshal(s)
	b.Write(enc)
}

// Cursor is the position of a page boundary in a time-ordered listing: the
// last entry's lastUpdated (microseconds) and its sequence number.
type Cursor struct {
	Micros int64
	Seq    int64
}

// EncodeCursor renders c as an opaque URL-safe token.
func EncodeCursor(c Cursor) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.Micros, 36) + "." + strconv.FormatInt(c.Seq, 36)))
}

// DecodeCursor parses a token from EncodeCursor; a malformed token is ErrInvalid.
func DecodeCursor(s string) (Cursor, error) {
	bad := Invalid("invalid", "_cursor", "the paging cursor is malformed or expired; start again from the first page")
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, bad
	}
	a, b, ok := strings.Cut(string(raw), ".")
	if !ok {
		return Cursor{}, bad
	}
	micros, err1 := strconv.ParseInt(a, 36, 64)
	seq, err2 := strconv.ParseInt(b, 36, 64)
	if err1 != nil || err2 != nil || seq < 0 {
		return Cursor{}, bad
	}
	return Cursor{Micros: micros, Seq: seq}, nil
}

// PageOf returns the cursor (zero on the first page) and the page size of a
// history request; a malformed cursor is ErrInvalid.
func PageOf(p HistoryParams) (Cursor, int, error) {
	var cur Cursor
	if p.Cursor != "" {
		var err error
		if cur, err = DecodeCursor(p.Cursor); err != nil {
			return Cursor{}, 0, err
		}
	}
	return cur, ClampCount(p.Count), nil
}

// ClampCount bounds a requested page size to [1, MaxPageSize], defaulting to 50.
func ClampCount(n int) int {
	switch {
	case n <= 0:
		return 50
	case n > MaxPageSize:
		return MaxPageSize
	}
	return n
}

// NextMicros returns the lastUpdated to give a new version: now, but never
// earlier than one microsecond after the previous version, so versions of one
// resource are strictly ordered in time even if the clock steps back.
func NextMicros(now time.Time, prev int64) int64 {
	m := now.UnixMicro()
	if m <= prev {
		m = prev + 1
	}
	return m
}

// FilterElements returns the resource with only the top-level elements keep
// accepts (resourceType, id and meta are always kept), in their order.
func FilterElements(data []byte, keep func(name string) bool) ([]byte, error) {
	members, err := splitObject(data)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.Grow(len(data))
	b.WriteByte('{')
	n := 0
	for _, m := range members {
		if m.name != "resourceType" && m.name != "id" && m.name != "meta" && !keep(m.name) {
			continue
		}
		if n > 0 {
			b.WriteByte(',')
		}
		n++
		writeString(&b, m.name)
		b.WriteByte(':')
		b.Write(m.value)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// WithSubsettedTag adds the SUBSETTED security tag to meta.tag, as FHIR
// requires of resources returned with only part of their elements.
func WithSubsettedTag(data []byte) ([]byte, error) {
	members, err := splitObject(data)
	if err != nil {
		return nil, err
	}
	const tag = `{"system":"http://terminology.hl7.org/CodeSystem/v3-ObservationValue","code":"SUBSETTED"}`
	var b bytes.Buffer
	b.Grow(len(data) + len(tag) + 16)
	b.WriteByte('{')
	for i, m := range members {
		if i > 0 {
			b.WriteByte(',')
		}
		writeString(&b, m.name)
		b.WriteByte(':')
		if m.name != "meta" {
			b.Write(m.value)
			continue
		}
		meta, err := splitObject(m.value)
		if err != nil {
			return nil, err
		}
		b.WriteByte('{')
		tagged := false
		for j, mm := range meta {
			if j > 0 {
				b.WriteByte(',')
			}
			writeString(&b, mm.name)
			b.WriteByte(':')
			if mm.name == "tag" && len(mm.value) > 1 && mm.value[0] == '[' {
				b.WriteString(`[` + tag)
				if len(mm.value) > 2 {
					b.WriteByte(',')
				}
				b.Write(mm.value[1:])
				tagged = true
				continue
			}
			b.Write(mm.value)
		}
		if !tagged {
			if len(meta) > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`"tag":[` + tag + `]`)
		}
		b.WriteByte('}')
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}
