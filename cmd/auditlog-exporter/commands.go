package main

import (
	"encoding/json"
	"fmt"
	"io"
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
	"github.com/auditlog-exporter/auditlog-exporter/exporter"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"
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
	root.AddCommand(newRunCmd(stdout, stderr), newStateCmd(stdout), newDemoCmd(stdout, stderr), newVersionCmd(stdout))
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
	var cfgPath string
	cmd := &cobra.Command{
		Use:   "run --config FILE",
		Short: "Export all complete windows since the watermark, then exit",
		Long: `Export every complete window from the saved watermark (or export.start on the
first run) up to now minus export.lag, oldest first, then exit. Each window is
committed in every sink before the watermark moves past it, so a run that is
killed at any point can simply be run again. Run it from cron or a Kubernetes
CronJob; two runs on the same state directory cannot overlap (the second exits
1 at once).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cfgPath)
			if err != nil {
				return err
			}
			log := newLogger(cfg.Log, stderr)
			v, _ := versionInfo()
			ex, parts, err := cfg.Build(cmd.Context(), log, v, stdout, nil, crashHooks())
			if err != nil {
				return err
			}
			defer parts.Close()
			_, err = ex.Run(cmd.Context())
			return err
		},
	}
	cmd.Flags().StringVarP(&cfgPath, "config", "c", "", "configuration file (YAML)")
	return cmd
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
		Long: `Move an account's watermark. The next run exports from T on: a T in the past
re-exports windows (replacing their output, never duplicating it); a T in the
future skips windows. T is RFC 3339 (2026-11-24T10:00:00Z), a date
(2026-11-24) or a negative duration (-24h), and must be a boundary of the
export.window grid. --account is needed when the configuration has several.`,
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
