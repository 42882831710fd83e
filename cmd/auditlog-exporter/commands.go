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
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339}
	}
	lvl, err := zerolog.ParseLevel(c.Level)
	if err != nil {
		lvl = zerolog.InfoLevel
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger()
}
