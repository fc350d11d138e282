package index

import (
	"math/big"

	"github.com/meizhou-yiyang/yiyang/resources/search"
)

const ucumSystem = "http://unitsofmeasure.org"

// canonical units: each UCUM code maps to a base unit and the factor that
// converts a value into it. Only linear conversions of the units common in
// clinical data are listed; others keep no canonical form.
var canonical = map[string]struct {
	unit   string
	factor float64
}{
	// mass
	"ug": {"g", 1e-6}, "mg": {"g", 1e-3}, "g": {"g", 1}, "kg": {"g", 1e3}, "[lb_av]": {"g", 453.59237},
	// volume
	"uL": {"L", 1e-6}, "mL": {"L", 1e-3}, "dL": {"L", 1e-1}, "L": {"L", 1}, "l": {"L", 1},
	// length
	"mm": {"m", 1e-3}, "cm": {"m", 1e-2}, "m": {"m", 1}, "km": {"m", 1e3}, "[in_i]": {"m", 0.0254},
	// time
	"ms": {"s", 1e-3}, "s": {"s", 1}, "min": {"s", 60}, "h": {"s", 3600}, "d": {"s", 86400},
	"wk": {"s", 604800}, "mo": {"s", 2629800}, "a": {"s", 31557600},
	// rates
	"/min": {"/s", 1.0 / 60}, "/s": {"/s", 1}, "/h": {"/s", 1.0 / 3600},
	// mass concentration
	"mg/dL": {"g/L", 1e-2}, "g/dL": {"g/L", 10}, "g/L": {"g/L", 1}, "mg/L": {"g/L", 1e-3},
	// substance concentration
	"mmol/L": {"mol/L", 1e-3}, "umol/L": {"mol/L", 1e-6}, "mol/L": {"mol/L", 1},
	// pressure
	"mm[Hg]": {"mm[Hg]", 1}, "kPa": {"mm[Hg]", 7.50061683},
	// dimensionless
	"%": {"%", 1}, "1": {"1", 1},
}

// canonicalUnit returns the base unit of a UCUM code and the factor into it.
func canonicalUnit(code string) (string, float64, bool) {
	c, ok := canonical[code]
	return c.unit, c.factor, ok
}

// CanonicalUnit is canonicalUnit for the search side, which converts query
// values the same way.
func CanonicalUnit(code string) (string, float64, bool) { return canonicalUnit(code) }

// floats converts a number range to float64 value, low and high.
func floats(r *search.Range) (v, lo, hi float64) {
	f := func(x *big.Rat) float64 { f, _ := x.Float64(); return f }
	return f(r.Value), f(r.Low), f(r.High)
}
