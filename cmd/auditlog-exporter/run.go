package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"net"
	"net/http"
	"os"
	"text/tabwriter"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/config"
	"github.com/auditlog-exporter/auditlog-exporter/errclass"
	"github.com/auditlog-exporter/auditlog-exporter/exporter"
	"github.com/auditlog-exporter/auditlog-exporter/metrics"
	"github.com/auditlog-exporter/auditlog-exporter/source/apiclient"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

func newRunCmd(stdout, stderr io.Writer) *cobra.Command {
	var cfgPath, schedule string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "run --config FILE [--schedule CRON]",
		Short: "Export all complete windows since the watermark (once, or on a schedule)",
		Long: `Get the access token first (rejected credentials are exit 3 even when nothing
is due), then export every complete window from the saved watermark (or
export.start on the first run) up to now minus export.lag, oldest first,
export.parallel windows at a time, then exit. A watermark near the API's
retention horizon is warned about; windows past it are named as no longer
complete. Each window is committed in every sink before the watermark
moves past it, and the watermark only moves over windows committed without a
gap, so a run that is killed at any point can simply be run again. Run it from
cron or a Kubernetes CronJob; two runs on the same state directory cannot
overlap (the second exits 1 at once).

With --schedule the process stays up and runs on a cron schedule in UTC
(robfig/cron: 5 fields "*/15 * * * *", or @every 15m, @hourly ...), never two
runs at once: a tick that comes while a run is going is skipped and logged.
SIGTERM lets the window in flight commit or abandons it cleanly, then exits 0.

With --dry-run it says what a run would do now and does nothing: for each
account, where it would start (the saved watermark, or export.start on the
first run) and how many windows are due, from when to when. It asks the API
nothing and writes nothing; it reads the state and what the sinks hold.`,
		Example: `  auditlog-exporter run --config /etc/auditlog-exporter/config.yaml
  auditlog-exporter run --config config.yaml --dry-run
  auditlog-exporter run --config config.yaml --schedule "@every 15m"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			load := loadConfig
			if dryRun {
				load = loadConfigOffline // it asks the API nothing
			}
			cfg, err := load(cfgPath)
			if err != nil {
				return err
			}
			log := newLogger(cfg.Log, stderr, cfg.Secrets())
			v, _ := versionInfo()
			if dryRun {
				if schedule != "" {
					return usageError{fmt.Errorf("--dry-run says what one run would do: leave out --schedule")}
				}
				return dryRunPlan(cmd.Context(), cfg, v, log, stdout)
			}
			m := metrics.New()
			once := func(ctx context.Context) error {
				progress, quiet := newProgress(stderr, log)
				ex, parts, err := cfg.Build(ctx, exporter.Options{Version: v, Log: log, Hooks: crashHooks(),
					Progress: progress, QuietWindows: quiet, Observer: m}, stdout, true)
				if err != nil {
					return err
				}
				// Close releases the state lock; the watermark was saved
				// and synced before.
				defer func() { _ = parts.Close() }()
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
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "say what a run would do now (accounts, where each starts, windows due) and do nothing")
	return cmd
}

// dryRunPlan prints what a run would do now, per account.
func dryRunPlan(ctx context.Context, cfg *config.Config, version string, log zerolog.Logger, stdout io.Writer) error {
	store, err := cfg.OpenStore(ctx, true)
	if err != nil {
		return err
	}
	// Read only: closing releases nothing that was written.
	defer func() { _ = store.Close() }()
	ex, parts, err := cfg.Build(ctx, exporter.Options{Version: version, Log: log, Store: store}, io.Discard, false)
	if err != nil {
		return err
	}
	defer func() { _ = parts.Close() }()
	var b bytes.Buffer
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ACCOUNT\tSTARTS AT\tFROM\tWINDOWS DUE\tSPANNING")
	var errs []error
	total := 0
	for _, p := range ex.Plan(ctx) {
		if p.Err != nil {
			fmt.Fprintf(tw, "%s\t-\t-\t-\t%s\n", p.Account, "cannot tell: see below")
			errs = append(errs, p.Err)
			continue
		}
		from := "export.start"
		if p.Saved {
			from = "saved watermark"
		}
		span := "-"
		if p.Windows > 0 {
			span = fmt.Sprintf("%s .. %s (%s)", p.From.Format(time.RFC3339), p.To.Format(time.RFC3339), days(p.To.Sub(p.From)))
		}
		total += p.Windows
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", p.Account, p.Watermark.Format(time.RFC3339), from, p.Windows, span)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(&b, "\n%d windows due in all (export.window %s, export.lag %s); nothing was exported.\n", total, cfg.Export.Window, cfg.Export.Lag)
	if _, err := stdout.Write(b.Bytes()); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// days renders a span in days and hours.
func days(d time.Duration) string {
	if d < 24*time.Hour {
		return d.String()
	}
	return fmt.Sprintf("%dd %dh", int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour))
}

// deliverMetrics writes the textfile and pushes to the Pushgateway, as
// configured. A failure is logged: it does not fail the export.
func deliverMetrics(ctx context.Context, c config.MetricsConfig, m *metrics.Metrics, log zerolog.Logger) {
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
	srv := &http.Server{Handler: m.Handler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: stdlog.New(apiclient.StdLog{Log: log}, "", 0)}
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
