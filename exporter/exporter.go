package exporter

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/errclass"
	"github.com/auditlog-exporter/auditlog-exporter/odata"
	"github.com/auditlog-exporter/auditlog-exporter/sinks"
	"github.com/auditlog-exporter/auditlog-exporter/state"
	"github.com/rs/zerolog"
)

// Source streams one window of one account's audit records.
type Source interface {
	Fetch(ctx context.Context, w audit.Window, emit func(*audit.Record) error) (odata.Stats, error)
}

// Store is what the exporter needs from a state store.
type Store interface {
	Load(ctx context.Context, account string) (state.State, error)
	Save(ctx context.Context, st state.State) (string, error)
}

// Account is one subaccount and the source that reads it.
type Account struct {
	Name   string
	Source Source
}

// Hooks are called at the points where a crash matters most; tests use
// them to kill the process there.
type Hooks struct {
	// Committed runs after every sink committed w, before the watermark moves.
	Committed func(w audit.Window)
	// Wrote runs after the n-th record of w went to every sink.
	Wrote func(w audit.Window, n int)
}

// Options builds an Exporter.
type Options struct {
	Accounts []Account
	Sinks    []sinks.Sink
	Store    Store
	Grid     Grid
	Lag      time.Duration
	// Start is export.start: where an account without state begins.
	Start   string
	Version string
	Log     zerolog.Logger
	Now     func() time.Time
	Hooks   Hooks
}

// Exporter moves complete windows from sources to sinks, oldest first, and
// advances each account's watermark after all sinks committed.
type Exporter struct {
	o Options
}

// New returns an Exporter.
func New(o Options) *Exporter {
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Exporter{o: o}
}

// AccountResult summarizes one account's run.
type AccountResult struct {
	Account   string
	Windows   int
	Records   int
	Pages     int
	Watermark time.Time
	Err       error
}

// windowAttempts bounds how often one window is fetched again after the
// server served fewer records than it counted.
const windowAttempts = 3

// Run exports every due window of every account. Accounts are independent:
// one failing does not stop the others. The error joins every account's.
func (e *Exporter) Run(ctx context.Context) ([]AccountResult, error) {
	started := e.o.Now()
	var results []AccountResult
	var errs []error
	for _, a := range e.o.Accounts {
		if ctx.Err() != nil {
			errs = append(errs, fmt.Errorf("account %s: not started: %w", a.Name, ctx.Err()))
			results = append(results, AccountResult{Account: a.Name, Err: ctx.Err()})
			continue
		}
		r := e.runAccount(ctx, a)
		results = append(results, r)
		if r.Err != nil {
			errs = append(errs, r.Err)
		}
	}
	windows, records, failed := 0, 0, []string{}
	for _, r := range results {
		windows += r.Windows
		records += r.Records
		if r.Err != nil {
			failed = append(failed, r.Account)
		}
	}
	ev := e.o.Log.Info()
	if len(failed) > 0 {
		ev = e.o.Log.Error().Strs("failed_accounts", failed)
	}
	ev.Int("accounts", len(results)).Int("windows", windows).Int("records", records).
		Str("duration", since(e.o.Now(), started)).Msg("run finished")
	return results, errors.Join(errs...)
}

