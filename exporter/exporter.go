// Package exporter runs the export: the window grid, and the loop that
// moves each window from the source through every sink and then advances
// the watermark (run, schedule, backfill), and verify, which checks what
// was exported against the source.
package exporter

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/errclass"
	"github.com/auditlog-exporter/auditlog-exporter/evidence"
	"github.com/auditlog-exporter/auditlog-exporter/sinks"
	"github.com/auditlog-exporter/auditlog-exporter/source"
	"github.com/auditlog-exporter/auditlog-exporter/state"
	"github.com/rs/zerolog"
)

// Store is what the exporter needs from a state store.
type Store interface {
	Load(ctx context.Context, account string) (state.State, error)
	Save(ctx context.Context, st state.State) (string, error)
}

// Account is one subaccount and the source that reads it.
type Account struct {
	Name   string
	Source source.Source
}

// Hooks are called at the points where a crash matters most; tests use
// them to kill the process there. They may be called from several
// goroutines at once.
type Hooks struct {
	// Committed runs after every sink committed w, before the watermark moves.
	Committed func(w audit.Window)
	// Wrote runs after the n-th record of w went to every sink.
	Wrote func(w audit.Window, n int)
}

// Progress hears about windows as they finish.
type Progress interface {
	// AddTotal announces windows to come.
	AddTotal(windows int)
	// WindowDone reports one finished window, its record count and the
	// API requests it took.
	WindowDone(records, requests int)
	// Finish ends the report.
	Finish()
}

// Observer hears what metrics are made of.
type Observer interface {
	WindowExported(account string, records int, st source.Stats)
	WatermarkMoved(account string, t time.Time)
	AccountFailed(account, class string)
	// LookedBack reports one run's look-back of an account.
	LookedBack(account string, checked, requests, late, deltas int)
	RunFinished(d time.Duration, ok bool)
	// RetentionHeadroom: how far the oldest window to export lies ahead
	// of the retention horizon (negative: records already deleted).
	RetentionHeadroom(account string, d time.Duration)
}

type noObserver struct{}

func (noObserver) WindowExported(string, int, source.Stats) {}
func (noObserver) WatermarkMoved(string, time.Time)         {}
func (noObserver) AccountFailed(string, string)             {}
func (noObserver) LookedBack(string, int, int, int, int)    {}
func (noObserver) RunFinished(time.Duration, bool)          {}
func (noObserver) RetentionHeadroom(string, time.Duration)  {}

// Options builds an Exporter.
type Options struct {
	Accounts []Account
	Sinks    []sinks.Sink
	Store    Store
	Grid     Grid
	Lag      time.Duration
	// Start is export.start: where an account without state begins.
	Start string
	// RetentionMargin: warn when the oldest window to export is closer
	// than this to the API's retention horizon.
	RetentionMargin time.Duration
	// Parallel is how many windows of one account are in flight at once.
	Parallel int
	// LookBack: windows exported within this long before the watermark
	// are re-checked by each run and late records appended (0: off).
	LookBack time.Duration
	// MaxWindowsInFlight bounds the windows in flight across the whole run
	// (every account, every worker): memory then depends on it, not on the
	// number of accounts. Accounts take turns for a slot (waiters are served
	// in order). 0: no bound.
	MaxWindowsInFlight int
	Version            string
	Log                zerolog.Logger
	Now                func() time.Time
	Hooks              Hooks
	Progress           Progress // nil: none
	// QuietWindows logs the per-window line at debug level (a progress bar
	// is showing the same).
	QuietWindows bool
	Observer     Observer // nil: none
}

// Exporter moves complete windows from sources to sinks and advances each
// account's watermark over the windows every sink has committed.
type Exporter struct {
	o     Options
	slots chan struct{} // one per window in flight; nil: no bound
}

// New returns an Exporter.
func New(o Options) *Exporter {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Parallel < 1 {
		o.Parallel = 1
	}
	if o.Progress == nil {
		o.Progress = noProgress{}
	}
	if o.Observer == nil {
		o.Observer = noObserver{}
	}
	e := &Exporter{o: o}
	if o.MaxWindowsInFlight > 0 {
		e.slots = make(chan struct{}, o.MaxWindowsInFlight)
	}
	return e
}

