package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/config"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"
)

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
func loadConfig(path string) (*config.Config, error) {
	if path == "" {
		return nil, usageError{fmt.Errorf("--config is required")}
	}
	return config.Load(path, os.LookupEnv)
}
func newLogger(c config.LogConfig, w io.Writer) zerolog.Logger {
	if c.Format == "console" {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339}
	}
	lvl, err := zerolog.ParseLevel(c.Level)
	if err != nil {
		lvl = zerolog.InfoLevel
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger()
}

// deliverMetrics writes the textfile and pushes to the Pushgateway, as
// configured. A failure is logged: it does not fail the export.
// serveMetrics serves /metrics and /healthz on addr until stop is called.
// newProgress returns a progress bar when stderr is a terminal (and the
// per-window log lines then go to debug level), a periodic log line otherwise.
// parseShard reads --shard I/N, or --shards N with I from the Indexed Job's
// completion index.
// crashHooks kills the process at a chosen point when
// AUDITLOG_EXPORTER_CRASH is "after-commit:N" (after the N-th window is
// committed in every sink, before its watermark is saved) or
// "mid-window:N" (after the N-th record of a window was written). Crash
// tests use it; it is never set in production.
