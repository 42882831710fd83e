package sourcetest_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/errclass"
	"github.com/auditlog-exporter/auditlog-exporter/source"
	"github.com/auditlog-exporter/auditlog-exporter/source/sourcetest"
)

// The memory source passes the suite every source passes, under each way
// an API counts.
func TestMemoryConformance(t *testing.T) {
	for _, c := range []sourcetest.Counting{sourcetest.CountDistinct, sourcetest.CountRows, sourcetest.CountNone} {
		t.Run(c.String(), func(t *testing.T) {
			sourcetest.Run(t, sourcetest.Harness{
				Counted: c != sourcetest.CountNone,
				Padding: 2 * time.Second,
				New: func(t *testing.T, account string, recs []audit.Record) source.Source {
					m := sourcetest.NewMemory(sourcetest.MemoryOptions{Counting: c, Padding: 2 * time.Second, PageSize: 500})
					m.Add(recs...)
					return m
				},
			})
		})
	}
}

var t0 = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

func rec(account, id string, at time.Duration) audit.Record {
	return audit.Record{UUID: id, Time: t0.Add(at), Account: account, Category: "audit.security-events", Message: "m " + id, FormatVersion: "2.2"}
}

// hour is the window [10:00, 11:00) of account.
func hour(account string) audit.Window {
	return audit.Window{Account: account, Start: t0, End: t0.Add(time.Hour)}
}

func ids(recs []audit.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.UUID
	}
	return out
}

func fetchIDs(t *testing.T, m *sourcetest.Memory, w audit.Window) ([]string, source.Stats, error) {
	t.Helper()
	var got []string
	st, err := m.Fetch(context.Background(), w, func(r *audit.Record) error { got = append(got, r.UUID); return nil })
	return got, st, err
}

