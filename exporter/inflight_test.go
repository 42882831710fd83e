package exporter_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/exporter"
	"github.com/auditlog-exporter/auditlog-exporter/sinks"
	"github.com/auditlog-exporter/auditlog-exporter/source"
	"github.com/auditlog-exporter/auditlog-exporter/state"
	"github.com/rs/zerolog"
)

// countingSource counts the windows being fetched at once and records the
// account of each finished window, in order.
type countingSource struct {
	source.Source
	delay time.Duration
	// gate, when set, holds every fetch until that many were in flight at
	// once (given up after 30 s: the test then says so): the bound is
	// reached by what happened, not by a delay a slow machine may outlast.
	gate int

	mu       sync.Mutex
	now, max int
	finished []string
}

func (c *countingSource) Fetch(ctx context.Context, w audit.Window, emit func(*audit.Record) error) (source.Stats, error) {
	c.mu.Lock()
	c.now++
	c.max = max(c.max, c.now)
	c.mu.Unlock()
	for deadline := time.Now().Add(30 * time.Second); c.gate > 0 && c.maxSoFar() < c.gate && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(c.delay)
	st, err := c.Source.Fetch(ctx, w, emit)
	c.mu.Lock()
	c.now--
	c.finished = append(c.finished, w.Account)
	c.mu.Unlock()
	return st, err
}

func (c *countingSource) maxSoFar() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.max
}

// Never more windows in flight than the run-wide bound, however many
// accounts and workers there are: counted by the wrapper around the source
// and by the source itself (fetches served at once).
func TestWindowsInFlightBound(t *testing.T) {
	e := newEnv(t)
	src := &countingSource{Source: e.src, gate: 3, delay: 2 * time.Millisecond}
	var accounts []exporter.Account
	for i := range 6 {
		name := fmt.Sprintf("acct%d", i)
		e.src.Add(accountRecords(name)...)
		accounts = append(accounts, exporter.Account{Name: name, Source: src})
	}
	x := exporter.New(exporter.Options{
		Accounts: accounts, Sinks: []sinks.Sink{e.sink}, Store: e.store, Grid: exporter.Grid{Size: time.Hour}, Lag: 15 * time.Minute,
		Start: "-6h", Parallel: 4, MaxWindowsInFlight: 3, Log: zerolog.Nop(), Now: func() time.Time { return now },
	})
	res, err := x.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Windows != 6 {
			t.Fatalf("%s: %d windows", r.Account, r.Windows)
		}
	}
	if src.max > 3 || src.max < 2 {
		t.Fatalf("%d windows in flight at most, want the bound 3 used and kept", src.max)
	}
	if c := e.src.Counters().MaxConcurrent; c > 3 || c < 2 {
		t.Fatalf("the source served %d fetches at once, want at most the bound of 3 (and it used)", c)
	}
}

// Accounts take turns: an account with two days of backlog does not hold
// up small accounts, whose windows all finish within the first turns.
func TestWindowsInFlightFairness(t *testing.T) {
	e := newEnv(t)
	src := &countingSource{Source: e.src, delay: 5 * time.Millisecond}
	e.src.Add(accountRecords("big")...)
	accounts := []exporter.Account{{Name: "big", Source: src}}
	for i := range 4 {
		name := fmt.Sprintf("small%d", i)
		e.src.Add(accountRecords(name)...)
		accounts = append(accounts, exporter.Account{Name: name, Source: src})
		// Small accounts are two windows behind.
		if _, err := e.store.Save(context.Background(), state.State{Account: name, Watermark: now.Add(-3 * time.Hour).Truncate(time.Hour), Window: time.Hour}); err != nil {
			t.Fatal(err)
		}
	}
	x := exporter.New(exporter.Options{
		Accounts: accounts, Sinks: []sinks.Sink{e.sink}, Store: e.store, Grid: exporter.Grid{Size: time.Hour}, Lag: 15 * time.Minute,
		Start: "-48h", Parallel: 2, MaxWindowsInFlight: 1, Log: zerolog.Nop(), Now: func() time.Time { return now },
	})
	if _, err := x.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	last := 0 // position of the small accounts' last finished window
	for i, a := range src.finished {
		if a != "big" {
			last = i
		}
	}
	// 4 accounts x 2 windows, interleaved with the big account's turns: all
	// done within the first 20 windows of ~56.
	if len(src.finished) < 40 || last >= 20 {
		t.Fatalf("small accounts finished at position %d of %d: %v", last, len(src.finished), src.finished)
	}
}

// One failing account among a hundred: the others all export, the run
// fails, and the summary names the failed account only.
func TestOneFailingAccountAmongHundred(t *testing.T) {
	e := newEnv(t)
	var accounts []exporter.Account
	for i := range 100 {
		name := fmt.Sprintf("acct%03d", i)
		for h := range 3 {
			// A few records in each window due (09:00-12:00).
			for j := range 5 {
				e.src.Add(audit.Record{UUID: fmt.Sprintf("%s-%d-%d", name, h, j), Time: time.Date(2026, 11, 24, 9+h, 10*j, 0, 0, time.UTC),
					Account: name, Category: "audit.security-events", Message: "m", FormatVersion: "2.2"})
			}
		}
		accounts = append(accounts, exporter.Account{Name: name, Source: e.src})
	}
	accounts[57].Source = refusing()
	var logs strings.Builder
	var mu sync.Mutex
	x := exporter.New(exporter.Options{
		Accounts: accounts, Sinks: []sinks.Sink{e.sink}, Store: e.store, Grid: exporter.Grid{Size: time.Hour}, Lag: 15 * time.Minute,
		Start: "-3h", Parallel: 2, MaxWindowsInFlight: 8, Now: func() time.Time { return now },
		Log: zerolog.New(writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return logs.Write(p) })),
	})
	res, err := x.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "acct057") {
		t.Fatalf("got %v", err)
	}
	for i, r := range res {
		switch {
		case i == 57 && r.Err == nil:
			t.Fatal("the failing account did not fail")
		case i != 57 && (r.Err != nil || r.Windows != 3 || r.Records != 15):
			t.Fatalf("%s: %d windows, %d records, %v", r.Account, r.Windows, r.Records, r.Err)
		}
	}
	if !strings.Contains(logs.String(), `"failed_accounts":["acct057"]`) {
		t.Fatal("the summary does not name exactly the failed account")
	}
}

type writerFunc func([]byte) (int, error)

func (w writerFunc) Write(p []byte) (int, error) { return w(p) }
