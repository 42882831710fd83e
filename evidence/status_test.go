package evidence

import "testing"

// TestStatuses: every status is listed once; each problem says what it
// means, and only problems are appendable.
func TestStatuses(t *testing.T) {
	seen := map[Status]bool{}
	for _, s := range append(WindowStatuses(), DayStatuses()...) {
		if seen[s] {
			t.Errorf("%s listed twice", s)
		}
		seen[s] = true
		if s.OK() == (s.Meaning() != "") {
			t.Errorf("%s: ok %v, meaning %q", s, s.OK(), s.Meaning())
		}
		if s.OK() && s.Appendable() {
			t.Errorf("%s: appendable but not a problem", s)
		}
	}
	for _, s := range []Status{StatusOK, DaySealed, DayOpen, DayPartial} {
		if !s.OK() {
			t.Errorf("%s is a problem", s)
		}
	}
	for _, s := range []Status{StatusMissing, StatusLateArrivals, StatusShort} {
		if !s.Appendable() {
			t.Errorf("%s is not appendable", s)
		}
	}
	if Status("").OK() || Status("unknown").Meaning() != "" {
		t.Error("an unknown status is ok or has a meaning")
	}
}
