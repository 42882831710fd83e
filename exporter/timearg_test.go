package exporter

import (
	"testing"
	"time"
)

func TestParseTimeArg(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 30, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"2026-11-24T10:00:00Z":      time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC),
		"2026-11-24T12:00:00+02:00": time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC),
		"2026-11-24":                time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC),
		"-720h":                     now.Add(-720 * time.Hour),
		" -30m ":                    now.Add(-30 * time.Minute),
		"now":                       now,
	} {
		got, err := ParseTimeArg(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("ParseTimeArg(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "yesterday", "720h", "-", "-5x", "2026-13-01", "1700000000"} {
		if _, err := ParseTimeArg(in, now); err == nil {
			t.Errorf("ParseTimeArg(%q) accepted", in)
		}
	}
}

func FuzzParseTimeArg(f *testing.F) {
	for _, s := range []string{"2026-11-24T10:00:00Z", "-720h", "2026-11-24", "-1h30m"} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 24, 10, 30, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseTimeArg(s, now)
		if err == nil && got.Location() != time.UTC {
			t.Fatalf("%q: not UTC", s)
		}
	})
}