// acquire waits for a slot for one window in flight; release gives it back.
func (e *Exporter) acquire(ctx context.Context) (release func(), err error) {
	if e.slots == nil {
		return func() {}, nil
	}
	select {
	case e.slots <- struct{}{}:
		return func() { <-e.slots }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

type noProgress struct{}

func (noProgress) AddTotal(int)        {}
func (noProgress) WindowDone(int, int) {}
func (noProgress) Finish()             {}

// AccountResult summarizes one account's run.
type AccountResult struct {
	Account   string
	Windows   int
	Records   int
	Pages     int
	Watermark time.Time // run only
	Err       error
}

// keeps reports whether some sink keeps what it wrote (its
// stored windows can be listed).
func (e *Exporter) keeps() bool {
	for _, s := range e.o.Sinks {
		if s.Archive() != nil {
			return true
		}
	}
	return false
}

// conflictHint explains a state saved by another run meanwhile.
func conflictHint(account string, err error) error {
	if errors.Is(err, state.ErrConflict) {
		return fmt.Errorf("another run advanced the watermark of account %s while this run exported; this run stops without moving it: %w", account, err)
	}
	return err
}

// cloneLookBack copies a ledger, to tell whether a look-back changed it.
func cloneLookBack(lb *state.LookBack) *state.LookBack {
	if lb == nil {
		return nil
	}
	c := *lb
	c.Windows = slices.Clone(lb.Windows)
	return &c
}

// lookBackOn reports whether runs look back: it is configured, and some
// sink keeps what it wrote (a stream alone cannot tell a late record from
// one it was already given).
func (e *Exporter) lookBackOn() bool {
	return e.o.LookBack > 0 && e.keeps()
}

// windowAttempts bounds how often one window is fetched again after the
// server served fewer records than it counted.
const windowAttempts = 3

// Run exports every due window of every account, the accounts
// concurrently. One failing account does not stop the others; the error
// joins every account's.
func (e *Exporter) Run(ctx context.Context) ([]AccountResult, error) {
	return e.each(ctx, "run", e.runAccount)
}

// Shard selects a share of the windows: window number k (counted from the
// Unix epoch on the grid) belongs to shard k mod Count. Count 0 or 1 is
// everything. The assignment depends only on the window, so shards of one
// backfill never overlap, whatever their --from.
type Shard struct {
	Index, Count int
}

// Owns reports whether w belongs to the shard.
func (s Shard) Owns(g Grid, w audit.Window) bool {
	if s.Count <= 1 {
		return true
	}
	k := w.Start.Unix() / int64(g.Size/time.Second)
	return int(((k%int64(s.Count))+int64(s.Count))%int64(s.Count)) == s.Index
}

// Backfill exports every complete window inside [from, to) that belongs to
// shard, for every account, without reading or moving any watermark. It
// writes the same deterministic names as Run, so it may overlap the
// schedule without duplicating anything.
func (e *Exporter) Backfill(ctx context.Context, from, to time.Time, shard Shard) ([]AccountResult, error) {
	g := e.o.Grid
	first, last := e.completeRange(from, to)
	return e.each(ctx, "backfill", func(ctx context.Context, a Account) AccountResult {
		res := AccountResult{Account: a.Name}
		log := e.o.Log.With().Str("account", a.Name).Logger()
		tiles, err := e.tiles(ctx, a.Name, first, last)
		if err != nil {
			res.Err = fmt.Errorf("account %s: %w", a.Name, err)
			return res
		}
		var mine []audit.Window
		for _, w := range tiles {
			if shard.Owns(g, w) {
				mine = append(mine, w)
			}
		}
		windows := ListOf(mine)
		if windows.Len() > 0 {
			e.checkRetention(ctx, a, windows.At(0).Start, log)
		}
		log.Info().Int("windows", windows.Len()).Time("from", first).Time("to", last).Msg("backfilling")
		res.Err = e.exportWindows(ctx, a, windows, log, func(_ int, n int, st source.Stats) error {
			res.Windows++
			res.Records += n
			res.Pages += st.Pages
			return nil
		})
		if res.Err == nil && windows.Len() > 0 {
			res.Err = e.sealDays(ctx, a.Name, first, last, "backfill", log)
		}
		return res
	})
}

// completeRange returns the boundaries of the complete windows inside
// [from, to) that are as old as the lag asks: first and last are aligned.
func (e *Exporter) completeRange(from, to time.Time) (first, last time.Time) {
	g := e.o.Grid
	first = g.Floor(from)
	if first.Before(from) {
		first = first.Add(g.Size)
	}
	last = g.Floor(to)
	if due := g.Due(e.o.Now(), e.o.Lag); due.Before(last) {
		last = due
	}
	return first, last
}

// each runs fn for every account concurrently and logs a summary.
func (e *Exporter) each(ctx context.Context, what string, fn func(context.Context, Account) AccountResult) ([]AccountResult, error) {
	started := e.o.Now()
	results := make([]AccountResult, len(e.o.Accounts))
	var wg sync.WaitGroup
	for i, a := range e.o.Accounts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Every run proves its credentials first, even when no window
			// is due: a rejected client fails this run, not a later one.
			if err := a.Source.Token(ctx); err != nil {
				results[i] = AccountResult{Account: a.Name, Err: fmt.Errorf("account %s: %w", a.Name, err)}
				e.o.Log.Error().Str("account", a.Name).Err(err).Msg("account failed: no access token")
				return
			}
			results[i] = fn(ctx, a)
		}()
	}
	wg.Wait()
	e.o.Progress.Finish()
	var errs []error
	windows, records, failed := 0, 0, []string{}
	for _, r := range results {
		windows += r.Windows
		records += r.Records
		if r.Err != nil {
			failed = append(failed, r.Account)
			errs = append(errs, r.Err)
			e.o.Observer.AccountFailed(r.Account, errclass.Classify(r.Err).String())
		}
	}
	e.o.Observer.RunFinished(e.o.Now().Sub(started), len(failed) == 0)
	ev := e.o.Log.Info()
	if len(failed) > 0 {
		ev = e.o.Log.Error().Strs("failed_accounts", failed)
	}
	ev.Int("accounts", len(results)).Int("windows", windows).Int("records", records).
		Str("duration", since(e.o.Now(), started)).Msg(what + " finished")
	return results, errors.Join(errs...)
}

