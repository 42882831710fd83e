package main

import (
	"fmt"
	"io"
	stdlog "log"
	"os"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/config"
	"github.com/auditlog-exporter/auditlog-exporter/internal/textsafe"
	"github.com/auditlog-exporter/auditlog-exporter/source/apiclient"
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
	root.AddCommand(newRunCmd(stdout, stderr), newBackfillCmd(stdout, stderr), newCheckCmd(stdout, stderr), newVerifyCmd(stdout, stderr), newStateCmd(stdout), newDemoCmd(stdout, stderr), newVersionCmd(stdout))
	typeUsageErrors(root)
	return root
}

func loadConfig(path string) (*config.Config, error) {
	if path == "" {
		return nil, usageError{fmt.Errorf("--config is required")}
	}
	return config.Load(path, os.LookupEnv)
}

// loadConfigOffline is loadConfig for commands that never ask the API:
// the sources' credentials need not be there.
func loadConfigOffline(path string) (*config.Config, error) {
	if path == "" {
		return nil, usageError{fmt.Errorf("--config is required")}
	}
	return config.LoadOffline(path, os.LookupEnv)
}

// newLogger is the run's logger. Everything it writes passes textsafe (a
// JSON line stays one JSON line; the console format shows escapes), and
// the standard library's log package, where net/http's transport writes,
// is routed into it through the scrubber (apiclient.StdLog): secrets are
// the configuration's credentials, in every form they travel.
func newLogger(c config.LogConfig, w io.Writer, secrets []string) zerolog.Logger {
	esc := func(i any) string {
		if i == nil {
			return ""
		}
		return textsafe.Escape(fmt.Sprint(i))
	}
	if c.Format == "console" {
		// Colours only for a terminal (and not under NO_COLOR): escape
		// codes in a file or a pipe are noise.
		f, ok := w.(*os.File)
		tty := ok && term.IsTerminal(int(f.Fd())) && os.Getenv("NO_COLOR") == ""
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339, NoColor: !tty, FormatMessage: esc, FormatFieldValue: esc, FormatErrFieldValue: esc}
	} else {
		w = textsafe.Writer{W: w}
	}
	lvl, err := zerolog.ParseLevel(c.Level)
	if err != nil {
		lvl = zerolog.InfoLevel
	}
	log := zerolog.New(w).Level(lvl).With().Timestamp().Logger()
	stdlog.SetFlags(0)
	stdlog.SetOutput(apiclient.StdLog{Log: log, Secrets: secrets})
	return log
}
