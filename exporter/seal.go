package exporter

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/evidence"
	"github.com/rs/zerolog"
)

// day is 24 hours: the grid divides it, and seals are per UTC day.
const day = 24 * time.Hour

// maxSealCatchUp bounds how far back a run looks for days left unsealed
// (verify --repair seals older ones).
const maxSealCatchUp = 31 * day

// sealDays seals, in every sink that keeps evidence, each UTC day
// overlapping [from, to) whose windows are all due and committed (see
// sinks.Archive.Seal). A day with a window not committed is left for
// later; sealing a day sealed as it is writes nothing.
func (e *Exporter) sealDays(ctx context.Context, account string, from, to time.Time, reason string, log zerolog.Logger) error {
	due := e.o.Grid.Due(e.o.Now(), e.o.Lag)
	var errs []error
	for d := evidence.DayOf(from); d.Before(to); d = d.Add(day) {
		if d.Add(day).After(due) {
			break
		}
		windows, err := e.tiles(ctx, account, d, d.Add(day))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, s := range e.o.Sinks {
			v := s.Archive()
			if v == nil {
				continue
			}
			out, err := v.Seal(context.WithoutCancel(ctx), windows, reason)
			switch {
			case err != nil:
				errs = append(errs, fmt.Errorf("account %s: seal %s in %s: %w", account, d.Format(time.DateOnly), s.Name(), err))
			case out.Written == 1:
				log.Info().Str("date", d.Format(time.DateOnly)).Str("sink", s.Name()).Str("seal", out.Seal.Stored.SHA256[:16]).Msg("day sealed")
			case out.Written > 1:
				log.Info().Str("date", d.Format(time.DateOnly)).Str("sink", s.Name()).Int("generation", out.Written).Str("reason", out.Seal.Reason).
					Msg("day sealed again: windows of it were exported again; the earlier seal stays, superseded")
			case len(out.Missing) > 0:
				log.Debug().Str("date", d.Format(time.DateOnly)).Str("sink", s.Name()).Int("windows_missing", len(out.Missing)).Msg("day not sealed: not every window is committed")
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w (the windows are committed; `verify --repair` seals the day)", errors.Join(errs...))
	}
	return nil
}
