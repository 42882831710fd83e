// Package sinktest is the conformance suite every sink must pass, run
// against the sink's real backend.
package sinktest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/evidence"
	"github.com/auditlog-exporter/auditlog-exporter/sinks"
)

// Harness connects the suite to one sink implementation.
type Harness struct {
	// New returns a fresh sink with nothing committed.
	New func(t *testing.T) sinks.Sink
	// Read returns the records committed for w in s, in file order, and
	// whether an object for w exists at all.
	Read func(t *testing.T, s sinks.Sink, w audit.Window) ([]audit.Record, bool)
	// List returns every object name a reader of the destination would see
	// (Hive-style readers skip names starting with '.' or '_').
	List func(t *testing.T, s sinks.Sink) []string
	// AtLeastOnce marks a stream destination: committed windows cannot be
	// listed by name, and an empty window writes nothing. The suite skips
	// the checks that need named objects.
	AtLeastOnce bool
	// DropManifest removes the manifest stored under name (what a run
	// killed between an object and its manifest leaves); nil skips the
	// checks that need it.
	DropManifest func(t *testing.T, s sinks.Sink, name string)
	// Keeper returns what s's destination keeps, for the checks of
	// Keeper.Create; nil skips them.
	Keeper func(s sinks.Sink) sinks.Keeper
}

var start = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

// Window returns the i-th hourly test window of account.
func Window(account string, i int) audit.Window {
	s := start.Add(time.Duration(i) * time.Hour)
	return audit.Window{Account: account, Start: s, End: s.Add(time.Hour)}
}

// Records returns n records inside w with awkward content: quotes,
// newlines, Unicode, empty users, null and set instance ids, and every
// fifth one a Cloud Foundry record.
func Records(w audit.Window, n int, tag string) []audit.Record {
	out := make([]audit.Record, n)
	for i := range out {
		r := audit.Record{
			UUID:          fmt.Sprintf("%s-%06d", tag, i),
			Time:          w.Start.Add(time.Duration(i) * (w.End.Sub(w.Start) / time.Duration(n+1))).Truncate(time.Millisecond),
			Category:      []string{"audit.security-events", "audit.data-access.my-sub", "audit.configuration"}[i%3],
			User:          []string{"", "A on behalf of B", "Jürgen \"JM\" Müller"}[i%3],
			Tenant:        "tenant-1",
			Account:       w.Account,
			Application:   "app",
			Message:       fmt.Sprintf("msg %d: {\"k\":\"v\"}\nline two\ttab \\ 日本語 😀 \u2028", i),
			FormatVersion: "2.2",
		}
		if i%4 == 0 {
			id := fmt.Sprintf("inst-%d", i)
			r.InstanceID = &id
		}
		if i%5 == 2 {
			// A Cloud Foundry record: no application or instance id, its
			// own fields instead (one window may hold both sources only in
			// tests, but every sink must carry both shapes).
			r.Application, r.InstanceID = "", nil
			r.CF = &audit.CFFields{OrgID: "org-" + tag, SpaceID: "", AppOrServiceID: fmt.Sprintf("app-%d", i%7), ALSServiceID: "als"}
		}
		out[i] = r
	}
	return out
}

// Write opens window w of s and writes recs, failing t on any error; the
// caller commits or aborts.
func Write(t testing.TB, s sinks.Sink, w audit.Window, recs []audit.Record) sinks.Writer {
	t.Helper()
	wr, err := s.Open(context.Background(), w)
	if err != nil {
		t.Fatalf("Open(%v): %v", w, err)
	}
	for i := range recs {
		if err := wr.Write(&recs[i]); err != nil {
			t.Fatalf("Write: %v", err)
		}
	}
	return wr
}

