package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/demo"
	"github.com/auditlog-exporter/auditlog-exporter/errclass"
	"github.com/auditlog-exporter/auditlog-exporter/exporter"
	"github.com/auditlog-exporter/auditlog-exporter/metrics"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// Set with -ldflags "-X main.version=... -X main.commit=...".
var (
	version = ""
	commit  = ""
)

func versionInfo() (string, string) {
	v, c := version, commit
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && c == "" {
				c = s.Value
			}
		}
	}
	if v == "" {
		v = "dev"
	}
	if c == "" {
		c = "unknown"
	}
	return v, c
}

const rootLong = `auditlog-exporter exports the audit logs of SAP BTP Neo subaccounts from the
Audit Log Retrieval API to JSON-lines files, window by window, every record
exactly once or a loud failure.

Time is cut into fixed UTC windows (export.window). A run exports every
complete window whose end is at least export.lag in the past, oldest first,
writes each window to every sink under a deterministic name, and only then
moves the account's watermark past it. Re-running never duplicates.

backfill exports any range of history the same way without touching the
watermark; run --schedule stays up and runs on a cron schedule.

Exit codes: 0 success; 1 a run failed (worth retrying); 2 bad configuration
or usage (retrying will not help); 3 the API refused the credentials or the
account.

Start with:  auditlog-exporter demo`

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "auditlog-exporter",
		Short:         "Export SAP BTP Neo audit logs, every record exactly once",
		Long:          rootLong,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newRunCmd(stdout, stderr), newBackfillCmd(stdout, stderr), newCheckCmd(stdout, stderr), newVerifyCmd(stdout, stderr), newStateCmd(stdout), newDemoCmd(stdout, stderr), newVersionCmd(stdout))
	return root
}

func loadConfig(path string) (*exporter.Config, error) {
	if path == "" {
		return nil, usageError{fmt.Errorf("--config is required")}
	}
	return exporter.Load(path, os.LookupEnv)
}

func newLogger(c exporter.LogConfig, w io.Writer) zerolog.Logger {
	if c.Format == "console" {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339}
	}
	lvl, err := zerolog.ParseLevel(c.Level)
	if err != nil {
		lvl = zerolog.InfoLevel
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger()
}

