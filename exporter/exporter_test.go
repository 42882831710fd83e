package exporter_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/errclass"
	"github.com/auditlog-exporter/auditlog-exporter/exporter"
	"github.com/auditlog-exporter/auditlog-exporter/odata/neosim"
	"github.com/auditlog-exporter/auditlog-exporter/sinks"
	"github.com/auditlog-exporter/auditlog-exporter/sinks/memdest"
	"github.com/auditlog-exporter/auditlog-exporter/source/sourcetest"
	"github.com/auditlog-exporter/auditlog-exporter/state"
	"github.com/rs/zerolog"
)

var now = time.Date(2026, 11, 24, 12, 20, 0, 0, time.UTC)

// env is an account's audit log in a memory source, exported to a JSON
// lines sink on a memory destination, with a state file.
type env struct {
	src   *sourcetest.Memory
	store *state.FileStore
	sink  *sinks.Output
	dest  *memdest.Dest
}

// padding is how far the memory source's query reaches beyond a window,
// as the Neo client's does.
const padding = 2 * time.Second

// accountRecords are the records the env holds for account: 600 an hour
// from 06:20 to 09:20 and from 10:20 to 12:20 (09:20-10:20 has none).
func accountRecords(account string) []audit.Record {
	recs, _ := neosim.Generate(neosim.GenOptions{Account: account, From: now.Add(-6 * time.Hour), To: now.Add(-3 * time.Hour), PerHour: 600, Seed: 4})
	recs2, _ := neosim.Generate(neosim.GenOptions{Account: account, From: now.Add(-2 * time.Hour), To: now, PerHour: 600, Seed: 5})
	return append(recs, recs2...)
}