// checkRetention compares the oldest window still to export with the
// API's retention horizon: records older than the horizon are deleted for
// good, so windows before it can no longer be complete. It says so loudly
// and reports the headroom; the export goes on with what is left.
func (e *Exporter) checkRetention(ctx context.Context, a Account, oldest time.Time, log zerolog.Logger) {
	keep, how := a.Source.Retention(ctx)
	horizon := e.o.Now().Add(-keep).UTC()
	headroom := oldest.Sub(horizon)
	e.o.Observer.RetentionHeadroom(a.Name, headroom)
	days := int(keep / (24 * time.Hour))
	switch {
	case headroom < 0:
		lostTo := e.o.Grid.Floor(horizon).Add(e.o.Grid.Size)
		log.Error().Time("oldest_window", oldest).Time("retention_horizon", horizon).Int("retention_days", days).Str("retention_from", how).
			Msg(fmt.Sprintf("the windows from %s to %s can no longer be complete: the API deletes records after %d days, and those windows start before %s; they are exported with what is left, and verify will not find the deleted records",
				oldest.Format(time.RFC3339), lostTo.Format(time.RFC3339), days, horizon.Format(time.RFC3339)))
	case headroom < e.o.RetentionMargin:
		log.Warn().Time("oldest_window", oldest).Time("retention_horizon", horizon).Int("retention_days", days).Str("retention_from", how).
			Str("headroom", headroom.Round(time.Minute).String()).
			Msg("the oldest window to export is close to the retention horizon: unless the export catches up, the API deletes its records before they are exported")
	}
}

