package resources

import (
	"math/rand/v2"
	"testing"
	"time"
)

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestFormatInstant: FormatInstant writes what time.Format writes with its
// layout, in and out of the years it writes digits for, in any zone.
func TestFormatInstant(t *testing.T) {
	zone := time.FixedZone("CST", 8*3600)
	times := []time.Time{
		time.Date(2026, 11, 26, 8, 5, 9, 123456789, zone),
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 6, 30, 12, 0, 0, 0, time.UTC),
		time.Date(2000, 1, 1, 0, 0, 0, 999, zone), // 1999 in UTC
		time.Unix(0, 0),
		{},
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		times = append(times, time.Unix(r.Int64N(400*365*86400)-100*365*86400, r.Int64N(1e9)).In(zone))
	}
	for _, tm := range times {
		if got, want := FormatInstant(tm), tm.UTC().Format(instantLayout); got != want {
			t.Fatalf("FormatInstant(%v) = %q, want %q", tm, got, want)
		}
	}
}

// FuzzFormatInstant: FormatInstant agrees with time.Format for any instant.
func FuzzFormatInstant(f *testing.F) {
	f.Add(int64(0), int64(0))
	f.Add(int64(1795698167), int64(123456789))
	f.Add(int64(-62135596800), int64(0))         // 0001-01-01
	f.Add(int64(253402300799), int64(999999999)) // 9999-12-31T23:59:59
	f.Add(int64(253402300800), int64(0))         // 10000-01-01
	f.Fuzz(func(t *testing.T, sec, nsec int64) {
		tm := time.Unix(sec, nsec)
		if got, want := FormatInstant(tm), tm.UTC().Format(instantLayout); got != want {
			t.Fatalf("FormatInstant(%d, %d) = %q, want %q", sec, nsec, got, want)
		}
	})
}