func newRunCmd(stdout, stderr io.Writer) *cobra.Command {
	var cfgPath, schedule string
	cmd := &cobra.Command{
		Use:   "run --config FILE [--schedule CRON]",
		Short: "Export all complete windows since the watermark (once, or on a schedule)",
		Long: `Export every complete window from the saved watermark (or export.start on the
first run) up to now minus export.lag, oldest first, export.parallel windows at
a time, then exit. Each window is committed in every sink before the watermark
moves past it, and the watermark only moves over windows committed without a
gap, so a run that is killed at any point can simply be run again. Run it from
cron or a Kubernetes CronJob; two runs on the same state directory cannot
overlap (the second exits 1 at once).

With --schedule the process stays up and runs on a cron schedule in UTC
(robfig/cron: 5 fields "*/15 * * * *", or @every 15m, @hourly ...), never two
runs at once: a tick that comes while a run is going is skipped and logged.
SIGTERM lets the window in flight commit or abandons it cleanly, then exits 0.`,
		Example: `  auditlog-exporter run --config /etc/auditlog-exporter/config.yaml
  auditlog-exporter run --config config.yaml --schedule "@every 15m"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cfgPath)
			if err != nil {
				return err
			}
			log := newLogger(cfg.Log, stderr)
			v, _ := versionInfo()
			m := metrics.New()
			once := func(ctx context.Context) error {
				progress, quiet := newProgress(stderr, log)
				ex, parts, err := cfg.Build(ctx, log, exporter.BuildOptions{Version: v, Stdout: stdout, Hooks: crashHooks(),
					Progress: progress, QuietWindows: quiet, Observer: m})
				if err != nil {
					return err
				}
				defer parts.Close()
				_, err = ex.Run(ctx)
				deliverMetrics(ctx, cfg.Metrics, m, log)
				return err
			}
			if schedule == "" {
				if cfg.Metrics.Listen != "" {
					log.Warn().Msg("metrics.listen is only served with --schedule; one-shot runs use metrics.pushgateway_url or metrics.textfile")
				}
				return once(cmd.Context())
			}
			if _, err := exporter.ParseSchedule(schedule); err != nil {
				return err
			}
			if cfg.Metrics.Listen != "" {
				stop, err := serveMetrics(cfg.Metrics.Listen, m, log)
				if err != nil {
					return err
				}
				defer stop()
			}
			return exporter.Schedule(cmd.Context(), schedule, log, once)
		},
	}
	cmd.Flags().StringVarP(&cfgPath, "config", "c", "", "configuration file (YAML)")
	cmd.Flags().StringVar(&schedule, "schedule", "", "stay up and run on this cron schedule (UTC)")
	return cmd
}

// deliverMetrics writes the textfile and pushes to the Pushgateway, as
// configured. A failure is logged: it does not fail the export.
func deliverMetrics(ctx context.Context, c exporter.MetricsConfig, m *metrics.Metrics, log zerolog.Logger) {
	if c.Textfile != "" {
		if err := m.WriteTextfile(c.Textfile); err != nil {
			log.Error().Err(err).Msg("metrics not written")
		}
	}
	if c.PushgatewayURL != "" {
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := m.Push(pctx, c.PushgatewayURL); err != nil {
			log.Error().Err(err).Msg("metrics not pushed")
		}
	}
}

// serveMetrics serves /metrics and /healthz on addr until stop is called.
func serveMetrics(addr string, m *metrics.Metrics, log zerolog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, errclass.Mark(errclass.Config, fmt.Errorf("metrics.listen %s: %w", addr, err))
	}
	srv := &http.Server{Handler: m.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	log.Info().Str("address", ln.Addr().String()).Msg("serving /metrics and /healthz")
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}

// newProgress returns a progress bar when stderr is a terminal (and the
// per-window log lines then go to debug level), a periodic log line otherwise.
func newProgress(stderr io.Writer, log zerolog.Logger) (exporter.Progress, bool) {
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return exporter.NewBarProgress(stderr), true
	}
	return exporter.NewLogProgress(log, 30*time.Second), false
}

func newBackfillCmd(stdout, stderr io.Writer) *cobra.Command {
	var cfgPath, from, to, shard string
	var parallel, shards int
	cmd := &cobra.Command{
		Use:   "backfill --config FILE --from T --to T [--parallel N] [--shard I/N | --shards N]",
		Short: "Export the complete windows in [from, to), leaving the watermark alone",
		Long: `Export every complete window inside [--from, --to) for every configured
account, --parallel windows at a time per account, all workers of an account
sharing source.max_requests_per_second (a 429 pauses them all). The watermark
is neither read nor moved and the state is not locked, so a backfill can run
beside the schedule: both write the same deterministic names, never a
duplicate. T is RFC 3339, a date, a negative duration (-720h) or "now"; windows
that are not yet complete (younger than export.lag) are left out.

--shard I/N exports only window numbers k with k mod N = I, so N processes
with I = 0..N-1 (a Kubernetes Indexed Job) together export each window exactly
once. With --shards N, I comes from $JOB_COMPLETION_INDEX.`,
		Example: `  auditlog-exporter backfill --config config.yaml --from 2026-05-01 --to 2026-11-01 --parallel 8
  auditlog-exporter backfill --config config.yaml --from -4824h --to now --shards 8   # in an Indexed Job`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cfgPath)
			if err != nil {
				return err
			}
			now := time.Now()
			if from == "" || to == "" {
				return usageError{fmt.Errorf("--from and --to are required")}
			}
			f, err := exporter.ParseTimeArg(from, now)
			if err != nil {
				return usageError{fmt.Errorf("--from: %w", err)}
			}
			t, err := exporter.ParseTimeArg(to, now)
			if err != nil {
				return usageError{fmt.Errorf("--to: %w", err)}
			}
			if !f.Before(t) {
				return usageError{fmt.Errorf("--from %s is not before --to %s", f.Format(time.RFC3339), t.Format(time.RFC3339))}
			}
			if parallel < 0 || parallel > exporter.MaxParallel {
				return usageError{fmt.Errorf("--parallel must be between 1 and %d", exporter.MaxParallel)}
			}
			sh, err := parseShard(shard, shards, os.Getenv("JOB_COMPLETION_INDEX"))
			if err != nil {
				return usageError{err}
			}
			log := newLogger(cfg.Log, stderr)
			if sh.Count > 1 {
				log = log.With().Str("shard", fmt.Sprintf("%d/%d", sh.Index, sh.Count)).Logger()
			}
			v, _ := versionInfo()
			progress, quiet := newProgress(stderr, log)
			m := metrics.New()
			ex, parts, err := cfg.Build(cmd.Context(), log, exporter.BuildOptions{Version: v, Stdout: stdout, Hooks: crashHooks(),
				Progress: progress, QuietWindows: quiet, Parallel: parallel, NoStore: true, Observer: m})
			if err != nil {
				return err
			}
			defer parts.Close()
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

// crashHooks kills the process at a chosen point when
// AUDITLOG_EXPORTER_CRASH is "after-commit:N" (after the N-th window is
// committed in every sink, before its watermark is saved) or
// "mid-window:N" (after the N-th record of a window was written). Crash
// tests use it; it is never set in production.
func crashHooks() exporter.Hooks {
	spec := os.Getenv("AUDITLOG_EXPORTER_CRASH")
	point, nStr, ok := strings.Cut(spec, ":")
	n, err := strconv.Atoi(nStr)
	if !ok || err != nil || n < 1 {
		return exporter.Hooks{}
	}
	kill := func() { _ = syscall.Kill(os.Getpid(), syscall.SIGKILL); select {} }
	switch point {
	case "after-commit":
		count := 0
		return exporter.Hooks{Committed: func(audit.Window) {
			if count++; count == n {
				kill()
			}
		}}
	case "mid-window":
		return exporter.Hooks{Wrote: func(_ audit.Window, i int) {
			if i == n {
				kill()
			}
		}}
	}
	return exporter.Hooks{}
}

func newStateCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "state",
		Short: "Read or move the watermark",
	}
	var cfgPath, output string
	show := &cobra.Command{
		Use:   "show --config FILE",
		Short: "Show each account's watermark and how many windows are due",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cfgPath)
			if err != nil {
				return err
			}
			store, err := cfg.OpenStore(cmd.Context(), true)
			if err != nil {
				return err
			}
			defer store.Close()
			states, err := exporter.ShowState(cmd.Context(), cfg, store, time.Now())
			if err != nil {
				return err
			}
			switch output {
			case "json":
				enc := json.NewEncoder(stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(states)
			case "text":
				tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ACCOUNT\tWATERMARK\tWINDOW\tWINDOWS DUE\tBEHIND\tUPDATED")
				for _, s := range states {
					updated := "never (starts at export.start)"
					if s.Saved {
						updated = s.UpdatedAt.Format(time.RFC3339)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", s.Account, s.Watermark.Format(time.RFC3339), s.Window, s.WindowsDue, s.Behind, updated)
				}
				return tw.Flush()
			}
			return usageError{fmt.Errorf("--output %q: want text or json", output)}
		},
	}
	show.Flags().StringVarP(&cfgPath, "config", "c", "", "configuration file (YAML)")
	show.Flags().StringVarP(&output, "output", "o", "text", "text or json")

	var setCfg, watermark, account string
	set := &cobra.Command{
		Use:   "set --config FILE --watermark T [--account NAME]",
		Short: "Move an account's watermark to a window boundary",
		Long: `Move an account's watermark. The next run exports from T on: an earlier T
re-exports windows (replacing their output, never duplicating it); a later T
skips windows. T is RFC 3339 (2026-11-24T10:00:00Z), a date (2026-11-24) or a
negative duration (-24h), must be a boundary of the export.window grid and not
in the future. --account is needed when the configuration has several.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(setCfg)
			if err != nil {
				return err
			}
			if watermark == "" {
				return usageError{fmt.Errorf("--watermark is required")}
			}
			now := time.Now()
			t, err := exporter.ParseTimeArg(watermark, now)
			if err != nil {
				return usageError{fmt.Errorf("--watermark: %w", err)}
			}
			if account == "" {
				srcs := cfg.Sources()
				if len(srcs) != 1 {
					return usageError{fmt.Errorf("--account is required: the configuration has %d accounts", len(srcs))}
				}
				account = srcs[0].Account
			}
			store, err := cfg.OpenStore(cmd.Context(), false)
			if err != nil {
				return err
			}
			defer store.Close()
			v, _ := versionInfo()
			st, err := exporter.SetState(cmd.Context(), cfg, store, account, t, now, v)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "account %s: watermark set to %s (window %s)\n", st.Account, st.Watermark.Format(time.RFC3339), st.Window)
			return nil
		},
	}
	set.Flags().StringVarP(&setCfg, "config", "c", "", "configuration file (YAML)")
	set.Flags().StringVar(&watermark, "watermark", "", "new watermark: RFC 3339, a date, or -DURATION")
	set.Flags().StringVar(&account, "account", "", "account to move (default: the only configured one)")
	cmd.AddCommand(show, set)
	return cmd
}

func newDemoCmd(stdout, stderr io.Writer) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "demo [--out DIR]",
		Short: "Export from the built-in API simulator (no SAP account needed)",
		Long: `Start the built-in Neo API simulator with six hours of generated audit
records, write a configuration for it, export every complete window into
--out, check the result against the simulator, and print where to look.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := newLogger(exporter.LogConfig{Level: "info", Format: "console"}, stderr)
			v, _ := versionInfo()
			res, err := demo.Run(cmd.Context(), out, log, v)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "\nDemo finished: %d windows, %d records exported from the simulator at %s\n", res.Windows, res.Records, res.APIURL)
			fmt.Fprintf(stdout, "The simulator holds %d records for those windows: every one exported once.\n", res.Expected)
			if len(res.Faults) > 0 {
				fmt.Fprintf(stdout, "Faults the simulator injected and the exporter rode out: %v\n", res.Faults)
			}
			fmt.Fprintf(stdout, "Watermark: %s\n\n", res.Watermark.Format(time.RFC3339))
			fmt.Fprintf(stdout, "Configuration: %s\n", res.ConfigPath)
			fmt.Fprintf(stdout, "JSON lines:    %s (and gzip in %s)\n", out+"/jsonl", out+"/jsonl-gzip")
			fmt.Fprintf(stdout, "Parquet:       %s\n", out+"/parquet")
			for i, f := range res.Files {
				if i == 3 {
					fmt.Fprintf(stdout, "  ... %d more\n", len(res.Files)-3)
					break
				}
				fmt.Fprintf(stdout, "  %s\n", f)
			}
			if len(res.Files) > 0 {
				fmt.Fprintf(stdout, "\nLook inside:\n  head -n 2 %s\n", res.Files[0])
				fmt.Fprintf(stdout, "  cat %s/jsonl/account=*/date=*/*.jsonl | jq -r .category | sort | uniq -c\n", out)
				fmt.Fprintf(stdout, "  duckdb -c \"SELECT date, category, count(*) FROM read_parquet('%s/parquet/*/*/*.parquet', hive_partitioning=true) GROUP BY ALL ORDER BY ALL\"\n", out)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "./demo-out", "directory for the demo's config, state and output")
	return cmd
}