// TestMemoryFetch: what one fetch of a scripted memory serves, counts and
// says of its completeness.
func TestMemoryFetch(t *testing.T) {
	boom := errclass.Mark(errclass.Retryable, errors.New("HTTP 503"))
	for _, tc := range []struct {
		name     string
		opts     sourcetest.MemoryOptions
		setup    func(m *sourcetest.Memory)
		want     []string // Uuids emitted, in order
		count    int64    // Count's answer before the fetch
		complete string   // Stats.Completeness
		err      error    // errors.Is
		class    errclass.Class
		stats    func(t *testing.T, st source.Stats)
	}{
		{
			name: "time order, outside records counted not emitted",
			opts: sourcetest.MemoryOptions{Padding: 2 * time.Second},
			setup: func(m *sourcetest.Memory) {
				m.Add(rec("a", "c", 30*time.Minute), rec("a", "a", 0), rec("a", "b", 10*time.Minute),
					rec("a", "pad-before", -time.Second), rec("a", "pad-after", time.Hour+time.Second), rec("a", "far", 2*time.Hour), rec("b", "other-account", 5*time.Minute))
			},
			want: []string{"a", "b", "c"}, count: 5, complete: source.CompletenessCounted,
			stats: func(t *testing.T, st source.Stats) {
				if st.Records != 3 || st.Outside != 2 || st.ServerCount != 5 || st.Rows != 5 || st.Distinct != 5 || st.Pages != 1 {
					t.Fatalf("stats %+v", st)
				}
			},
		},
		{
			name: "scripted order: newest first",
			opts: sourcetest.MemoryOptions{Order: func(a, b *audit.Record) int { return b.Time.Compare(a.Time) }},
			setup: func(m *sourcetest.Memory) {
				m.Add(rec("a", "a", 0), rec("a", "b", 10*time.Minute), rec("a", "c", 30*time.Minute))
			},
			want: []string{"c", "b", "a"}, count: 3, complete: source.CompletenessCounted,
		},
		{
			name: "pages of PageSize",
			opts: sourcetest.MemoryOptions{PageSize: 2},
			setup: func(m *sourcetest.Memory) {
				for i := range 5 {
					m.Add(rec("a", fmt.Sprint(i), time.Duration(i)*time.Minute))
				}
			},
			want: []string{"0", "1", "2", "3", "4"}, count: 5, complete: source.CompletenessCounted,
			stats: func(t *testing.T, st source.Stats) {
				if st.Pages != 3 {
					t.Fatalf("%d pages of 2 for 5 records, want 3", st.Pages)
				}
			},
		},
		{
			name: "no count",
			opts: sourcetest.MemoryOptions{Counting: sourcetest.CountNone},
			setup: func(m *sourcetest.Memory) {
				m.Add(rec("a", "a", 0), rec("a", "b", time.Minute))
			},
			want: []string{"a", "b"}, count: -1, complete: source.CompletenessUncounted,
			stats: func(t *testing.T, st source.Stats) {
				if st.ServerCount != -1 {
					t.Fatalf("server count %d, want -1", st.ServerCount)
				}
			},
		},
		{
			name: "stored twice, counted as rows: a second listing confirms",
			opts: sourcetest.MemoryOptions{Counting: sourcetest.CountRows},
			setup: func(m *sourcetest.Memory) {
				m.Add(rec("a", "a", 0), rec("a", "b", time.Minute), rec("a", "a", 0))
			},
			want: []string{"a", "b"}, count: 3, complete: source.CompletenessStoredDuplicates,
			stats: func(t *testing.T, st source.Stats) {
				if st.Duplicates != 1 || st.Rows != 3 || st.Distinct != 2 || st.Pages != 2 {
					t.Fatalf("stats %+v: want 1 duplicate, 3 rows, 2 distinct, 2 listings of a page", st)
				}
			},
		},
		{
			name: "stored twice, counted distinct",
			setup: func(m *sourcetest.Memory) {
				m.Add(rec("a", "a", 0), rec("a", "b", time.Minute), rec("a", "a", 0))
			},
			want: []string{"a", "b"}, count: 2, complete: source.CompletenessCounted,
		},
		{
			name: "served twice with other content: the first copy is exported",
			setup: func(m *sourcetest.Memory) {
				m.Add(rec("a", "a", 0), rec("a", "b", time.Minute))
				m.FailFetch(1, sourcetest.Fault{Serve: func(rows []audit.Record) []audit.Record {
					changed := rows[0]
					changed.Message = "other"
					return append(rows, changed)
				}})
			},
			want: []string{"a", "b"}, count: 2, complete: source.CompletenessCounted,
			stats: func(t *testing.T, st source.Stats) {
				if st.Duplicates != 1 || st.Conflicts != 1 {
					t.Fatalf("stats %+v: want the repeat dropped as a conflict", st)
				}
			},
		},
		{
			name: "a listing that shifted: a repeat hides a record",
			setup: func(m *sourcetest.Memory) {
				m.Add(rec("a", "a", 0), rec("a", "b", time.Minute), rec("a", "c", 2*time.Minute))
				m.FailFetch(1, sourcetest.Fault{Serve: func(rows []audit.Record) []audit.Record { return []audit.Record{rows[0], rows[0], rows[2]} }})
			},
			// (Emitted before the listing is judged: the caller aborts.)
			want: []string{"a", "c"}, count: 3, err: source.ErrIncomplete, class: errclass.Retryable,
		},
		{
			name: "withheld rows under a count: ErrIncomplete",
			setup: func(m *sourcetest.Memory) {
				m.Add(rec("a", "a", 0), rec("a", "b", time.Minute), rec("a", "c", 2*time.Minute))
				m.FailFetch(1, sourcetest.Fault{Withhold: 1})
			},
			want: []string{"a", "b"}, count: 3, err: source.ErrIncomplete, class: errclass.Retryable,
		},
		{
			name: "withheld rows without a count: missing, silently",
			opts: sourcetest.MemoryOptions{Counting: sourcetest.CountNone},
			setup: func(m *sourcetest.Memory) {
				m.Add(rec("a", "a", 0), rec("a", "b", time.Minute), rec("a", "c", 2*time.Minute))
				m.FailFetch(1, sourcetest.Fault{Withhold: 1})
			},
			want: []string{"a", "b"}, count: -1, complete: source.CompletenessUncounted,
		},
		{
			name: "failure mid-listing",
			setup: func(m *sourcetest.Memory) {
				m.Add(rec("a", "a", 0), rec("a", "b", time.Minute), rec("a", "c", 2*time.Minute))
				m.FailFetch(1, sourcetest.Fault{Err: boom, After: 2})
			},
			want: []string{"a", "b"}, count: 3, err: boom, class: errclass.Retryable,
		},
		{
			name: "failure after every record",
			setup: func(m *sourcetest.Memory) {
				m.Add(rec("a", "a", 0))
				m.FailFetch(1, sourcetest.Fault{Err: boom, After: 10})
			},
			want: []string{"a"}, count: 1, err: boom, class: errclass.Retryable,
		},
		{
			name: "a fault scripted for another fetch does nothing",
			setup: func(m *sourcetest.Memory) {
				m.Add(rec("a", "a", 0))
				m.FailFetch(2, sourcetest.Fault{Err: boom})
			},
			want: []string{"a"}, count: 1, complete: source.CompletenessCounted,
		},
		{
			name: "refused",
			opts: sourcetest.MemoryOptions{Refuse: errclass.Mark(errclass.Auth, errors.New("401"))},
			setup: func(m *sourcetest.Memory) {
				m.Add(rec("a", "a", 0))
			},
			count: -2, class: errclass.Auth,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := sourcetest.NewMemory(tc.opts)
			tc.setup(m)
			w := hour("a")
			n, err := m.Count(context.Background(), w)
			switch {
			case tc.count == -2 && err == nil:
				t.Fatal("Count of a refused source succeeded")
			case tc.count != -2 && (err != nil || n != tc.count):
				t.Fatalf("Count = %d, %v; want %d", n, err, tc.count)
			}
			got, st, err := fetchIDs(t, m, w)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("emitted %v, want %v", got, tc.want)
			}
			switch {
			case tc.err != nil && !errors.Is(err, tc.err):
				t.Fatalf("err %v, want %v", err, tc.err)
			case tc.err == nil && tc.class == 0 && err != nil:
				t.Fatal(err)
			case tc.class != 0 && errclass.Classify(err) != tc.class:
				t.Fatalf("err %v classified %v, want %v", err, errclass.Classify(err), tc.class)
			}
			if err == nil && st.Completeness != tc.complete {
				t.Fatalf("completeness %q, want %q", st.Completeness, tc.complete)
			}
			if tc.stats != nil {
				tc.stats(t, st)
			}
		})
	}
}