// startState returns where account's export begins: the saved state, or
// export.start floored to the grid.
func (e *Exporter) startState(ctx context.Context, account string) (state.State, error) {
	st, err := e.o.Store.Load(ctx, account)
	switch {
	case errors.Is(err, state.ErrNotFound):
		start, perr := ParseTimeArg(e.o.Start, e.o.Now())
		if perr != nil {
			return state.State{}, errclass.Mark(errclass.Config, fmt.Errorf("export.start: %w", perr))
		}
		// Nothing before export.start was exported: no day before its
		// own is sealed.
		wm := e.o.Grid.Floor(start)
		return state.State{Account: account, Watermark: wm, Window: e.o.Grid.Size, SealedThrough: evidence.DayOf(wm)}, nil
	case err != nil:
		return state.State{}, err
	}
	if err := e.o.Grid.CheckWatermark(st.Watermark, st.Window); err != nil {
		// Off the grid is fine where the watermark is the end of a window
		// stored on an older grid: the windows from it are the stored ones.
		ws, terr := e.tiles(ctx, account, st.Watermark, evidence.DayOf(st.Watermark).Add(day))
		if terr != nil || len(ws) == 0 || !ws[0].Start.Equal(st.Watermark) || !e.keeps() {
			return state.State{}, errclass.Mark(errclass.Config, err)
		}
	}
	if now := e.o.Now(); st.Watermark.After(now) {
		// Exporting nothing until the clock catches up would be a silent gap.
		return state.State{}, errclass.Mark(errclass.Config, fmt.Errorf("the saved watermark %s is in the future (now %s): the state or the clock is wrong; check the clock, then set the watermark with `state set`",
			st.Watermark.Format(time.RFC3339), now.UTC().Format(time.RFC3339)))
	}
	return st, nil
}

