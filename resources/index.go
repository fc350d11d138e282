package resources

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
)

// Index holds the search index entries of one resource version. The server
// extracts them (package resources/index) before a write; the store writes
// them in the same transaction as the version, replacing the previous
// version's entries, and removes them when the resource is deleted.
// Values are normalised by the extractor; stores keep them as given.
type Index struct {
	Strings    []StringEntry
	Tokens     []TokenEntry
	References []ReferenceEntry
	Dates      []DateEntry
	Numbers    []NumberEntry
	Quantities []QuantityEntry
	URIs       []URIEntry
	Composites []CompositeEntry
	// Text is what _text and _content search; it is not counted by Len.
	Text TextEntry
}

// TextEntry is the folded text of a resource (see Fold in package
// resources/index): Narrative is its text.div without the XHTML markup,
// Content all its string values; terms separated by a space. Stores keep at
// most one row per resource, none when both are empty.
type TextEntry struct{ Narrative, Content string }

// SecurityLabels renders the resource's security labels (its _security
// entries) as the stores keep them in resources.labels: "\n" + one
// system|code per line, each followed by "\n", sorted; "" when it has none.
// Searches leave out resources carrying given labels through it (see
// search.Query.ExcludeLabels) without a subquery per search.
func (x *Index) SecurityLabels() string {
	if x == nil {
		return ""
	}
	var labels Lines
	for _, t := range x.Tokens {
		if t.Param == "_security" {
			labels.Add(t.System, "|", t.Code)
		}
	}
	return labels.Packed()
}

// Label is a security label as resources.labels keeps it and as
// search.Query.ExcludeLabels names it: system|code, on one line.
func Label(system, code string) string { return OneLine(system + "|" + code) }

// Lines builds the text columns that keep values one per line, sorted,
// without repeats, so that a LIKE '%\nvalue\n%' finds one (the labels
// column, the audit log's terms). Lines are written into one buffer and
// sorted as spans of it: packing costs a few allocations however many
// there are, and the server packs an audit event's terms per request.
type Lines struct {
	buf   []byte
	spans [][2]int
}

// Add appends a line made of parts, each kept on one line (OneLine).
func (l *Lines) Add(parts ...string) {
	start := len(l.buf)
	for _, p := range parts {
		l.buf = append(l.buf, OneLine(p)...)
	}
	l.spans = append(l.spans, [2]int{start, len(l.buf)})
}

// Packed is the lines sorted, without repeats: "\n" + each line and "\n",
// or "" when there are none.
func (l *Lines) Packed() string {
	if len(l.spans) == 0 {
		return ""
	}
	line := func(s [2]int) []byte { return l.buf[s[0]:s[1]] }
	slices.SortFunc(l.spans, func(a, b [2]int) int { return bytes.Compare(line(a), line(b)) })
	l.spans = slices.CompactFunc(l.spans, func(a, b [2]int) bool { return bytes.Equal(line(a), line(b)) })
	var out strings.Builder
	out.Grow(len(l.buf) + len(l.spans) + 1)
	out.WriteByte('\n')
	for _, s := range l.spans {
		out.Write(line(s))
		out.WriteByte('\n')
	}
	return out.String()
}

var lineBreaks = strings.NewReplacer("\r", " ", "\n", " ", "\x00", "\uFFFD")

// OneLine replaces the line breaks of s by spaces, for values the stores
// pack one per line (security labels, the audit log's terms), and NULs,
// which a PostgreSQL text column cannot hold (and SQLite's LIKE stops at),
// by U+FFFD.
func OneLine(s string) string {
	// Byte searches: ContainsAny builds a set on every call, and this runs
	// on every value the audit log and the labels column keep.
	if strings.IndexByte(s, '\n') >= 0 || strings.IndexByte(s, '\r') >= 0 || strings.IndexByte(s, 0) >= 0 {
		return lineBreaks.Replace(s)
	}
	return s
}

// Len is the number of entries.
func (x *Index) Len() int {
	if x == nil {
		return 0
	}
	return len(x.Strings) + len(x.Tokens) + len(x.References) + len(x.Dates) + len(x.Numbers) + len(x.Quantities) + len(x.URIs) + len(x.Composites)
}

// StringEntry is a string parameter's value: Norm is case- and accent-folded
// (and full-width forms narrowed) for the default prefix match, Exact as
// written for :exact.
type StringEntry struct{ Param, Norm, Exact string }

// TokenEntry is a coded value: System and Code (either may be empty), and
// Text, the folded display or text for :text.
type TokenEntry struct{ Param, System, Code, Text string }

// ReferenceEntry is a reference: a local TargetType/TargetID when it has
// one, and URL for absolute or canonical references.
type ReferenceEntry struct{ Param, TargetType, TargetID, URL string }

// DateEntry is the instant range a date, dateTime, instant, Period or Timing
// covers, in microseconds since the Unix epoch, both ends inclusive.
type DateEntry struct {
	Param     string
	Low, High int64
}

// NumberEntry is a number with the range its significant figures imply.
type NumberEntry struct {
	Param            string
	Value, Low, High float64
}

// QuantityEntry is a quantity as written and, when its unit converts to
// UCUM base units, in canonical form (CanonCode empty otherwise).
type QuantityEntry struct {
	Param, System, Code             string
	Value, Low, High                float64
	CanonCode                       string
	CanonValue, CanonLow, CanonHigh float64
}

// URIEntry is a uri, url or canonical value.
type URIEntry struct{ Param, URI string }

// Scan appends one stored entry of the given kind (string, token, reference,
// date, number, quantity, uri, composite) read by scan, whose destinations are in the
// order of the entry's fields after Param (Param first). Stores use it to
// read entries back.
func (x *Index) Scan(kind string, scan func(dest ...any) error) error {
	switch kind {
	case "string":
		var e StringEntry
		err := scan(&e.Param, &e.Norm, &e.Exact)
		x.Strings = append(x.Strings, e)
		return err
	case "token":
		var e TokenEntry
		err := scan(&e.Param, &e.System, &e.Code, &e.Text)
		x.Tokens = append(x.Tokens, e)
		return err
	case "reference":
		var e ReferenceEntry
		err := scan(&e.Param, &e.TargetType, &e.TargetID, &e.URL)
		x.References = append(x.References, e)
		return err
	case "date":
		var e DateEntry
		err := scan(&e.Param, &e.Low, &e.High)
		x.Dates = append(x.Dates, e)
		return err
	case "number":
		var e NumberEntry
		err := scan(&e.Param, &e.Value, &e.Low, &e.High)
		x.Numbers = append(x.Numbers, e)
		return err
	case "quantity":
		var e QuantityEntry
		err := scan(&e.Param, &e.System, &e.Code, &e.Value, &e.Low, &e.High, &e.CanonCode, &e.CanonValue, &e.CanonLow, &e.CanonHigh)
		x.Quantities = append(x.Quantities, e)
		return err
	case "uri":
		var e URIEntry
		err := scan(&e.Param, &e.URI)
		x.URIs = append(x.URIs, e)
		return err
	case "composite":
		var e CompositeEntry
		err := scan(e.scanDest()...)
		x.Composites = append(x.Composites, e)
		return err
	}
	return fmt.Errorf("resources: unknown index kind %q", kind)
}
