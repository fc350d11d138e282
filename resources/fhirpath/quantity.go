package fhirpath

import (
	"sort"
	"strconv"
	"strings"
)

// Quantity is a FHIRPath System.Quantity: a decimal value and a UCUM unit or
// calendar duration keyword (year, month, week, day, hour, minute, second,
// millisecond and their plurals).
type Quantity struct {
	Value Decimal
	Unit  string
}

func (q Quantity) String() string {
	if _, ok := calendarUnits[q.Unit]; ok {
		return q.Value.String() + " " + q.Unit
	}
	return q.Value.String() + " '" + q.Unit + "'"
}

// calendarUnits maps the FHIRPath calendar duration keywords to the UCUM unit
// they are equal to in comparisons.
var calendarUnits = map[string]string{
	"year": "a", "years": "a", "month": "mo", "months": "mo",
	"week": "wk", "weeks": "wk", "day": "d", "days": "d",
	"hour": "h", "hours": "h", "minute": "min", "minutes": "min",
	"second": "s", "seconds": "s", "millisecond": "ms", "milliseconds": "ms",
}

// ucumUnit is a unit in canonical form: value × factor in the base units dims.
type ucumUnit struct {
	factor Decimal
	dims   string // canonical key such as "g.m-1"
}

type atom struct {
	factor string
	dims   map[string]int
}

// ucumAtoms are the units understood without a prefix, with their value in
// base units. Base units: g, m, s, mol, K, and opaque atoms for the rest.
var ucumAtoms = map[string]atom{
	"1": {"1", nil}, "%": {"0.01", nil},
	"g": {"1", map[string]int{"g": 1}}, "m": {"1", map[string]int{"m": 1}},
	"s": {"1", map[string]int{"s": 1}}, "mol": {"1", map[string]int{"mol": 1}},
	"K":   {"1", map[string]int{"K": 1}},
	"L":   {"0.001", map[string]int{"m": 3}},
	"l":   {"0.001", map[string]int{"m": 3}},
	"min": {"60", map[string]int{"s": 1}}, "h": {"3600", map[string]int{"s": 1}},
	"d": {"86400", map[string]int{"s": 1}}, "wk": {"604800", map[string]int{"s": 1}},
	"mo": {"2629800", map[string]int{"s": 1}}, "a": {"31557600", map[string]int{"s": 1}},
	"[lb_av]": {"453.59237", map[string]int{"g": 1}}, "[oz_av]": {"28.349523125", map[string]int{"g": 1}},
	"[in_i]": {"0.0254", map[string]int{"m": 1}}, "[ft_i]": {"0.3048", map[string]int{"m": 1}},
	"[mi_i]": {"1609.344", map[string]int{"m": 1}},
	"mm[Hg]": {"133322", map[string]int{"g": 1, "m": -1, "s": -2}},
	"Pa":     {"1000", map[string]int{"g": 1, "m": -1, "s": -2}},
	"bar":    {"100000000", map[string]int{"g": 1, "m": -1, "s": -2}},
	"eq":     {"1", map[string]int{"mol": 1}},
	"Hz":     {"1", map[string]int{"s": -1}},
	"N":      {"1000", map[string]int{"g": 1, "m": 1, "s": -2}},
	"J":      {"1000", map[string]int{"g": 1, "m": 2, "s": -2}},
	"cal":    {"4184", map[string]int{"g": 1, "m": 2, "s": -2}},
	"/min":   {"0.016666666666666667", map[string]int{"s": -1}},
}

// maxUnitExponent bounds exponents such as m3 in parsed units.
const maxUnitExponent = 12

// ucumPrefixes may precede metric atoms.
var ucumPrefixes = map[string]string{
	"k": "1000", "h": "100", "da": "10", "d": "0.1", "c": "0.01", "m": "0.001",
	"u": "0.000001", "n": "0.000000001", "p": "0.000000000001", "M": "1000000",
}

var metricAtoms = map[string]bool{"g": true, "m": true, "s": true, "mol": true, "L": true, "l": true, "eq": true, "Pa": true, "Hz": true, "N": true, "J": true, "cal": true, "bar": true, "K": true}

func lookupAtom(s string) (Decimal, map[string]int, bool) {
	if a, ok := ucumAtoms[s]; ok {
		f, _ := ParseDecimal(a.factor)
		return f, a.dims, true
	}
	if s == "mcg" {
		s = "ug"
	}
	for _, plen := range []int{2, 1} {
		if len(s) <= plen {
			continue
		}
		p, rest := s[:plen], s[plen:]
		pf, ok := ucumPrefixes[p]
		if !ok || !metricAtoms[rest] {
			continue
		}
		a := ucumAtoms[rest]
		f, _ := ParseDecimal(a.factor)
		m, _ := ParseDecimal(pf)
		return f.Mul(m), a.dims, true
	}
	return Decimal{}, nil, false
}

