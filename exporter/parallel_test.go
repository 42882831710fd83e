package exporter_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/errclass"
	"github.com/auditlog-exporter/auditlog-exporter/exporter"
	"github.com/auditlog-exporter/auditlog-exporter/sinks"
	"github.com/auditlog-exporter/auditlog-exporter/source"
	"github.com/auditlog-exporter/auditlog-exporter/source/sourcetest"
	"github.com/rs/zerolog"
)

// slowSource holds back and fails chosen windows of another source.
type slowSource struct {
	source.Source
	after map[int][]int // by window start hour: the windows fetched before it (given up after 30 s)
	fail  map[int]bool
	mu    sync.Mutex
	order []int
}

// fetched reports whether every window of hours was fetched.
func (s *slowSource) fetched(hours []int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, h := range hours {
		if !slices.Contains(s.order, h) {
			return false
		}
	}
	return true
}

func (s *slowSource) Fetch(ctx context.Context, w audit.Window, emit func(*audit.Record) error) (source.Stats, error) {
	h := w.Start.Hour()
	// Held back by what happened, not by a delay: a slow machine cannot
	// let it finish first. If the windows it waits for never come (they
	// are not in flight beside it), it goes after 30 s and the test says so.
	for deadline := time.Now().Add(30 * time.Second); !s.fetched(s.after[h]) && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if s.fail[h] {
		return source.Stats{}, errclass.Mark(errclass.Retryable, errors.New("injected failure"))
	}
	st, err := s.Source.Fetch(ctx, w, emit)
	s.mu.Lock()
	s.order = append(s.order, h)
	s.mu.Unlock()
	return st, err
}

func (e *env) parallelExporter(src source.Source, parallel int) *exporter.Exporter {
	return exporter.New(exporter.Options{
		Accounts: []exporter.Account{{Name: "acct", Source: src}}, Sinks: []sinks.Sink{e.sink}, Store: e.store,
		Grid: exporter.Grid{Size: time.Hour}, Lag: 15 * time.Minute, Start: "-6h", Parallel: parallel,
		Log: zerolog.Nop(), Now: func() time.Time { return now },
	})
}

// Windows commit out of order; the watermark only moves over the
// contiguous committed prefix, so a failure never leaves a hole behind it.
func TestParallelWatermarkIsContiguousPrefix(t *testing.T) {
	e := newEnv(t)
	// Windows 06..11. 06 waits for 07 and 08, 09 fails.
	src := &slowSource{Source: e.src, after: map[int][]int{6: {7, 8}}, fail: map[int]bool{9: true}}
	res, err := e.parallelExporter(src, 4).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "injected failure") {
		t.Fatalf("got %v", err)
	}
	if src.order[0] == 6 {
		t.Fatalf("window 06 finished first (%v): windows 07 and 08 were not in flight beside it", src.order)
	}
	st, _ := e.store.Load(context.Background(), "acct")
	if want := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC); !st.Watermark.Equal(want) || !res[0].Watermark.Equal(want) {
		t.Fatalf("watermark %v, want %v (06, 07, 08 committed; 09 failed)", st.Watermark, want)
	}
	// The next run exports the rest; windows committed beyond the hole are
	// simply replaced: nothing missing, nothing twice.
	res, err = e.parallelExporter(e.src, 4).Run(context.Background())
	if err != nil || !res[0].Watermark.Equal(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)) {
		t.Fatalf("second run: %+v %v", res, err)
	}
	e.assertExported(t, time.Date(2026, 11, 24, 6, 0, 0, 0, time.UTC), time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC))
}

func TestParallelEqualsSequential(t *testing.T) {
	e := newEnv(t)
	if _, err := e.parallelExporter(e.src, 8).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.assertExported(t, time.Date(2026, 11, 24, 6, 0, 0, 0, time.UTC), time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC))
}

