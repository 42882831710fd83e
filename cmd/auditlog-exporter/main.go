// Command auditlog-exporter exports SAP BTP audit logs (Neo and Cloud
// Foundry) to files and
// object storage, every record exactly once.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/auditlog-exporter/auditlog-exporter/errclass"
	"github.com/auditlog-exporter/auditlog-exporter/internal/textsafe"
	"github.com/auditlog-exporter/auditlog-exporter/source/apiclient"
	"github.com/rs/zerolog"
)

func main() {
	if canSupervise && os.Getenv(supervisedEnv) == "" && os.Getenv("AUDITLOG_EXPORTER_NO_SUPERVISOR") == "" {
		os.Exit(supervise(os.Stderr))
	}
	// A reader of standard output that goes away (a closed pipe) makes
	// writes fail with EPIPE, reported as an error, instead of killing the
	// process silently with SIGPIPE.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := execute(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	reportExit(code)
	os.Exit(code)
}

// Exit codes of the product contract.
const (
	exitOK     = 0
	exitFailed = 1 // a run failed; worth retrying
	exitConfig = 2 // bad configuration or usage; retrying will not help
	exitAuth   = 3 // the API refused the credentials or the account
)

func execute(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	// Until a command sets up its configured logger, the standard
	// library's log lines (net/http's) still go through the scrubber.
	stdlog.SetFlags(0)
	stdlog.SetOutput(apiclient.StdLog{Log: zerolog.New(textsafe.Writer{W: stderr}).With().Timestamp().Logger()})
	root := newRootCmd(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	code := exitCode(err)
	msg := err.Error()
	if ctx.Err() != nil {
		msg = "interrupted: the window in flight was abandoned and the watermark was not moved past it\n" + msg
	}
	// The message's own lines stay lines; outside text within them is
	// escaped (textsafe), whichever layer forgot to.
	var b strings.Builder
	fmt.Fprintf(&b, "auditlog-exporter: %s\n", strings.ReplaceAll(textsafe.Lines(msg), "\n", "\n  "))
	var ne notedError
	switch {
	case errors.As(err, &ne):
		fmt.Fprintf(&b, "(exit %d: %s)\n", code, ne.note)
	case code == exitConfig:
		b.WriteString("(exit 2: fix the configuration or command line; retrying will not help)\n")
	case code == exitAuth:
		b.WriteString("(exit 3: the API refused the credentials or the account)\n")
	default:
		b.WriteString("(exit 1: failed; worth retrying: what failed was not recorded as done, and the next run takes it up again)\n")
	}
	// Standard error is the last place to report anything: the exit code
	// still says what happened when it cannot be written.
	_, _ = io.WriteString(stderr, b.String())
	return code
}

// notedError says what its exit code means where the default would not
// (verify's problems are not undone by retrying).
type notedError struct {
	error
	note string
}

func (n notedError) Unwrap() error { return n.error }

// exitCode maps an error to the exit code of README "Exit codes": a
// usage error or a configuration error 2, the API refusing the
// credentials or the account 3, anything else 1.
func exitCode(err error) int {
	var ue usageError
	if errors.As(err, &ue) {
		return exitConfig
	}
	switch errclass.Classify(err) {
	case errclass.Config:
		return exitConfig
	case errclass.Auth:
		return exitAuth
	}
	return exitFailed
}
