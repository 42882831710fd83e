package exporter

import (
	"fmt"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
)

// Grid cuts time into half-open windows [start, start+Size) aligned to UTC
// midnight. Size divides 24h.
type Grid struct {
	Size time.Duration
}

// Floor returns the start of the window containing t.
func (g Grid) Floor(t time.Time) time.Time {
	// time.Truncate counts from the zero time, which is a UTC midnight, so
	// for sizes that divide 24h this is the UTC-midnight grid.
	return t.UTC().Truncate(g.Size)
}

// Aligned reports whether t is a window boundary.
func (g Grid) Aligned(t time.Time) bool {
	return g.Floor(t).Equal(t)
}

// Windows returns the windows of account in [from, to), oldest first. from
// and to must be aligned.
func (g Grid) Windows(account string, from, to time.Time) []audit.Window {
	var out []audit.Window
	for s := from; !s.Add(g.Size).After(to); s = s.Add(g.Size) {
		out = append(out, audit.Window{Account: account, Start: s, End: s.Add(g.Size)})
	}
	return out
}

// Due returns the end of the last window that is complete and old enough
// to export at now: the latest boundary at or before now - lag.
func (g Grid) Due(now time.Time, lag time.Duration) time.Time {
	return g.Floor(now.Add(-lag))
}

// CheckWatermark returns an error if the saved watermark does not lie on
// this grid: changing the window size mid-window would make a new window
// overlap an exported one.
func (g Grid) CheckWatermark(watermark time.Time, savedWindow time.Duration) error {
	if g.Aligned(watermark) {
		return nil
	}
	return fmt.Errorf("export.window %s does not line up with the saved watermark %s (saved with window %s): a window of the new grid would overlap an exported one; keep window %s, or move the watermark to a boundary of the new grid with `state set`",
		g.Size, watermark.Format(time.RFC3339), savedWindow, savedWindow)
}

// Windows is a run of windows computed on demand, so that a range of
// decades on a one-minute grid costs no memory up front: n windows of
// length size whose starts are step apart from first (step > size when a
// shard takes every n-th window), or an explicit list.
type Windows struct {
	account    string
	first      time.Time
	size, step time.Duration
	n          int
	list       []audit.Window // explicit windows, when isList
	isList     bool
}

// Len is the number of windows.
func (s Windows) Len() int {
	if s.isList {
		return len(s.list)
	}
	return s.n
}

// At returns window i.
func (s Windows) At(i int) audit.Window {
	if s.isList {
		return s.list[i]
	}
	start := s.first.Add(time.Duration(i) * s.step)
	return audit.Window{Account: s.account, Start: start, End: start.Add(s.size)}
}

// ListOf wraps explicit windows.
func ListOf(ws []audit.Window) Windows { return Windows{list: ws, isList: true} }

// Seq returns the windows of account in [from, to) that belong to shard,
// oldest first, without building them. from and to must be aligned.
func (g Grid) Seq(account string, from, to time.Time, shard Shard) Windows {
	s := Windows{account: account, size: g.Size, step: g.Size}
	if !to.After(from) {
		return s
	}
	total := int64(to.Sub(from) / g.Size)
	first := from
	if shard.Count > 1 {
		// The first window of the shard, then every Count-th one.
		for i := 0; i < shard.Count && !shard.Owns(g, audit.Window{Start: first}); i++ {
			first = first.Add(g.Size)
			total--
		}
		if total <= 0 {
			return s
		}
		s.step = g.Size * time.Duration(shard.Count)
		total = (total + int64(shard.Count) - 1) / int64(shard.Count)
	}
	s.first, s.n = first, int(total)
	return s
}