func assertRecords(t *testing.T, got, want []audit.Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("read %d records, want %d", len(got), len(want))
	}
	for i := range want {
		if !got[i].Equal(&want[i]) {
			t.Fatalf("record %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
}

// visible drops the names Hive-style readers skip: any path segment that
// starts with '.' or '_'.
func visible(names []string) []string {
	var out []string
next:
	for _, n := range names {
		for _, seg := range strings.Split(n, "/") {
			if strings.HasPrefix(seg, ".") || strings.HasPrefix(seg, "_") {
				continue next
			}
		}
		out = append(out, n)
	}
	return out
}

// unknown is what a source that sent no count says of a window.
func unknown() sinks.Source { return sinks.Source{Count: -1} }

// assertManifest checks the manifest of w against what was written: a sink
// that keeps its objects by name must have one, a stream has none.
func assertManifest(t *testing.T, h Harness, s sinks.Sink, w audit.Window, records int, src sinks.Source) {
	t.Helper()
	v := s.Archive()
	if h.AtLeastOnce {
		if v != nil {
			t.Fatal("a stream sink offers an Archive: nothing it wrote can be read back")
		}
		return
	}
	if v == nil {
		t.Fatal("no Archive: a sink that keeps its windows by name must keep their manifests")
	}
	m, found, err := v.ReadManifest(context.Background(), w)
	if err != nil || !found {
		t.Fatalf("manifest of %v: found %v, %v", w, found, err)
	}
	sum, size, found, err := v.Checksum(context.Background(), m.Object)
	if err != nil || !found {
		t.Fatalf("checksum of %v: found %v, %v", w, found, err)
	}
	n := 0
	if err := v.Records(context.Background(), m.Object, func(audit.Record) error { n++; return nil }); err != nil || n != records {
		t.Fatalf("Archive.Records of %v: %d records, %v; want %d", w, n, err, records)
	}
	if m.Records != int64(records) || m.SHA256 != sum || m.Bytes != size || m.SourceCount != src.Count || m.Completeness != src.Completeness || m.Account != w.Account ||
		!m.WindowStart.Equal(w.Start) || !m.WindowEnd.Equal(w.End) || m.ExportedAt.IsZero() {
		t.Fatalf("manifest %+v does not describe the object (%d records, sha %s, %d bytes, source %+v)", m, records, sum, size, src)
	}
}

// Run runs the suite.
func Run(t *testing.T, h Harness) {
	t.Run("ProbeLeavesNothing", func(t *testing.T) {
		s := h.New(t)
		if err := s.Probe(context.Background()); err != nil {
			t.Fatalf("Probe: %v", err)
		}
		if h.List != nil {
			if names := h.List(t, s); len(names) != 0 {
				t.Fatalf("Probe left %v", names)
			}
		}
	})
	t.Run("CommitRoundTrip", func(t *testing.T) {
		s := h.New(t)
		w := Window("acct1", 0)
		recs := Records(w, 2500, "rt")
		wr := Write(t, s, w, recs)
		if err := wr.Commit(context.Background(), sinks.Source{Count: 2600, Completeness: "stored-duplicates"}); err != nil {
			t.Fatal(err)
		}
		assertManifest(t, h, s, w, len(recs), sinks.Source{Count: 2600, Completeness: "stored-duplicates"})
		if err := wr.Abort(); err != nil {
			t.Fatalf("Abort after Commit: %v", err)
		}
		got, ok := h.Read(t, s, w)
		if !ok {
			t.Fatal("committed window not found")
		}
		assertRecords(t, got, recs)
		if h.AtLeastOnce {
			return
		}
		names := visible(h.List(t, s))
		want := sinks.ObjectName(w, "")
		want = want[:len(want)-1]
		if len(names) != 1 || !strings.Contains(names[0], want) {
			t.Fatalf("visible objects %v, want one named like %s*", names, want)
		}
	})
	t.Run("InvisibleUntilCommit", func(t *testing.T) {
		s := h.New(t)
		w := Window("acct1", 1)
		wr := Write(t, s, w, Records(w, 100, "inv"))
		if _, ok := h.Read(t, s, w); ok {
			t.Fatal("window visible before Commit")
		}
		if names := visible(h.List(t, s)); len(names) != 0 {
			t.Fatalf("objects visible before Commit: %v", names)
		}
		if err := wr.Commit(context.Background(), unknown()); err != nil {
			t.Fatal(err)
		}
		if _, ok := h.Read(t, s, w); !ok {
			t.Fatal("window not visible after Commit")
		}
	})
	t.Run("AbortLeavesNothing", func(t *testing.T) {
		s := h.New(t)
		w := Window("acct1", 2)
		wr := Write(t, s, w, Records(w, 100, "ab"))
		if err := wr.Abort(); err != nil {
			t.Fatal(err)
		}
		if err := wr.Abort(); err != nil {
			t.Fatalf("second Abort: %v", err)
		}
		if _, ok := h.Read(t, s, w); ok {
			t.Fatal("aborted window visible")
		}
		if names := h.List(t, s); len(names) != 0 {
			t.Fatalf("aborted write left %v", names)
		}
		if err := wr.Commit(context.Background(), unknown()); err == nil {
			t.Fatal("Commit after Abort succeeded")
		}
	})
	t.Run("CommittedIsNeverReplaced", func(t *testing.T) {
		if h.AtLeastOnce {
			t.Skip("a stream has no names: it publishes every window it is given")
		}
		s := h.New(t)
		w := Window("acct1", 3)
		first := Records(w, 300, "first")
		wr := Write(t, s, w, first)
		if err := wr.Commit(context.Background(), unknown()); err != nil {
			t.Fatal(err)
		}
		wr = Write(t, s, w, Records(w, 200, "second"))
		if err := wr.Commit(context.Background(), unknown()); !errors.Is(err, sinks.ErrExists) {
			t.Fatalf("committing the window's first object again: %v; want ErrExists", err)
		}
		got, _ := h.Read(t, s, w)
		assertRecords(t, got, first)
		assertManifest(t, h, s, w, len(first), sinks.Source{Count: -1})
		if names := visible(h.List(t, s)); len(names) != 1 {
			t.Fatalf("a refused re-export left %d objects: %v", len(names), names)
		}
	})
	t.Run("DeltasAppend", func(t *testing.T) {
		if h.AtLeastOnce {
			t.Skip("a stream keeps no parts")
		}
		ctx := context.Background()
		s := h.New(t)
		w := Window("acct1", 7)
		first, late := Records(w, 40, "on-time"), Records(w, 3, "late")
		for part, recs := range [][]audit.Record{first, late} {
			wr, err := s.OpenPart(ctx, w, part)
			if err != nil {
				t.Fatal(err)
			}
			for i := range recs {
				if err := wr.Write(&recs[i]); err != nil {
					t.Fatal(err)
				}
			}
			if err := wr.Commit(ctx, sinks.Source{Count: int64(40 + 3*part), Completeness: "counted"}); err != nil {
				t.Fatal(err)
			}
		}
		names := visible(h.List(t, s))
		if len(names) != 2 || !strings.HasSuffix(names[1], "_delta-0001."+sinks.ExtOf(names[0])) || names[0] > names[1] {
			t.Fatalf("objects %v; want the first object and its delta, sorted after it", names)
		}
		v := s.Archive()
		parts, orphan, err := v.ReadParts(ctx, w)
		if err != nil || orphan != "" || len(parts) != 2 || parts[0].Records != 40 || parts[1].Records != 3 || parts[1].Part != 1 || parts[1].SourceCount != 43 {
			t.Fatalf("parts %+v, orphan %q, %v", parts, orphan, err)
		}
		held := sinks.NewHeld()
		if err := v.Hold(ctx, parts, held); err != nil || held.Len() != 43 || !held.Has(late[2].UUID) || held.Has("no-such-record") {
			t.Fatalf("held %d Uuids, %v; want the 43 of both parts", held.Len(), err)
		}
	})
	t.Run("OrphanAdopted", func(t *testing.T) {
		if h.AtLeastOnce || h.DropManifest == nil {
			t.Skip("needs a keeping sink and a way to lose a manifest")
		}
		ctx := context.Background()
		s := h.New(t)
		w := Window("acct1", 8)
		recs := Records(w, 25, "orphan")
		wr := Write(t, s, w, recs)
		if err := wr.Commit(ctx, sinks.Source{Count: 25, Completeness: "counted"}); err != nil {
			t.Fatal(err)
		}
		// A run killed between the object and its manifest.
		h.DropManifest(t, s, sinks.ManifestName(w, sinks.ExtOf(visible(h.List(t, s))[0])))
		v := s.Archive()
		parts, orphan, err := v.ReadParts(ctx, w)
		if err != nil || len(parts) != 0 || orphan == "" {
			t.Fatalf("parts %+v, orphan %q, %v; want the object found without its manifest", parts, orphan, err)
		}
		held := sinks.NewHeld()
		m, err := v.Adopt(ctx, w, 0, held)
		if err != nil || m.Records != 25 || m.Completeness != evidence.CompletenessAdopted || held.Len() != 25 {
			t.Fatalf("adopted %+v (%d held), %v", m, held.Len(), err)
		}
		assertManifest(t, h, s, w, 25, sinks.Source{Count: -1, Completeness: evidence.CompletenessAdopted})
		if names := visible(h.List(t, s)); len(names) != 1 {
			t.Fatalf("adopting wrote objects: %v", names)
		}
	})
	t.Run("FailedReexportKeepsCommitted", func(t *testing.T) {
		s := h.New(t)
		w := Window("acct1", 4)
		first := Records(w, 50, "keep")
		wr := Write(t, s, w, first)
		if err := wr.Commit(context.Background(), unknown()); err != nil {
			t.Fatal(err)
		}
		wr = Write(t, s, w, Records(w, 70, "lost"))
		if err := wr.Abort(); err != nil {
			t.Fatal(err)
		}
		got, _ := h.Read(t, s, w)
		assertRecords(t, got, first)
	})
	t.Run("EmptyWindow", func(t *testing.T) {
		s := h.New(t)
		w := Window("acct1", 5)
		wr := Write(t, s, w, nil)
		if err := wr.Commit(context.Background(), unknown()); err != nil {
			t.Fatal(err)
		}
		got, ok := h.Read(t, s, w)
		if (!ok && !h.AtLeastOnce) || len(got) != 0 {
			t.Fatalf("empty window: found %v, %d records", ok, len(got))
		}
	})
	t.Run("CancelledContextCommitsNothing", func(t *testing.T) {
		s := h.New(t)
		w := Window("acct1", 6)
		ctx, cancel := context.WithCancel(context.Background())
		wr, err := s.Open(ctx, w)
		if err != nil {
			t.Fatal(err)
		}
		recs := Records(w, 3000, "cx")
		for i := range recs[:1000] {
			if err := wr.Write(&recs[i]); err != nil {
				t.Fatal(err)
			}
		}
		cancel()
		var werr error
		for i := range recs[1000:] {
			if werr = wr.Write(&recs[1000+i]); werr != nil {
				break
			}
		}
		cerr := wr.Commit(context.Background(), unknown())
		if werr == nil && cerr == nil {
			t.Fatal("write and commit succeeded after cancel")
		}
		_ = wr.Abort()
		if _, ok := h.Read(t, s, w); ok {
			t.Fatal("cancelled window visible")
		}
		if names := h.List(t, s); len(names) != 0 {
			t.Fatalf("cancelled write left %v", names)
		}
	})
	t.Run("WindowsAndAccountsDoNotCollide", func(t *testing.T) {
		s := h.New(t)
		ws := []audit.Window{Window("acct1", 7), Window("acct1", 8), Window("acct2", 7),
			{Account: "acct1", Start: Window("acct1", 7).Start, End: Window("acct1", 7).Start.Add(30 * time.Minute)}}
		if h.AtLeastOnce {
			ws = ws[:3] // a stream cannot tell overlapping windows apart
		}
		for i, w := range ws {
			wr := Write(t, s, w, Records(w, 10+i, fmt.Sprintf("c%d", i)))
			if err := wr.Commit(context.Background(), unknown()); err != nil {
				t.Fatal(err)
			}
		}
		for i, w := range ws {
			got, _ := h.Read(t, s, w)
			assertRecords(t, got, Records(w, 10+i, fmt.Sprintf("c%d", i)))
		}
		if !h.AtLeastOnce {
			names := visible(h.List(t, s))
			slices.Sort(names)
			if len(names) != len(ws) {
				t.Fatalf("objects %v", names)
			}
		}
	})
	t.Run("SealsChainDays", func(t *testing.T) { sealsChainDays(t, h) })
}

// Day returns the hourly windows of account's UTC day d after the test
// start's day.
func Day(account string, d int) []audit.Window {
	day := evidence.DayOf(start).AddDate(0, 0, d)
	out := make([]audit.Window, 24)
	for i := range out {
		s := day.Add(time.Duration(i) * time.Hour)
		out[i] = audit.Window{Account: account, Start: s, End: s.Add(time.Hour)}
	}
	return out
}

// commitAll commits a few records in each window, in the order given.
func commitAll(t *testing.T, s sinks.Sink, ws []audit.Window, tag string) {
	t.Helper()
	for i, w := range ws {
		wr := Write(t, s, w, Records(w, 1+i%3, tag))
		if err := wr.Commit(context.Background(), sinks.Source{Count: int64(1 + i%3), Completeness: "counted"}); err != nil {
			t.Fatal(err)
		}
	}
}

// sealsChainDays: a day is sealed once every window is committed, whatever
// the order; a seal links to the day before's; sealing a sealed day writes
// nothing; a window exported again is sealed in a new generation that
// supersedes the old one, which stays; sealers racing write one
// generation; a signer signs the seal.
func sealsChainDays(t *testing.T, h Harness) {
	ctx := context.Background()
	s := h.New(t)
	v := s.Archive()
	if h.AtLeastOnce {
		if v != nil {
			t.Fatal("a stream sink offers an Archive")
		}
		return
	}
	if h.Keeper != nil {
		k := h.Keeper(s)
		// Create never replaces: it is what keeps racing sealers apart.
		name := "_seals/create-test.json"
		if created, err := k.Create(ctx, name, []byte("first\n")); err != nil || !created {
			t.Fatalf("Create of a new name: %v, %v", created, err)
		}
		if created, err := k.Create(ctx, name, []byte("second\n")); err != nil || created {
			t.Fatalf("Create of a taken name: created %v, %v; want false, nothing written", created, err)
		}
		r, found, err := k.Get(ctx, name)
		if err != nil || !found {
			t.Fatal(found, err)
		}
		b, _ := io.ReadAll(r)
		r.Close()
		if string(b) != "first\n" {
			t.Fatalf("Create replaced an object: %q", b)
		}
	}
	day0, day1 := Day("chained", 0), Day("chained", 1)
	rev := slices.Clone(day0[1:])
	slices.Reverse(rev) // out of order, as parallel workers commit
	commitAll(t, s, rev, "d0")
	out, err := v.Seal(ctx, day0, "run")
	if err != nil || out.Written != 0 || len(out.Missing) != 1 || !out.Missing[0].Start.Equal(day0[0].Start) {
		t.Fatalf("sealing a day with a window missing: %+v, %v; want nothing written, the first window missing", out, err)
	}
	if gens, err := v.ReadSeals(ctx, "chained", day0[0].Start); err != nil || len(gens) != 0 {
		t.Fatalf("seals of an incomplete day: %v, %v", gens, err)
	}
	commitAll(t, s, day0[:1], "d0")
	first, err := v.Seal(ctx, day0, "run")
	if err != nil || first.Written != 1 || first.Seal.Previous != nil || first.Seal.Supersedes != nil || len(first.Seal.Windows) != 24 {
		t.Fatalf("sealing a complete day: %+v, %v", first, err)
	}
	for i, w := range first.Seal.Windows {
		m, _, _ := v.ReadManifest(ctx, day0[i])
		if !w.Start.Equal(day0[i].Start) || w.ManifestSHA256 != m.Stored.SHA256 || w.ObjectSHA256 != m.SHA256 || w.Records != m.Records {
			t.Fatalf("sealed window %d %+v does not list manifest %+v", i, w, m)
		}
	}
	if again, err := v.Seal(ctx, day0, "run"); err != nil || again.Written != 0 || again.Seal.Stored.SHA256 != first.Seal.Stored.SHA256 {
		t.Fatalf("sealing a sealed day again: %+v, %v; want nothing written", again, err)
	}
	commitAll(t, s, day1, "d1")
	next, err := v.Seal(ctx, day1, "run")
	if err != nil || next.Written != 1 || next.Seal.Previous == nil || *next.Seal.Previous != first.Seal.Link() {
		t.Fatalf("the next day's seal %+v (%v) does not link to %+v", next.Seal.Previous, err, first.Seal.Link())
	}
	// Window 05:00 gains a delta.
	wr, err := s.OpenPart(ctx, day0[5], 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range Records(day0[5], 2, "late") {
		if err := wr.Write(&r); err != nil {
			t.Fatal(err)
		}
	}
	if err := wr.Commit(ctx, sinks.Source{Count: 5, Completeness: "counted"}); err != nil {
		t.Fatal(err)
	}
	second, err := v.Seal(ctx, day0, "verify --repair")
	if err != nil || second.Written != 2 || second.Seal.Supersedes == nil || *second.Seal.Supersedes != first.Seal.Link() ||
		!strings.Contains(second.Seal.Reason, "verify --repair: exported again: 05:00-06:00") || len(second.Seal.Windows[5].Deltas) != 1 || second.Seal.Windows[5].Deltas[0].Records != 2 {
		t.Fatalf("re-sealing after a re-export: %+v, %v", second.Seal, err)
	}
	gens, err := v.ReadSeals(ctx, "chained", day0[0].Start)
	if err != nil || len(gens) != 2 || gens[0].Stored.SHA256 != first.Seal.Stored.SHA256 || gens[1].Stored.SHA256 != second.Seal.Stored.SHA256 || gens[0].Err != nil || gens[1].Err != nil {
		t.Fatalf("generations after a re-seal: %+v, %v; want both, the first unchanged", gens, err)
	}
	// Sealers racing on one day write one generation.
	day2 := Day("chained", 2)
	commitAll(t, s, day2, "d2")
	errs := make(chan error, 6)
	for range 6 {
		go func() { _, err := v.Seal(ctx, day2, "run"); errs <- err }()
	}
	for range 6 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if gens, err := v.ReadSeals(ctx, "chained", day2[0].Start); err != nil || len(gens) != 1 {
		t.Fatalf("racing sealers wrote %d generations (%v), want 1", len(gens), err)
	}
	if names := visible(h.List(t, s)); slices.ContainsFunc(names, func(n string) bool { return strings.Contains(n, ".seal-") }) {
		t.Fatalf("a seal is visible to Hive-style readers: %v", names)
	}
}

// ConcurrentSameWindow writes one window twice at once: the first commit
// wins, the second fails with sinks.ErrExists, and the object holds the
// records once.
func ConcurrentSameWindow(t *testing.T, s sinks.Sink, read func(*testing.T, sinks.Sink, audit.Window) ([]audit.Record, bool)) {
	w := Window("acct", 0)
	recs := Records(w, 2000, "same")
	a, err := s.Open(t.Context(), w)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Open(t.Context(), w)
	if err != nil {
		t.Fatal(err)
	}
	for i := range recs {
		if err := a.Write(&recs[i]); err != nil {
			t.Fatal(err)
		}
		if err := b.Write(&recs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Commit(t.Context(), sinks.Source{Count: -1}); err != nil {
		t.Fatal(err)
	}
	if err := a.Commit(t.Context(), sinks.Source{Count: -1}); !errors.Is(err, sinks.ErrExists) {
		t.Fatalf("the second commit of the same object: %v; want ErrExists", err)
	}
	got, _ := read(t, s, w)
	if len(got) != len(recs) {
		t.Fatalf("%d records, want %d", len(got), len(recs))
	}
}
