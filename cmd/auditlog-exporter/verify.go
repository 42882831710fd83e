package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/exporter"
	"github.com/spf13/cobra"
)

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
			if output != "text" && output != "json" {
				return usageError{fmt.Errorf("--output %q: want text or json", output)}
			}
			f, t, err := parseRange(from, to, time.Now())
			if err != nil {
				return err
			}
			log := newLogger(cfg.Log, stderr)
			v, _ := versionInfo()
			ex, parts, err := cfg.Build(cmd.Context(), exporter.Options{Version: v, Log: log, QuietWindows: true}, io.Discard, false)
			if err != nil {
				return err
			}
			defer parts.Close()
			rows, verr := ex.Verify(cmd.Context(), f, t, exporter.VerifyOptions{Repair: repair})
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
