package exporter_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/exporter"
	"github.com/auditlog-exporter/auditlog-exporter/odata"
	"github.com/auditlog-exporter/auditlog-exporter/odata/neosim"
	"github.com/auditlog-exporter/auditlog-exporter/sinks"
	"github.com/auditlog-exporter/auditlog-exporter/source"
	"github.com/auditlog-exporter/auditlog-exporter/state"
	"github.com/rs/zerolog"
)

// fakeClock is a settable clock for the exporter and the simulator.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time             { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration)        { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
func (c *fakeClock) set(t time.Time) *fakeClock { c.t = t; return c }

// lookBackEnv runs CronJob-like runs every 15 minutes against a simulator
// whose records become visible late.
type lookBackEnv struct {
	t     testing.TB
	read  map[string]bool // files collect has read
	clock *fakeClock
	sim   *neosim.Server
	src   *odata.Client
	// source, when set, is exported instead of src (a Cloud Foundry
	// client).
	source source.Source
	out    string
	store  *state.FileStore
	seq    int
	log    zerolog.Logger
	lag    time.Duration
}

func newLookBackEnv(t testing.TB, r neosim.Readings) *lookBackEnv {
	t.Helper()
	clock := (&fakeClock{}).set(time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC))
	sim := neosim.New(neosim.Options{Accounts: []string{"acct"}, ClientID: "id", ClientSecret: "secret", Now: clock.Now, Readings: r})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	src, err := odata.New(odata.Config{APIURL: srv.URL, Account: "acct", ClientID: "id", ClientSecret: "secret", InitialBackoff: time.Millisecond, Now: clock.Now}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	store, err := state.OpenFile(filepath.Join(dir, "state"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return &lookBackEnv{t: t, read: map[string]bool{}, clock: clock, sim: sim, src: src, out: filepath.Join(dir, "out"), store: store, log: zerolog.Nop(), lag: 15 * time.Minute}
}

// add stores n records at t, visible after delay.
func (e *lookBackEnv) add(t time.Time, n int, delay time.Duration) []audit.Record {
	var recs []audit.Record
	for range n {
		e.seq++
		recs = append(recs, audit.Record{UUID: fmt.Sprintf("r-%05d", e.seq), Time: t, Account: "acct", Category: "audit.security-events",
			Message: "m", FormatVersion: "2.2"})
	}
	visible := t.Add(delay)
	e.sim.Add(func(audit.Record) time.Time { return visible }, recs...)
	return recs
}

func (e *lookBackEnv) run(lookBack time.Duration, ss ...sinks.Sink) exporter.AccountResult {
	e.t.Helper()
	if len(ss) == 0 {
		ss = []sinks.Sink{sinks.NewFile(e.out, sinks.JSONL{})}
	}
	var src source.Source = e.src
	if e.source != nil {
		src = e.source
	}
	ex := exporter.New(exporter.Options{
		Accounts: []exporter.Account{{Name: "acct", Source: src}}, Sinks: ss, Store: e.store,
		Grid: exporter.Grid{Size: time.Hour}, Lag: e.lag, Start: "2026-11-24T00:00:00Z", LookBack: lookBack, Version: "test",
		Log: e.log, Now: e.clock.Now,
	})
	res, err := ex.Run(context.Background())
	if err != nil {
		e.t.Fatalf("run at %s: %v", e.clock.Now().Format(time.TimeOnly), err)
	}
	return res[0]
}

// delivered counts every record in every object created under out, as a
// consumer that ingests each new file does; it fails on a record seen twice.
func (e *lookBackEnv) delivered() (records, objects int) {
	e.t.Helper()
	seen := map[string]bool{}
	files, _ := filepath.Glob(filepath.Join(e.out, "account=acct", "date=*", "*.jsonl"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			e.t.Fatal(err)
		}
		objects++
		if err := sinks.ReadJSONL(strings.NewReader(string(b)), false, func(r audit.Record) error {
			if seen[r.UUID] {
				e.t.Fatalf("record %s delivered twice (%s)", r.UUID, filepath.Base(f))
			}
			seen[r.UUID] = true
			records++
			return nil
		}); err != nil {
			e.t.Fatal(err)
		}
	}
	return records, objects
}

// TestLookBackAppendsLateRecords: CronJob runs every 15 minutes; records of
// an exported window that become visible later are appended as a delta by
// the look-back within the hour, under a counting API and one that counts
// nothing; nothing is delivered twice; an idle look-back costs few requests.
func TestLookBackAppendsLateRecords(t *testing.T) {
	for _, r := range []neosim.Readings{{}, {Count: neosim.CountRows}, {Count: neosim.CountNone}} {
		t.Run(r.String(), func(t *testing.T) {
			e := newLookBackEnv(t, r)
			day := e.clock.Now()
			for h := range 6 {
				e.add(day.Add(time.Duration(h)*time.Hour+10*time.Minute), 20, time.Minute)
			}
			// A record of 01:00-02:00 visible only at 02:50, after the
			// window's export at 02:15; one of 02:00-03:00 at 05:30.
			late := e.add(day.Add(time.Hour+30*time.Minute), 1, 80*time.Minute)
			tail := e.add(day.Add(2*time.Hour+5*time.Minute), 1, 3*time.Hour+25*time.Minute)
			deliveredAt := map[string]time.Time{}
			// Where the source counts nothing, the tail is found by the
			// window's second re-listing, 12 hours after its first at 04:00.
			end, tailBy := day.Add(7*time.Hour), day.Add(5*time.Hour+30*time.Minute+time.Hour)
			if r.Count == neosim.CountNone {
				end, tailBy = day.Add(16*time.Hour+15*time.Minute), day.Add(16*time.Hour)
			}
			for e.clock.Now().Before(end) {
				e.clock.Add(15 * time.Minute)
				e.run(24 * time.Hour)
				e.delivered() // fails on a record delivered twice
				for _, rec := range append(late, tail...) {
					if _, ok := deliveredAt[rec.UUID]; !ok && e.has(rec.UUID) {
						deliveredAt[rec.UUID] = e.clock.Now()
					}
				}
			}
			want := len(e.sim.Records("acct", day, day.Add(6*time.Hour)))
			got, objects := e.delivered()
			if got != want {
				t.Fatalf("%d records delivered, the simulator holds %d", got, want)
			}
			if deltas, _ := filepath.Glob(filepath.Join(e.out, "account=acct", "date=*", "*_delta-*.jsonl")); len(deltas) != 2 {
				t.Fatalf("%d deltas, want 2", len(deltas))
			}
			if at, ok := deliveredAt[late[0].UUID]; !ok || at.After(day.Add(170*time.Minute+time.Hour)) {
				t.Errorf("late record visible at 02:50 delivered at %s: want within the hour", at.Format(time.TimeOnly))
			}
			if at, ok := deliveredAt[tail[0].UUID]; !ok || at.After(tailBy) {
				t.Errorf("tail record visible at 05:30 delivered at %s: want by %s", at.Format(time.TimeOnly), tailBy.Format(time.TimeOnly))
			}
			// An hour of runs with nothing late: its one window, a few requests.
			before := e.sim.Counters().APIRequests
			for range 4 {
				e.clock.Add(15 * time.Minute)
				e.run(24 * time.Hour)
			}
			if _, n := e.delivered(); n != objects+1 {
				t.Fatalf("an hour without late records wrote %d objects, want its window's", n-objects)
			}
			if reqs := e.sim.Counters().APIRequests - before; reqs > 12 {
				t.Fatalf("an idle hour of runs made %d API requests", reqs)
			}
		})
	}
}

// has reports whether a record is in any object under out.
func (e *lookBackEnv) has(uuid string) bool {
	files, _ := filepath.Glob(filepath.Join(e.out, "account=acct", "date=*", "*.jsonl"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if strings.Contains(string(b), `"`+uuid+`"`) {
			return true
		}
	}
	return false
}

// TestLookBackOffWithoutKeepingSink: with only a stream, the look-back
// cannot tell late records from delivered ones: it does nothing.
func TestLookBackOffWithoutKeepingSink(t *testing.T) {
	e := newLookBackEnv(t, neosim.Readings{})
	e.add(e.clock.Now().Add(10*time.Minute), 5, 0)
	var buf strings.Builder
	stream := sinks.NewStream("stdout", &lockedWriter{w: &buf}, sinks.JSONL{}, t.TempDir())
	e.clock.Add(90 * time.Minute)
	e.run(24*time.Hour, stream)
	st, err := e.store.Load(context.Background(), "acct")
	if err != nil || st.LookBack != nil {
		t.Fatalf("state %+v, %v; want no look-back ledger", st.LookBack, err)
	}
}

type lockedWriter struct {
	mu sync.Mutex
	w  *strings.Builder
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestGridChange: export.window goes from 1h to 30m; verify, --repair and
// a backfill over the hours exported on the old grid find their records
// in the 1h objects and write none of them again; a late record of an old
// hour is appended to that hour's object as a delta.
func TestGridChange(t *testing.T) {
	e := newLookBackEnv(t, neosim.Readings{})
	day := e.clock.Now()
	for h := range 6 {
		e.add(day.Add(time.Duration(h)*time.Hour+10*time.Minute), 10, 0)
		e.add(day.Add(time.Duration(h)*time.Hour+40*time.Minute), 10, 0)
	}
	sink := sinks.NewFile(e.out, sinks.JSONL{})
	ex := func(size time.Duration) *exporter.Exporter {
		return exporter.New(exporter.Options{
			Accounts: []exporter.Account{{Name: "acct", Source: e.src}}, Sinks: []sinks.Sink{sink}, Store: e.store,
			Grid: exporter.Grid{Size: size}, Lag: 15 * time.Minute, Start: "2026-11-24T00:00:00Z", LookBack: 24 * time.Hour, Version: "test",
			Log: zerolog.Nop(), Now: e.clock.Now,
		})
	}
	ctx := context.Background()
	e.clock.Add(3*time.Hour + 15*time.Minute)
	if _, err := ex(time.Hour).Run(ctx); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(3 * time.Hour)
	if _, err := ex(30 * time.Minute).Run(ctx); err != nil {
		t.Fatal(err)
	}
	_, before := e.delivered()
	e.add(day.Add(time.Hour+20*time.Minute), 1, 0) // late, in an hour of the old grid
	res, err := ex(30*time.Minute).Verify(ctx, day, day.Add(6*time.Hour), exporter.VerifyOptions{Repair: true})
	if err != nil {
		t.Fatal(err)
	}
	if wp, _ := res.Problems(); wp != 0 {
		t.Fatalf("verify --repair after the grid change: %d problems: %+v", wp, res.Windows)
	}
	hours := 0
	for _, w := range res.Windows {
		if w.End.Sub(w.Start) == time.Hour {
			hours++
		}
	}
	if hours != 3 || len(res.Windows) != 3+6 {
		t.Fatalf("verify saw %d windows, %d of an hour: want the 3 old hours and 6 new half hours", len(res.Windows), hours)
	}
	if _, err := ex(30*time.Minute).Backfill(ctx, day, day.Add(6*time.Hour), exporter.Shard{}); err != nil {
		t.Fatal(err)
	}
	got, after := e.delivered()
	if want := len(e.sim.Records("acct", day, day.Add(6*time.Hour))); got != want || after != before+1 {
		t.Fatalf("%d records in %d objects (%d before): want %d records and one delta", got, after, before, want)
	}
}
