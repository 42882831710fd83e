package testtool

import (
	"fmt"
	"testing"
)

// recorder stands in for a test, recording how Missing ends it.
type recorder struct {
	testing.TB
	fatal, skip string
}

func (r *recorder) Helper()           {}
func (r *recorder) Fatal(args ...any) { r.fatal = fmt.Sprint(args...) }
func (r *recorder) Skip(args ...any)  { r.skip = fmt.Sprint(args...) }

func TestMissing(t *testing.T) {
	for _, ci := range []string{"true", ""} {
		t.Setenv("CI", ci)
		r := &recorder{TB: t}
		Missing(r, "no widget")
		if ci == "true" && (r.fatal == "" || r.skip != "") {
			t.Fatalf("CI=true: fatal %q, skip %q; want a failure", r.fatal, r.skip)
		}
		if ci == "" && (r.skip == "" || r.fatal != "") {
			t.Fatalf("outside CI: fatal %q, skip %q; want a skip", r.fatal, r.skip)
		}
	}
}
