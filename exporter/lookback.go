package exporter

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/state"
	"github.com/rs/zerolog"
)

// The look-back finds records that became visible after their window was
// exported (late arrivals) and appends them as deltas, within minutes
// rather than at the next verify. It keeps a ledger in the state: each
// window exported within export.lookback, with the source's count of its
// query when it was last listed, and one reference count over all of
// them.
//
// Where the source counts (Neo), a run compares one count of the whole
// range the reference covers with the reference. Equal: nothing became
// visible there since the reference was taken, and the count of the new
// range (taken first, before the windows due now are listed) becomes the
// reference. Different: the windows are looked at closer, newest first
// (late records are mostly recent), each counted and, where its count
// changed, listed again and its new records appended, until the records
// found account for the difference. Counts of overlapping padded queries
// do not add up, so only the same query is ever compared over time.
// About two counts a run with windows due, one an hour otherwise, and the
// listings the late records themselves need.
//
// Where the source counts nothing (Cloud Foundry), each window is listed
// again at growing intervals after it was exported (relistAfter), and what
// is new is appended.

// lookBackInterval is how often the reference is checked when no window
// is due (windows due check it every run).
const lookBackInterval = time.Hour

// relistAfter are the waits, after a window's export and then after each
// re-listing, before its next re-listing where the source counts nothing. Late records come mostly
// within 10-30 minutes of their time, so with a lag of 15 minutes most are
// visible 15 minutes after the export: the first re-listing, 45 minutes
// after it, finds them within the hour (and those up to an hour late);
// the second finds a tail. Each re-listing costs as much as the export, so
// there are two.
var relistAfter = []time.Duration{45 * time.Minute, 12 * time.Hour}

// countAgain is how long a source that answered a count with nothing is
// taken to count nothing: then it is asked again.
const countAgain = 6 * time.Hour

// LookBackStats says what one look-back did.
type LookBackStats struct {
	Checked  int // windows counted or listed again
	Requests int // API requests it made
	Late     int // records appended
	Deltas   int // delta objects written
}

// lookBack re-checks the windows of st's ledger (see above); due are the
// windows this run exports next, which the new reference covers. It
// updates st.LookBack; the caller saves it.
func (e *Exporter) lookBack(ctx context.Context, a Account, st *state.State, due Windows, log zerolog.Logger) (LookBackStats, error) {
	var ls LookBackStats
	lb := st.LookBack
	if lb == nil {
		lb = &state.LookBack{RefCount: -1}
		st.LookBack = lb
	}
	now := e.o.Now()
	// Windows that left the look-back are forgotten.
	horizon := st.Watermark.Add(-e.o.LookBack)
	keep := lb.Windows[:0]
	for _, w := range lb.Windows {
		if w.End.After(horizon) {
			keep = append(keep, w)
		}
	}
	lb.Windows = keep
	if len(lb.Windows) == 0 && due.Len() == 0 {
		lb.RefTo = time.Time{}
		return ls, nil
	}
	from, to := e.lookBackRange(lb, due)
	refValid := !lb.RefTo.IsZero() && lb.RefCount >= 0
	if due.Len() == 0 && refValid && now.Sub(lb.RefAt) < lookBackInterval && !from.Before(lb.RefFrom) && !to.After(lb.RefTo) {
		return ls, nil // checked recently, and the range only lost old windows
	}
	if lb.RefCount < 0 && !lb.RefAt.IsZero() && now.Sub(lb.RefAt) < countAgain {
		// The source counted nothing lately: re-list on a schedule.
		return ls, e.relistDue(ctx, a, lb, now, log, &ls)
	}
	window := func(s, e time.Time) audit.Window { return audit.Window{Account: a.Name, Start: s, End: e} }
	// The new reference first: records visible now in windows still to be
	// listed are in their listing; the ones in listed windows are covered
	// by the comparison that follows.
	newCount, err := a.Source.Count(ctx, window(from, to))
	ls.Requests++ // where the source counts nothing it may have made none
	if err != nil {
		return ls, fmt.Errorf("look-back: %w", err)
	}
	newAt := now
	if newCount < 0 {
		// The source counts nothing: re-list on a schedule.
		err := e.relistDue(ctx, a, lb, now, log, &ls)
		lb.RefFrom, lb.RefTo, lb.RefCount, lb.RefAt = time.Time{}, time.Time{}, -1, now
		return ls, err
	}
	oldCount := newCount
	if refValid && (!lb.RefFrom.Equal(from) || !lb.RefTo.Equal(to)) {
		oldCount, err = a.Source.Count(ctx, window(lb.RefFrom, lb.RefTo))
		ls.Requests++
		if err != nil {
			return ls, fmt.Errorf("look-back: %w", err)
		}
	}
	switch {
	case !refValid:
		// No reference yet (the first run with the look-back, or after a
		// source that counted nothing): every window of the ledger is
		// checked once.
		err = e.lookCloser(ctx, a, lb, lb.Windows, -1, log, &ls)
	case oldCount != lb.RefCount:
		var in []state.LookBackWindow
		for _, w := range lb.Windows {
			if !w.Start.Before(lb.RefFrom) && !w.End.After(lb.RefTo) {
				in = append(in, w)
			}
		}
		err = e.lookCloser(ctx, a, lb, in, oldCount-lb.RefCount, log, &ls)
	}
	if err != nil {
		return ls, err
	}
	lb.RefFrom, lb.RefTo, lb.RefCount, lb.RefAt = from, to, newCount, newAt
	return ls, nil
}

