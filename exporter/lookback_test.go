package exporter_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/exporter"
	"github.com/auditlog-exporter/auditlog-exporter/odata"
	"github.com/auditlog-exporter/auditlog-exporter/odata/neosim"
	"github.com/auditlog-exporter/auditlog-exporter/sinks"
	"github.com/auditlog-exporter/auditlog-exporter/sinks/memdest"
	"github.com/auditlog-exporter/auditlog-exporter/sinks/stream"
	"github.com/auditlog-exporter/auditlog-exporter/source"
	"github.com/auditlog-exporter/auditlog-exporter/source/sourcetest"
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

// lookBackEnv runs CronJob-like runs every 15 minutes against a source
// whose records become visible late, exporting to JSON lines on a memory
// destination.
type lookBackEnv struct {
	t     testing.TB
	read  int // object versions collect has read
	clock *fakeClock
	// src is exported: mem (a memory source), or a client of sim (the Neo
	// simulator, for the benchmark), or another client (Cloud Foundry).
	src   source.Source
	mem   *sourcetest.Memory
	sim   *neosim.Server
	sink  *sinks.Output
	dest  *memdest.Dest
	store *state.FileStore
	seq   int
	log   zerolog.Logger
	lag   time.Duration
}

// newBareLookBackEnv is the env without a source.
func newBareLookBackEnv(t testing.TB) *lookBackEnv {
	t.Helper()
	clock := (&fakeClock{}).set(time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC))
	store, err := state.OpenFile(filepath.Join(t.TempDir(), "state"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	sink, dest := memdest.NewSink("out", sinks.JSONL{})
	return &lookBackEnv{t: t, clock: clock, sink: sink, dest: dest, store: store, log: zerolog.Nop(), lag: 15 * time.Minute}
}

// newLookBackEnv reads a memory source counting as c.
func newLookBackEnv(t testing.TB, c sourcetest.Counting) *lookBackEnv {
	e := newBareLookBackEnv(t)
	e.mem = sourcetest.NewMemory(sourcetest.MemoryOptions{Counting: c, Padding: padding, Now: e.clock.Now})
	e.src = e.mem
	return e
}

// newSimLookBackEnv reads the Neo simulator under readings r over HTTP.
func newSimLookBackEnv(t testing.TB, r neosim.Readings) *lookBackEnv {
	e := newBareLookBackEnv(t)
	e.sim = neosim.New(neosim.Options{Accounts: []string{"acct"}, ClientID: "id", ClientSecret: "secret", Now: e.clock.Now, Readings: r})
	srv := httptest.NewServer(e.sim)
	t.Cleanup(srv.Close)
	src, err := odata.New(odata.Config{APIURL: srv.URL, Account: "acct", ClientID: "id", ClientSecret: "secret", InitialBackoff: time.Millisecond, Now: e.clock.Now}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	e.src = src
	return e
}

// add stores n records at t, visible after delay.
func (e *lookBackEnv) add(t time.Time, n int, delay time.Duration) []audit.Record {
	var recs []audit.Record
	for range n {
		e.seq++
		recs = append(recs, audit.Record{UUID: fmt.Sprintf("r-%05d", e.seq), Time: t, Account: "acct", Category: "audit.security-events",
			Message: "m", FormatVersion: "2.2"})
	}
	e.addVisibleAt(func(audit.Record) time.Time { return t.Add(delay) }, recs)
	return recs
}

// addVisibleAt stores recs, each visible from visible(r) on.
func (e *lookBackEnv) addVisibleAt(visible func(audit.Record) time.Time, recs []audit.Record) {
	if e.sim != nil {
		e.sim.Add(visible, recs...)
		return
	}
	for _, r := range recs {
		e.mem.AddVisibleAt(visible(r), r)
	}
}

// records are the records of [from, to) the source shows now.
func (e *lookBackEnv) records(from, to time.Time) []audit.Record {
	if e.sim != nil {
		return e.sim.Records("acct", from, to)
	}
	return e.mem.Records("acct", from, to)
}

func (e *lookBackEnv) run(lookBack time.Duration, ss ...sinks.Sink) exporter.AccountResult {
	e.t.Helper()
	if len(ss) == 0 {
		ss = []sinks.Sink{e.sink}
	}
	ex := exporter.New(exporter.Options{
		Accounts: []exporter.Account{{Name: "acct", Source: e.src}}, Sinks: ss, Store: e.store,
		Grid: exporter.Grid{Size: time.Hour}, Lag: e.lag, Start: "2026-11-24T00:00:00Z", LookBack: lookBack, Version: "test",
		Log: e.log, Now: e.clock.Now,
	})
	res, err := ex.Run(context.Background())
	if err != nil {
		e.t.Fatalf("run at %s: %v", e.clock.Now().Format(time.TimeOnly), err)
	}
	return res[0]
}

// delivered counts every record in every object version created, as a
// consumer that ingests each new object does; it fails on a record seen
// twice.
func (e *lookBackEnv) delivered() (records, objects int) {
	e.t.Helper()
	seen := map[string]bool{}
	for _, o := range dataObjects(e.dest, "acct") {
		objects++
		if err := sinks.ReadJSONL(bytes.NewReader(o.Data), false, func(r audit.Record) error {
			if seen[r.UUID] {
				e.t.Fatalf("record %s delivered twice (%s)", r.UUID, path.Base(o.Name))
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

// deltas counts the delta objects created.
func (e *lookBackEnv) deltas() int {
	n := 0
	for _, o := range dataObjects(e.dest, "acct") {
		if strings.Contains(o.Name, "_delta-") {
			n++
		}
	}
	return n
}

// has reports whether a record is in any object created.
func (e *lookBackEnv) has(uuid string) bool {
	for _, o := range dataObjects(e.dest, "acct") {
		if bytes.Contains(o.Data, []byte(`"`+uuid+`"`)) {
			return true
		}
	}
	return false
}

// TestLookBackAppendsLateRecords: CronJob runs every 15 minutes; records of
// an exported window that become visible later are appended as a delta by
// the look-back within the hour, under a counting API and one that counts
// nothing; nothing is delivered twice; an idle look-back costs few requests.
func TestLookBackAppendsLateRecords(t *testing.T) {
	for _, r := range []sourcetest.Counting{sourcetest.CountDistinct, sourcetest.CountRows, sourcetest.CountNone} {
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
			if r == sourcetest.CountNone {
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
			want := len(e.records(day, day.Add(6*time.Hour)))
			got, objects := e.delivered()
			if got != want {
				t.Fatalf("%d records delivered, the source holds %d", got, want)
			}
			if deltas := e.deltas(); deltas != 2 {
				t.Fatalf("%d deltas, want 2", deltas)
			}
			if at, ok := deliveredAt[late[0].UUID]; !ok || at.After(day.Add(170*time.Minute+time.Hour)) {
				t.Errorf("late record visible at 02:50 delivered at %s: want within the hour", at.Format(time.TimeOnly))
			}
			if at, ok := deliveredAt[tail[0].UUID]; !ok || at.After(tailBy) {
				t.Errorf("tail record visible at 05:30 delivered at %s: want by %s", at.Format(time.TimeOnly), tailBy.Format(time.TimeOnly))
			}
			// An hour of runs with nothing late: its one window, a few requests.
			before := e.mem.Counters().Requests
			for range 4 {
				e.clock.Add(15 * time.Minute)
				e.run(24 * time.Hour)
			}
			if _, n := e.delivered(); n != objects+1 {
				t.Fatalf("an hour without late records wrote %d objects, want its window's", n-objects)
			}
			if reqs := e.mem.Counters().Requests - before; reqs > 12 {
				t.Fatalf("an idle hour of runs made %d API requests", reqs)
			}
		})
	}
}

// TestLookBackOffWithoutKeepingSink: with only a stream, the look-back
// cannot tell late records from delivered ones: it does nothing.
func TestLookBackOffWithoutKeepingSink(t *testing.T) {
	e := newLookBackEnv(t, sourcetest.CountDistinct)
	e.add(e.clock.Now().Add(10*time.Minute), 5, 0)
	var buf strings.Builder
	stream := stream.NewSink("stdout", &lockedWriter{w: &buf}, sinks.JSONL{}, t.TempDir())
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
	e := newLookBackEnv(t, sourcetest.CountDistinct)
	day := e.clock.Now()
	for h := range 6 {
		e.add(day.Add(time.Duration(h)*time.Hour+10*time.Minute), 10, 0)
		e.add(day.Add(time.Duration(h)*time.Hour+40*time.Minute), 10, 0)
	}
	ex := func(size time.Duration) *exporter.Exporter { return e.onGrid(size, e.sink) }
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
	if want := len(e.records(day, day.Add(6*time.Hour))); got != want || after != before+1 {
		t.Fatalf("%d records in %d objects (%d before): want %d records and one delta", got, after, before, want)
	}
}

// A sink added after export.window changed, and listed first, holds no
// windows: the hours the other sink holds on the old grid are still its
// windows (every keeping sink's listing counts), so the old sink gets none
// of their records again and the new one gets each record once.
func TestGridChangeThenANewSinkFirst(t *testing.T) {
	e := newLookBackEnv(t, sourcetest.CountDistinct)
	day := e.clock.Now()
	for h := range 3 {
		e.add(day.Add(time.Duration(h)*time.Hour+10*time.Minute), 10, 0)
		e.add(day.Add(time.Duration(h)*time.Hour+40*time.Minute), 10, 0)
	}
	ctx := context.Background()
	e.clock.Add(3*time.Hour + 15*time.Minute)
	if _, err := e.onGrid(time.Hour, e.sink).Run(ctx); err != nil {
		t.Fatal(err)
	}
	_, before := e.delivered()
	added, addedDest := memdest.NewSink("added", sinks.JSONL{})
	if _, err := e.onGrid(30*time.Minute, added, e.sink).Backfill(ctx, day, day.Add(3*time.Hour), exporter.Shard{}); err != nil {
		t.Fatal(err)
	}
	want := len(e.records(day, day.Add(3*time.Hour)))
	if got, after := e.delivered(); got != want || after != before {
		t.Fatalf("the first sink: %d records in %d objects (%d before); want %d records in the same objects", got, after, before, want)
	}
	seen := map[string]bool{}
	for _, o := range dataObjects(addedDest, "acct") {
		if err := sinks.ReadJSONL(bytes.NewReader(o.Data), false, func(r audit.Record) error {
			if seen[r.UUID] {
				t.Fatalf("record %s twice in the added sink", r.UUID)
			}
			seen[r.UUID] = true
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(`_\d{8}T\d{2}0000Z_\d{8}T\d{2}0000Z\.`).MatchString(o.Name) {
			t.Errorf("added sink: %s is not an hour of the old grid", o.Name)
		}
	}
	if len(seen) != want {
		t.Fatalf("the added sink holds %d records, want %d", len(seen), want)
	}
}

// onGrid is an exporter of the account to sinks on windows of size.
func (e *lookBackEnv) onGrid(size time.Duration, ss ...sinks.Sink) *exporter.Exporter {
	return exporter.New(exporter.Options{
		Accounts: []exporter.Account{{Name: "acct", Source: e.src}}, Sinks: ss, Store: e.store,
		Grid: exporter.Grid{Size: size}, Lag: 15 * time.Minute, Start: "2026-11-24T00:00:00Z", LookBack: 24 * time.Hour, Version: "test",
		Log: zerolog.Nop(), Now: e.clock.Now,
	})
}
