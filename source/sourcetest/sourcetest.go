// Package sourcetest is the conformance suite every source must pass (the
// Neo client, the Cloud Foundry client), run against its simulator over
// real HTTP: what source.Source promises, whatever the API behind it. It
// also holds Memory, a scriptable source in memory that passes the same
// suite, for tests of what stands on a source (the exporter).
package sourcetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/source"
)

// Harness connects the suite to one source implementation.
type Harness struct {
	// New returns a source reading account, whose API holds exactly recs.
	New func(t *testing.T, account string, recs []audit.Record) source.Source
	// Counted: the API counts records (Count returns the padded query's
	// count); else Count returns -1.
	Counted bool
	// Padding is how far the source's query reaches beyond a window on
	// each side (records there are counted by Count, never emitted).
	Padding time.Duration
	// Shape turns a record of the suite into the one the source's API
	// holds and the source emits (a Cloud Foundry record has its own
	// fields); nil leaves records as they are.
	Shape func(audit.Record) audit.Record
}

// start is the beginning of the suite's hour of interest.
var start = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

// records are n records from one hour before to one hour after the window
// [start, start+1h), plus records exactly on and beside its edges.
func records(account string, n int) []audit.Record {
	var out []audit.Record
	add := func(id string, at time.Time) {
		out = append(out, audit.Record{UUID: id, Time: at, Account: account, Category: "audit.security-events", User: "u", Tenant: "t",
			Application: "app", Message: fmt.Sprintf("{\"id\":%q}", id), FormatVersion: "2.2"})
	}
	for i := range n {
		add(fmt.Sprintf("r-%05d", i), start.Add(-time.Hour).Add(time.Duration(i)*(3*time.Hour)/time.Duration(n)).Truncate(time.Millisecond))
	}
	for i, at := range []time.Time{start, start.Add(-time.Millisecond), start.Add(time.Hour - time.Millisecond), start.Add(time.Hour), start.Add(500 * time.Millisecond)} {
		add(fmt.Sprintf("edge-%d", i), at)
	}
	return out
}

func inside(recs []audit.Record, w audit.Window) []audit.Record {
	var out []audit.Record
	for _, r := range recs {
		if w.Contains(r.Time) {
			out = append(out, r)
		}
	}
	return out
}

func fetch(ctx context.Context, s source.Source, w audit.Window) ([]audit.Record, source.Stats, error) {
	var got []audit.Record
	st, err := s.Fetch(ctx, w, func(r *audit.Record) error {
		got = append(got, *r) // the record is reused after emit returns
		return nil
	})
	return got, st, err
}

// assertSame checks got holds exactly want's records, each once, intact.
func assertSame(t *testing.T, got, want []audit.Record) {
	t.Helper()
	byID := map[string]audit.Record{}
	for _, r := range want {
		byID[r.UUID] = r
	}
	seen := map[string]bool{}
	for i := range got {
		r := got[i]
		w, ok := byID[r.UUID]
		switch {
		case !ok:
			t.Fatalf("record %s (at %v) is not one of the window's", r.UUID, r.Time)
		case seen[r.UUID]:
			t.Fatalf("record %s emitted twice", r.UUID)
		case !r.Equal(&w):
			t.Fatalf("record %s changed:\n got %+v\nwant %+v", r.UUID, r, w)
		}
		seen[r.UUID] = true
	}
	if len(seen) != len(want) {
		var missing []string
		for id := range byID {
			if !seen[id] {
				missing = append(missing, id)
			}
		}
		slices.Sort(missing)
		t.Fatalf("%d of %d records emitted; missing %v", len(seen), len(want), missing[:min(len(missing), 10)])
	}
}

// Run runs the suite.
func Run(t *testing.T, h Harness) {
	const account = "conformance"
	records := func(account string, n int) []audit.Record {
		recs := records(account, n)
		if h.Shape != nil {
			for i := range recs {
				recs[i] = h.Shape(recs[i])
			}
		}
		return recs
	}
	w := audit.Window{Account: account, Start: start, End: start.Add(time.Hour)}
	t.Run("TokenProbeRetention", func(t *testing.T) {
		s := h.New(t, account, records(account, 300))
		ctx := context.Background()
		if err := s.Token(ctx); err != nil {
			t.Fatalf("Token: %v", err)
		}
		n, err := s.Probe(ctx)
		if err != nil || (n < 1 && n != -1) {
			t.Fatalf("Probe: %d, %v; want the records held (or -1: unknown)", n, err)
		}
		if keep, how := s.Retention(ctx); keep < 24*time.Hour || how == "" {
			t.Fatalf("Retention: %v, %q", keep, how)
		}
	})
	t.Run("FetchExactlyTheWindow", func(t *testing.T) {
		recs := records(account, 3000)
		s := h.New(t, account, recs)
		got, st, err := fetch(context.Background(), s, w)
		if err != nil {
			t.Fatal(err)
		}
		want := inside(recs, w)
		assertSame(t, got, want)
		if st.Records != len(want) || st.Pages < 1 {
			t.Fatalf("stats %+v: %d records, want %d", st, st.Records, len(want))
		}
		switch {
		case h.Counted && st.Completeness != source.CompletenessCounted && st.Completeness != source.CompletenessStoredDuplicates:
			t.Fatalf("completeness %q, want %q (or %q)", st.Completeness, source.CompletenessCounted, source.CompletenessStoredDuplicates)
		case !h.Counted && st.Completeness != source.CompletenessUncounted:
			t.Fatalf("completeness %q, want %q (the API counts nothing)", st.Completeness, source.CompletenessUncounted)
		}
	})
	t.Run("Count", func(t *testing.T) {
		recs := records(account, 600)
		s := h.New(t, account, recs)
		n, err := s.Count(context.Background(), w)
		if err != nil {
			t.Fatal(err)
		}
		padded := audit.Window{Account: account, Start: w.Start.Add(-h.Padding), End: w.End.Add(h.Padding)}
		switch want := int64(len(inside(recs, padded))); {
		case !h.Counted && n != -1:
			t.Fatalf("Count = %d from an API that counts nothing, want -1", n)
		case h.Counted && (n < int64(len(inside(recs, w))) || n > 2*want):
			// (An API that counts rows it stores twice counts up to twice.)
			t.Fatalf("Count = %d, want the padded query's %d", n, want)
		}
	})
	t.Run("EmptyWindow", func(t *testing.T) {
		s := h.New(t, account, records(account, 100))
		far := audit.Window{Account: account, Start: start.Add(-48 * time.Hour), End: start.Add(-47 * time.Hour)}
		got, st, err := fetch(context.Background(), s, far)
		if err != nil || len(got) != 0 || st.Records != 0 {
			t.Fatalf("empty window: %d records, %+v, %v", len(got), st, err)
		}
	})
	t.Run("EmitErrorStops", func(t *testing.T) {
		s := h.New(t, account, records(account, 2000))
		stop := errors.New("sink full")
		n := 0
		_, err := s.Fetch(context.Background(), w, func(*audit.Record) error {
			if n++; n == 10 {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) || n != 10 {
			t.Fatalf("after emit failed: %v, %d emits", err, n)
		}
	})
	t.Run("CancelledContext", func(t *testing.T) {
		s := h.New(t, account, records(account, 100))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		got, _, err := fetch(ctx, s, w)
		if err == nil || len(got) != 0 {
			t.Fatalf("cancelled fetch: %d records, %v", len(got), err)
		}
	})
}
