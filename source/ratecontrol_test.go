package source

import (
	"context"
	"math"
	"testing"
	"time"
)

type fakeClock struct{ t time.Time }

func (f *fakeClock) now() time.Time      { return f.t }
func (f *fakeClock) add(d time.Duration) { f.t = f.t.Add(d) }
func newFakeClock() *fakeClock           { return &fakeClock{t: time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)} }
func near(got, want, tol float64) bool   { return math.Abs(got-want) <= tol*want }

// succeed sends n requests, one every every, each answered at once.
func succeed(c *RateController, clk *fakeClock, n int, every time.Duration) {
	for range n {
		clk.add(every)
		c.noteSent(clk.now())
		c.OnSuccess(clk.now())
	}
}

func TestRateControllerOffUntilThrottled(t *testing.T) {
	clk := newFakeClock()
	c := NewRateController(0, clk.now, nil)
	succeed(c, clk, 1000, time.Millisecond)
	if c.Rate() != 0 {
		t.Fatalf("rate %v before any throttle, want 0 (no limit)", c.Rate())
	}
	ceil := NewRateController(7, clk.now, nil)
	succeed(ceil, clk, 1000, time.Millisecond)
	if ceil.Rate() != 7 {
		t.Fatalf("with a ceiling: %v, want 7", ceil.Rate())
	}
}