func newEnv(t *testing.T) *env {
	t.Helper()
	src := sourcetest.NewMemory(sourcetest.MemoryOptions{Padding: padding, Now: func() time.Time { return now }})
	src.Add(accountRecords("acct")...)
	store, err := state.OpenFile(filepath.Join(t.TempDir(), "state"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	sink, dest := memdest.NewSink("out", sinks.JSONL{})
	return &env{src: src, store: store, sink: sink, dest: dest}
}

func (e *env) exporter(sinkList ...sinks.Sink) *exporter.Exporter {
	if len(sinkList) == 0 {
		sinkList = []sinks.Sink{e.sink}
	}
	return exporter.New(exporter.Options{
		Accounts: []exporter.Account{{Name: "acct", Source: e.src}}, Sinks: sinkList, Store: e.store,
		Grid: exporter.Grid{Size: time.Hour}, Lag: 15 * time.Minute, Start: "-6h", Version: "test",
		Log: zerolog.Nop(), Now: func() time.Time { return now },
	})
}

// dataObjects are the versions of data objects (not manifests or seals)
// of account that d created, in order.
func dataObjects(d *memdest.Dest, account string) []memdest.Object {
	var out []memdest.Object
	for _, o := range d.Created() {
		if !o.Small && strings.HasPrefix(o.Name, "account="+account+"/") {
			out = append(out, o)
		}
	}
	return out
}

// read returns every record in every object version the sink created, as
// a consumer that ingests each new object sees them, failing on a record
// delivered twice.
func (e *env) read(t *testing.T) map[string]audit.Record {
	t.Helper()
	got := map[string]audit.Record{}
	for _, o := range dataObjects(e.dest, "acct") {
		err := sinks.ReadJSONL(bytes.NewReader(o.Data), false, func(r audit.Record) error {
			if _, dup := got[r.UUID]; dup {
				t.Fatalf("record %s exported twice (%s)", r.UUID, o.Name)
			}
			got[r.UUID] = r
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return got
}

func (e *env) assertExported(t *testing.T, from, to time.Time) {
	t.Helper()
	got := e.read(t)
	want := e.src.Records("acct", from, to)
	if len(got) != len(want) {
		t.Fatalf("exported %d records, the source holds %d for %v-%v", len(got), len(want), from, to)
	}
	for _, w := range want {
		g, ok := got[w.UUID]
		if !ok || !g.Equal(&w) {
			t.Fatalf("record %s: got %+v want %+v", w.UUID, g, w)
		}
	}
}

func TestRunExportsDueWindowsOnce(t *testing.T) {
	e := newEnv(t)
	res, err := e.exporter().Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// start -6h = 06:20 -> floor 06:00; due = floor(12:05) = 12:00: six windows.
	if len(res) != 1 || res[0].Windows != 6 || !res[0].Watermark.Equal(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)) {
		t.Fatalf("result %+v", res)
	}
	e.assertExported(t, time.Date(2026, 11, 24, 6, 0, 0, 0, time.UTC), res[0].Watermark)
	if objects := dataObjects(e.dest, "acct"); len(objects) != 6 {
		t.Fatalf("%d objects, want 6 (the empty window too)", len(objects))
	}
	res, err = e.exporter().Run(context.Background())
	if err != nil || res[0].Windows != 0 {
		t.Fatalf("second run: %+v %v", res, err)
	}
	st, _ := e.store.Load(context.Background(), "acct")
	if st.Window != time.Hour || !st.Watermark.Equal(res[0].Watermark) {
		t.Fatalf("state %+v", st)
	}
}

// failingSink commits windows until failAt, then fails mid-write.
type failingSink struct {
	sinks.Sink
	failAt time.Time
}

func (f failingSink) OpenPart(ctx context.Context, w audit.Window, part int) (sinks.Writer, error) {
	wr, err := f.Sink.OpenPart(ctx, w, part)
	if err != nil || !w.Start.Equal(f.failAt) {
		return wr, err
	}
	return failingWriter{wr}, nil
}

type failingWriter struct{ sinks.Writer }

func (failingWriter) Write(*audit.Record) error { return errors.New("disk full") }

func TestFailedWindowKeepsWatermark(t *testing.T) {
	e := newEnv(t)
	failAt := time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC)
	other, otherDest := memdest.NewSink("other", sinks.JSONL{Gzip: true})
	_, err := e.exporter(other, failingSink{e.sink, failAt}).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "disk full") || !strings.Contains(err.Error(), "window 2026-11-24T08:00:00Z/2026-11-24T09:00:00Z") {
		t.Fatalf("got %v", err)
	}
	st, _ := e.store.Load(context.Background(), "acct")
	if !st.Watermark.Equal(failAt) {
		t.Fatalf("watermark %v, want %v", st.Watermark, failAt)
	}
	// Neither sink shows the failed window, nor holds a writer open.
	failed := audit.Window{Account: "acct", Start: failAt, End: failAt.Add(time.Hour)}
	if _, ok := e.dest.Read(e.sink.ObjectName(failed)); ok || e.dest.Pending() != 0 {
		t.Fatalf("failed window visible in the failing sink (%d writers open)", e.dest.Pending())
	}
	if _, ok := otherDest.Read(other.ObjectName(failed)); ok || otherDest.Pending() != 0 {
		t.Fatalf("failed window visible in the other sink (%d writers open)", otherDest.Pending())
	}
	// The next run picks up at the failed window.
	if _, err := e.exporter().Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.assertExported(t, time.Date(2026, 11, 24, 6, 0, 0, 0, time.UTC), time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC))
}

func TestGridChangeMustLineUp(t *testing.T) {
	e := newEnv(t)
	_, err := e.store.Save(context.Background(), state.State{Account: "acct", Watermark: time.Date(2026, 11, 24, 10, 30, 0, 0, time.UTC), Window: 30 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.exporter().Run(context.Background())
	if errclass.Classify(err) != errclass.Config || !strings.Contains(err.Error(), "does not line up with the saved watermark 2026-11-24T10:30:00Z") {
		t.Fatalf("got %v", err)
	}
}

// conflictStore simulates another run advancing the watermark between
// this run's Load and Save.
type conflictStore struct{ *state.FileStore }

func (c conflictStore) Save(ctx context.Context, st state.State) (string, error) {
	other := st
	other.Watermark = st.Watermark.Add(5 * time.Hour)
	if _, err := c.FileStore.Save(ctx, other); err != nil {
		return "", err
	}
	return c.FileStore.Save(ctx, st)
}

func TestLostRaceStops(t *testing.T) {
	e := newEnv(t)
	x := exporter.New(exporter.Options{
		Accounts: []exporter.Account{{Name: "acct", Source: e.src}}, Sinks: []sinks.Sink{e.sink}, Store: conflictStore{e.store},
		Grid: exporter.Grid{Size: time.Hour}, Lag: 15 * time.Minute, Start: "-6h", Log: zerolog.Nop(), Now: func() time.Time { return now },
	})
	res, err := x.Run(context.Background())
	if !errors.Is(err, state.ErrConflict) || !strings.Contains(err.Error(), "another run advanced the watermark") || !res[0].Watermark.Equal(time.Date(2026, 11, 24, 6, 0, 0, 0, time.UTC)) {
		t.Fatalf("got %+v, %v", res, err)
	}
}

func TestCancelAbandonsWindow(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	x := exporter.New(exporter.Options{
		Accounts: []exporter.Account{{Name: "acct", Source: e.src}}, Sinks: []sinks.Sink{e.sink}, Store: e.store,
		Grid: exporter.Grid{Size: time.Hour}, Lag: 15 * time.Minute, Start: "-6h", Log: zerolog.Nop(), Now: func() time.Time { return now },
		Hooks: exporter.Hooks{Wrote: func(w audit.Window, n int) {
			if w.Start.Hour() == 7 && n == 100 {
				cancel()
			}
		}},
	})
	_, err := x.Run(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	st, _ := e.store.Load(context.Background(), "acct")
	if st.Watermark.Hour() != 7 {
		t.Fatalf("watermark %v, want 07:00", st.Watermark)
	}
	// The 06:00 window and nothing of 07:00: no object, no writer open.
	if objects := dataObjects(e.dest, "acct"); len(objects) != 1 || objects[0].Meta.Window.Start.Hour() != 6 || e.dest.Pending() != 0 {
		t.Fatalf("objects after cancel: %+v, %d writers open", objects, e.dest.Pending())
	}
}

func TestStateShowAndSet(t *testing.T) {
	dir := t.TempDir()
	cfg := exporter.Watermarks{Accounts: []string{"acct"}, Grid: exporter.Grid{Size: time.Hour}, Lag: 15 * time.Minute, Start: "2026-11-24T00:00:00Z"}
	store, err := state.OpenFile(filepath.Join(dir, "state"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ctx := context.Background()
	states, err := exporter.ShowState(ctx, cfg, store, now)
	if err != nil || len(states) != 1 || states[0].Saved || states[0].WindowsDue != 12 {
		t.Fatalf("%+v %v", states, err)
	}
	if _, err := exporter.SetState(ctx, cfg, store, "acct", time.Date(2026, 11, 24, 10, 30, 0, 0, time.UTC), now, "t"); errclass.Classify(err) != errclass.Config || !strings.Contains(err.Error(), "try 2026-11-24T10:00:00Z") {
		t.Fatalf("unaligned: %v", err)
	}
	if _, err := exporter.SetState(ctx, cfg, store, "acct", now.Add(2*time.Hour).Truncate(time.Hour), now, "t"); errclass.Classify(err) != errclass.Config || !strings.Contains(err.Error(), "in the future") {
		t.Fatalf("future watermark: %v", err)
	}
	if _, err := exporter.SetState(ctx, cfg, store, "other", time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC), now, "t"); errclass.Classify(err) != errclass.Config {
		t.Fatalf("unknown account: %v", err)
	}
	if _, err := exporter.SetState(ctx, cfg, store, "acct", time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC), now, "t"); err != nil {
		t.Fatal(err)
	}
	states, _ = exporter.ShowState(ctx, cfg, store, now)
	if !states[0].Saved || states[0].WindowsDue != 2 || states[0].Behind != "2h0m0s" {
		t.Fatalf("%+v", states[0])
	}
}

func TestWatermarkFromTheFuture(t *testing.T) {
	e := newEnv(t)
	if _, err := e.store.Save(context.Background(), state.State{Account: "acct", Watermark: now.Add(48 * time.Hour).Truncate(time.Hour), Window: time.Hour}); err != nil {
		t.Fatal(err)
	}
	_, err := e.exporter().Run(context.Background())
	if errclass.Classify(err) != errclass.Config || !strings.Contains(err.Error(), "is in the future") {
		t.Fatalf("got %v", err)
	}
}

// Windows are computed on demand: a one-minute grid from 1970 costs
// nothing up front, and a shard's windows are exactly those it owns.
func TestWindowSeqIsLazyAndShardExact(t *testing.T) {
	g := exporter.Grid{Size: time.Minute}
	from, to := time.Unix(0, 0).UTC(), time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	before := ms.TotalAlloc
	s := g.Seq("a", from, to, exporter.Shard{})
	runtime.ReadMemStats(&ms)
	if s.Len() != int(to.Sub(from)/time.Minute) || ms.TotalAlloc-before > 1<<20 {
		t.Fatalf("%d windows, %d bytes allocated", s.Len(), ms.TotalAlloc-before)
	}
	if w := s.At(s.Len() - 1); !w.End.Equal(to) {
		t.Fatalf("last window %v", w)
	}
	h := exporter.Grid{Size: time.Hour}
	f, l := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 3, 5, 0, 0, 0, time.UTC)
	for _, count := range []int{1, 2, 3, 7, 100} {
		total := 0
		for idx := 0; idx < max(count, 1); idx++ {
			sh := exporter.Shard{Index: idx, Count: count}
			seq := h.Seq("a", f, l, sh)
			var want []audit.Window
			for _, w := range h.Windows("a", f, l) {
				if sh.Owns(h, w) {
					want = append(want, w)
				}
			}
			if seq.Len() != len(want) {
				t.Fatalf("shard %d/%d: %d windows, want %d", idx, count, seq.Len(), len(want))
			}
			for i := range want {
				if seq.At(i) != want[i] {
					t.Fatalf("shard %d/%d window %d: %v, want %v", idx, count, i, seq.At(i), want[i])
				}
			}
			total += seq.Len()
		}
		if total != 53 {
			t.Fatalf("%d shards cover %d windows, want 53", count, total)
		}
	}
}
