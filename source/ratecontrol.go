package source

import (
	"context"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// The request rate controller (RateController). Every worker and window of one account
// shares it (one token, one limit at the API). As in the AWS SDK's adaptive
// retry mode, the bucket is off until the API first throttles: until then
// the rate is bound only by the windows in flight (export.parallel) and the
// API's latency, so an unthrottled export is as fast as without a
// controller. Only its start is held, as in TCP's slow start: at first two
// requests may be on their way at once, one more after each success
// (doubling every round trip: 2, 4, 8 in flight), each round spread over
// half of the last round trip (TCP's pacing) rather than sent at once, so
// that a gateway whose bucket holds only a few requests, or runs dry in
// the middle of a round, refuses one or two of them rather than the rest
// of a round of eight sent before any answer could tell; it costs about
// two round trips' worth of parallelism per run. From the first throttle on it follows CUBIC
// (the AWS SDK's client rate limiter and Linux's TCP default): a
// multiplicative cut on each throttle, then a concave climb back to the
// rate where throttling began and a convex, accelerating probe above it,
// so a limit that rose is found again. Changes that suit an API gateway's
// token bucket:
//
//   - the cut is taken from what the gateway let through, not from what
//     was sent (the SDK's choice, which overshoots, and a Retry-After
//     pause would hide it). Every refusal finds the gateway's bucket
//     empty, so the requests let through between two refusals 300 ms to
//     3 s apart are its rate, without the burst a pause lets it save:
//     the cut is taken from that or from the success rate sustained over
//     the last five seconds (pauses included), whichever is lower, and
//     the curve climbs back to it, not above. Further apart, the bucket
//     may have filled up while the client went slower, and the cut takes
//     the mean of the two. "Let through" counts the requests sent since
//     the last cut but the refused one (every refusal of a request sent
//     after a cut makes the next cut), answered or still on their way: a
//     count of answers would miss those in flight, one page's latency of
//     them;
//   - the first cut goes to the highest rate the gateway can have: what
//     it let through before refusing (its burst, then its rate) spread
//     over the time since the first request plus one second, as for a
//     bucket of one second's worth (the common shape), or to half the
//     rate measured, whichever is lower. When that highest rate is the
//     lower, the curve starts level there (not 10% below it, climbing
//     back 10% above) and only the slow probe goes past it. Its first
//     turn is a second away, with or without Retry-After: the gateway's
//     bucket, found empty, fills again (one of a second's worth or more
//     loses nothing to the wait), so the next refusal comes late enough
//     to measure its rate (SAP's shapes, bursts of five seconds' worth,
//     are found so within about two seconds) rather than within a few
//     requests;
//   - a refusal that comes before the curve went two units (80
//     requests) past the rate of the last cut says that rate was above
//     the gateway's (a measure that came out high, the count being a
//     request or so off): the curve climbs back to 5% less this time
//     (CUBIC's fast convergence) instead of being refused there again and
//     again;
//   - other cuts less than 300 ms after the last, in the first second
//     after the first, halve the rate (the gateway's rate is not known
//     yet); from then on cuts take 10%;
//   - one refusal, one cut, as in TCP's fast recovery: a refused request
//     that asked to go before the last cut was paced by the old rate and
//     does not cut again, and a cut sends every request still waiting for
//     its turn back to queue at the new rate (turns handed out at the old
//     rate would go on being refused for as long as the queue is);
//   - above the rate of the last cut the curve's clock counts successful
//     requests, not seconds (one unit is 40 of them), so a slow gateway
//     (5/s) is probed as seldom, in requests, as a fast one (well under
//     one refused request per hundred), a client that sends nothing does
//     not climb, and the probe doubles every unit once it is three units
//     past the rate of the cut; below it the clock runs at least two
//     units a second, so a cut that went too deep is made good within two
//     seconds;
//   - no cut goes below a tenth of the best success rate of the last
//     minute: refusals that go on whatever the rate (an API that throttles
//     at random, or for other clients' traffic) would otherwise drive the
//     rate to nothing.
//
// A client that does not use its allowance does not grow it (at most twice
// the measured success rate). source.max_requests_per_second, when set, is
// a ceiling from the start. Retry-After, when present, pauses every worker
// (Client.pauseAll); when absent the refused request backs off
// exponentially.
const (
	safeRate    = 4.0 // a throttle before any success: the Cloud Foundry API's documented floor
	minRate     = 0.2
	maxRate     = 5000.0
	firstCut    = 0.5
	cutFactor   = 0.9
	cubicC      = 0.002 // growth of the probe, relative to the rate at the cut
	unitReqs    = 40.0  // the curve's clock above the cut: one unit is this many successful requests
	unitsPerSec = 2.0   // the curve's clock below the cut runs at least this fast
	probeUnits  = 3.0   // units above the cut after which the probe doubles every unit
	settleAfter = 20 * time.Second
	// A refusal this long after the last cut, but not longer than
	// estimateWithin, with at least estimateMin requests let through
	// between them, measures the gateway's rate.
	estimateAfter  = 300 * time.Millisecond
	estimateWithin = 3 * time.Second
	estimateMin    = 3
	// Until the API first throttles, at most startWindow requests are on
	// their way at once at first, one more after each success (as TCP's
	// slow start, doubling each round trip), until the window reaches
	// startWindowEnd (export.parallel's most, so it no longer holds
	// anything back).
	startWindow    = 2
	startWindowEnd = 64
	// While the window holds, requests go at most this many times the
	// window (or the most ever on their way plus one, if fewer) per
	// round trip, the last success's (TCP's pacing in slow start), so
	// that a round is spread over half a round trip instead of going at
	// once.
	startPace = 2
)

// cubicK is when the curve is back at the rate of the last cut, in units:
// cbrt((1-cutFactor)/cubicC).
var cubicK = math.Cbrt((1 - cutFactor) / cubicC)

// RateEvent is what the controller tells its observer.
type RateEvent struct {
	Kind     string // "cut" or "settled"
	From, To float64
}

// RateController steers one token's request rate (see the package's
// constants for how).
type RateController struct {
	lim     *rate.Limiter
	now     func() time.Time
	ceiling float64 // 0: none
	notify  func(RateEvent)

	mu      sync.Mutex
	r       float64 // allowed requests per second, when on
	on      bool    // the bucket limits requests (the API throttled, or a ceiling is set)
	lastCut time.Time
	cutAt   float64 // the success rate when the last cut came
	clock   float64 // the curve's clock since the last cut, in units
	lastOK  time.Time
	firstOK time.Time // the first success: the start of what can be measured
	settled bool
	// calibrated: a second has been measured since the first throttle
	calibrated bool
	firstCut   time.Time
	// requests sent since the last cut
	sentSinceCut float64
	sent         float64 // requests let go
	firstSent    time.Time
	cutCh        chan struct{} // closed by a cut
	// successes per 100 ms over the last five seconds, slot = time/100ms mod 50
	slots    [50]float64
	slotTime [50]int64
	// the best success rate of the last minute, and when it was seen
	peak     float64
	peakTime time.Time
	// the start's window (see startWindow): starting until the first
	// throttle or until the window reaches startWindowEnd; wake is closed
	// when a request in flight is answered
	starting  bool
	window    int
	inflight  int
	most      int // the most requests on their way at once
	wake      chan struct{}
	rtt       time.Duration // the round trip of the last success
	nextStart time.Time     // the start's pace: the next request not before
}

// NewRateController makes the controller of one token's requests. ceiling
// (requests per second, 0: none) bounds it from the start; now is the
// clock; notify, if set, hears each cut and settling, with the
// controller's lock held (log only).
//
// A source calls Wait before each request, then OnSuccess after a success,
// OnThrottle after a 429 (or 503 with Retry-After) and OnFailure after any
// other failure (the start's window counts the requests on their way).
func NewRateController(ceiling float64, now func() time.Time, notify func(RateEvent)) *RateController {
	if notify == nil {
		notify = func(RateEvent) {}
	}
	c := &RateController{lim: rate.NewLimiter(rate.Inf, 1), now: now, ceiling: ceiling, notify: notify, r: maxRate, cutCh: make(chan struct{}),
		starting: ceiling <= 0, window: startWindow, wake: make(chan struct{})}
	if ceiling > 0 {
		c.on, c.r = true, min(ceiling, maxRate)
		c.lim.SetLimitAt(now(), rate.Limit(c.r))
	}
	return c
}

// Wait blocks until the next request may go: until the API first
// throttles, until the start's window has room and its pace allows; then
// until the rate allows. A request waiting for its turn when the rate is
// cut gives its turn back and queues again at the new rate: turns handed
// out at the old rate would otherwise go on being refused for as long as
// the queue is.
func (c *RateController) Wait(ctx context.Context) error {
	for {
		c.mu.Lock()
		if c.starting && !c.on {
			wait, wake := c.startSlot(c.now())
			c.mu.Unlock()
			switch {
			case wake != nil: // the window is full
				select {
				case <-wake:
				case <-ctx.Done():
					return ctx.Err()
				}
			case wait > 0: // the start's pace
				t := time.NewTimer(wait)
				select {
				case <-t.C:
				case <-ctx.Done():
					t.Stop()
					return ctx.Err()
				}
			default:
				return nil
			}
			continue
		}
		cut, lim := c.cutCh, c.lim
		c.mu.Unlock()
		now := c.now()
		r := lim.ReserveN(now, 1)
		d := r.DelayFrom(now)
		if d <= 0 {
			c.noteSent(now)
			return nil
		}
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < d {
			r.CancelAt(now)
			return context.DeadlineExceeded
		}
		t := time.NewTimer(d)
		select {
		case <-t.C:
			c.noteSent(c.now())
			return nil
		case <-ctx.Done():
			t.Stop()
			r.CancelAt(c.now())
			return ctx.Err()
		case <-cut:
			t.Stop()
			r.CancelAt(c.now())
		}
	}
}

// startSlot lets a request go at now if the start's window has room and
// its pace allows (c.mu held, c.starting): it returns 0 and nil. Else it
// returns how long until the pace allows, or a channel closed when a
// request in flight is answered (the window is full).
func (c *RateController) startSlot(now time.Time) (time.Duration, <-chan struct{}) {
	if c.inflight >= c.window {
		return 0, c.wake
	}
	if d := c.nextStart.Sub(now); d > 0 {
		return d, nil
	}
	c.noteSentLocked(now)
	c.most = max(c.most, c.inflight)
	if c.rtt > 0 {
		// A round is as many as the window, or as the most that were
		// ever on their way (the workers), whichever is fewer.
		c.nextStart = now.Add(c.rtt / time.Duration(startPace*min(c.window, c.most+1)))
	}
	return 0, nil
}

// answered counts a request in flight answered (c.mu held); a success
// widens the start's window by one.
func (c *RateController) answered(ok bool, sent time.Time) {
	if !c.starting {
		return
	}
	if !sent.IsZero() {
		c.rtt = c.now().Sub(sent)
	}
	c.inflight = max(c.inflight-1, 0)
	if ok {
		c.window++
	}
	if c.window >= startWindowEnd {
		c.starting = false
	}
	close(c.wake)
	c.wake = make(chan struct{})
}

// OnFailure counts a request that failed other than by a throttle (a
// network error, a server error): it is no longer in flight.
func (c *RateController) OnFailure() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.answered(false, time.Time{})
}

