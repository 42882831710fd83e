package odata

import (
	"math"
	"testing"
	"time"
)

type fakeClock struct{ t time.Time }

func (f *fakeClock) now() time.Time      { return f.t }
func (f *fakeClock) add(d time.Duration) { f.t = f.t.Add(d) }
func newFakeClock() *fakeClock           { return &fakeClock{t: time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)} }
func near(got, want, tol float64) bool   { return math.Abs(got-want) <= tol*want }
func succeed(c *rateController, clk *fakeClock, n int, every time.Duration) {
	for range n {
		clk.add(every)
		c.OnSuccess()
	}
}

func TestRateControllerOffUntilThrottled(t *testing.T) {
	clk := newFakeClock()
	c := newRateController(0, clk.now, nil)
	succeed(c, clk, 1000, time.Millisecond)
	if c.Rate() != 0 {
		t.Fatalf("rate %v before any throttle, want 0 (no limit)", c.Rate())
	}
	ceil := newRateController(7, clk.now, nil)
	succeed(ceil, clk, 1000, time.Millisecond)
	if ceil.Rate() != 7 {
		t.Fatalf("with a ceiling: %v, want 7", ceil.Rate())
	}
}

func TestRateControllerCutRecoverProbe(t *testing.T) {
	clk := newFakeClock()
	var events []RateEvent
	c := newRateController(0, clk.now, func(ev RateEvent) { events = append(events, ev) })
	succeed(c, clk, 60, 50*time.Millisecond) // 20/s for 3 s
	c.OnThrottle()
	// The first cut halves the measured rate (a gateway's burst is in it).
	if r := c.Rate(); !near(r, 10, 0.06) {
		t.Fatalf("first cut to %v, want half the measured 20/s", r)
	}
	if len(events) != 1 || events[0].Kind != "cut" {
		t.Fatalf("events %v", events)
	}
	// Other workers see the same congestion within cutHold: one cut.
	clk.add(100 * time.Millisecond)
	c.OnThrottle()
	if r := c.Rate(); !near(r, 10, 0.06) {
		t.Fatalf("a second 429 within cutHold cut again: %v", r)
	}
	// Concave back to the rate of the cut, then slow, then accelerating.
	at := c.cutAt
	succeed(c, clk, int(cubicK*unitReqs), 100*time.Millisecond)
	if r := c.Rate(); !near(r, at, 0.02) {
		t.Fatalf("after K units: %v, want the rate at the cut, %v", r, at)
	}
	succeed(c, clk, 40, 100*time.Millisecond) // 2 units
	if r := c.Rate(); r < at || r > at*1.1 {
		t.Fatalf("probing 2 units above: %v, want a slow rise above %v", r, at)
	}
	succeed(c, clk, 100, 20*time.Millisecond) // 5 more units, used
	if r := c.Rate(); r < 3*at {
		t.Fatalf("7 units above the cut: %v, want an accelerating probe (> 3x %v)", r, at)
	}
	// A later cut takes 90% of the measured success rate.
	succeed(c, clk, 100, 50*time.Millisecond) // 20/s
	c.OnThrottle()
	if r := c.Rate(); !near(r, 18, 0.06) {
		t.Fatalf("later cut to %v, want 90%% of the measured 20/s", r)
	}
	// Quiet long enough: settled, said once.
	succeed(c, clk, 400, 50*time.Millisecond)
	n := 0
	for _, ev := range events {
		if ev.Kind == "settled" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("events %v: want one settled", events)
	}
}

func TestRateControllerIdleDoesNotGrow(t *testing.T) {
	clk := newFakeClock()
	c := newRateController(0, clk.now, nil)
	succeed(c, clk, 30, 100*time.Millisecond) // 10/s
	c.OnThrottle()                            // -> 5/s
	succeed(c, clk, 300, time.Second)         // five minutes of one request a second
	// The last seconds before the cut may lift it a little, no more.
	if r := c.Rate(); r > 6 {
		t.Fatalf("grew to %v while using 1/s of 5/s", r)
	}
}

func TestRateControllerThrottledFirst(t *testing.T) {
	clk := newFakeClock()
	c := newRateController(0, clk.now, nil)
	c.OnThrottle()
	if r := c.Rate(); r != safeRate {
		t.Fatalf("throttled before any success: %v, want %v", r, safeRate)
	}
	c2 := newRateController(3, clk.now, nil)
	succeed(c2, clk, 100, 10*time.Millisecond)
	c2.OnThrottle()
	if r := c2.Rate(); r > 3 {
		t.Fatalf("above the ceiling after a cut: %v", r)
	}
}

// A token-bucket gateway whose limit changes mid-run, driven in fake time
// by a client that always wants more and sends at the allowed rate even
// while its refused requests would back off (harsher than the real client):
// in the second half of every phase the controller serves at least 90% of
// the gateway's rate, with at most 3% of requests refused. (The benchmark
// measures the real client against the real simulator.)
func TestRateControllerFollowsAChangingLimit(t *testing.T) {
	clk := newFakeClock()
	c := newRateController(0, clk.now, nil)
	const step = 5 * time.Millisecond
	tokens, credit := 0.0, 0.0
	for _, phase := range []struct{ rate, burst float64 }{{20, 40}, {5, 10}, {100, 200}, {20, 40}} {
		tokens = min(tokens, phase.burst)
		served, refused := 0, 0
		for i := 0; i < int(60*time.Second/step); i++ {
			clk.add(step)
			tokens = min(phase.burst, tokens+phase.rate*step.Seconds())
			// The client: unlimited until throttled, then its rate; as if
			// 8 workers with 30 ms pages (at most 266/s).
			r := c.Rate()
			if r == 0 || r > 266 {
				r = 266
			}
			credit = min(credit+r*step.Seconds(), 8)
			for credit >= 1 {
				credit--
				ok := tokens >= 1
				if ok {
					tokens--
					c.OnSuccess()
				} else {
					c.OnThrottle()
				}
				if i >= int(30*time.Second/step) {
					if ok {
						served++
					} else {
						refused++
					}
				}
			}
		}
		rate := float64(served) / 30
		share := float64(refused) / float64(served+refused)
		t.Logf("gateway %v/s: served %.1f/s (%.0f%%), refused %.1f%%, allowed rate now %.1f", phase.rate, rate, 100*rate/phase.rate, 100*share, c.Rate())
		if rate < 0.9*phase.rate || share > 0.03 {
			t.Errorf("gateway %v/s: served %.1f/s, refused %.1f%%", phase.rate, rate, 100*share)
		}
	}
}
