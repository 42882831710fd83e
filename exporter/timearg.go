package exporter

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// ParseTimeArg parses a time given in configuration or on the command line:
// RFC 3339 ("2026-11-24T10:00:00Z"), a date ("2026-11-24", midnight UTC),
// a negative duration relative to now ("-720h", "-30m"), or "now".
func ParseTimeArg(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, errors.New("empty time: " + timeArgForms)
	}
	if s == "now" {
		return now.UTC(), nil
	}
	if strings.HasPrefix(s, "-") {
		d, err := time.ParseDuration(s)
		if err != nil {
			return time.Time{}, fmt.Errorf("%q: not a duration like -720h", s)
		}
		return now.Add(d).UTC(), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q: %s", s, timeArgForms)
}

// timeArgForms says what ParseTimeArg takes.
const timeArgForms = `want RFC 3339 (2026-11-24T10:00:00Z), a date (2026-11-24), a negative duration (-720h) or "now"`
