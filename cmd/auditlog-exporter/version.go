package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

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

const rootLong = `auditlog-exporter exports the audit logs of SAP BTP — Neo subaccounts (Audit
Log Retrieval API, OData) and Cloud Foundry subaccounts and global accounts
(source.type: cf, Audit Log Retrieval API v2) — as JSON lines or Parquet, to
files, S3 or standard output, window by window, every record exactly once
or a loud failure.

Time is cut into fixed UTC windows (export.window). A run exports every
complete window whose end is at least export.lag in the past, oldest first,
writes each window to every sink under a deterministic name, and only then
moves the account's watermark past it. Re-running never duplicates.

backfill exports any range of history the same way without touching the
watermark; run --schedule stays up and runs on a cron schedule.

Exit codes: 0 success; 1 a run failed (worth retrying; also a crash of the
process, reported by a small supervisor process); 2 bad configuration or
usage (retrying will not help); 3 the API refused the credentials or the
account.

Start with:  auditlog-exporter demo   (or demo --source cf)`

func newVersionCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print version, commit and Go version",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			v, c := versionInfo()
			_, err := fmt.Fprintf(stdout, "auditlog-exporter %s (commit %s, %s, %s/%s)\n", v, c, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return err
		},
	}
}