func TestShardsCoverEveryWindowOnce(t *testing.T) {
	for _, size := range []time.Duration{time.Minute, 15 * time.Minute, time.Hour, 24 * time.Hour} {
		g := exporter.Grid{Size: size}
		start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		ws := g.Windows("a", start, start.Add(500*size))
		for n := 1; n <= 7; n++ {
			owners := make([]int, len(ws))
			perShard := make([]int, n)
			for i := 0; i < n; i++ {
				for j, w := range ws {
					if (exporter.Shard{Index: i, Count: n}).Owns(g, w) {
						owners[j]++
						perShard[i]++
					}
				}
			}
			for j, c := range owners {
				if c != 1 {
					t.Fatalf("size %v, %d shards: window %d owned %d times", size, n, j, c)
				}
			}
			for i, c := range perShard {
				if c < len(ws)/n-1 || c > len(ws)/n+1 {
					t.Fatalf("size %v, %d shards: shard %d has %d of %d windows", size, n, i, c, len(ws))
				}
			}
		}
	}
}

func TestBackfillLeavesWatermarkAlone(t *testing.T) {
	e := newEnv(t)
	from, to := time.Date(2026, 11, 24, 7, 30, 0, 0, time.UTC), time.Date(2026, 11, 24, 13, 0, 0, 0, time.UTC)
	res, err := e.parallelExporter(e.src, 3).Backfill(context.Background(), from, to, exporter.Shard{})
	if err != nil {
		t.Fatal(err)
	}
	// Complete windows inside [07:30, 13:00) that are due at 12:20 with a 15m lag: 08..12.
	if res[0].Windows != 4 {
		t.Fatalf("%d windows", res[0].Windows)
	}
	e.assertExported(t, time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC), time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC))
	if _, err := e.store.Load(context.Background(), "acct"); err == nil {
		t.Fatal("backfill wrote a watermark")
	}
}

var errRefused = errclass.Mark(errclass.Auth, errors.New("get token: the OAuth endpoint refused the client credentials"))

// refusing is a source that refuses every request, like a revoked client.
func refusing() source.Source {
	return sourcetest.NewMemory(sourcetest.MemoryOptions{Refuse: errRefused})
}

func TestOneFailingAccountAmongThree(t *testing.T) {
	e := newEnv(t)
	e.src.Add(accountRecords("other")...)
	var logs strings.Builder
	x := exporter.New(exporter.Options{
		Accounts: []exporter.Account{{Name: "acct", Source: e.src}, {Name: "broken", Source: refusing()}, {Name: "other", Source: e.src}},
		Sinks:    []sinks.Sink{e.sink}, Store: e.store, Grid: exporter.Grid{Size: time.Hour}, Lag: 15 * time.Minute, Start: "-6h", Parallel: 2,
		Log: zerolog.New(&syncWriter{w: &logs}), Now: func() time.Time { return now },
	})
	res, err := x.Run(context.Background())
	if err == nil || errclass.Classify(err) != errclass.Auth || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("got %v", err)
	}
	if res[0].Err != nil || res[2].Err != nil || res[1].Err == nil || res[0].Windows != 6 || res[2].Windows != 6 {
		t.Fatalf("results %+v", res)
	}
	for _, acct := range []string{"acct", "other"} {
		st, err := e.store.Load(context.Background(), acct)
		if err != nil || !st.Watermark.Equal(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)) {
			t.Fatalf("%s: %+v %v", acct, st, err)
		}
	}
	e.assertExported(t, time.Date(2026, 11, 24, 6, 0, 0, 0, time.UTC), time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC))
	if got, want := len(dataObjects(e.dest, "other")), 6; got != want {
		t.Fatalf("account other: %d objects, want %d", got, want)
	}
	if !strings.Contains(logs.String(), `"failed_accounts":["broken"]`) {
		t.Fatalf("summary does not name the failed account:\n%s", logs.String())
	}
}

type syncWriter struct {
	mu sync.Mutex
	w  *strings.Builder
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
