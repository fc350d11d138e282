package search

import (
	"fmt"
	"math/big"
	"net/url"
	"strings"
	"time"

	"github.com/meizhou-yiyang/yiyang/resources"
)

// splitEscaped splits s on sep where sep is not escaped by a backslash.
// Escapes stay in the parts; unescape removes them.
func splitEscaped(s string, sep byte) []string {
	var parts []string
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case sep:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

// unescape removes FHIR search escapes: \, \| \$ \\.
func unescape(s string) string {
	if strings.IndexByte(s, '\\') < 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// splitPrefix takes a comparison prefix off a number, date or quantity value.
func splitPrefix(s string) (Prefix, string) {
	if len(s) >= 2 {
		switch p := Prefix(s[:2]); p {
		case Eq, Ne, Gt, Lt, Ge, Le, Sa, Eb, Ap:
			return p, s[2:]
		}
	}
	return Eq, s
}

// ParseNumber parses a FHIR decimal and the interval its significant figures
// stand for: 100 is [99.5, 100.5), 1.50 is [1.495, 1.505), 1e2 is [50, 150).
func ParseNumber(s string) (*Range, error) {
	mant, exp := s, 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mant = s[:i]
		if _, err := fmt.Sscan(s[i+1:], &exp); err != nil || exp > 1000 || exp < -1000 {
			return nil, fmt.Errorf("%q is not a number", s)
		}
	}
	if mant == "" || strings.Trim(mant, "+-0123456789.") != "" || strings.Count(mant, ".") > 1 ||
		strings.LastIndexAny(mant, "+-") > 0 || strings.Trim(mant, "+-.") == "" {
		return nil, fmt.Errorf("%q is not a number", s)
	}
	v, ok := new(big.Rat).SetString(s)
	if !ok {
		return nil, fmt.Errorf("%q is not a number", s)
	}
	decimals := 0
	if i := strings.IndexByte(mant, '.'); i >= 0 {
		decimals = len(mant) - i - 1
	}
	// Half a unit in the last significant place.
	half := new(big.Rat).SetFrac(big.NewInt(1), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(abs(decimals-exp))), nil))
	if decimals-exp < 0 {
		half.Inv(half)
	}
	half.Mul(half, big.NewRat(1, 2))
	return &Range{Value: v, Low: new(big.Rat).Sub(v, half), High: new(big.Rat).Add(v, half)}, nil
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// ParseDate parses a FHIR date, dateTime or instant and returns the interval
// its precision covers, as [start, end] with end the last microsecond: 2024
// is the whole year, 2024-03-01T10:00 that minute. Times without a zone are
// taken as UTC.
func ParseDate(v string) (start, end time.Time, err error) {
	layouts := []struct {
		layout string
		step   func(time.Time) time.Time
	}{
		{"2006", func(t time.Time) time.Time { return t.AddDate(1, 0, 0) }},
		{"2006-01", func(t time.Time) time.Time { return t.AddDate(0, 1, 0) }},
		{"2006-01-02", func(t time.Time) time.Time { return t.AddDate(0, 0, 1) }},
		{"2006-01-02T15:04Z07:00", func(t time.Time) time.Time { return t.Add(time.Minute) }},
		{"2006-01-02T15:04", func(t time.Time) time.Time { return t.Add(time.Minute) }},
		{"2006-01-02T15:04:05Z07:00", nil},
		{"2006-01-02T15:04:05", nil},
	}
	if len(v) < 4 || len(v) > 40 {
		return time.Time{}, time.Time{}, fmt.Errorf("%q is not a FHIR date, dateTime or instant", v)
	}
	for _, l := range layouts {
		t, perr := time.Parse(l.layout, v)
		if perr != nil {
			continue
		}
		t = t.UTC()
		if l.step != nil {
			return t, l.step(t).Add(-time.Microsecond), nil
		}
		frac := 0
		if i := strings.IndexByte(v, '.'); i >= 0 {
			for _, c := range v[i+1:] {
				if c < '0' || c > '9' {
					break
				}
				frac++
			}
		}
		// The value covers its last digit: seconds without a fraction cover the
		// second, 10:00:00.5 covers a tenth of it, down to microseconds.
		unit := time.Second
		for i := 0; i < frac && unit > time.Microsecond; i++ {
			unit /= 10
		}
		t = t.Truncate(unit)
		return t, t.Add(unit - time.Microsecond), nil
	}
	return time.Time{}, time.Time{}, fmt.Errorf("%q is not a FHIR date, dateTime or instant", v)
}

