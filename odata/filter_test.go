package odata

import (
	"testing"
	"time"
)

func TestTimeLiteral(t *testing.T) {
	got := TimeLiteral(time.Date(2026, 11, 24, 10, 5, 9, 999e6, time.FixedZone("x", 3600)))
	if got != "2026-11-24T09.05.09" {
		t.Fatalf("TimeLiteral = %q", got)
	}
	back, err := ParseTimeLiteral(got)
	if err != nil || !back.Equal(time.Date(2026, 11, 24, 9, 5, 9, 0, time.UTC)) {
		t.Fatalf("ParseTimeLiteral(%q) = %v, %v", got, back, err)
	}
}

func TestWindowFilter(t *testing.T) {
	start := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	end := start.Add(time.Hour)
	tests := []struct {
		extra, want string
	}{
		{"", "Time ge '2026-11-24T09.59.58' and Time le '2026-11-24T11.00.02'"},
		{"  ", "Time ge '2026-11-24T09.59.58' and Time le '2026-11-24T11.00.02'"},
		{"User eq 'x' or Category eq 'audit.configuration'",
			"(Time ge '2026-11-24T09.59.58' and Time le '2026-11-24T11.00.02') and (User eq 'x' or Category eq 'audit.configuration')"},
	}
	for _, tt := range tests {
		if got := WindowFilter(start, end, tt.extra); got != tt.want {
			t.Errorf("WindowFilter(%q) =\n %s\nwant\n %s", tt.extra, got, tt.want)
		}
	}
}

func TestQueryEscape(t *testing.T) {
	if got := queryEscape("Time ge '2026-11-24T09.59.58' & x"); got != "Time%20ge%20%272026-11-24T09.59.58%27%20%26%20x" {
		t.Fatalf("queryEscape = %q", got)
	}
}
