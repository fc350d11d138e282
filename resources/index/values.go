package index

import (
	"math"
	"slices"
	"strings"
	"unicode"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
	"golang.org/x/text/width"

	"github.com/meizhou-yiyang/yiyang/resources"
	"github.com/meizhou-yiyang/yiyang/resources/fhirpath"
	"github.com/meizhou-yiyang/yiyang/resources/search"
)

// Fold normalises text for string matching: full-width forms narrowed
// (ＡＢＣ１ → abc1, common in Chinese input), accents removed, lower case.
// The search side folds its values the same way.
func Fold(s string) string {
	if plain(s) {
		return strings.ToLower(s)
	}
	t := transform.Chain(width.Fold, norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
	out, _, err := transform.String(t, s)
	if err != nil {
		out = s
	}
	return strings.ToLower(out)
}

// plain reports whether folding s is just lower-casing it: s holds only
// ASCII and CJK unified ideographs, which have no width variant, no
// decomposition and no combining marks. Chinese names and addresses take
// this path; the transform chain costs microseconds and kilobytes a string.
func plain(s string) bool {
	for _, r := range s {
		switch {
		case r < 0x80:
		case r >= 0x4E00 && r <= 0x9FFF: // CJK Unified Ideographs
		case r >= 0x3400 && r <= 0x4DBF: // Extension A
		case r >= 0x20000 && r <= 0x2A6DF: // Extension B
		default:
			return false
		}
	}
	return true
}

// add turns one value of parameter p into entries of out.
func add(out *resources.Index, p param, v fhirpath.Value) {
	switch v := v.(type) {
	case *fhirpath.Element:
		addElement(out, p, v.Type(), v.Node(), v.String())
	case fhirpath.String:
		addElement(out, p, "string", nil, string(v))
	case fhirpath.Boolean:
		if v {
			addElement(out, p, "boolean", nil, "true")
		} else {
			addElement(out, p, "boolean", nil, "false")
		}
	}
}

var quantityTypes = map[string]bool{"Quantity": true, "Age": true, "Count": true, "Distance": true, "Duration": true,
	"SimpleQuantity": true, "MoneyQuantity": true}

func addElement(out *resources.Index, p param, typ string, n *fhirpath.Node, prim string) {
	switch p.typ {
	case "string":
		addString(out, p.code, typ, n, prim)
	case "token":
		addToken(out, p.code, typ, n, prim)
	case "reference":
		addReference(out, p.code, typ, n, prim)
	case "date":
		addDate(out, p.code, typ, n, prim)
	case "number":
		if r, err := search.ParseNumber(prim); err == nil && prim != "" {
			v, lo, hi := floats(r)
			out.Numbers = append(out.Numbers, resources.NumberEntry{Param: p.code, Value: v, Low: lo, High: hi})
		}
	case "quantity":
		addQuantity(out, p.code, typ, n)
	case "uri":
		if prim != "" {
			out.URIs = append(out.URIs, resources.URIEntry{Param: p.code, URI: prim})
		}
	}
}

func text(n *fhirpath.Node, name string) string {
	s, _ := n.Get(name).Text()
	return s
}

func texts(n *fhirpath.Node, name string) []string {
	v := n.Get(name)
	if s, ok := v.Text(); ok {
		return []string{s}
	}
	var out []string
	for _, it := range v.Items() {
		if s, ok := it.Text(); ok {
			out = append(out, s)
		}
	}
	return out
}

func addString(out *resources.Index, code, typ string, n *fhirpath.Node, prim string) {
	var vals []string
	switch {
	case n.IsObject() && typ == "HumanName":
		vals = append(append(append(append(texts(n, "family"), texts(n, "given")...), texts(n, "prefix")...), texts(n, "suffix")...), texts(n, "text")...)
	case n.IsObject() && typ == "Address":
		for _, f := range []string{"line", "city", "district", "state", "postalCode", "country", "text"} {
			vals = append(vals, texts(n, f)...)
		}
	case n.IsObject():
		n.Fields(func(name string, v *fhirpath.Node) {
			if s, ok := v.Text(); ok && name != "id" && !v.IsNumber() {
				vals = append(vals, s)
			}
		})
	case prim != "":
		vals = []string{prim}
	}
	for _, s := range vals {
		out.Strings = append(out.Strings, resources.StringEntry{Param: code, Norm: Fold(s), Exact: s})
	}
}

func addToken(out *resources.Index, code, typ string, n *fhirpath.Node, prim string) {
	tok := func(system, c, display string) {
		out.Tokens = append(out.Tokens, resources.TokenEntry{Param: code, System: system, Code: c, Text: Fold(display)})
	}
	switch {
	case n.IsObject() && typ == "CodeableConcept":
		cc := text(n, "text")
		codings := n.Get("coding").Items()
		for _, c := range codings {
			d := cc
			if d == "" {
				d = text(c, "display")
			}
			tok(text(c, "system"), text(c, "code"), d)
		}
		if len(codings) == 0 && cc != "" {
			tok("", "", cc)
		}
	case n.IsObject() && typ == "Coding":
		tok(text(n, "system"), text(n, "code"), text(n, "display"))
	case n.IsObject() && typ == "Identifier":
		tok(text(n, "system"), text(n, "value"), text(n.Get("type"), "text"))
		// :of-type searches match the identifier's type coding and its value,
		// kept under code:of-type with the value as text.
		for _, c := range n.Get("type").Get("coding").Items() {
			out.Tokens = append(out.Tokens, resources.TokenEntry{Param: code + ":of-type",
				System: text(c, "system"), Code: text(c, "code"), Text: text(n, "value")})
		}
	case n.IsObject() && typ == "ContactPoint":
		tok(text(n, "system"), text(n, "value"), "")
	case n.IsObject() && typ == "Reference":
		// A token parameter over a reference (rare) indexes its identifier.
		if id := n.Get("identifier"); id.IsObject() {
			tok(text(id, "system"), text(id, "value"), "")
		}
	case prim != "":
		tok("", prim, prim)
	}
}

func addReference(out *resources.Index, code, typ string, n *fhirpath.Node, prim string) {
	ref := prim
	if n.IsObject() {
		ref = text(n, "reference")
		if id := n.Get("identifier"); id.IsObject() {
			// :identifier searches go to the token table under code:identifier.
			out.Tokens = append(out.Tokens, resources.TokenEntry{Param: code + ":identifier",
				System: text(id, "system"), Code: text(id, "value")})
		}
	}
	if e, ok := ReferenceEntry(code, typ, ref); ok {
		out.References = append(out.References, e)
	}
}

// ReferenceEntry is the index entry of reference ref of parameter code,
// found in an element of FHIR type typ (Reference, canonical, uri, ...): an
// absolute URL or urn is kept as URL; a relative Type/id (or
// Type/id/_history/v) as its target; a relative canonical as both. Anything
// else, and contained references (#id), give none.
func ReferenceEntry(code, typ, ref string) (resources.ReferenceEntry, bool) {
	if ref == "" || strings.HasPrefix(ref, "#") {
		return resources.ReferenceEntry{}, false
	}
	e := resources.ReferenceEntry{Param: code}
	if strings.Contains(ref, "://") || strings.HasPrefix(ref, "urn:") {
		e.URL, _, _ = strings.Cut(ref, "|")
	} else if typ == "canonical" || typ == "uri" || typ == "url" {
		// A relative canonical (Questionnaire/x) is also a local reference.
		e.URL, _, _ = strings.Cut(ref, "|")
		if segs := strings.Split(e.URL, "/"); len(segs) == 2 && resources.IsResourceType(segs[0]) && resources.ValidID(segs[1]) {
			e.TargetType, e.TargetID = segs[0], segs[1]
		}
	} else {
		// Type/id or Type/id/_history/v, cut without allocating: the server
		// indexes references on every write and in every audit event.
		typ, rest, _ := strings.Cut(ref, "/")
		id, rest, more := strings.Cut(rest, "/")
		if more {
			hist, v, four := strings.Cut(rest, "/")
			if !four || hist != "_history" || strings.Contains(v, "/") {
				return resources.ReferenceEntry{}, false
			}
		}
		if !resources.IsResourceType(typ) || !resources.ValidID(id) {
			return resources.ReferenceEntry{}, false
		}
		e.TargetType, e.TargetID = typ, id
	}
	return e, true
}

func addDate(out *resources.Index, code, typ string, n *fhirpath.Node, prim string) {
	entry := func(low, high int64) {
		out.Dates = append(out.Dates, resources.DateEntry{Param: code, Low: low, High: high})
	}
	span := func(s string) (int64, int64, bool) {
		start, end, err := search.ParseDate(s)
		if err != nil {
			return 0, 0, false
		}
		return start.UnixMicro(), end.UnixMicro(), true
	}
	switch {
	case n.IsObject() && typ == "Period":
		low, high := int64(math.MinInt64), int64(math.MaxInt64)
		if l, _, ok := span(text(n, "start")); ok {
			low = l
		}
		if _, h, ok := span(text(n, "end")); ok {
			high = h
		}
		if low != math.MinInt64 || high != math.MaxInt64 {
			entry(low, high)
		}
	case n.IsObject() && typ == "Timing":
		low, high, found := int64(math.MaxInt64), int64(math.MinInt64), false
		for _, ev := range texts(n, "event") {
			if l, h, ok := span(ev); ok {
				low, high, found = min(low, l), max(high, h), true
			}
		}
		if b := n.Get("repeat").Get("boundsPeriod"); b.IsObject() {
			if l, _, ok := span(text(b, "start")); ok {
				low, found = min(low, l), true
			}
			if _, h, ok := span(text(b, "end")); ok {
				high, found = max(high, h), true
			}
		}
		if found {
			entry(low, high)
		}
	case prim != "":
		if l, h, ok := span(prim); ok {
			entry(l, h)
		}
	}
}

func addQuantity(out *resources.Index, code, typ string, n *fhirpath.Node) {
	if !n.IsObject() {
		return
	}
	num, _ := n.Get("value").Text()
	r, err := search.ParseNumber(num)
	if num == "" || err != nil {
		return
	}
	e := resources.QuantityEntry{Param: code}
	e.Value, e.Low, e.High = floats(r)
	switch {
	case quantityTypes[typ]:
		e.System, e.Code = text(n, "system"), text(n, "code")
		if e.Code == "" {
			e.Code = text(n, "unit")
		}
	case typ == "Money":
		e.System, e.Code = "urn:iso:std:iso:4217", text(n, "currency")
	default:
		return
	}
	if e.System == ucumSystem || e.System == "" {
		if c, f, ok := canonicalUnit(e.Code); ok {
			e.CanonCode, e.CanonValue, e.CanonLow, e.CanonHigh = c, e.Value*f, e.Low*f, e.High*f
		}
	}
	out.Quantities = append(out.Quantities, e)
}

// Dedupe drops repeated entries (a parameter whose expression reaches the
// same value twice); tokens are unique per parameter, system and code, the
// first one kept.
func Dedupe(x *resources.Index) {
	x.Strings = uniq(x.Strings)
	x.Tokens = uniqTokens(x.Tokens)
	x.References = uniq(x.References)
	x.Dates = uniq(x.Dates)
	x.Numbers = uniq(x.Numbers)
	x.Quantities = uniq(x.Quantities)
	x.URIs = uniq(x.URIs)
	x.Composites = uniq(x.Composites)
}

// uniqTokens keeps one token entry per (param, system, code), the first
// with its text: searches join on these keys and must not see a resource
// twice.
func uniqTokens(list []resources.TokenEntry) []resources.TokenEntry {
	if len(list) < 2 {
		return list
	}
	type key struct{ p, s, c string }
	seen := make(map[key]bool, len(list))
	return slices.DeleteFunc(list, func(e resources.TokenEntry) bool {
		k := key{e.Param, e.System, e.Code}
		if seen[k] {
			return true
		}
		seen[k] = true
		return false
	})
}

func uniq[T comparable](list []T) []T {
	if len(list) < 2 {
		return list
	}
	seen := make(map[T]bool, len(list))
	return slices.DeleteFunc(list, func(v T) bool {
		if seen[v] {
			return true
		}
		seen[v] = true
		return false
	})
}
