package exporter_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/errclass"
	"github.com/auditlog-exporter/auditlog-exporter/exporter"
	"github.com/auditlog-exporter/auditlog-exporter/odata"
	"github.com/auditlog-exporter/auditlog-exporter/odata/neosim"
	"github.com/auditlog-exporter/auditlog-exporter/sinks"
	"github.com/auditlog-exporter/auditlog-exporter/state"
	"github.com/rs/zerolog"
)

var now = time.Date(2026, 11, 24, 12, 20, 0, 0, time.UTC)

type env struct {
	sim   *neosim.Server
	src   *odata.Client
	out   string
	store *state.FileStore
	sink  *sinks.Output
}

func newEnv(t *testing.T) *env {
	t.Helper()
	sim := neosim.New(neosim.Options{Accounts: []string{"acct"}, ClientID: "id", ClientSecret: "secret", Now: func() time.Time { return now }})
	recs, _ := neosim.Generate(neosim.GenOptions{Account: "acct", From: now.Add(-6 * time.Hour), To: now.Add(-3 * time.Hour), PerHour: 600, Seed: 4})
	recs2, _ := neosim.Generate(neosim.GenOptions{Account: "acct", From: now.Add(-2 * time.Hour), To: now, PerHour: 600, Seed: 5})
	sim.Add(nil, append(recs, recs2...)...) // 09:20-10:20 has no records at all
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	src, err := odata.New(odata.Config{APIURL: srv.URL, Account: "acct", ClientID: "id", ClientSecret: "secret", InitialBackoff: time.Millisecond}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	store, err := state.OpenFile(filepath.Join(dir, "state"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return &env{sim: sim, src: src, out: filepath.Join(dir, "out"), store: store, sink: sinks.NewFile(filepath.Join(dir, "out"), sinks.JSONL{})}
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

// read returns every record in the output, failing on a duplicate.
func (e *env) read(t *testing.T) map[string]audit.Record {
	t.Helper()
	got := map[string]audit.Record{}
	files, _ := filepath.Glob(filepath.Join(e.out, "account=acct", "date=*", "*.jsonl"))
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		err = sinks.ReadJSONL(fh, false, func(r audit.Record) error {
			if _, dup := got[r.UUID]; dup {
				t.Fatalf("record %s exported twice", r.UUID)
			}
			got[r.UUID] = r
			return nil
		})
		fh.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	return got
}

func (e *env) assertExported(t *testing.T, from, to time.Time) {
	t.Helper()
	got := e.read(t)
	want := e.sim.Records("acct", from, to)
	if len(got) != len(want) {
		t.Fatalf("exported %d records, simulator holds %d for %v-%v", len(got), len(want), from, to)
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
	files, _ := filepath.Glob(filepath.Join(e.out, "account=acct", "date=*", "*.jsonl"))
	if len(files) != 6 {
		t.Fatalf("%d files, want 6 (the empty window too)", len(files))
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
	other := sinks.NewFile(e.out+"-2", sinks.JSONL{Gzip: true})
	_, err := e.exporter(other, failingSink{e.sink, failAt}).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "disk full") || !strings.Contains(err.Error(), "window 2026-11-24T08:00:00Z/2026-11-24T09:00:00Z") {
		t.Fatalf("got %v", err)
	}
	st, _ := e.store.Load(context.Background(), "acct")
	if !st.Watermark.Equal(failAt) {
		t.Fatalf("watermark %v, want %v", st.Watermark, failAt)
	}
	// Neither sink shows the failed window.
	if _, err := os.Stat(pathOf(e.sink, audit.Window{Account: "acct", Start: failAt, End: failAt.Add(time.Hour)})); !os.IsNotExist(err) {
		t.Fatal("failed window visible in the failing sink")
	}
	if _, err := os.Stat(pathOf(other, audit.Window{Account: "acct", Start: failAt, End: failAt.Add(time.Hour)})); !os.IsNotExist(err) {
		t.Fatal("failed window visible in the other sink")
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
	leftovers, _ := filepath.Glob(filepath.Join(e.out, "account=acct", "date=*", "*"))
	if len(leftovers) != 1 {
		t.Fatalf("files after cancel: %v", leftovers)
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

// pathOf is where a file sink publishes window w.
func pathOf(o *sinks.Output, w audit.Window) string {
	return o.Destination().(*sinks.FileDest).Path(o.ObjectName(w))
}
