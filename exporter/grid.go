package exporter

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/evidence"
	"github.com/auditlog-exporter/auditlog-exporter/sinks"
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

// tiles returns the windows of account covering [from, to) (grid
// boundaries): in each UTC day, the windows the keeping sinks hold (any of
// them: a sink added later holds none yet), of whatever grid they were
// exported on, and the current grid's windows where they hold none (cut
// short where a stored window begins). verify, repair, backfill and
// sealing thus find a window's records in the objects that hold them
// after export.window changed, and never write them again under the new
// grid.
func (e *Exporter) tiles(ctx context.Context, account string, from, to time.Time) ([]audit.Window, error) {
	type keeper struct {
		name string
		arch sinks.Archive
	}
	var keepers []keeper
	for _, s := range e.o.Sinks {
		if arch := s.Archive(); arch != nil {
			keepers = append(keepers, keeper{s.Name(), arch})
		}
	}
	if len(keepers) == 0 {
		return e.o.Grid.Windows(account, from, to), nil
	}
	var out []audit.Window
	for d := evidence.DayOf(from); d.Before(to); d = d.Add(day) {
		var stored []audit.Window
		for _, k := range keepers {
			ws, err := k.arch.Windows(ctx, account, d)
			if err != nil {
				return nil, fmt.Errorf("sink %s: list the windows of %s %s: %w", k.name, account, d.Format(time.DateOnly), err)
			}
			stored = append(stored, ws...)
		}
		if len(keepers) > 1 {
			stored = sortedWindows(stored)
		}
		for _, w := range tileDay(e.o.Grid, account, d, stored) {
			if !w.Start.Before(from) && !w.End.After(to) {
				out = append(out, w)
			}
		}
	}
	return out, nil
}

// sortedWindows orders windows by start, then end, once each.
func sortedWindows(ws []audit.Window) []audit.Window {
	slices.SortFunc(ws, func(a, b audit.Window) int {
		if c := a.Start.Compare(b.Start); c != 0 {
			return c
		}
		return a.End.Compare(b.End)
	})
	return slices.CompactFunc(ws, func(a, b audit.Window) bool { return a.Start.Equal(b.Start) && a.End.Equal(b.End) })
}

// tileDay covers the UTC day d with the stored windows (in order; one
// overlapping a window already taken is passed over) and grid windows
// between them, cut short where a stored window begins.
func tileDay(g Grid, account string, d time.Time, stored []audit.Window) []audit.Window {
	var out []audit.Window
	k := 0
	for t := d; t.Before(d.Add(day)); {
		for k < len(stored) && stored[k].Start.Before(t) {
			k++
		}
		if k < len(stored) && stored[k].Start.Equal(t) {
			out = append(out, stored[k])
			t = stored[k].End
			continue
		}
		end := g.Floor(t).Add(g.Size)
		if k < len(stored) && stored[k].Start.Before(end) {
			end = stored[k].Start
		}
		out = append(out, audit.Window{Account: account, Start: t, End: end})
		t = end
	}
	return out
}