// parseUCUM converts a unit to canonical form. Unknown atoms are kept as
// opaque dimensions so that equal units still compare.
func parseUCUM(unit string) ucumUnit {
	if u, ok := calendarUnits[unit]; ok {
		unit = u
	}
	factor := DecimalFromInt(1)
	dims := map[string]int{}
	if unit == "" {
		unit = "1"
	}
	// split into components on '.' and '/' (left to right)
	sign := 1
	i := 0
	first := true
	for i <= len(unit) {
		j := i
		for j < len(unit) && unit[j] != '.' && unit[j] != '/' {
			j++
		}
		comp := unit[i:j]
		if comp == "" && first && j < len(unit) && unit[j] == '/' {
			comp = "1"
		}
		if comp != "" {
			// annotations {..} are ignored
			if k := strings.IndexByte(comp, '{'); k >= 0 {
				comp = comp[:k]
				if comp == "" {
					comp = "1"
				}
			}
			exp := 1
			k := len(comp)
			for k > 0 && (comp[k-1] >= '0' && comp[k-1] <= '9') {
				k--
			}
			if k > 0 && k < len(comp) && comp[k-1] == '-' {
				k--
			}
			if k > 0 && k < len(comp) {
				if e, err := strconv.Atoi(comp[k:]); err == nil && e >= -maxUnitExponent && e <= maxUnitExponent {
					exp, comp = e, comp[:k]
				}
			}
			f, d, ok := lookupAtom(comp)
			if !ok {
				f, d = DecimalFromInt(1), map[string]int{"[" + comp + "]": 1}
			}
			e := exp * sign
			for n := 0; n < abs(e); n++ {
				if e > 0 {
					factor = factor.Mul(f)
				} else {
					factor, _ = factor.Div(f)
				}
			}
			for name, p := range d {
				dims[name] += p * e
			}
		}
		if j >= len(unit) {
			break
		}
		if unit[j] == '/' {
			sign = -1
		} else if unit[j] == '.' && sign == -1 {
			sign = -1 // a/b.c means a/(b.c) in common usage
		}
		i = j + 1
		first = false
	}
	keys := make([]string, 0, len(dims))
	for k, v := range dims {
		if v != 0 {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k)
		b.WriteString(strconv.Itoa(dims[k]))
		b.WriteByte('.')
	}
	return ucumUnit{factor: factor, dims: b.String()}
}

func abs(i int) int {
	if i < 0 {
		return -i
	}
	return i
}

// isCalendarYearMonth reports units whose comparison with a definite UCUM
// duration is not defined.
func isCalendarYearMonth(u string) bool {
	switch u {
	case "year", "years", "month", "months":
		return true
	}
	return false
}

// convertQuantity converts q to the unit of like. ok is false when the units
// are not comparable.
func convertQuantity(q Quantity, unit string) (Decimal, bool) {
	if q.Unit == unit {
		return q.Value, true
	}
	if isCalendarYearMonth(q.Unit) != isCalendarYearMonth(unit) {
		return Decimal{}, false
	}
	a, b := parseUCUM(q.Unit), parseUCUM(unit)
	if a.dims != b.dims {
		return Decimal{}, false
	}
	v := q.Value.Mul(a.factor)
	r, ok := v.Div(b.factor)
	if !ok {
		return Decimal{}, false
	}
	return r, true
}

// compareQuantities returns the ordering of a and b; ok is false when their
// units are not comparable.
func compareQuantities(a, b Quantity) (int, bool) {
	bv, ok := convertQuantity(b, a.Unit)
	if !ok {
		return 0, false
	}
	return a.Value.Cmp(bv), true
}

// mulUnits and divUnits build the unit of a product or quotient.
func mulUnits(a, b string) string {
	a, b = ucumOf(a), ucumOf(b)
	switch {
	case a == "1":
		return b
	case b == "1":
		return a
	}
	return a + "." + b
}

func divUnits(a, b string) string {
	a, b = ucumOf(a), ucumOf(b)
	switch {
	case a == b:
		return "1"
	case b == "1":
		return a
	}
	return a + "/" + b
}

func ucumOf(u string) string {
	if c, ok := calendarUnits[u]; ok {
		return c
	}
	if u == "" {
		return "1"
	}
	return u
}