func (e *Exporter) runAccount(ctx context.Context, a Account) AccountResult {
	res := AccountResult{Account: a.Name}
	log := e.o.Log.With().Str("account", a.Name).Logger()
	st, err := e.startState(ctx, a.Name)
	if err != nil {
		res.Err = fmt.Errorf("account %s: %w", a.Name, err)
		return res
	}
	res.Watermark = st.Watermark
	e.o.Observer.WatermarkMoved(a.Name, st.Watermark)
	// Days a run left unsealed (it was killed between moving the watermark
	// over a day's last window and sealing the day, or a seal failed) are
	// sealed first.
	if today := evidence.DayOf(st.Watermark); st.SealedThrough.Before(today) {
		from := st.SealedThrough
		if from.Before(today.Add(-maxSealCatchUp)) {
			from = today.Add(-maxSealCatchUp)
		}
		if st.SealedThrough.IsZero() {
			from = today.Add(-day) // not recorded (an older state): the day before
		}
		if err := e.sealDays(ctx, a.Name, from, today, "run", log); err != nil {
			res.Err = err
			return res
		}
		st.SealedThrough = today
	}
	// The windows due: those stored on an older grid where a sink holds
	// them (a watermark set back over them after export.window changed),
	// the grid's elsewhere.
	tiles, err := e.tiles(ctx, a.Name, st.Watermark, e.o.Grid.Due(e.o.Now(), e.o.Lag))
	if err != nil {
		res.Err = fmt.Errorf("account %s: %w", a.Name, err)
		return res
	}
	windows := ListOf(tiles)
	if e.lookBackOn() {
		before := cloneLookBack(st.LookBack)
		ls, err := e.lookBack(ctx, a, &st, windows, log)
		e.o.Observer.LookedBack(a.Name, ls.Checked, ls.Requests, ls.Late, ls.Deltas)
		if ls.Checked > 0 || err != nil {
			ev := log.Info()
			if ls.Late > 0 {
				ev = log.Warn()
			}
			ev.Int("windows_checked", ls.Checked).Int("late_records", ls.Late).Int("deltas", ls.Deltas).Int("requests", ls.Requests).Msg("look-back")
		}
		if err != nil {
			res.Err = fmt.Errorf("account %s: %w", a.Name, err)
			return res
		}
		// Saved at once when it changed: the reference must not be lost if
		// no window follows.
		if !reflect.DeepEqual(before, st.LookBack) {
			st.UpdatedAt, st.ExporterVersion = e.o.Now().UTC(), e.o.Version
			rev, err := e.o.Store.Save(context.WithoutCancel(ctx), st)
			if err != nil {
				res.Err = fmt.Errorf("account %s: save the look-back: %w", a.Name, conflictHint(a.Name, err))
				return res
			}
			st.Rev = rev
		}
	}
	if windows.Len() == 0 {
		log.Info().Time("watermark", st.Watermark).Msg("no complete window due")
		return res
	}
	e.checkRetention(ctx, a, st.Watermark, log)
	log.Info().Time("watermark", st.Watermark).Int("windows_due", windows.Len()).Msg("exporting")
	// Windows may commit out of order; the watermark moves only over the
	// contiguous prefix of committed windows, so it never skips a hole.
	// Windows committed ahead of the contiguous prefix (at most Parallel).
	committed := map[int]bool{}
	next := 0
	res.Err = e.exportWindows(ctx, a, windows, log, func(i int, n int, stats source.Stats) error {
		committed[i] = true
		e.ledgerAdd(&st, windows.At(i), stats.ServerCount)
		res.Windows++
		res.Records += n
		res.Pages += stats.Pages
		advanced, before := false, st.Watermark
		for committed[next] {
			delete(committed, next)
			st.Watermark = windows.At(next).End
			next++
			advanced = true
		}
		if !advanced {
			return nil
		}
		st.Window, st.UpdatedAt, st.ExporterVersion = e.o.Grid.Size, e.o.Now().UTC(), e.o.Version
		// The windows are committed in every sink: moving the watermark
		// must not be cancelled half-way by a signal that arrives now.
		rev, err := e.o.Store.Save(context.WithoutCancel(ctx), st)
		if err != nil {
			err = conflictHint(a.Name, err)
			return fmt.Errorf("account %s: save watermark %s: %w", a.Name, st.Watermark.Format(time.RFC3339), err)
		}
		st.Rev = rev
		res.Watermark = st.Watermark
		e.o.Observer.WatermarkMoved(a.Name, st.Watermark)
		if from, to := evidence.DayOf(before), evidence.DayOf(st.Watermark); to.After(from) {
			if err := e.sealDays(ctx, a.Name, from, to, "run", log); err != nil {
				return err
			}
			// Saved with the next watermark; until then a new run seals
			// these days again, which writes nothing.
			if to.After(st.SealedThrough) {
				st.SealedThrough = to
			}
		}
		return nil
	})
	if res.Err != nil {
		log.Error().Err(res.Err).Time("watermark", res.Watermark).Msg("account failed; watermark left at the last contiguous committed window")
	}
	return res
}

type windowResult struct {
	i     int
	n     int
	stats source.Stats
	err   error
}

// exportWindows exports windows with up to Parallel in flight. done runs
// in this goroutine, in completion order, after each window committed; an
// error from it counts as a failure. After the first failure no window is
// started; the ones in flight finish (their output is complete and named
// deterministically) and the first error is returned.
func (e *Exporter) exportWindows(ctx context.Context, a Account, windows Windows, log zerolog.Logger, done func(i, n int, stats source.Stats) error) error {
	total := windows.Len()
	e.o.Progress.AddTotal(total)
	workers := min(e.o.Parallel, total)
	jobs := make(chan int)
	results := make(chan windowResult)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				release, err := e.acquire(ctx)
				if err != nil {
					results <- windowResult{i: i, err: fmt.Errorf("account %s, window %s: %w", a.Name, windows.At(i).Span(), err)}
					continue
				}
				did, stats, err := e.exportWindow(ctx, a.Source, windows.At(i), log)
				release()
				results <- windowResult{i, did.records, stats, err}
			}
		}()
	}
	go func() { wg.Wait(); close(results) }()

	var firstErr error
	dispatched, inFlight := 0, 0
	for dispatched < total || inFlight > 0 {
		var send chan int
		if firstErr == nil && ctx.Err() == nil && dispatched < total {
			send = jobs
		}
		if send == nil && inFlight == 0 {
			break
		}
		select {
		case send <- dispatched:
			dispatched++
			inFlight++
		case r := <-results:
			inFlight--
			err := r.err
			if err == nil {
				e.o.Progress.WindowDone(r.n, r.stats.Pages+r.stats.Retries)
				err = done(r.i, r.n, r.stats)
			}
			if err != nil && firstErr == nil {
				firstErr = err
			}
		}
	}
	close(jobs)
	for range results {
		// drain: workers exit once jobs is closed
	}
	if firstErr == nil && ctx.Err() != nil && dispatched < total {
		firstErr = fmt.Errorf("account %s: stopped after starting %d of %d windows: %w", a.Name, dispatched, total, ctx.Err())
	}
	return firstErr
}