// StartOf returns where account's export begins: the saved state, or
// export.start floored to the grid.
func (e *Exporter) startState(ctx context.Context, account string) (state.State, error) {
	st, err := e.o.Store.Load(ctx, account)
	switch {
	case errors.Is(err, state.ErrNotFound):
		start, perr := ParseTimeArg(e.o.Start, e.o.Now())
		if perr != nil {
			return state.State{}, errclass.Mark(errclass.Config, fmt.Errorf("export.start: %w", perr))
		}
		return state.State{Account: account, Watermark: e.o.Grid.Floor(start), Window: e.o.Grid.Size}, nil
	case err != nil:
		return state.State{}, err
	}
	if err := e.o.Grid.CheckWatermark(st.Watermark, st.Window); err != nil {
		return state.State{}, errclass.Mark(errclass.Config, err)
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
	due := e.o.Grid.Due(e.o.Now(), e.o.Lag)
	windows := e.o.Grid.Windows(a.Name, st.Watermark, due)
	if len(windows) == 0 {
		log.Info().Time("watermark", st.Watermark).Msg("no complete window due")
		return res
	}
	log.Info().Time("watermark", st.Watermark).Int("windows_due", len(windows)).Msg("exporting")
	for _, w := range windows {
		n, stats, err := e.exportWindow(ctx, a.Source, w, log)
		if err != nil {
			res.Err = err
			log.Error().Err(err).Str("window", w.Span()).Time("watermark", st.Watermark).Msg("window failed; watermark not moved")
			return res
		}
		st.Watermark, st.Window = w.End, e.o.Grid.Size
		st.UpdatedAt, st.ExporterVersion = e.o.Now().UTC(), e.o.Version
		// The window is committed in every sink: moving the watermark must
		// not be cancelled half-way by a signal that arrives now.
		rev, err := e.o.Store.Save(context.WithoutCancel(ctx), st)
		if err != nil {
			if errors.Is(err, state.ErrConflict) {
				err = fmt.Errorf("another run advanced the watermark of account %s while this run exported %s; this run stops without moving it: %w", a.Name, w.Span(), err)
			}
			res.Err = fmt.Errorf("account %s: save watermark %s: %w", a.Name, w.End.Format(time.RFC3339), err)
			return res
		}
		st.Rev = rev
		res.Windows++
		res.Records += n
		res.Pages += stats.Pages
		res.Watermark = st.Watermark
		if ctx.Err() != nil {
			res.Err = fmt.Errorf("account %s: stopped after window %s: %w", a.Name, w.Span(), ctx.Err())
			return res
		}
	}
	return res
}

// exportWindow writes w to every sink and commits them, retrying the whole
// window when the source reports records skipped while paging.
func (e *Exporter) exportWindow(ctx context.Context, src Source, w audit.Window, log zerolog.Logger) (int, odata.Stats, error) {
	for attempt := 1; ; attempt++ {
		started := e.o.Now()
		n, stats, err := e.exportOnce(ctx, src, w)
		if err == nil {
			log.Info().Str("window", w.Span()).Int("records", n).Int("pages", stats.Pages).
				Int("duplicates", stats.Duplicates).Int("retries", stats.Retries).
				Str("duration", since(e.o.Now(), started)).Msg("window exported")
			return n, stats, nil
		}
		if !errors.Is(err, odata.ErrIncomplete) || attempt == windowAttempts || ctx.Err() != nil {
			return 0, stats, fmt.Errorf("account %s, window %s: %w", w.Account, w.Span(), err)
		}
		log.Warn().Err(err).Str("window", w.Span()).Int("attempt", attempt).Msg("fetching the window again")
	}
}

func (e *Exporter) exportOnce(ctx context.Context, src Source, w audit.Window) (int, odata.Stats, error) {
	writers := make([]sinks.Writer, 0, len(e.o.Sinks))
	abort := func() {
		for _, wr := range writers {
			_ = wr.Abort()
		}
	}
	for _, s := range e.o.Sinks {
		wr, err := s.Open(ctx, w)
		if err != nil {
			abort()
			return 0, odata.Stats{}, fmt.Errorf("open sink %s: %w", s.Name(), err)
		}
		writers = append(writers, wr)
	}
	n := 0
	stats, err := src.Fetch(ctx, w, func(r *audit.Record) error {
		for _, wr := range writers {
			if err := wr.Write(r); err != nil {
				return err
			}
		}
		n++
		if e.o.Hooks.Wrote != nil {
			e.o.Hooks.Wrote(w, n)
		}
		return nil
	})
	if err != nil {
		abort()
		return 0, stats, err
	}
	for i, wr := range writers {
		if err := wr.Commit(ctx); err != nil {
			abort()
			return 0, stats, fmt.Errorf("commit sink %s: %w", e.o.Sinks[i].Name(), err)
		}
	}
	if e.o.Hooks.Committed != nil {
		e.o.Hooks.Committed(w)
	}
	return n, stats, nil
}

// since renders a log duration, rounded for people ("1.234s").
func since(now, start time.Time) string {
	return now.Sub(start).Round(time.Millisecond).String()
}
