package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/config"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "auditlog-exporter",
		Short:         "Export SAP BTP audit logs (Neo and Cloud Foundry), every record exactly once",
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
		// Colours only for a terminal (and not under NO_COLOR): escape
		// codes in a file or a pipe are noise.
		f, ok := w.(*os.File)
		tty := ok && term.IsTerminal(int(f.Fd())) && os.Getenv("NO_COLOR") == ""
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339, NoColor: !tty}
	}
	lvl, err := zerolog.ParseLevel(c.Level)
	if err != nil {
		lvl = zerolog.InfoLevel
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger()
}