func newCheckCmd(stdout, stderr io.Writer) *cobra.Command {
	var cfgPath string
	cmd := &cobra.Command{
		Use:   "check --config FILE",
		Short: "Prove the configuration works: token, one record, sinks and state writable",
		Long: `Validate the configuration, obtain a token for every account, read one record,
and prove every sink and the state store are writable (a probe object or file
is written and removed). Prints one PASS or FAIL line per item, with a hint
for each failure. Exit codes as for run: 0 all passed; 3 credentials or
account refused; 2 configuration (bucket missing, access denied, unwritable
directory); 1 anything else.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cfgPath)
			if err != nil {
				return err
			}
			log := newLogger(exporter.LogConfig{Level: "warn", Format: cfg.Log.Format}, stderr)
			items := cfg.Check(cmd.Context(), log)
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			for _, it := range items {
				if it.Warn {
					fmt.Fprintf(tw, "WARN\t%s\t%s\n\t\thint: %s\n", it.Name, it.Detail, it.Hint)
					continue
				}
				if it.Err == nil {
					fmt.Fprintf(tw, "PASS\t%s\t%s\n", it.Name, it.Detail)
					continue
				}
				fmt.Fprintf(tw, "FAIL\t%s\t%s\n", it.Name, strings.ReplaceAll(it.Err.Error(), "\n", " "))
				if it.Hint != "" {
					fmt.Fprintf(tw, "\t\thint: %s\n", it.Hint)
				}
			}
			tw.Flush()
			return exporter.CheckError(items)
		},
	}
	cmd.Flags().StringVarP(&cfgPath, "config", "c", "", "configuration file (YAML)")
	return cmd
}

func newVerifyCmd(stdout, stderr io.Writer) *cobra.Command {
	var cfgPath, from, to, output string
	var repair bool
	cmd := &cobra.Command{
		Use:   "verify --config FILE --from T --to T [--repair] [--output text|json]",
		Short: "Prove the export is complete: compare each window with the source",
		Long: `For every complete window in [--from, --to) of every account and every file or
S3 sink, compare the source's current count of records in the window, the
count in the window's manifest (written at commit, under _manifests/), and the
object itself (present, same SHA-256 as committed). Status per window and sink:
ok, missing, checksum-mismatch, late-arrivals (records became visible after
the export), short (the object lacks records the source had at export time).
--repair exports the windows that do not match again (same names: replaced,
never duplicated) and verifies them again. Exit 0 when everything matches,
1 otherwise.`,
		Example: `  auditlog-exporter verify --config config.yaml --from -72h --to now --repair`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cfgPath)
			if err != nil {
				return err
			}
			if from == "" || to == "" {
				return usageError{fmt.Errorf("--from and --to are required")}
			}
			if output != "text" && output != "json" {
				return usageError{fmt.Errorf("--output %q: want text or json", output)}
			}
			now := time.Now()
			f, err := exporter.ParseTimeArg(from, now)
			if err != nil {
				return usageError{fmt.Errorf("--from: %w", err)}
			}
			t, err := exporter.ParseTimeArg(to, now)
			if err != nil {
				return usageError{fmt.Errorf("--to: %w", err)}
			}
			log := newLogger(cfg.Log, stderr)
			v, _ := versionInfo()
			ex, parts, err := cfg.Build(cmd.Context(), log, exporter.BuildOptions{Version: v, Stdout: io.Discard, NoStore: true, QuietWindows: true})
			if err != nil {
				return err
			}
			defer parts.Close()
			rows, verr := ex.Verify(cmd.Context(), f, t, repair)
			counts := map[string]int{}
			for _, r := range rows {
				counts[r.Status]++
			}
			if output == "json" {
				enc := json.NewEncoder(stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(map[string]any{"windows": rows, "summary": counts}); err != nil {
					return err
				}
			} else {
				tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "WINDOW\tACCOUNT\tSINK\tSOURCE\tEXPORTED\tSTATUS\tDETAIL")
				for _, r := range rows {
					status := r.Status
					if r.Repaired {
						status += " (repaired)"
					}
					fmt.Fprintf(tw, "%s/%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Start.Format("2006-01-02T15:04Z"), r.End.Format("15:04Z"), r.Account, r.Sink,
						count(r.Source), count(r.Exported), status, r.Detail)
				}
				tw.Flush()
				var parts []string
				for _, st := range []string{exporter.StatusOK, exporter.StatusMissing, exporter.StatusShort, exporter.StatusLateArrivals, exporter.StatusChecksumMismatch} {
					if counts[st] > 0 {
						parts = append(parts, fmt.Sprintf("%d %s", counts[st], st))
					}
				}
				fmt.Fprintf(stdout, "%d window(s) x sink(s) checked: %s\n", len(rows), strings.Join(parts, ", "))
			}
			if verr != nil {
				return verr
			}
			if counts[exporter.StatusOK] != len(rows) {
				return fmt.Errorf("verify: %d of %d windows do not match; run with --repair to export them again", len(rows)-counts[exporter.StatusOK], len(rows))
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&cfgPath, "config", "c", "", "configuration file (YAML)")
	cmd.Flags().StringVar(&from, "from", "", "start of the range (inclusive)")
	cmd.Flags().StringVar(&to, "to", "", "end of the range (exclusive)")
	cmd.Flags().BoolVar(&repair, "repair", false, "export the windows that do not match again, then verify them again")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text or json")
	return cmd
}

func count(n int64) string {
	if n < 0 {
		return "-"
	}
	return strconv.FormatInt(n, 10)
}

func newVersionCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print version, commit and Go version",
		Args:  cobra.NoArgs,
		Run: func(*cobra.Command, []string) {
			v, c := versionInfo()
			fmt.Fprintf(stdout, "auditlog-exporter %s (commit %s, %s, %s/%s)\n", v, c, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		},
	}
}
