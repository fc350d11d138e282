package fhirpath

import (
	"math"
	"math/big"
	"strconv"
	"strings"
)

// Decimal is an exact decimal number: unscaled × 10^-scale. The scale records
// the precision written in the source (1.50 has scale 2), which matters for
// equivalence and output. The zero Decimal is 0.
type Decimal struct {
	u     *big.Int // nil means 0
	scale int32
}

// divisionScale is the number of fractional digits kept by division and by
// functions computed in floating point.
const divisionScale = 8

// maxDecimalDigits bounds the size of decimals built from input.
const maxDecimalDigits = 64

var bigTen = big.NewInt(10)

func (d Decimal) unscaled() *big.Int {
	if d.u == nil {
		return new(big.Int)
	}
	return d.u
}

// DecimalFromInt returns i as a Decimal with scale 0.
func DecimalFromInt(i int64) Decimal { return Decimal{u: big.NewInt(i)} }

// ParseDecimal parses decimal text such as "-12.50" or "1e3".
func ParseDecimal(s string) (Decimal, bool) {
	if s == "" || len(s) > 2*maxDecimalDigits {
		return Decimal{}, false
	}
	exp := 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		e, err := strconv.Atoi(s[i+1:])
		if err != nil || e > maxDecimalDigits || e < -maxDecimalDigits {
			return Decimal{}, false
		}
		exp = e
		s = s[:i]
	}
	neg := false
	if s[0] == '-' || s[0] == '+' {
		neg = s[0] == '-'
		s = s[1:]
	}
	intPart, frac := s, ""
	if i := strings.IndexByte(s, '.'); i >= 0 {
		intPart, frac = s[:i], s[i+1:]
		if frac == "" {
			return Decimal{}, false
		}
	}
	if intPart == "" {
		return Decimal{}, false
	}
	digits := intPart + frac
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return Decimal{}, false
		}
	}
	u, ok := new(big.Int).SetString(digits, 10)
	if !ok {
		return Decimal{}, false
	}
	if neg {
		u.Neg(u)
	}
	scale := int32(len(frac)) - int32(exp)
	d := Decimal{u: u, scale: scale}
	if scale < 0 {
		d = d.rescale(0)
	}
	return d, true
}