// lookBackRange is the range the reference covers: the ledger's windows
// and the windows due.
func (e *Exporter) lookBackRange(lb *state.LookBack, due Windows) (from, to time.Time) {
	if n := len(lb.Windows); n > 0 {
		from, to = lb.Windows[0].Start, lb.Windows[n-1].End
	}
	if n := due.Len(); n > 0 {
		if from.IsZero() || due.At(0).Start.Before(from) {
			from = due.At(0).Start
		}
		if end := due.At(n - 1).End; end.After(to) {
			to = end
		}
	}
	return from, to
}

// lookCloser checks ws newest first: each is counted, and listed again
// where its count changed; records it lacked are appended. It stops once
// the records found account for diff (diff <= 0: checks them all).
func (e *Exporter) lookCloser(ctx context.Context, a Account, lb *state.LookBack, ws []state.LookBackWindow, diff int64, log zerolog.Logger, ls *LookBackStats) error {
	found := 0
	for i := len(ws) - 1; i >= 0; i-- {
		if diff > 0 && int64(found) >= diff {
			break
		}
		w := audit.Window{Account: a.Name, Start: ws[i].Start, End: ws[i].End}
		n, err := a.Source.Count(ctx, w)
		ls.Requests++
		ls.Checked++
		if err != nil {
			return fmt.Errorf("look-back: %w", err)
		}
		if n == ws[i].Count {
			e.ledgerUpdate(lb, w, n, 0)
			continue
		}
		late, err := e.relist(ctx, a, lb, w, log, ls)
		if err != nil {
			return err
		}
		found += late
	}
	return nil
}

// relistDue lists again the windows whose next re-listing is due, where
// the source counts nothing.
func (e *Exporter) relistDue(ctx context.Context, a Account, lb *state.LookBack, now time.Time, log zerolog.Logger, ls *LookBackStats) error {
	for _, lw := range append([]state.LookBackWindow(nil), lb.Windows...) {
		if lw.Relisted >= len(relistAfter) || now.Before(lw.Listed.Add(relistAfter[lw.Relisted])) {
			continue
		}
		if _, err := e.relist(ctx, a, lb, audit.Window{Account: a.Name, Start: lw.Start, End: lw.End}, log, ls); err != nil {
			return err
		}
	}
	return nil
}

// relist exports w again: only what a sink lacks is appended.
func (e *Exporter) relist(ctx context.Context, a Account, lb *state.LookBack, w audit.Window, log zerolog.Logger, ls *LookBackStats) (int, error) {
	release, err := e.acquire(ctx)
	if err != nil {
		return 0, err
	}
	did, stats, err := e.exportWindow(ctx, a.Source, w, log)
	release()
	ls.Checked++
	ls.Requests += stats.Pages + stats.Retries
	if err != nil {
		return 0, fmt.Errorf("look-back: %w", err)
	}
	ls.Late += did.fresh
	ls.Deltas += did.deltas
	e.ledgerUpdate(lb, w, stats.ServerCount, 1)
	return did.fresh, nil
}

// ledgerUpdate records that w was checked or listed now, the source
// counting n; relisted is added to its re-listings.
func (e *Exporter) ledgerUpdate(lb *state.LookBack, w audit.Window, n int64, relisted int) {
	for i := range lb.Windows {
		if lb.Windows[i].Start.Equal(w.Start) && lb.Windows[i].End.Equal(w.End) {
			lb.Windows[i].Count, lb.Windows[i].Listed = n, e.o.Now().UTC()
			lb.Windows[i].Relisted += relisted
			return
		}
	}
}

// ledgerAdd records a window just exported, keeping the ledger in order
// and bounded.
func (e *Exporter) ledgerAdd(st *state.State, w audit.Window, n int64) {
	if !e.lookBackOn() {
		return
	}
	if st.LookBack == nil {
		st.LookBack = &state.LookBack{RefCount: -1}
	}
	lb := st.LookBack
	lw := state.LookBackWindow{Start: w.Start.UTC(), End: w.End.UTC(), Count: n, Listed: e.o.Now().UTC()}
	i := sort.Search(len(lb.Windows), func(k int) bool { return !lb.Windows[k].Start.Before(lw.Start) })
	if i < len(lb.Windows) && lb.Windows[i].Start.Equal(lw.Start) {
		lb.Windows[i] = lw
	} else {
		lb.Windows = append(lb.Windows[:i], append([]state.LookBackWindow{lw}, lb.Windows[i:]...)...)
	}
	if n := len(lb.Windows); n > state.MaxLookBackWindows {
		lb.Windows = lb.Windows[n-state.MaxLookBackWindows:]
	}
}
