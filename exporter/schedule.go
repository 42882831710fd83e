package exporter

import (
	"context"
	"fmt"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/errclass"
	"github.com/robfig/cron/v3"
	"github.com/rs/zerolog"
)

// cronParser reads the standard 5-field syntax (minute hour day-of-month
// month day-of-week, UTC) and descriptors such as @hourly and @every 15m.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ParseSchedule checks a cron expression; an invalid one is a Config error
// that shows it.
func ParseSchedule(spec string) (cron.Schedule, error) {
	s, err := cronParser.Parse(spec)
	if err != nil {
		return nil, errclass.Mark(errclass.Config, fmt.Errorf("--schedule %q: %v (want 5 fields like \"*/15 * * * *\", or @every 15m, @hourly ...)", spec, err))
	}
	return s, nil
}

// Schedule calls run on every tick of spec until ctx is done, never two at
// once: a tick that comes while a run is still going is skipped and logged.
// When ctx is done it waits for the run in flight, which sees the same ctx
// and abandons its window cleanly, and returns nil. Errors of single runs
// are logged, not returned: the next tick tries again.
func Schedule(ctx context.Context, spec string, log zerolog.Logger, run func(context.Context) error) error {
	sched, err := ParseSchedule(spec)
	if err != nil {
		return err
	}
	cl := cronLogger{log}
	c := cron.New(cron.WithParser(cronParser), cron.WithLocation(time.UTC), cron.WithLogger(cl),
		cron.WithChain(cron.Recover(cl), cron.SkipIfStillRunning(cl)))
	c.Schedule(sched, cron.FuncJob(func() {
		if ctx.Err() != nil {
			return
		}
		started := time.Now()
		if err := run(ctx); err != nil {
			log.Error().Err(err).Str("class", errclass.Classify(err).String()).Str("next", sched.Next(time.Now()).Format(time.RFC3339)).
				Msg("scheduled run failed; trying again at the next tick")
			return
		}
		log.Info().Str("duration", time.Since(started).Round(time.Millisecond).String()).Str("next", sched.Next(time.Now()).Format(time.RFC3339)).Msg("scheduled run done")
	}))
	c.Start()
	log.Info().Str("schedule", spec).Str("next", sched.Next(time.Now()).Format(time.RFC3339)).Msg("scheduler started")
	<-ctx.Done()
	log.Info().Msg("stopping: waiting for the run in flight to commit or abandon its window")
	<-c.Stop().Done()
	log.Info().Msg("scheduler stopped")
	return nil
}

// cronLogger sends robfig/cron's messages (a skipped tick, a recovered
// panic) to zerolog.
type cronLogger struct{ log zerolog.Logger }

func (l cronLogger) Info(msg string, kv ...any) {
	if msg == "skip" {
		l.log.Warn().Msg("tick skipped: the previous run is still going")
		return
	}
	l.log.Debug().Fields(kv).Msg("cron: " + msg)
}

func (l cronLogger) Error(err error, msg string, kv ...any) {
	l.log.Error().Err(err).Fields(kv).Msg("cron: " + msg)
}
