package auth

import "time"

// SetClock replaces the Verifier's clock (tests only).
func SetClock(v *Verifier, now func() time.Time) { v.now = now }

// CachedTokens is the number of tokens the Verifier remembers.
func CachedTokens(v *Verifier) int {
	if v.cache == nil {
		return 0
	}
	return v.cache.len()
}
