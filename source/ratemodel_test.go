package source

import (
	"container/heap"
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// gatewayModel runs the benchmark's shape in fake time: workers that page
// through n requests with latency per served page, a token-bucket gateway
// (rate r, burst r) that refuses at once, and the client's reaction to a
// refusal (Retry-After pauses every worker; without it the refused worker
// backs off exponentially, 500 ms, x1.5, +-50%). It returns the requests
// served per second as a share of the gateway's rate and the share of
// requests refused.
func gatewayModel(seed uint64, workers, n int, latency time.Duration, gwRate float64, retryAfter bool) (served, refused float64) {
	return gatewayModelBurst(seed, workers, n, latency, gwRate, gwRate, retryAfter)
}

// gatewayModelBurst is gatewayModel with a gateway whose bucket holds burst
// tokens (SAP documents 4 requests a second with bursts of 20, and 8 with
// 40, for the Cloud Foundry API).
func gatewayModelBurst(seed uint64, workers, n int, latency time.Duration, gwRate, burst float64, retryAfter bool) (served, refused float64) {
	clk := newFakeClock()
	c := NewRateController(0, clk.now, nil)
	rng := rand.New(rand.NewPCG(seed, 1))
	start := clk.now()
	tokens, last := burst, start
	var pausedUntil time.Time
	type worker struct {
		backoff time.Duration
		issued  time.Time
		sent    time.Time
		res     *rate.Reservation
		seq     int
	}
	q := &eventQueue{}
	for i := range workers {
		heap.Push(q, &event{at: start, id: i})
	}
	ws := make([]worker, workers)
	ok, no, left := 0, 0, n
	var end time.Time
	for q.Len() > 0 {
		ev := heap.Pop(q).(*event)
		clk.t = ev.at
		w := &ws[ev.id]
		if ev.kind == evGo && ev.seq != w.seq {
			continue // queued again after a cut
		}
		switch ev.kind {
		case evDone:
			c.OnSuccess(w.sent)
			ok++
			w.backoff = 0
			end = clk.t
			if left == 0 {
				continue
			}
			fallthrough
		case evStart:
			if ev.kind == evStart && left == 0 {
				continue
			}
			if ev.kind == evDone || ev.kind == evStart {
				left--
			}
			fallthrough
		case evRetry:
			if d := pausedUntil.Sub(clk.t); d > 0 {
				heap.Push(q, &event{at: clk.t.Add(d), id: ev.id, kind: evSend})
				continue
			}
			fallthrough
		case evSend:
			w.issued = clk.t
			if c.on {
				res := c.lim.ReserveN(clk.t, 1)
				if d := res.DelayFrom(clk.t); d > 0 {
					w.seq++
					w.res = res
					heap.Push(q, &event{at: clk.t.Add(d), id: ev.id, kind: evGo, seq: w.seq})
					continue
				}
			}
			fallthrough
		case evGo:
			w.res = nil
			w.sent = clk.t
			c.noteSent(clk.t)
			tokens = min(burst, tokens+clk.t.Sub(last).Seconds()*gwRate)
			last = clk.t
			if tokens >= 1 {
				tokens--
				heap.Push(q, &event{at: clk.t.Add(latency), id: ev.id, kind: evDone})
				continue
			}
			no++
			cut := c.cutCh
			c.OnThrottle(w.sent)
			if c.cutCh != cut {
				for i := range ws {
					if o := &ws[i]; o.res != nil {
						o.res.CancelAt(clk.t)
						o.res = nil
						o.seq++
						heap.Push(q, &event{at: clk.t, id: i, kind: evSend})
					}
				}
			}
			if retryAfter {
				if u := clk.t.Add(time.Second); u.After(pausedUntil) {
					pausedUntil = u
				}
				heap.Push(q, &event{at: clk.t.Add(time.Millisecond), id: ev.id, kind: evRetry})
				continue
			}
			if w.backoff == 0 {
				w.backoff = 500 * time.Millisecond
			} else {
				w.backoff = w.backoff * 3 / 2
			}
			d := time.Duration(float64(w.backoff) * (0.5 + rng.Float64()))
			heap.Push(q, &event{at: clk.t.Add(d), id: ev.id, kind: evRetry})
		}
	}
	secs := end.Sub(start).Seconds()
	return float64(ok) / secs / gwRate, float64(no) / float64(ok+no)
}

const (
	evStart = iota
	evDone
	evRetry
	evSend
	evGo
)

type event struct {
	at   time.Time
	id   int
	kind int
	seq  int
}

type eventQueue []*event

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	if !q[i].at.Equal(q[j].at) {
		return q[i].at.Before(q[j].at)
	}
	return q[i].id < q[j].id
}
func (q eventQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)   { *q = append(*q, x.(*event)) }
func (q *eventQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

// The benchmark's shape (BenchmarkAdaptiveRate: backfill --parallel 8,
// 30 ms pages, 791 requests) in fake time, at gateways of 5, 20 and 100
// requests per second with and without Retry-After: at least 90% of the
// gateway's rate served, at most 2% of requests refused.
func TestRateControllerBehindAGateway(t *testing.T) {
	for _, gw := range []float64{5, 20, 100} {
		for _, ra := range []bool{true, false} {
			for seed := range uint64(3) {
				served, refused := gatewayModel(seed, 8, 791, 30*time.Millisecond, gw, ra)
				t.Logf("gateway %3v/s, Retry-After %-5v: served %.2f of its rate, refused %.2f%%", gw, ra, served, 100*refused)
				if served < 0.9 || refused > 0.02 {
					t.Errorf("gateway %v/s, Retry-After %v, seed %d: served %.2f of its rate, refused %.2f%%", gw, ra, seed, served, 100*refused)
				}
			}
		}
	}
}

// Other shapes: 2 to 16 workers, 10 to 100 ms pages, gateways of 4 to 50
// requests per second (only where the workers could outrun the gateway),
// 2,000 requests. Refused stays under 2% everywhere; served stays above
// 85% of the gateway's rate (the worst are 16 workers at 4/s, where the
// first sixteen requests find a bucket of four).
func TestRateControllerAcrossShapes(t *testing.T) {
	for _, workers := range []int{2, 4, 8, 16} {
		for _, lat := range []time.Duration{10 * time.Millisecond, 30 * time.Millisecond, 100 * time.Millisecond} {
			for _, gw := range []float64{4, 8, 20, 50} {
				if float64(workers)/lat.Seconds() < gw*1.2 {
					continue
				}
				for _, ra := range []bool{true, false} {
					served, refused := gatewayModel(3, workers, 2000, lat, gw, ra)
					if served < 0.85 || refused > 0.02 {
						t.Errorf("%d workers, %v pages, gateway %v/s, Retry-After %v: served %.2f of its rate, refused %.2f%%", workers, lat, gw, ra, served, 100*refused)
					}
				}
			}
		}
	}
}

// A request waiting for its turn when the rate is cut queues again at the
// new rate instead of going at the old one.
func TestRateControllerCutRequeues(t *testing.T) {
	c := NewRateController(0, time.Now, nil)
	for range 50 {
		c.OnSuccess(time.Now())
	}
	c.mu.Lock()
	c.on = true
	c.set(20) // a turn every 50 ms
	c.mu.Unlock()
	ctx := context.Background()
	if err := c.Wait(ctx); err != nil { // the one token there is
		t.Fatal(err)
	}
	done := make(chan time.Time, 4)
	start := time.Now()
	for range 4 {
		go func() {
			if err := c.Wait(ctx); err != nil {
				t.Error(err)
			}
			done <- time.Now()
		}()
	}
	time.Sleep(20 * time.Millisecond) // all four have their turns at 20/s: within 200 ms
	c.OnThrottle(time.Now())          // halves: 10/s at most
	var last time.Time
	for range 4 {
		last = <-done
	}
	// At the old rate the four would be through by 200 ms; queued again at
	// 10/s or less, not before 300 ms (a slow machine only makes it later).
	t.Logf("took %v", last.Sub(start))
	if took := last.Sub(start); took < 300*time.Millisecond {
		t.Fatalf("four queued requests went within %v of a cut to %.1f/s: queued at the old rate", took, c.Rate())
	}
}

// A short job (150 requests, 8 workers, 30 ms pages), as a CronJob run
// after a pause or a verify re-listing: behind gateways of 5, 20 and 100
// requests per second with a bucket of one second, and SAP's documented
// shapes (4/s with bursts of 20, 8/s with 40), with and without
// Retry-After: at least 85% of the gateway's rate served, at most 3% of
// requests refused.
func TestRateControllerShortJob(t *testing.T) {
	for _, gw := range []struct{ rate, burst float64 }{{5, 5}, {20, 20}, {100, 100}, {4, 20}, {8, 40}} {
		for _, ra := range []bool{true, false} {
			var served, refused float64
			const seeds = 5
			for seed := range uint64(seeds) {
				s, r := gatewayModelBurst(seed, 8, 150, 30*time.Millisecond, gw.rate, gw.burst, ra)
				served, refused = served+s/seeds, refused+r/seeds
			}
			t.Logf("gateway %3v/s burst %3v, Retry-After %-5v: served %.2f of its rate, refused %.2f%%", gw.rate, gw.burst, ra, served, 100*refused)
			if served < 0.85 || refused > 0.03 {
				t.Errorf("gateway %v/s burst %v, Retry-After %v: served %.2f of its rate, refused %.2f%%", gw.rate, gw.burst, ra, served, 100*refused)
			}
		}
	}
}