// exportWindow writes w to every sink and commits them, retrying the whole
// window when the source reports records skipped while paging, or another
// process committed the same object meanwhile.
func (e *Exporter) exportWindow(ctx context.Context, src source.Source, w audit.Window, log zerolog.Logger) (written, source.Stats, error) {
	for attempt := 1; ; attempt++ {
		started := e.o.Now()
		did, stats, err := e.exportOnce(ctx, src, w)
		if err == nil {
			lvl := zerolog.InfoLevel
			if e.o.QuietWindows {
				lvl = zerolog.DebugLevel
			}
			ev := log.WithLevel(lvl).Str("window", w.Span()).Int("records", did.records).Int("pages", stats.Pages).
				Int("duplicates", stats.Duplicates).Int("outside", stats.Outside).Int("conflicts", stats.Conflicts).
				Str("completeness", stats.Completeness).Int("retries", stats.Retries)
			msg := "window exported"
			if did.fresh < did.records {
				// Some sink held the window already (a run stopped after
				// committing it, a re-export): only what it lacked was added.
				ev, msg = ev.Int("new", did.fresh).Int("deltas", did.deltas), "window exported again: only records not yet delivered were added"
			}
			ev.Str("duration", since(e.o.Now(), started)).Msg(msg)
			e.o.Observer.WindowExported(w.Account, did.fresh, stats)
			return did, stats, nil
		}
		retry := errors.Is(err, source.ErrIncomplete) || errors.Is(err, sinks.ErrExists)
		if !retry || attempt == windowAttempts || ctx.Err() != nil {
			err = fmt.Errorf("account %s, window %s: %w", w.Account, w.Span(), err)
			log.Error().Err(err).Str("window", w.Span()).Msg("window failed")
			return written{}, stats, err
		}
		log.Warn().Err(err).Str("window", w.Span()).Int("attempt", attempt).Msg("fetching the window again")
	}
}

// target is one sink's share of a window being written: the part it
// writes next and the records its earlier parts hold.
type target struct {
	sink sinks.Sink
	keep bool // the sink keeps what it wrote (not a stream)
	part int
	// held: the Uuids of the sink's earlier parts; nil when it has none
	// (a stream: nil; see keeperOf).
	held *sinks.Held
	// only, when set, is the one kind of record the sink writes (one OCSF
	// class for Security Lake).
	only selective
	wr   sinks.Writer
}

// selective is a sink that writes only some records.
type selective interface {
	Accepts(r *audit.Record) bool
	Selective() bool
}

// accepts reports whether t's sink writes r.
func (t *target) accepts(r *audit.Record) bool { return t.only == nil || t.only.Accepts(r) }

// written tells what one export of a window did.
type written struct {
	records int // the window's records at the source
	// fresh is how many of them some sink did not hold yet (all of them
	// for a window exported the first time); deltas counts the delta
	// objects committed.
	fresh, deltas int
}

