package audit

import (
	"errors"
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	ms := func(h, m, s, milli int) time.Time {
		return time.Date(2018, 3, 21, h, m, s, milli*1e6, time.UTC)
	}
	tests := []struct {
		in   string
		want time.Time
		bad  bool
	}{
		{in: "2018-03-21T09.00.40.572+0000", want: ms(9, 0, 40, 572)},
		{in: "2018-03-21T09:00:40.572Z", want: ms(9, 0, 40, 572)},
		{in: "2018-03-21T09:00:40Z", want: ms(9, 0, 40, 0)},
		{in: "2018-03-21T09.00.40Z", want: ms(9, 0, 40, 0)},
		{in: "2018-03-21T09:00:40.5+00:00", want: ms(9, 0, 40, 500)},
		{in: "2018-03-21T11:00:40.572+02:00", want: ms(9, 0, 40, 572)},
		{in: "2018-03-21T04.30.40.572-0430", want: ms(9, 0, 40, 572)},
		{in: "2018-03-21t09:00:40z", want: ms(9, 0, 40, 0)},
		{in: "2018-03-21T09:00:40.123456789Z", want: time.Date(2018, 3, 21, 9, 0, 40, 123456789, time.UTC)},
		{in: "2018-03-21T00.30.00.000+0100", want: time.Date(2018, 3, 20, 23, 30, 0, 0, time.UTC)},
		{in: "2024-02-29T00:00:00Z", want: time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)},
		{in: "", bad: true},
		{in: "2018-03-21", bad: true},
		{in: "2018-03-21T09.00.40", bad: true},     // no zone
		{in: "2018-03-21T09.00.40.572", bad: true}, // no zone
		{in: "2018-03-21T09:00.40Z", bad: true},    // mixed separators
		{in: "2018-03-21 09:00:40Z", bad: true},    // space
		{in: "2018-13-21T09:00:40Z", bad: true},    // month
		{in: "2023-02-29T09:00:40Z", bad: true},    // not a leap year
		{in: "2018-03-21T24:00:40Z", bad: true},    // hour
		{in: "2018-03-21T09:60:40Z", bad: true},    // minute
		{in: "2016-12-31T23.59.60.250+0000", want: time.Date(2017, 1, 1, 0, 0, 0, 250e6, time.UTC)}, // leap second: the next second
		{in: "2018-03-21T09:00:61Z", bad: true},                                                     // no such second
		{in: "2018-03-21T09:00:40.Z", bad: true},                                                    // empty fraction
		{in: "2018-03-21T09:00:40.1234567890Z", bad: true},                                          // 10 digits
		{in: "2018-03-21T09:00:40+000", bad: true},                                                  // short offset
		{in: "2018-03-21T09:00:40+00:0", bad: true},                                                 // short offset
		{in: "2018-03-21T09:00:40+2400", bad: true},                                                 // offset hour
		{in: "2018-03-21T09:00:40+00-00", bad: true},                                                // bad offset separator
		{in: "2018-03-21T09:00:40ZZ", bad: true},                                                    // trailing
		{in: "1521622840572", bad: true},                                                            // epoch millis
		{in: "Wed, 21 Mar 2018 09:00:40 GMT", bad: true},                                            // HTTP date
		{in: "２０18-03-21T09:00:40Z", bad: true},                                                     // full-width digits
		{in: "2018-03-21T09.00.40.572+0000\x00", bad: true},                                         // trailing NUL
	}
	for _, tt := range tests {
		got, err := ParseTime(tt.in)
		if tt.bad {
			if err == nil || !errors.Is(err, ErrBadTime) {
				t.Errorf("ParseTime(%q) = %v, %v; want ErrBadTime", tt.in, got, err)
			}
			continue
		}
		if err != nil || !got.Equal(tt.want) || got.Location() != time.UTC {
			t.Errorf("ParseTime(%q) = %v, %v; want %v UTC", tt.in, got, err, tt.want)
		}
		if b, err := ParseTimeBytes([]byte(tt.in)); err != nil || !b.Equal(got) {
			t.Errorf("ParseTimeBytes(%q) = %v, %v; want %v", tt.in, b, err, got)
		}
	}
}

// FuzzParseTime checks ParseTime never panics and agrees with time.Parse on
// every RFC 3339 input it accepts.
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"2018-03-21T09.00.40.572+0000", "2018-03-21T09:00:40Z", "2018-03-21T09:00:40.5+01:30", "0000-01-01T00:00:00Z", "9999-12-31T23.59.59.999-2359"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseTime(s)
		if err != nil {
			return
		}
		if got.Location() != time.UTC {
			t.Fatalf("ParseTime(%q) not UTC", s)
		}
		if len(s) > 19 && s[13] == ':' {
			want, perr := time.Parse(time.RFC3339Nano, s)
			if perr == nil && !want.Equal(got) {
				t.Fatalf("ParseTime(%q) = %v, time.Parse = %v", s, got, want)
			}
		}
	})
}

func TestWindowContains(t *testing.T) {
	start := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	w := Window{Account: "a", Start: start, End: start.Add(time.Hour)}
	for _, c := range []struct {
		t    time.Time
		want bool
	}{
		{start, true},
		{start.Add(-time.Nanosecond), false},
		{start.Add(time.Hour - time.Millisecond), true},
		{start.Add(time.Hour), false},
	} {
		if got := w.Contains(c.t); got != c.want {
			t.Errorf("Contains(%v) = %v, want %v", c.t, got, c.want)
		}
	}
	if got := w.String(); got != "a 2026-11-24T10:00:00Z/2026-11-24T11:00:00Z" {
		t.Errorf("String() = %q", got)
	}
}
