package exporter

import (
	"strings"
	"testing"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
)

func TestGrid(t *testing.T) {
	g := Grid{Size: 3 * time.Hour}
	tm := time.Date(2026, 11, 24, 10, 30, 0, 0, time.FixedZone("CET", 3600))
	if got := g.Floor(tm); !got.Equal(time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)) {
		t.Fatalf("Floor = %v", got)
	}
	if g.Aligned(time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)) || !g.Aligned(time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)) {
		t.Fatal("Aligned")
	}
	ws := g.Windows("a", time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC))
	if len(ws) != 3 || !ws[2].End.Equal(time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)) {
		t.Fatalf("Windows = %v", ws)
	}
	now := time.Date(2026, 11, 24, 12, 14, 0, 0, time.UTC)
	if got := (Grid{Size: time.Hour}).Due(now, 15*time.Minute); !got.Equal(time.Date(2026, 11, 24, 11, 0, 0, 0, time.UTC)) {
		t.Fatalf("Due = %v", got)
	}
	if err := (Grid{Size: time.Hour}).CheckWatermark(time.Date(2026, 11, 24, 10, 30, 0, 0, time.UTC), 30*time.Minute); err == nil || !strings.Contains(err.Error(), "does not line up") {
		t.Fatalf("CheckWatermark: %v", err)
	}
	if err := (Grid{Size: 30 * time.Minute}).CheckWatermark(time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC), time.Hour); err != nil {
		t.Fatalf("finer grid on a boundary: %v", err)
	}
	// Every window size that divides a day puts a boundary at each UTC midnight.
	for _, d := range []time.Duration{time.Minute, 5 * time.Minute, 90 * time.Minute, 24 * time.Hour} {
		mid := time.Date(2031, 3, 9, 0, 0, 0, 0, time.UTC)
		if (24*time.Hour)%d == 0 && !(Grid{Size: d}).Aligned(mid) {
			t.Errorf("%v: midnight not aligned", d)
		}
	}
}

func TestGridTable(t *testing.T) {
	at := func(h, m int) time.Time { return time.Date(2026, 11, 24, h, m, 0, 0, time.UTC) }
	for _, tc := range []struct {
		size       time.Duration
		t          time.Time
		floor      time.Time
		aligned    bool
		lag        time.Duration
		due        time.Time // Due(t, lag)
		windowsTo  time.Time
		windowsLen int // Windows from floor to windowsTo
	}{
		{time.Hour, at(10, 30), at(10, 0), false, 15 * time.Minute, at(10, 0), at(13, 0), 3},
		{time.Hour, at(10, 10), at(10, 0), false, 15 * time.Minute, at(9, 0), at(10, 0), 0},
		{time.Hour, at(10, 0), at(10, 0), true, 0, at(10, 0), at(10, 0), 0},
		{15 * time.Minute, at(10, 44), at(10, 30), false, 0, at(10, 30), at(12, 0), 6},
		{24 * time.Hour, at(23, 59), at(0, 0), false, time.Hour, at(0, 0), at(0, 0).Add(48 * time.Hour), 2},
		{time.Minute, time.Date(1969, 12, 31, 23, 59, 30, 0, time.UTC), time.Date(1969, 12, 31, 23, 59, 0, 0, time.UTC), false, 0, time.Date(1969, 12, 31, 23, 59, 0, 0, time.UTC), time.Unix(0, 0).UTC(), 1},
	} {
		g := Grid{Size: tc.size}
		if got := g.Floor(tc.t); !got.Equal(tc.floor) {
			t.Errorf("%v grid: Floor(%v) = %v, want %v", tc.size, tc.t, got, tc.floor)
		}
		if got := g.Aligned(tc.t); got != tc.aligned {
			t.Errorf("%v grid: Aligned(%v) = %v", tc.size, tc.t, got)
		}
		if got := g.Due(tc.t, tc.lag); !got.Equal(tc.due) {
			t.Errorf("%v grid: Due(%v, %v) = %v, want %v", tc.size, tc.t, tc.lag, got, tc.due)
		}
		if got := g.Windows("a", tc.floor, tc.windowsTo); len(got) != tc.windowsLen {
			t.Errorf("%v grid: %d windows from %v to %v, want %d", tc.size, len(got), tc.floor, tc.windowsTo, tc.windowsLen)
		}
	}
}

func TestShardOwnsTable(t *testing.T) {
	h := Grid{Size: time.Hour}
	w := func(t time.Time) audit.Window { return audit.Window{Start: t, End: t.Add(time.Hour)} }
	epoch := time.Unix(0, 0).UTC()
	for _, tc := range []struct {
		shard Shard
		start time.Time
		owns  bool
	}{
		{Shard{}, epoch, true}, // no sharding: every window
		{Shard{Index: 0, Count: 1}, epoch.Add(5 * time.Hour), true}, // one shard: every window
		{Shard{Index: 0, Count: 2}, epoch, true},                    // window 0 of the epoch
		{Shard{Index: 1, Count: 2}, epoch, false},
		{Shard{Index: 1, Count: 2}, epoch.Add(time.Hour), true},
		{Shard{Index: 2, Count: 3}, epoch.Add(5 * time.Hour), true},
		{Shard{Index: 2, Count: 3}, epoch.Add(-time.Hour), true}, // before 1970: -1 mod 3 = 2
		{Shard{Index: 0, Count: 3}, epoch.Add(-time.Hour), false},
	} {
		if got := tc.shard.Owns(h, w(tc.start)); got != tc.owns {
			t.Errorf("shard %d/%d owns %v: %v, want %v", tc.shard.Index, tc.shard.Count, tc.start, got, tc.owns)
		}
	}
}