// TestMemoryLateRecords: a record visible from a call on, or from a time
// on, is in neither the listing nor the count before.
func TestMemoryLateRecords(t *testing.T) {
	now := t0.Add(2 * time.Hour)
	clock := func() time.Time { return now }
	m := sourcetest.NewMemory(sourcetest.MemoryOptions{Now: clock})
	m.Add(rec("a", "on-time", 0))
	m.AddVisibleFrom(3, rec("a", "from-call-3", time.Minute))
	m.AddVisibleAt(t0.Add(3*time.Hour), rec("a", "at-13h", 2*time.Minute))
	w := hour("a")
	for call, want := range [][]string{1: {"on-time"}, 3: {"on-time", "from-call-3"}} {
		if want == nil {
			continue
		}
		for m.Calls() < call-1 {
			if _, err := m.Count(context.Background(), w); err != nil {
				t.Fatal(err)
			}
		}
		got, _, err := fetchIDs(t, m, w)
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("call %d: %v, %v; want %v", call, got, err, want)
		}
	}
	if n, _ := m.Count(context.Background(), w); n != 2 {
		t.Fatalf("count %d before 13:00, want 2", n)
	}
	if got := ids(m.Records("a", t0, t0.Add(time.Hour))); !slices.Equal(got, []string{"on-time", "from-call-3"}) {
		t.Fatalf("Records before 13:00: %v", got)
	}
	now = t0.Add(3 * time.Hour)
	if got, _, _ := fetchIDs(t, m, w); !slices.Equal(got, []string{"on-time", "from-call-3", "at-13h"}) {
		t.Fatalf("at 13:00: %v", got)
	}
	if n, _ := m.Count(context.Background(), w); n != 3 {
		t.Fatalf("count %d at 13:00, want 3", n)
	}
}

