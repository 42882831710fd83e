package testtool

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"
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

// AtOnce runs every subtest, never more than n at once, and Wait returns
// only when all have returned.
func TestAtOnce(t *testing.T) {
	const n, total = 3, 10
	var running, most, ran atomic.Int32
	release := make(chan struct{})
	go func() {
		// Hold the first subtests until n run at once, and a little
		// longer: time for a bound that does not hold to let more start.
		// (A slow machine can only hide such a fault, never fail a bound
		// that holds.)
		for running.Load() < n {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(20 * time.Millisecond)
		close(release)
	}()
	all := AtOnce(t, n)
	for i := range total {
		all.Run(fmt.Sprint(i), func(t *testing.T) {
			now := running.Add(1)
			for {
				m := most.Load()
				if now <= m || most.CompareAndSwap(m, now) {
					break
				}
			}
			<-release
			running.Add(-1)
			ran.Add(1)
		})
	}
	all.Wait()
	if ran.Load() != total || most.Load() != n {
		t.Fatalf("%d of %d subtests ran, at most %d at once; want all, at most %d", ran.Load(), total, most.Load(), n)
	}
}