// rescale returns d with the given scale (rounding half away from zero when
// reducing it).
func (d Decimal) rescale(scale int32) Decimal {
	u := d.unscaled()
	if scale == d.scale {
		return d
	}
	if scale > d.scale {
		m := new(big.Int).Exp(bigTen, big.NewInt(int64(scale-d.scale)), nil)
		return Decimal{u: m.Mul(m, u), scale: scale}
	}
	m := new(big.Int).Exp(bigTen, big.NewInt(int64(d.scale-scale)), nil)
	q, r := new(big.Int).QuoRem(u, m, new(big.Int))
	// round half away from zero
	r2 := new(big.Int).Abs(r)
	r2.Mul(r2, big.NewInt(2))
	if r2.Cmp(m) >= 0 {
		if u.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	return Decimal{u: q, scale: scale}
}

// truncScale returns d truncated toward zero to scale.
func (d Decimal) truncScale(scale int32) Decimal {
	if scale >= d.scale {
		return d.rescale(scale)
	}
	m := new(big.Int).Exp(bigTen, big.NewInt(int64(d.scale-scale)), nil)
	return Decimal{u: new(big.Int).Quo(d.unscaled(), m), scale: scale}
}

func align(a, b Decimal) (*big.Int, *big.Int, int32) {
	if a.scale == b.scale {
		return a.unscaled(), b.unscaled(), a.scale
	}
	if a.scale > b.scale {
		return a.unscaled(), b.rescale(a.scale).u, a.scale
	}
	return a.rescale(b.scale).u, b.unscaled(), b.scale
}

// Add returns a+b.
func (a Decimal) Add(b Decimal) Decimal {
	x, y, s := align(a, b)
	return Decimal{u: new(big.Int).Add(x, y), scale: s}
}

// Sub returns a-b.
func (a Decimal) Sub(b Decimal) Decimal {
	x, y, s := align(a, b)
	return Decimal{u: new(big.Int).Sub(x, y), scale: s}
}

// Mul returns a×b.
func (a Decimal) Mul(b Decimal) Decimal {
	d := Decimal{u: new(big.Int).Mul(a.unscaled(), b.unscaled()), scale: a.scale + b.scale}
	if d.scale > 2*divisionScale {
		d = d.rescale(2 * divisionScale).trim(0)
	}
	return d
}

// Div returns a/b with divisionScale fractional digits, trimmed; false when b is 0.
func (a Decimal) Div(b Decimal) (Decimal, bool) {
	if b.Sign() == 0 {
		return Decimal{}, false
	}
	// a/b = (ua/ub) × 10^(sb-sa); compute with extra digits then round.
	const extra = divisionScale + 2
	num := new(big.Int).Mul(a.unscaled(), new(big.Int).Exp(bigTen, big.NewInt(int64(extra)), nil))
	q := new(big.Int).Quo(num, b.unscaled())
	d := Decimal{u: q, scale: a.scale - b.scale + extra}
	if d.scale < 0 {
		d = d.rescale(0)
	}
	return d.rescale(divisionScale).trim(0), true
}

// DivInt returns the truncated integer quotient a div b.
func (a Decimal) DivInt(b Decimal) (Decimal, bool) {
	if b.Sign() == 0 {
		return Decimal{}, false
	}
	x, y, _ := align(a, b)
	return Decimal{u: new(big.Int).Quo(x, y)}, true
}

// Mod returns a mod b (sign of a).
func (a Decimal) Mod(b Decimal) (Decimal, bool) {
	if b.Sign() == 0 {
		return Decimal{}, false
	}
	x, y, s := align(a, b)
	return Decimal{u: new(big.Int).Rem(x, y), scale: s}, true
}

// trim removes trailing fractional zeros down to minScale.
func (d Decimal) trim(minScale int32) Decimal {
	u := d.unscaled()
	if u.Sign() == 0 {
		return Decimal{u: u, scale: minScale}
	}
	q, r := new(big.Int), new(big.Int)
	for d.scale > minScale {
		q.QuoRem(u, bigTen, r)
		if r.Sign() != 0 {
			break
		}
		u = new(big.Int).Set(q)
		d = Decimal{u: u, scale: d.scale - 1}
	}
	return d
}

// Neg returns -d.
func (d Decimal) Neg() Decimal { return Decimal{u: new(big.Int).Neg(d.unscaled()), scale: d.scale} }

// Sign returns -1, 0 or 1.
func (d Decimal) Sign() int { return d.unscaled().Sign() }

// Cmp compares a and b by value.
func (a Decimal) Cmp(b Decimal) int {
	x, y, _ := align(a, b)
	return x.Cmp(y)
}

// Scale returns the number of fractional digits.
func (d Decimal) Scale() int { return int(d.scale) }

// Round rounds to n fractional digits.
func (d Decimal) Round(n int) Decimal {
	if int32(n) >= d.scale {
		return d
	}
	return d.rescale(int32(n))
}

// Floor returns the greatest integer ≤ d.
func (d Decimal) Floor() Decimal {
	t := d.truncScale(0)
	if d.Sign() < 0 && t.Cmp(d) != 0 {
		t = Decimal{u: new(big.Int).Sub(t.u, big.NewInt(1))}
	}
	return t
}

// Ceiling returns the least integer ≥ d.
func (d Decimal) Ceiling() Decimal {
	t := d.truncScale(0)
	if d.Sign() > 0 && t.Cmp(d) != 0 {
		t = Decimal{u: new(big.Int).Add(t.u, big.NewInt(1))}
	}
	return t
}

// Int64 returns d as an integer when it has no fractional part and fits.
func (d Decimal) Int64() (int64, bool) {
	t := d.trim(0)
	if t.scale != 0 || !t.unscaled().IsInt64() {
		return 0, false
	}
	return t.unscaled().Int64(), true
}

// Float64 returns the nearest float64.
func (d Decimal) Float64() float64 {
	f, _ := strconv.ParseFloat(d.String(), 64)
	return f
}

// DecimalFromFloat converts a float with divisionScale digits, trimmed.
func DecimalFromFloat(f float64) (Decimal, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return Decimal{}, false
	}
	d, ok := ParseDecimal(strconv.FormatFloat(f, 'f', divisionScale, 64))
	if !ok {
		return Decimal{}, false
	}
	return d.trim(0), true
}

// String formats d with exactly its scale of fractional digits.
func (d Decimal) String() string {
	u := d.unscaled()
	s := new(big.Int).Abs(u).String()
	if d.scale > 0 {
		if len(s) <= int(d.scale) {
			s = strings.Repeat("0", int(d.scale)-len(s)+1) + s
		}
		s = s[:len(s)-int(d.scale)] + "." + s[len(s)-int(d.scale):]
	}
	if u.Sign() < 0 {
		s = "-" + s
	}
	return s
}
