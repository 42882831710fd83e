package main

import (
	"bytes"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/config"
	"github.com/auditlog-exporter/auditlog-exporter/demo"
	"github.com/spf13/cobra"
)

func newDemoCmd(stdout, stderr io.Writer) *cobra.Command {
	var out, sources string
	cmd := &cobra.Command{
		Use:   "demo [--out DIR] [--source neo|cf|both]",
		Short: "Export from the built-in API simulators (no SAP account needed)",
		Long: fmt.Sprintf(`Start the built-in API simulator of the chosen source (Neo, Cloud Foundry,
or both) with %d hours of generated audit records, write a configuration for
it, export every complete one-hour window of the last %d hours into --out,
check the result against the simulator, and print where to look.

The simulators run inside this command and stop when it ends: the
configuration it writes shows the keys of a real one, but cannot be run
again; run demo again instead.`, demo.Hours+1, demo.Hours),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := demo.CheckSource(sources); err != nil {
				return usageError{err}
			}
			log := newLogger(config.LogConfig{Level: "info", Format: "console"}, stderr, nil)
			v, _ := versionInfo()
			res, err := demo.Run(cmd.Context(), out, sources, log, v)
			if err != nil {
				return err
			}
			var b bytes.Buffer
			fmt.Fprintf(&b, "\nDemo finished: %d windows, %d records exported from the simulator at %s\n", res.Windows, res.Records, res.APIURL)
			fmt.Fprintf(&b, "The simulator holds %d records for those windows: every one exported once.\n", res.Expected)
			if f := res.FaultText(); f != "" {
				fmt.Fprintf(&b, "The simulator injected faults and the exporter rode them out: %s.\n", f)
			}
			fmt.Fprintf(&b, "verify: %d of %d window x sink checks ok (object present, checksum as committed, nothing more at the source)\n", res.VerifiedOK, res.Verified)
			fmt.Fprintf(&b, "Watermark: %s\n\n", res.Watermark.Format(time.RFC3339))
			fmt.Fprintf(&b, "Configuration: %s\n", res.ConfigPath)
			fmt.Fprintf(&b, "  to read, not to rerun: the simulators it points at stopped with the demo.\n")
			fmt.Fprintf(&b, "  To repeat the demo: %s\n", res.Command)
			fmt.Fprintf(&b, "JSON lines:    %s (and gzip in %s)\n", filepath.Join(res.OutDir, "jsonl"), filepath.Join(res.OutDir, "jsonl-gzip"))
			fmt.Fprintf(&b, "Parquet:       %s\n", filepath.Join(res.OutDir, "parquet"))
			fmt.Fprintf(&b, "OCSF events:   %s (OCSF 1.1.0, JSON lines)\n", filepath.Join(res.OutDir, "ocsf"))
			for i, f := range res.Files {
				if i == 3 {
					fmt.Fprintf(&b, "  ... %d more\n", len(res.Files)-3)
					break
				}
				fmt.Fprintf(&b, "  %s\n", f)
			}
			if len(res.Files) > 0 {
				fmt.Fprintf(&b, "\nLook inside:\n  head -n 2 %s\n", res.Files[0])
				fmt.Fprintf(&b, "  cat %s/jsonl/account=*/date=*/*.jsonl | jq -r .category | sort | uniq -c\n", res.OutDir)
				fmt.Fprintf(&b, "  duckdb -c \"SELECT date, category, count(*) FROM read_parquet('%s/parquet/*/*/*.parquet', hive_partitioning=true) GROUP BY ALL ORDER BY ALL\"\n", res.OutDir)
			}
			_, err = stdout.Write(b.Bytes())
			return err
		},
	}
	cmd.Flags().StringVar(&out, "out", "./demo-out", "directory for the demo's config, state and output")
	cmd.Flags().StringVar(&sources, "source", demo.SourceNeo, "which API to simulate: neo, cf (Cloud Foundry) or both")
	return cmd
}