// plan reads what each sink holds of w already: its committed parts (an
// object published without its manifest is adopted) and their records.
// A sink that holds none gets the window's first object; one that does
// gets a delta with only the records it lacks. A stream gets what the
// first keeping sink that writes the record lacks (everything without
// one).
func (e *Exporter) plan(ctx context.Context, w audit.Window) ([]*target, error) {
	ts := make([]*target, len(e.o.Sinks))
	for i, s := range e.o.Sinks {
		t := &target{sink: s}
		if o, ok := s.(selective); ok && o.Selective() {
			t.only = o
		}
		ts[i] = t
		a := s.Archive()
		if a == nil {
			continue
		}
		t.keep = true
		parts, orphan, err := a.ReadParts(ctx, w)
		if err != nil {
			return nil, fmt.Errorf("sink %s: %w", s.Name(), err)
		}
		if len(parts) > 0 || orphan != "" {
			t.held = sinks.NewHeld()
			if err := a.Hold(ctx, parts, t.held); err != nil {
				return nil, fmt.Errorf("sink %s: %w", s.Name(), err)
			}
			if orphan != "" {
				m, err := a.Adopt(ctx, w, len(parts), t.held)
				if err != nil {
					return nil, fmt.Errorf("sink %s: %w", s.Name(), err)
				}
				parts = append(parts, m)
				e.o.Log.Warn().Str("account", w.Account).Str("window", w.Span()).Str("sink", s.Name()).Str("object", m.Object).Int64("records", m.Records).
					Msg("adopted an object published without its manifest (a run stopped between the two); it is not written again")
			}
		}
		t.part = len(parts)
	}
	return ts, nil
}

// keeperOf is the first keeping sink that writes r (nil: none), whose
// holdings tell a stream what was delivered already.
func keeperOf(ts []*target, r *audit.Record) *target {
	for _, t := range ts {
		if t.keep && t.accepts(r) {
			return t
		}
	}
	return nil
}

func (e *Exporter) exportOnce(ctx context.Context, src source.Source, w audit.Window) (written, source.Stats, error) {
	var did written
	ts, err := e.plan(ctx, w)
	if err != nil {
		return did, source.Stats{}, err
	}
	abort := func() {
		for _, t := range ts {
			if t.wr != nil {
				_ = t.wr.Abort()
			}
		}
	}
	for _, t := range ts {
		if t.wr, err = t.sink.OpenPart(ctx, w, t.part); err != nil {
			abort()
			return did, source.Stats{}, err // it names the sink
		}
	}
	stats, err := src.Fetch(ctx, w, func(r *audit.Record) error {
		if err := ctx.Err(); err != nil {
			return err // a shutdown abandons the window at once
		}
		fresh := false
		for _, t := range ts {
			if !t.accepts(r) {
				continue
			}
			held := t.held
			if !t.keep {
				if k := keeperOf(ts, r); k != nil {
					held = k.held
				}
			}
			if held.Has(r.UUID) {
				continue
			}
			fresh = true
			if err := t.wr.Write(r); err != nil {
				return err
			}
		}
		if fresh {
			did.fresh++
		}
		did.records++
		if e.o.Hooks.Wrote != nil {
			e.o.Hooks.Wrote(w, did.records)
		}
		return nil
	})
	if err != nil {
		abort()
		return did, stats, err
	}
	said := sinks.Source{Count: stats.ServerCount, Completeness: stats.Completeness}
	// Everything was fetched: commit every sink, even if a shutdown signal
	// arrives now, so that the sinks agree and the window is either
	// committed everywhere or abandoned. Streams first: a stream cannot
	// tell later what it was given, so a crash between a stream and a
	// keeping sink sends the window to the stream again (at least once)
	// rather than never.
	commitCtx := context.WithoutCancel(ctx)
	for _, streams := range []bool{true, false} {
		for _, t := range ts {
			if t.keep == streams {
				continue
			}
			if t.wr.Records() == 0 && (t.part > 0 || !t.keep) {
				_ = t.wr.Abort() // nothing new: no object
				continue
			}
			if err := t.wr.Commit(commitCtx, said); err != nil {
				abort()
				return did, stats, fmt.Errorf("commit sink %s: %w", t.sink.Name(), err)
			}
			if t.part > 0 {
				did.deltas++
			}
		}
	}
	if e.o.Hooks.Committed != nil {
		e.o.Hooks.Committed(w)
	}
	return did, stats, nil
}

// since renders a log duration, rounded for people ("1.234s").
func since(now, start time.Time) string {
	return now.Sub(start).Round(time.Millisecond).String()
}