// TestMemoryCountsAndFaults: counters, a failing count, Probe, Retention,
// Scrub, Token.
func TestMemoryCountsAndFaults(t *testing.T) {
	ctx := context.Background()
	m := sourcetest.NewMemory(sourcetest.MemoryOptions{Secret: "s3cr3t", PageSize: 2, Retention: 90 * 24 * time.Hour})
	m.Add(rec("a", "1", 0), rec("a", "2", time.Minute), rec("a", "3", 2*time.Minute), rec("b", "1", 0), rec("a", "1", 0))
	m.FailCount(2, errors.New("HTTP 500"))
	w := hour("a")
	if _, err := m.Count(ctx, w); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Count(ctx, w); err == nil || !strings.Contains(err.Error(), "HTTP 500") {
		t.Fatalf("second count: %v, want the scripted failure", err)
	}
	if _, _, err := fetchIDs(t, m, w); err != nil {
		t.Fatal(err)
	}
	if err := m.Token(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := m.Probe(ctx); err != nil || n != 4 {
		t.Fatalf("Probe = %d, %v; want the 4 distinct records of both accounts", n, err)
	}
	c := m.Counters()
	if c.Tokens != 1 || c.Fetches != 1 || c.Counts != 2 || c.Probes != 1 || c.Pages != 2 || c.Requests != 5 || c.MaxConcurrent != 1 || m.Calls() != 3 {
		t.Fatalf("counters %+v, %d calls", c, m.Calls())
	}
	if keep, how := m.Retention(ctx); keep != 90*24*time.Hour || how != "memory" {
		t.Fatalf("Retention = %v, %q", keep, how)
	}
	if got := m.Scrub("token s3cr3t in s3cr3t"); got != "token *** in ***" {
		t.Fatalf("Scrub = %q", got)
	}
	// A cancelled context fails every call without counting it.
	cx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := m.Count(cx, w); !errors.Is(err, context.Canceled) {
		t.Fatalf("Count: %v", err)
	}
	if err := m.Token(cx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Token: %v", err)
	}
	if m.Calls() != 3 {
		t.Fatalf("%d calls after cancelled ones, want 3", m.Calls())
	}
}

// TestMemoryConcurrentFetches: fetches in flight at once are counted,
// and the record passed to emit is the caller's to copy.
func TestMemoryConcurrentFetches(t *testing.T) {
	m := sourcetest.NewMemory(sourcetest.MemoryOptions{})
	for i := range 10 {
		m.Add(rec("a", fmt.Sprint(i), time.Duration(i)*time.Minute))
	}
	inside, release := make(chan struct{}), make(chan struct{})
	errs := make(chan error, 1)
	go func() {
		_, err := m.Fetch(context.Background(), hour("a"), func(*audit.Record) error {
			select {
			case inside <- struct{}{}:
				<-release
			default:
			}
			return nil
		})
		errs <- err
	}()
	<-inside // the first fetch is in flight
	var kept []*audit.Record
	if _, err := m.Fetch(context.Background(), hour("a"), func(r *audit.Record) error { kept = append(kept, r); return nil }); err != nil {
		t.Fatal(err)
	}
	close(release)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	if c := m.Counters(); c.MaxConcurrent != 2 {
		t.Fatalf("%d fetches at once, want 2", c.MaxConcurrent)
	}
	if len(kept) != 10 || kept[0] != kept[9] {
		t.Fatal("emit got a fresh record each time: a test that keeps the pointer would not see the reuse a real source does")
	}
}