func TestRateControllerCutRecoverProbe(t *testing.T) {
	clk := newFakeClock()
	var events []RateEvent
	c := NewRateController(0, clk.now, func(ev RateEvent) { events = append(events, ev) })
	succeed(c, clk, 60, 50*time.Millisecond) // 20/s for 3 s
	c.OnThrottle(clk.now())
	// The first cut halves the measured rate (a gateway's burst is in it).
	if r := c.Rate(); !near(r, 10, 0.06) {
		t.Fatalf("first cut to %v, want half the measured 20/s", r)
	}
	if len(events) != 1 || events[0].Kind != "cut" {
		t.Fatalf("events %v", events)
	}
	// Requests that asked to go before the cut were paced by the old rate:
	// their refusals do not cut again.
	issuedBefore := clk.now().Add(-10 * time.Millisecond)
	clk.add(100 * time.Millisecond)
	c.OnThrottle(issuedBefore)
	c.OnThrottle(clk.now().Add(-100 * time.Millisecond)) // the same instant as the cut
	if r := c.Rate(); !near(r, 10, 0.06) || len(events) != 1 {
		t.Fatalf("a refusal of a request sent at the old rate cut again: %v, events %v", r, events)
	}
	// One sent at the new rate does (halving still: not a second measured
	// since the first throttle).
	c.OnThrottle(clk.now())
	if r := c.Rate(); !near(r, 5, 0.06) || len(events) != 2 {
		t.Fatalf("a refusal at the new rate: %v, want 5, events %v", r, events)
	}
	// Below the rate of the cut the curve's clock runs in time: back at it
	// within two seconds, whatever the requests.
	clk.add(2 * time.Second)
	succeed(c, clk, 1, 0)
	if r := c.Rate(); !near(r, c.cutAt, 0.01) {
		t.Fatalf("2 s after the cut: %v, want back at %v", r, c.cutAt)
	}
	// A second has been measured: from now on cuts take 10%, the first
	// one from what succeeded.
	// What succeeded: 5/s sustained over the last five seconds, 31
	// requests in the 8 s since the last cut (3.9/s): their mean.
	succeed(c, clk, 30, 200*time.Millisecond) // 5/s for 6 s
	c.OnThrottle(clk.now())
	if r, want := c.Rate(), 0.9*(5+31.0/8)/2; !near(r, want, 0.02) {
		t.Fatalf("calibrated cut to %v, want 90%% of what succeeded (%v)", r, want)
	}
	// Concave back to the rate of the cut within two seconds, then slow,
	// then accelerating, counted in requests.
	at := c.cutAt
	succeed(c, clk, 20, 100*time.Millisecond)
	if r := c.Rate(); !near(r, at, 0.02) {
		t.Fatalf("2 s after the cut: %v, want the rate at the cut, %v", r, at)
	}
	succeed(c, clk, 2*unitReqs, 100*time.Millisecond) // 2 units
	if r := c.Rate(); r < at || r > at*1.1 {
		t.Fatalf("probing 2 units above: %v, want a slow rise above %v", r, at)
	}
	succeed(c, clk, 5*unitReqs, 20*time.Millisecond) // 5 more units, used
	if r := c.Rate(); r < 3*at {
		t.Fatalf("7 units above the cut: %v, want an accelerating probe (> 3x %v)", r, at)
	}
	// A later cut takes 90% of what succeeded: 20/s sustained, about 21/s
	// between the cuts.
	succeed(c, clk, 100, 50*time.Millisecond) // 20/s
	c.OnThrottle(clk.now())
	if r := c.Rate(); r < 0.9*19 || r > 0.9*22 {
		t.Fatalf("later cut to %v, want about 90%% of the measured 20/s", r)
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
	c := NewRateController(0, clk.now, nil)
	succeed(c, clk, 30, 100*time.Millisecond) // 10/s
	c.OnThrottle(clk.now())                   // -> 5/s
	succeed(c, clk, 300, time.Second)         // five minutes of one request a second
	// The last seconds before the cut may lift it a little, no more.
	if r := c.Rate(); r > 6 {
		t.Fatalf("grew to %v while using 1/s of 5/s", r)
	}
}

func TestRateControllerThrottledFirst(t *testing.T) {
	clk := newFakeClock()
	c := NewRateController(0, clk.now, nil)
	c.OnThrottle(clk.now())
	if r := c.Rate(); r != safeRate {
		t.Fatalf("throttled before any success: %v, want %v", r, safeRate)
	}
	c2 := NewRateController(3, clk.now, nil)
	succeed(c2, clk, 100, 10*time.Millisecond)
	c2.OnThrottle(clk.now())
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
	c := NewRateController(0, clk.now, nil)
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
				c.noteSent(clk.now())
				ok := tokens >= 1
				if ok {
					tokens--
					c.OnSuccess(clk.now())
				} else {
					c.OnThrottle(clk.now())
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

// After the first cut the next turn is a second away (the gateway's bucket
// fills again, so the next refusal can measure its rate); after later cuts
// one interval at the new rate.
func TestRateControllerFirstCutWaitsASecond(t *testing.T) {
	clk := newFakeClock()
	c := NewRateController(0, clk.now, nil)
	succeed(c, clk, 40, 25*time.Millisecond) // 40/s for a second
	c.OnThrottle(clk.now())
	r := c.Rate()
	if d := c.lim.ReserveN(clk.now(), 1).DelayFrom(clk.now()); d < 900*time.Millisecond || d > 1100*time.Millisecond {
		t.Fatalf("first turn after the first cut (to %.1f/s) in %v, want about a second", r, d)
	}
	clk.add(2 * time.Second)
	c.noteSent(clk.now())
	c.OnThrottle(clk.now())
	if d, want := c.lim.ReserveN(clk.now(), 1).DelayFrom(clk.now()), time.Duration(float64(time.Second)/c.Rate()); d > want+time.Millisecond {
		t.Fatalf("first turn after a later cut (to %.1f/s) in %v, want one interval (%v)", c.Rate(), d, want)
	}
}

// Two refusals 300 ms to 3 s apart both found the gateway's bucket empty:
// the cut is taken from the requests let through between them, counted as
// sent (but the refused one), not as answered: at 30 ms a page, requests
// still on their way would otherwise make the rate look lower than it is.
func TestRateControllerMeasuresWhatWasLetThrough(t *testing.T) {
	clk := newFakeClock()
	c := NewRateController(0, clk.now, nil)
	succeed(c, clk, 60, 25*time.Millisecond) // 40/s, the gateway's burst
	c.OnThrottle(clk.now())
	// For a second, 21 requests go (every 50 ms: 20/s, the gateway's
	// rate); the answers of the last five are still on their way when
	// the next one is refused.
	var sent []time.Time
	for range 21 {
		clk.add(50 * time.Millisecond)
		c.noteSent(clk.now())
		sent = append(sent, clk.now())
	}
	for _, s := range sent[:15] {
		c.OnSuccess(s)
	}
	c.OnThrottle(sent[20])
	// 20 let through in 1.05 s: 19/s; the cut takes 10% of it.
	if r, want := c.Rate(), 0.9*20/1.05; !near(r, want, 0.02) {
		t.Fatalf("cut to %.2f/s, want 90%% of the 19/s let through (%.2f)", r, want)
	}
	if !near(c.cutAt, 20/1.05, 0.02) {
		t.Fatalf("the curve climbs back to %.2f/s, want the rate let through (%.2f)", c.cutAt, 20/1.05)
	}
}

// slot asks the start's window for a turn at the fake clock's now.
func slot(c *RateController, clk *fakeClock) (time.Duration, <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.startSlot(clk.now())
}

// Until the first throttle, startWindow requests may be on their way at
// first and one more after each success (doubling each round trip), paced
// over half a round trip; a failure frees its place without widening; a
// throttle ends the start (the rate steers); the window ends at
// startWindowEnd.
func TestRateControllerStartWindow(t *testing.T) {
	clk := newFakeClock()
	c := NewRateController(0, clk.now, nil)
	var sent []time.Time
	for range startWindow {
		if d, wake := slot(c, clk); d != 0 || wake != nil {
			t.Fatalf("request %d of the first %d held (%v)", len(sent)+1, startWindow, d)
		}
		sent = append(sent, clk.now())
	}
	if _, wake := slot(c, clk); wake == nil {
		t.Fatalf("a request beyond the first %d went before any answer", startWindow)
	}
	clk.add(40 * time.Millisecond)
	c.OnSuccess(sent[0]) // a round trip of 40 ms; the window is one wider, one fewer on its way
	n := startWindow + 1
	pace := 40 * time.Millisecond / time.Duration(2*n)
	for i := range 2 {
		if d, wake := slot(c, clk); d != 0 || wake != nil {
			t.Fatalf("after a success, request %d of 2 held (%v)", i+1, d)
		}
		// The next one is paced: 40 ms / (2 * the window) later.
		if d, _ := slot(c, clk); i == 0 && d != pace {
			t.Fatalf("the next request in %v, want %v (half a round trip over the window)", d, pace)
		}
		clk.add(pace)
	}
	if _, wake := slot(c, clk); wake == nil {
		t.Fatalf("a request beyond the window of %d went", n)
	}
	c.OnFailure() // frees a place, does not widen
	if d, wake := slot(c, clk); d != 0 || wake != nil {
		t.Fatalf("a failure did not free its place (%v)", d)
	}
	if _, wake := slot(c, clk); wake == nil {
		t.Fatal("a failure widened the window")
	}
	c.OnThrottle(clk.now())
	if c.starting || c.Rate() == 0 {
		t.Fatalf("a throttle did not end the start: starting %v, rate %v", c.starting, c.Rate())
	}

	// Successes widen the window until startWindowEnd, then it is gone.
	c = NewRateController(0, clk.now, nil)
	for i := 0; c.starting; i++ {
		if i > startWindowEnd {
			t.Fatalf("still starting after %d successes", i)
		}
		slot(c, clk)
		clk.add(time.Millisecond)
		c.OnSuccess(clk.now())
	}
	if c.window != startWindowEnd {
		t.Fatalf("the start ended at a window of %d, want %d", c.window, startWindowEnd)
	}
	// With a ceiling the bucket paces from the start: no window.
	if c := NewRateController(10, clk.now, nil); c.starting {
		t.Fatal("a start window with a ceiling")
	}
}

// Wait holds a request while the start's window is full and lets it go
// when one on its way is answered.
func TestRateControllerWaitForTheStartWindow(t *testing.T) {
	c := NewRateController(0, time.Now, nil)
	ctx := context.Background()
	for range startWindow {
		if err := c.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	went := make(chan error, 1)
	go func() { went <- c.Wait(ctx) }()
	c.OnSuccess(time.Now())
	if err := <-went; err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inflight != startWindow || c.window != startWindow+1 {
		t.Fatalf("%d on their way in a window of %d, want %d in %d", c.inflight, c.window, startWindow, startWindow+1)
	}
	// A cancelled wait returns.
	ctx2, cancel := context.WithCancel(ctx)
	cancel()
	c.inflight = c.window
	c.mu.Unlock()
	err := c.Wait(ctx2)
	c.mu.Lock()
	if err == nil {
		t.Fatal("a cancelled wait went")
	}
}

// A refusal before the curve went past the rate of the last cut says the
// measure that set that rate came out high: the curve climbs back to 5%
// less (CUBIC's fast convergence).
func TestRateControllerFastConvergence(t *testing.T) {
	clk := newFakeClock()
	c := NewRateController(0, clk.now, nil)
	succeed(c, clk, 60, 25*time.Millisecond) // 40/s, the gateway's burst
	c.OnThrottle(clk.now())
	succeed(c, clk, 21, 50*time.Millisecond) // 20/s let through for 1.05 s
	c.OnThrottle(clk.now())
	top := c.cutAt
	// Back at the cut's rate two seconds later, and refused there.
	succeed(c, clk, 40, 50*time.Millisecond)
	if c.clock >= cubicK+2 || !near(c.r, top, 0.02) {
		t.Fatalf("the curve at %.2f/s (clock %.1f), want back at %.2f and not past it", c.r, c.clock, top)
	}
	c.OnThrottle(clk.now())
	if want := 0.95 * top; c.cutAt > want*1.001 {
		t.Fatalf("refused at the last cut's rate %.2f: climbs back to %.2f, want at most %.2f", top, c.cutAt, want)
	}
}
