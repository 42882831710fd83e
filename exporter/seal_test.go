package exporter_test

import (
	"context"
	"testing"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/evidence"
	"github.com/auditlog-exporter/auditlog-exporter/exporter"
	"github.com/auditlog-exporter/auditlog-exporter/odata/neosim"
	"github.com/auditlog-exporter/auditlog-exporter/sinks"
	"github.com/auditlog-exporter/auditlog-exporter/sinks/memdest"
	"github.com/auditlog-exporter/auditlog-exporter/source"
	"github.com/auditlog-exporter/auditlog-exporter/source/sourcetest"
	"github.com/rs/zerolog"
)

// TestRunSealsDays: a run seals each day its watermark moves past, linked
// to the day before; a day a run left unsealed (killed between the
// watermark and the seal) is sealed by the next run, even with nothing
// due; a window that gains a delta after its day was sealed makes a new
// generation; verify finds the chain whole.
func TestRunSealsDays(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	day := func(d int) time.Time { return time.Date(2026, 11, 22+d, 0, 0, 0, 0, time.UTC) }
	recs, _ := neosim.Generate(neosim.GenOptions{Account: "acct", From: day(0), To: now, PerHour: 30, Seed: 9})
	mem := sourcetest.NewMemory(sourcetest.MemoryOptions{Padding: padding, Now: func() time.Time { return now }})
	mem.Add(recs...)
	// The 24th's windows wait until the watermark is saved past the 23rd:
	// a later advance then saves the sealed day with it. (Where the
	// watermark crosses into the 24th in its last advance, which happens
	// when a window of the 23rd is the last to finish, the state records
	// the sealed day only with the next run's save; the seals are written
	// all the same.)
	src := &dayGate{Source: mem, gate: day(2), passed: func() bool {
		st, err := e.store.Load(ctx, "acct")
		return err == nil && !st.Watermark.Before(day(2))
	}}
	ex := func() *exporter.Exporter {
		return exporter.New(exporter.Options{
			Accounts: []exporter.Account{{Name: "acct", Source: src}}, Sinks: []sinks.Sink{e.sink}, Store: e.store,
			Grid: exporter.Grid{Size: time.Hour}, Lag: 15 * time.Minute, Start: day(0).Format(time.RFC3339), Version: "test", Parallel: 4,
			Log: zerolog.Nop(), Now: func() time.Time { return now },
		})
	}
	seal := func(d, gen int) string { return sinks.SealName("acct", day(d), "jsonl", gen) }
	exists := func(name string) bool { _, ok := e.dest.Read(name); return ok }

	if _, err := ex().Run(ctx); err != nil {
		t.Fatal(err)
	}
	if !exists(seal(0, 1)) || !exists(seal(1, 1)) || exists(seal(2, 1)) {
		t.Fatalf("after the first run: seals of the 22nd %v, 23rd %v, 24th %v; want the two whole days sealed", exists(seal(0, 1)), exists(seal(1, 1)), exists(seal(2, 1)))
	}
	st, _ := e.store.Load(ctx, "acct")
	if !st.SealedThrough.Equal(day(2)) {
		t.Fatalf("state sealed_through %v, want %v", st.SealedThrough, day(2))
	}
	// Killed between the watermark and the seal: the 23rd has no seal,
	// and the state says so.
	e.dest.Lose(seal(1, 1))
	st.SealedThrough = day(1)
	if _, err := e.store.Save(ctx, st); err != nil {
		t.Fatal(err)
	}
	if res, err := ex().Run(ctx); err != nil || res[0].Windows != 0 {
		t.Fatalf("second run: %+v %v", res, err)
	}
	if !exists(seal(1, 1)) {
		t.Fatal("the next run did not seal the day left unsealed")
	}
	// A window of the 23rd exported again with nothing new: nothing is
	// written, the seal stays.
	st, _ = e.store.Load(ctx, "acct")
	st.Watermark = day(1).Add(23 * time.Hour)
	if _, err := e.store.Save(ctx, st); err != nil {
		t.Fatal(err)
	}
	if _, err := ex().Run(ctx); err != nil {
		t.Fatal(err)
	}
	if exists(seal(1, 2)) {
		t.Fatal("a re-export that found nothing new sealed the day again")
	}
	// Again with a record that became visible since: a delta, and a new
	// generation supersedes.
	mem.Add(audit.Record{UUID: "late-1", Time: day(1).Add(23*time.Hour + time.Minute), Account: "acct", Category: "audit.security-events", Message: "late", FormatVersion: "2.2"})
	st, _ = e.store.Load(ctx, "acct")
	st.Watermark = day(1).Add(23 * time.Hour)
	if _, err := e.store.Save(ctx, st); err != nil {
		t.Fatal(err)
	}
	if _, err := ex().Run(ctx); err != nil {
		t.Fatal(err)
	}
	if !exists(seal(1, 2)) || exists(seal(0, 2)) {
		t.Fatalf("after re-exporting 23:00 of the 23rd: generation 2 of the 23rd %v, of the 22nd %v", exists(seal(1, 2)), exists(seal(0, 2)))
	}
	res, err := ex().Verify(ctx, day(0), now, exporter.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if wp, dp := res.Problems(); wp != 0 || dp != 0 || len(res.Days) != 3 {
		t.Fatalf("verify: %d window and %d day problems, %d days: %+v", wp, dp, len(res.Days), res.Days)
	}
	want := []evidence.Status{evidence.DaySealed, evidence.DaySealed, evidence.DayOpen}
	for i, d := range res.Days {
		if d.Status != want[i] || (i == 1) != (d.Generations == 2) {
			t.Fatalf("day %s: %s, %d generations (%s)", d.Date, d.Status, d.Generations, d.Detail)
		}
	}
}

// dayGate holds the fetches of windows from gate on until passed
// reports true (given up after 30 s: the test then says so).
type dayGate struct {
	source.Source
	gate   time.Time
	passed func() bool
}

func (d *dayGate) Fetch(ctx context.Context, w audit.Window, emit func(*audit.Record) error) (source.Stats, error) {
	for deadline := time.Now().Add(30 * time.Second); !w.Start.Before(d.gate) && !d.passed() && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	return d.Source.Fetch(ctx, w, emit)
}

// TestVerifyAsksTheSourceOncePerWindow: the source's counts are the same
// for every sink, so verify asks the API once per window however many
// sinks hold it.
func TestVerifyAsksTheSourceOncePerWindow(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	other, _ := memdest.NewSink("other", sinks.JSONL{Gzip: true})
	ex := e.exporter(e.sink, other)
	if _, err := ex.Run(ctx); err != nil {
		t.Fatal(err)
	}
	before := e.src.Counters()
	res, err := ex.Verify(ctx, now.Add(-6*time.Hour).Truncate(time.Hour), now, exporter.VerifyOptions{})
	if err != nil || len(res.Windows) != 12 {
		t.Fatalf("verify: %d rows, %v", len(res.Windows), err)
	}
	if after := e.src.Counters(); after.Requests-before.Requests != 6 || after.Counts-before.Counts != 6 {
		t.Fatalf("verify of 6 windows in 2 sinks made %d API requests (%d counts), want 6 (one count per window)", after.Requests-before.Requests, after.Counts-before.Counts)
	}
}
