package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/config"
	"github.com/auditlog-exporter/auditlog-exporter/exporter"
	"github.com/auditlog-exporter/auditlog-exporter/metrics"
	"github.com/spf13/cobra"
)

func newBackfillCmd(stdout, stderr io.Writer) *cobra.Command {
	var cfgPath, from, to, shard string
	var parallel, shards int
	cmd := &cobra.Command{
		Use:   "backfill --config FILE --from T --to T [--parallel N] [--shard I/N | --shards N]",
		Short: "Export the complete windows in [from, to), leaving the watermark alone",
		Long: `Export every complete window inside [--from, --to) for every configured
account, --parallel windows at a time per account, all workers of an account
sharing one request rate that adapts to the API's limit (unlimited until the
API throttles, then cut and raised again; a Retry-After pauses them all;
source.max_requests_per_second is an optional ceiling). The watermark
is neither read nor moved and the state is not locked, so a backfill can run
beside the schedule: both write the same deterministic names, never a
duplicate. T is RFC 3339, a date, a negative duration (-720h) or "now"; windows
that are not yet complete (younger than export.lag) are left out.

--shard I/N exports only window numbers k with k mod N = I, so N processes
with I = 0..N-1 (a Kubernetes Indexed Job) together export each window exactly
once. With --shards N, I comes from $JOB_COMPLETION_INDEX.`,
		Example: `  auditlog-exporter backfill --config config.yaml --from 2026-05-01 --to 2026-11-01 --parallel 8
  auditlog-exporter backfill --config config.yaml --from -4776h --to now --shards 8   # in an Indexed Job`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cfgPath)
			if err != nil {
				return err
			}
			f, t, err := parseRange(from, to, time.Now())
			if err != nil {
				return err
			}
			if parallel < 0 || parallel > config.MaxParallel {
				return usageError{fmt.Errorf("--parallel must be between 1 and %d", config.MaxParallel)}
			}
			sh, err := parseShard(shard, shards, os.Getenv("JOB_COMPLETION_INDEX"))
			if err != nil {
				return usageError{err}
			}
			log := newLogger(cfg.Log, stderr, cfg.Secrets())
			if sh.Count > 1 {
				log = log.With().Str("shard", fmt.Sprintf("%d/%d", sh.Index, sh.Count)).Logger()
			}
			v, _ := versionInfo()
			progress, quiet := newProgress(stderr, log)
			m := metrics.New()
			ex, parts, err := cfg.Build(cmd.Context(), exporter.Options{Version: v, Log: log, Hooks: crashHooks(),
				Progress: progress, QuietWindows: quiet, Parallel: parallel, Observer: m}, stdout, false)
			if err != nil {
				return err
			}
			defer func() { _ = parts.Close() }() // no state store: nothing to release
			_, err = ex.Backfill(cmd.Context(), f, t, sh)
			deliverMetrics(cmd.Context(), cfg.Metrics, m, log)
			return err
		},
	}
	cmd.Flags().StringVarP(&cfgPath, "config", "c", "", "configuration file (YAML)")
	cmd.Flags().StringVar(&from, "from", "", "start of the range (inclusive)")
	cmd.Flags().StringVar(&to, "to", "", "end of the range (exclusive)")
	cmd.Flags().IntVar(&parallel, "parallel", 0, "windows in flight per account (default export.parallel)")
	cmd.Flags().StringVar(&shard, "shard", "", "export only shard I of N (\"I/N\")")
	cmd.Flags().IntVar(&shards, "shards", 0, "number of shards, with I from $JOB_COMPLETION_INDEX")
	return cmd
}

// parseShard reads --shard I/N, or --shards N with I from the Indexed Job's
// completion index.
func parseShard(spec string, shards int, jobIndex string) (exporter.Shard, error) {
	switch {
	case spec != "" && shards != 0:
		return exporter.Shard{}, fmt.Errorf("set either --shard I/N or --shards N, not both")
	case spec != "":
		i, n, ok := strings.Cut(spec, "/")
		ii, err1 := strconv.Atoi(i)
		nn, err2 := strconv.Atoi(n)
		if !ok || err1 != nil || err2 != nil || nn < 1 || ii < 0 || ii >= nn {
			return exporter.Shard{}, fmt.Errorf("--shard %q: want I/N with 0 <= I < N, e.g. 0/4", spec)
		}
		return exporter.Shard{Index: ii, Count: nn}, nil
	case shards != 0:
		if shards < 1 {
			return exporter.Shard{}, fmt.Errorf("--shards must be at least 1")
		}
		i, err := strconv.Atoi(jobIndex)
		if jobIndex == "" || err != nil || i < 0 || i >= shards {
			return exporter.Shard{}, fmt.Errorf("--shards %d needs JOB_COMPLETION_INDEX between 0 and %d (got %q); outside an Indexed Job use --shard I/N", shards, shards-1, jobIndex)
		}
		return exporter.Shard{Index: i, Count: shards}, nil
	}
	return exporter.Shard{}, nil
}

// parseRange reads --from and --to; from must come before to.
func parseRange(from, to string, now time.Time) (time.Time, time.Time, error) {
	if from == "" || to == "" {
		return time.Time{}, time.Time{}, usageError{fmt.Errorf("--from and --to are required")}
	}
	f, err := exporter.ParseTimeArg(from, now)
	if err != nil {
		return time.Time{}, time.Time{}, usageError{fmt.Errorf("--from: %w", err)}
	}
	t, err := exporter.ParseTimeArg(to, now)
	if err != nil {
		return time.Time{}, time.Time{}, usageError{fmt.Errorf("--to: %w", err)}
	}
	if !f.Before(t) {
		return time.Time{}, time.Time{}, usageError{fmt.Errorf("--from %s is not before --to %s", f.Format(time.RFC3339), t.Format(time.RFC3339))}
	}
	return f, t, nil
}
