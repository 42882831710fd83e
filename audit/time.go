package audit

import (
	"errors"
	"time"
)

// ErrBadTime is wrapped by every error ParseTime returns.
var ErrBadTime = errors.New("unrecognized time")

// ParseTime parses a record's Time as the Neo API sends it
// ("2018-03-21T09.00.40.572+0000": dots, millis, offset without colon) and the
// RFC 3339 shapes a proxy or a later API version may send ("2018-03-21T09:00:40Z",
// "2018-03-21T09:00:40.572+00:00", ...). The time separators may be '.' or ':';
// the fraction is optional (1-9 digits); the zone is required: 'Z', ±hhmm or ±hh:mm.
// The result is in UTC.
func ParseTime(s string) (time.Time, error) { return parseTime(s) }

// ParseTimeBytes is ParseTime for a byte slice, without copying it.
func ParseTimeBytes(b []byte) (time.Time, error) { return parseTime(b) }

func parseTime[T ~string | ~[]byte](s T) (time.Time, error) {
	// Fixed positions: YYYY-MM-DDThh?mm?ss
	if len(s) < 20 {
		return time.Time{}, ErrBadTime
	}
	year, ok1 := digits(s, 0, 4)
	month, ok2 := digits(s, 5, 2)
	day, ok3 := digits(s, 8, 2)
	hour, ok4 := digits(s, 11, 2)
	minute, ok5 := digits(s, 14, 2)
	sec, ok6 := digits(s, 17, 2)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) ||
		s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
		!timeSep(s[13]) || s[13] != s[16] {
		return time.Time{}, ErrBadTime
	}
	if month < 1 || month > 12 || day < 1 || day > daysIn(year, month) ||
		hour > 23 || minute > 59 || sec > 60 {
		return time.Time{}, ErrBadTime
	}
	i := 19
	nsec := 0
	if i < len(s) && s[i] == '.' {
		i++
		start := i
		scale := 100000000
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			if i-start >= 9 {
				return time.Time{}, ErrBadTime
			}
			nsec += int(s[i]-'0') * scale
			scale /= 10
			i++
		}
		if i == start {
			return time.Time{}, ErrBadTime
		}
	}
	if i >= len(s) {
		return time.Time{}, ErrBadTime // no zone: ambiguous
	}
	offset := 0
	switch z := s[i:]; {
	case len(z) == 1 && (z[0] == 'Z' || z[0] == 'z'):
	case len(z) == 5 || len(z) == 6:
		sign := 1
		switch z[0] {
		case '+':
		case '-':
			sign = -1
		default:
			return time.Time{}, ErrBadTime
		}
		oh, okh := digits(z, 1, 2)
		mpos := 3
		if len(z) == 6 {
			if z[3] != ':' {
				return time.Time{}, ErrBadTime
			}
			mpos = 4
		}
		om, okm := digits(z, mpos, 2)
		if !okh || !okm || oh > 23 || om > 59 {
			return time.Time{}, ErrBadTime
		}
		offset = sign * (oh*3600 + om*60)
	default:
		return time.Time{}, ErrBadTime
	}
	// A leap second (ss = 60, e.g. 23.59.60.250) is read as the same
	// instant of the next minute's first second (00.00.00.250 of the next
	// day), as Unix time, which has no leap seconds, counts it.
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	return t.Add(-time.Duration(offset) * time.Second), nil
}

func timeSep(c byte) bool { return c == '.' || c == ':' }

func digits[T ~string | ~[]byte](s T, at, n int) (int, bool) {
	if at+n > len(s) {
		return 0, false
	}
	v := 0
	for i := at; i < at+n; i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

func daysIn(year, month int) int {
	return time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}
