package jsontree

import (
	"encoding/json"
	"math/big"
	"strings"
)

// Equal reports whether a and b are the same JSON value: numbers compare by
// their exact decimal value (1, 1.0 and 1e0 are equal), objects regardless
// of member order, arrays in order.
func Equal(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case string:
		y, ok := b.(string)
		return ok && x == y
	case json.Number:
		y, ok := b.(json.Number)
		return ok && numbersEqual(x, y)
	case *Array:
		y, ok := b.(*Array)
		if !ok || len(x.Elems) != len(y.Elems) {
			return false
		}
		for i := range x.Elems {
			if !Equal(x.Elems[i], y.Elems[i]) {
				return false
			}
		}
		return true
	case *Object:
		y, ok := b.(*Object)
		if !ok || len(x.Members) != len(y.Members) {
			return false
		}
		// Member names are unique, so equal sizes plus every member of x
		// having an equal counterpart in y means the objects are equal.
		ym := make(map[string]any, len(y.Members))
		for _, m := range y.Members {
			ym[m.Key] = m.Val
		}
		for _, m := range x.Members {
			v, ok := ym[m.Key]
			if !ok || !Equal(m.Val, v) {
				return false
			}
		}
		return true
	}
	return false
}

// decimal is a JSON number in the normalised form ±0.digits × 10^exp, where
// digits has neither leading nor trailing zeros. Zero has empty digits.
type decimal struct {
	neg    bool
	digits string
	exp    big.Int
}

// parseDecimal normalises a JSON number literal. It works on the text so that
// numbers of any size or precision compare exactly and cheaply.
func parseDecimal(s string) (decimal, bool) {
	var d decimal
	if strings.HasPrefix(s, "-") {
		d.neg = true
		s = s[1:]
	}
	mant, expText, hasExp := strings.Cut(s, "e")
	if !hasExp {
		mant, expText, hasExp = strings.Cut(s, "E")
	}
	intPart, fracPart, _ := strings.Cut(mant, ".")
	if intPart == "" || !allDigits(intPart) || !allDigits(fracPart) {
		return d, false
	}
	if hasExp {
		if _, ok := d.exp.SetString(strings.TrimPrefix(expText, "+"), 10); !ok {
			return d, false
		}
	}
	digits := intPart + fracPart
	trimmed := strings.TrimLeft(digits, "0")
	// value = 0.digits × 10^(len(intPart)+exp); each leading zero dropped
	// from digits lowers the exponent by one.
	shift := int64(len(intPart)) - int64(len(digits)-len(trimmed))
	d.exp.Add(&d.exp, big.NewInt(shift))
	d.digits = strings.TrimRight(trimmed, "0")
	if d.digits == "" {
		d.neg = false
		d.exp.SetInt64(0)
	}
	return d, true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// numbersEqual reports whether two number literals have the same value.
// Literals that do not parse (impossible for parser output) compare as text.
func numbersEqual(a, b json.Number) bool {
	if a == b {
		return true
	}
	x, okx := parseDecimal(string(a))
	y, oky := parseDecimal(string(b))
	if !okx || !oky {
		return false
	}
	return x.neg == y.neg && x.digits == y.digits && x.exp.Cmp(&y.exp) == 0
}