// noteSent counts a request let go at now.
func (c *RateController) noteSent(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.noteSentLocked(now)
}

func (c *RateController) noteSentLocked(now time.Time) {
	if c.starting {
		c.inflight++
	}
	if c.sent == 0 {
		c.firstSent = now
	}
	c.sent++
	if !c.lastCut.IsZero() && now.After(c.lastCut) {
		c.sentSinceCut++
	}
}

// measure counts one success at now.
func (c *RateController) measure(now time.Time) {
	tick := now.UnixMilli() / 100
	i := tick % int64(len(c.slots))
	if c.slotTime[i] != tick {
		c.slotTime[i], c.slots[i] = tick, 0
	}
	c.slots[i]++
}

// sustained is the success rate over the last five seconds, or over the
// time since the first success when that is shorter.
func (c *RateController) sustained(now time.Time) float64 {
	tick := now.UnixMilli() / 100
	n := 0.0
	for i := range c.slots {
		if tick-c.slotTime[i] < int64(len(c.slots)) {
			n += c.slots[i]
		}
	}
	if c.firstOK.IsZero() {
		return n
	}
	return n / min(float64(len(c.slots))/10, max(now.Sub(c.firstOK).Seconds(), 0.1))
}

// OnSuccess moves the rate along the curve after a successful request
// that was sent at sent (after Wait).
func (c *RateController) OnSuccess(sent time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.answered(true, sent)
	now := c.now()
	c.measure(now)
	if c.firstOK.IsZero() {
		c.firstOK = now
	}
	// The best rate, once a second or more is measured (a gateway's burst
	// makes the first fractions of a second look fast).
	if ls := c.sustained(now); now.Sub(c.firstOK) >= time.Second && (ls >= c.peak || now.Sub(c.peakTime) > time.Minute) {
		c.peak, c.peakTime = ls, now
	}
	dt := 0.0
	if !c.lastOK.IsZero() {
		dt = min(now.Sub(c.lastOK).Seconds(), 1)
	}
	c.lastOK = now
	if c.lastCut.IsZero() {
		return // never throttled: nothing to steer
	}
	if c.clock < cubicK {
		c.clock += max(1/unitReqs, unitsPerSec*dt)
	} else {
		c.clock += 1 / unitReqs
	}
	x := c.clock - cubicK
	target := c.cutAt * max(1+cubicC*x*x*x, math.Exp2(x-probeUnits))
	// A client that does not use its allowance does not grow it.
	c.set(max(min(target, 2*c.sustained(now)), min(c.r, target)))
	if !c.settled && now.Sub(c.lastCut) >= settleAfter {
		c.settled = true
		c.notify(RateEvent{Kind: "settled", From: c.cutAt, To: c.r})
	}
}

