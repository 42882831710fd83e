package exporter

import (
	"strings"
	"testing"
	"time"
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