// parseValue parses one OR value of filter f (already holding its modifier).
func parseValue(def ParamDef, f Filter, part, base string) (Value, error) {
	if part == "" {
		return Value{}, fmt.Errorf("empty value in a list of values")
	}
	if len(part) > MaxValueLength {
		return Value{}, fmt.Errorf("a value is longer than %d characters", MaxValueLength)
	}
	v := Value{Raw: unescape(part)}
	switch {
	case f.Modifier == "text" || def.Type == "string" || def.Type == "uri":
		v.Text = v.Raw
	case f.Modifier == "in" || f.Modifier == "not-in":
		v.URL = v.Raw
	case def.Type == "number":
		v.Prefix, part = splitPrefix(part)
		r, err := ParseNumber(part)
		if err != nil {
			return Value{}, err
		}
		v.Number = r
	case def.Type == "date":
		var s string
		v.Prefix, s = splitPrefix(part)
		start, end, err := ParseDate(s)
		if err != nil {
			return Value{}, err
		}
		v.Start, v.End = start, end
	case def.Type == "quantity":
		var s string
		v.Prefix, s = splitPrefix(part)
		pieces := splitEscaped(s, '|')
		if len(pieces) != 1 && len(pieces) != 3 {
			return Value{}, fmt.Errorf("%q is not number, number|system|code or number||code", part)
		}
		r, err := ParseNumber(pieces[0])
		if err != nil {
			return Value{}, err
		}
		v.Number = r
		if len(pieces) == 3 {
			v.System, v.Code, v.HasSystem = unescape(pieces[1]), unescape(pieces[2]), pieces[1] != ""
		}
	case def.Type == "token" || (def.Type == "reference" && f.Modifier == "identifier"):
		pieces := splitEscaped(part, '|')
		switch {
		case f.Modifier == "of-type" && len(pieces) == 3:
			v.System, v.Code, v.Text, v.HasSystem = unescape(pieces[0]), unescape(pieces[1]), unescape(pieces[2]), true
		case f.Modifier == "of-type":
			return Value{}, fmt.Errorf(":of-type takes system|code|value, not %q", part)
		case len(pieces) == 1 && (f.Modifier == "below" || f.Modifier == "above") && def.Type == "token":
			return Value{}, fmt.Errorf(":%s takes system|code (the code system whose hierarchy to follow), not %q", f.Modifier, part)
		case len(pieces) == 1:
			v.Code = unescape(pieces[0])
		case len(pieces) == 2:
			v.System, v.Code, v.HasSystem = unescape(pieces[0]), unescape(pieces[1]), true
			if v.System == "" && v.Code == "" {
				return Value{}, fmt.Errorf("%q has neither system nor code", part)
			}
			if (f.Modifier == "below" || f.Modifier == "above") && (v.System == "" || v.Code == "") {
				return Value{}, fmt.Errorf(":%s takes system|code (the code system whose hierarchy to follow), not %q", f.Modifier, part)
			}
		default:
			return Value{}, fmt.Errorf("%q has more than one unescaped |", part)
		}
	case def.Type == "reference":
		parseReference(&v, f.TargetType, base)
		if v.RefID == "" && v.URL == "" {
			return Value{}, fmt.Errorf("%q is not a reference (id, Type/id or an absolute URL)", v.Raw)
		}
	case def.Type == "composite":
		pieces := splitEscaped(part, '$')
		if len(pieces) != len(def.Components) {
			return Value{}, fmt.Errorf("%q must have %d parts separated by $ (%s)", part, len(def.Components), componentNames(def))
		}
		for i, c := range def.Components {
			if pieces[i] == "" {
				return Value{}, fmt.Errorf("part %d (%s) of %q is empty", i+1, c.Code, part)
			}
			cv, err := parseValue(c, Filter{Param: c}, pieces[i], base)
			if err != nil {
				return Value{}, fmt.Errorf("part %d (%s): %w", i+1, c.Code, err)
			}
			v.Components = append(v.Components, cv)
		}
	default:
		return Value{}, fmt.Errorf("parameters of type %s cannot be searched", def.Type)
	}
	return v, nil
}

// parseReference fills a reference value: id, Type/id, Type/id/_history/v or
// an absolute URL (whose trailing Type/id is also kept when the URL is under
// this server's base, making it a local reference too).
func parseReference(v *Value, targetType, base string) {
	s := v.Raw
	if strings.Contains(s, "://") || strings.HasPrefix(s, "urn:") {
		v.URL = s
		local := base != "" && strings.HasPrefix(s, strings.TrimRight(base, "/")+"/")
		if u, err := url.Parse(s); err == nil && local {
			if segs := strings.Split(strings.Trim(u.Path, "/"), "/"); len(segs) >= 2 {
				v.RefType, v.RefID = segs[len(segs)-2], segs[len(segs)-1]
				if !resources.IsResourceType(v.RefType) || !resources.ValidID(v.RefID) {
					v.RefType, v.RefID = "", ""
				}
			}
		}
		return
	}
	segs := strings.Split(s, "/")
	switch {
	case len(segs) == 1 && resources.ValidID(segs[0]):
		v.RefType, v.RefID = targetType, segs[0]
	case len(segs) == 2 && resources.IsResourceType(segs[0]) && resources.ValidID(segs[1]):
		v.RefType, v.RefID = segs[0], segs[1]
	case len(segs) == 4 && resources.IsResourceType(segs[0]) && resources.ValidID(segs[1]) && segs[2] == "_history" && resources.ValidID(segs[3]):
		v.RefType, v.RefID, v.RefVersion = segs[0], segs[1], segs[3]
	}
	if targetType != "" && v.RefType != "" && v.RefType != targetType {
		v.RefType, v.RefID = "", "" // contradicts the :Type modifier
	}
}
