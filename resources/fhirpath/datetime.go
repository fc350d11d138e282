package fhirpath

import (
	"strconv"
	"strings"
	"time"
)

// precision of a partial date, date-time or time.
type precision uint8

const (
	precNone precision = iota
	precYear
	precMonth
	precDay
	precHour
	precMinute
	precSecond
	precMillis
)

// temporal holds the fields shared by Date, DateTime and Time values.
type temporal struct {
	year, month, day     int
	hour, minute, second int
	millis               int
	prec                 precision
	hasTZ                bool
	tzMin                int // offset east of UTC in minutes
}

// Date is a FHIRPath System.Date (precision year, month or day).
type Date struct{ temporal }

// DateTime is a FHIRPath System.DateTime.
type DateTime struct{ temporal }

// Time is a FHIRPath System.Time (precision hour to millisecond).
type Time struct{ temporal }

func digitsAt(s string, i, n int) (int, bool) {
	if i+n > len(s) {
		return 0, false
	}
	v := 0
	for k := i; k < i+n; k++ {
		c := s[k]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

// parseDatePart parses YYYY[-MM[-DD]] at the start of s and returns the rest.
func parseDatePart(s string, t *temporal) (string, bool) {
	y, ok := digitsAt(s, 0, 4)
	if !ok {
		return s, false
	}
	t.year, t.prec, s = y, precYear, s[4:]
	if len(s) >= 3 && s[0] == '-' {
		m, ok := digitsAt(s, 1, 2)
		if !ok || m < 1 || m > 12 {
			return s, false
		}
		t.month, t.prec, s = m, precMonth, s[3:]
		if len(s) >= 3 && s[0] == '-' {
			d, ok := digitsAt(s, 1, 2)
			if !ok || d < 1 || d > daysIn(t.year, t.month) {
				return s, false
			}
			t.day, t.prec, s = d, precDay, s[3:]
		}
	}
	return s, true
}

func daysIn(year, month int) int {
	return time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// parseTimePart parses HH[:mm[:ss[.fff]]] and returns the rest.
func parseTimePart(s string, t *temporal) (string, bool) {
	h, ok := digitsAt(s, 0, 2)
	if !ok || h > 23 {
		return s, false
	}
	t.hour, t.prec, s = h, precHour, s[2:]
	if len(s) >= 3 && s[0] == ':' {
		m, ok := digitsAt(s, 1, 2)
		if !ok || m > 59 {
			return s, false
		}
		t.minute, t.prec, s = m, precMinute, s[3:]
		if len(s) >= 3 && s[0] == ':' {
			sec, ok := digitsAt(s, 1, 2)
			if !ok || sec > 59 {
				return s, false
			}
			t.second, t.prec, s = sec, precSecond, s[3:]
			if len(s) >= 2 && s[0] == '.' {
				n := 1
				for n < len(s) && s[n] >= '0' && s[n] <= '9' {
					n++
				}
				if n == 1 {
					return s, false
				}
				frac := s[1:n]
				for len(frac) < 3 {
					frac += "0"
				}
				ms, _ := strconv.Atoi(frac[:3])
				t.millis, t.prec, s = ms, precMillis, s[n:]
			}
		}
	}
	return s, true
}

func parseTZ(s string, t *temporal) bool {
	if s == "" {
		return true
	}
	if s == "Z" {
		t.hasTZ = true
		return true
	}
	if len(s) != 6 || (s[0] != '+' && s[0] != '-') || s[3] != ':' {
		return false
	}
	h, ok1 := digitsAt(s, 1, 2)
	m, ok2 := digitsAt(s, 4, 2)
	if !ok1 || !ok2 || h > 14 || m > 59 {
		return false
	}
	t.hasTZ, t.tzMin = true, h*60+m
	if s[0] == '-' {
		t.tzMin = -t.tzMin
	}
	return true
}

// ParseDate parses a FHIR/FHIRPath date (without '@').
func ParseDate(s string) (Date, bool) {
	var t temporal
	rest, ok := parseDatePart(s, &t)
	return Date{t}, ok && rest == ""
}

// ParseDateTime parses a FHIR dateTime/instant or a FHIRPath date-time
// literal body (without '@'); a trailing "T" after the date is allowed.
func ParseDateTime(s string) (DateTime, bool) {
	var t temporal
	rest, ok := parseDatePart(s, &t)
	if !ok {
		return DateTime{}, false
	}
	if strings.HasPrefix(rest, "T") {
		rest = rest[1:]
		if rest != "" && rest[0] >= '0' && rest[0] <= '9' {
			if t.prec != precDay {
				return DateTime{}, false
			}
			if rest, ok = parseTimePart(rest, &t); !ok {
				return DateTime{}, false
			}
		}
	}
	if !parseTZ(rest, &t) {
		return DateTime{}, false
	}
	return DateTime{t}, true
}

// ParseTime parses a time (without '@T').
func ParseTime(s string) (Time, bool) {
	var t temporal
	rest, ok := parseTimePart(s, &t)
	return Time{t}, ok && rest == ""
}

func pad(b []byte, v, n int) []byte {
	s := strconv.Itoa(v)
	for i := len(s); i < n; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

func (t temporal) appendDate(b []byte) []byte {
	b = pad(b, t.year, 4)
	if t.prec >= precMonth {
		b = pad(append(b, '-'), t.month, 2)
	}
	if t.prec >= precDay {
		b = pad(append(b, '-'), t.day, 2)
	}
	return b
}

func (t temporal) appendTime(b []byte) []byte {
	b = pad(b, t.hour, 2)
	if t.prec >= precMinute {
		b = pad(append(b, ':'), t.minute, 2)
	}
	if t.prec >= precSecond {
		b = pad(append(b, ':'), t.second, 2)
	}
	if t.prec >= precMillis {
		b = pad(append(b, '.'), t.millis, 3)
	}
	return b
}

func (t temporal) appendTZ(b []byte) []byte {
	if !t.hasTZ {
		return b
	}
	if t.tzMin == 0 {
		return append(b, 'Z')
	}
	m := t.tzMin
	if m < 0 {
		b, m = append(b, '-'), -m
	} else {
		b = append(b, '+')
	}
	return pad(append(pad(b, m/60, 2), ':'), m%60, 2)
}

func (d Date) String() string { return string(d.appendDate(nil)) }

func (d DateTime) String() string {
	b := d.appendDate(nil)
	if d.prec >= precHour {
		b = d.appendTime(append(b, 'T'))
	}
	return string(d.appendTZ(b))
}

func (t Time) String() string { return string(t.appendTime(nil)) }

// toTime converts to a time.Time, filling missing fields with their minimum.
func (t temporal) toTime() time.Time {
	loc := time.UTC
	if t.hasTZ && t.tzMin != 0 {
		loc = time.FixedZone("", t.tzMin*60)
	}
	mo, d := t.month, t.day
	if mo == 0 {
		mo = 1
	}
	if d == 0 {
		d = 1
	}
	return time.Date(t.year, time.Month(mo), d, t.hour, t.minute, t.second, t.millis*1e6, loc)
}

func fromTime(tt time.Time, like temporal) temporal {
	r := like
	r.year, r.month, r.day = tt.Year(), int(tt.Month()), tt.Day()
	r.hour, r.minute, r.second = tt.Hour(), tt.Minute(), tt.Second()
	r.millis = tt.Nanosecond() / 1e6
	clearBelow(&r)
	return r
}

func clearBelow(r *temporal) {
	if r.prec < precMonth {
		r.month = 0
	}
	if r.prec < precDay {
		r.day = 0
	}
	if r.prec < precHour {
		r.hour = 0
	}
	if r.prec < precMinute {
		r.minute = 0
	}
	if r.prec < precSecond {
		r.second = 0
	}
	if r.prec < precMillis {
		r.millis = 0
	}
}

// utc normalises a value with a time zone and at least hour precision to UTC.
func (t temporal) utc() temporal {
	if !t.hasTZ || t.tzMin == 0 || t.prec < precHour {
		return t
	}
	r := fromTime(t.toTime().UTC(), t)
	r.tzMin = 0
	return r
}

func (t temporal) field(p precision) int {
	switch p {
	case precYear:
		return t.year
	case precMonth:
		return t.month
	case precDay:
		return t.day
	case precHour:
		return t.hour
	case precMinute:
		return t.minute
	case precSecond:
		return t.second*1000 + t.millis
	}
	return 0
}

// compareTemporal compares two values of the same kind. ok is false when the
// result is unknown because of different precision.
func compareTemporal(a, b temporal, isTime bool) (c int, ok bool) {
	if a.hasTZ != b.hasTZ && a.prec >= precHour && b.prec >= precHour {
		return 0, false
	}
	if a.hasTZ || b.hasTZ {
		a, b = a.utc(), b.utc()
	}
	start := precYear
	if isTime {
		start = precHour
	}
	pa, pb := a.prec, b.prec
	if pa == precMillis {
		pa = precSecond
	}
	if pb == precMillis {
		pb = precSecond
	}
	for p := start; p <= precSecond; p++ {
		if p > pa || p > pb {
			if pa == pb {
				return 0, true
			}
			return 0, false
		}
		x, y := a.field(p), b.field(p)
		if x < y {
			return -1, true
		}
		if x > y {
			return 1, true
		}
	}
	return 0, true
}

// calendar units used in date arithmetic, in order of precision.
func unitPrecision(unit string) (precision, bool) {
	switch unit {
	case "year", "years":
		return precYear, true
	case "month", "months":
		return precMonth, true
	case "week", "weeks", "wk":
		return precDay, true
	case "day", "days", "d":
		return precDay, true
	case "hour", "hours", "h":
		return precHour, true
	case "minute", "minutes", "min":
		return precMinute, true
	case "second", "seconds", "s":
		return precSecond, true
	case "millisecond", "milliseconds", "ms":
		return precMillis, true
	}
	return precNone, false
}

// addDuration adds a calendar quantity to t. ok is false for units that cannot
// be used with dates.
func addDuration(t temporal, q Quantity, isTime bool) (temporal, bool) {
	up, ok := unitPrecision(q.Unit)
	if !ok {
		return t, false
	}
	v := q.Value
	var whole int64
	if up >= precSecond {
		// seconds may be fractional: work in milliseconds
		ms := v.truncScale(0)
		if up == precSecond {
			ms = ms.Mul(DecimalFromInt(1000))
		}
		n, ok := ms.Int64()
		if !ok {
			return t, false
		}
		whole = n
		up = precMillis
	} else {
		n, ok := v.truncScale(0).Int64()
		if !ok {
			return t, false
		}
		whole = n
		if q.Unit == "week" || q.Unit == "weeks" || q.Unit == "wk" {
			whole *= 7
		}
	}
	if whole > 1e12 || whole < -1e12 {
		return t, false
	}
	// Truncate to the value's precision when it is coarser than the unit.
	if up > t.prec {
		switch {
		case t.prec == precYear && up == precMonth:
			whole, up = whole/12, precYear
		case t.prec <= precMonth && up == precDay:
			if t.prec == precMonth {
				whole, up = whole/30, precMonth
			} else {
				whole, up = whole/365, precYear
			}
		case up >= precHour:
			div := map[precision]int64{precHour: 1, precMinute: 60, precSecond: 3600, precMillis: 3600000}[up]
			hours := whole / div
			switch {
			case t.prec >= precHour:
				mul := map[precision]int64{precHour: 1, precMinute: 60, precSecond: 3600, precMillis: 3600000}[t.prec]
				whole, up = hours*mul, t.prec
				if t.prec == precMillis || t.prec == precSecond {
					whole, up = (whole/div)*div, precMillis
				}
			case t.prec == precDay:
				whole, up = hours/24, precDay
			default:
				return t, true
			}
		}
	}
	tt := t.toTime()
	switch up {
	case precYear:
		tt = addMonthsClamped(tt, int(whole)*12)
	case precMonth:
		tt = addMonthsClamped(tt, int(whole))
	case precDay:
		tt = tt.AddDate(0, 0, int(whole))
	case precHour:
		tt = tt.Add(time.Duration(whole) * time.Hour)
	case precMinute:
		tt = tt.Add(time.Duration(whole) * time.Minute)
	case precMillis:
		tt = tt.Add(time.Duration(whole) * time.Millisecond)
	}
	r := fromTime(tt, t)
	if !isTime && (r.year < 1 || r.year > 9999) {
		return t, false
	}
	if isTime {
		r.year, r.month, r.day = 0, 0, 0
	}
	return r, true
}

func addMonthsClamped(tt time.Time, months int) time.Time {
	y, m, d := tt.Date()
	total := int(m) - 1 + months
	ny := y + total/12
	nm := total % 12
	if nm < 0 {
		nm += 12
		ny--
	}
	if dm := daysIn(ny, nm+1); d > dm {
		d = dm
	}
	return time.Date(ny, time.Month(nm+1), d, tt.Hour(), tt.Minute(), tt.Second(), tt.Nanosecond(), tt.Location())
}

// dateTimeFromTime converts an instant to a DateTime with millisecond
// precision and the instant's zone offset.
func dateTimeFromTime(tt time.Time) DateTime {
	_, off := tt.Zone()
	t := temporal{prec: precMillis, hasTZ: true, tzMin: off / 60}
	return DateTime{fromTime(tt, t)}
}