// OnThrottle cuts the rate after a 429 (or a 503 with Retry-After) of a
// request that asked to go at issued. A refused request that was paced by
// the rate before the last cut says nothing about the rate now: it does
// not cut again.
func (c *RateController) OnThrottle(issued time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.answered(false, time.Time{})
	c.starting = false // from now on the rate steers
	now := c.now()
	if !c.lastCut.IsZero() && !issued.After(c.lastCut) {
		return // the same congestion, seen by another request in flight
	}
	first := c.lastCut.IsZero()
	if !first && now.Sub(c.firstCut) >= time.Second {
		c.calibrated = true
	}
	base := c.sustained(now)
	factor := cutFactor
	atMost := false // base is the highest rate the gateway can have
	since := now.Sub(c.lastCut)
	// Requests sent since the last cut that were let through: all but
	// this one (every refusal of a request sent after a cut makes the
	// next cut), some of them still on their way back.
	through := c.sentSinceCut - 1
	switch {
	case first:
		// The gateway's bucket was full when the first request went and
		// is empty now: what it let through (the requests sent but this
		// one, some of them still on their way) is its burst and its rate
		// since. With a bucket of one second's worth (the common shape)
		// that is the highest rate it can have; the rate starts there, or
		// at half the rate measured, whichever is lower, and halves on
		// each refusal that comes too soon to measure the gateway's rate.
		factor = firstCut
		if hi := (c.sent - 1) / (1 + now.Sub(c.firstSent).Seconds()); hi > 0 && hi < base*firstCut {
			base, factor, atMost = hi, 1, true
		}
	case since >= estimateAfter && since <= estimateWithin && through >= estimateMin:
		// Both refusals found the gateway's bucket empty, and in so short
		// a time it can hardly have filled up to its brim in between: what
		// was let through between them is its rate, without the burst a
		// pause lets it save (which the sustained rate holds). The cut is
		// taken from the lower, and the curve climbs back to it, not above.
		base = min(base, through/since.Seconds())
	case since > estimateWithin:
		// Further apart, the bucket may have filled while the client went
		// slower: what was let through between them is its rate or less.
		// The cut is taken from the mean of that and the sustained rate.
		base = (base + max(through, 0)/since.Seconds()) / 2
	case !c.calibrated:
		factor = firstCut // the gateway's rate is not known yet
	}
	base = min(base, c.r)
	if !first && c.clock < cubicK+2 {
		// Refused again before the curve went past the rate of the last
		// cut: that rate is above the gateway's (a measure that came out
		// high). As CUBIC's fast convergence, the curve climbs back to
		// less this time.
		base = min(base, c.r*(1+cutFactor)/2)
	}
	if base <= 0 {
		base, factor = safeRate, 1 // throttled before any success: start low
	}
	from := c.r
	if !c.on {
		from = base
	}
	c.on, c.lastCut, c.settled, c.clock, c.sentSinceCut = true, now, false, 0, 0
	floor := 0.0
	if now.Sub(c.peakTime) <= time.Minute {
		floor = c.peak / 10
	}
	c.set(max(base*factor, floor))
	c.cutAt = c.r / cutFactor
	if atMost && c.r == base {
		// The highest rate the gateway can have: stay there, and probe
		// above it only slowly.
		c.cutAt, c.clock = c.r, cubicK
	}
	// Requests queued at the old rate queue again, in a queue that starts
	// now: the next turn is one interval at the new rate away; after the
	// first cut, one second away (a second's worth of turns is taken).
	c.lim = rate.NewLimiter(rate.Limit(c.r), 1)
	c.lim.AllowN(now, 1)
	if first {
		for range int(c.r) {
			c.lim.ReserveN(now, 1)
		}
	}
	close(c.cutCh)
	c.cutCh = make(chan struct{})
	if first {
		c.firstCut = now
	}
	c.notify(RateEvent{Kind: "cut", From: from, To: c.r})
}

func (c *RateController) set(r float64) {
	r = min(max(r, minRate), maxRate)
	if c.ceiling > 0 {
		r = min(r, c.ceiling)
	}
	c.r = r
	if c.on && c.lim.Limit() != rate.Limit(r) {
		c.lim.SetLimitAt(c.now(), rate.Limit(r))
	}
}

// Rate is the allowed request rate now; 0 while the bucket is off (the
// API never throttled and no ceiling is set).
func (c *RateController) Rate() float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.on {
		return 0
	}
	return c.r
}
