package main

import (
	"fmt"
	"io"
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
		Long: `Start the built-in API simulator (Neo, Cloud Foundry, or both) with seven
hours of generated audit records, write a configuration for it, export
every complete window into --out, check the result against the simulator,
and print where to look.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := newLogger(config.LogConfig{Level: "info", Format: "console"}, stderr, nil)
			v, _ := versionInfo()
			res, err := demo.Run(cmd.Context(), out, sources, log, v)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "\nDemo finished: %d windows, %d records exported from the simulator at %s\n", res.Windows, res.Records, res.APIURL)
			fmt.Fprintf(stdout, "The simulator holds %d records for those windows: every one exported once.\n", res.Expected)
			if len(res.Faults) > 0 {
				fmt.Fprintf(stdout, "Faults the simulator injected and the exporter rode out: %v\n", res.Faults)
			}
			fmt.Fprintf(stdout, "verify: %d of %d window x sink checks ok (object present, checksum as committed, nothing more at the source)\n", res.VerifiedOK, res.Verified)
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
	cmd.Flags().StringVar(&sources, "source", demo.SourceNeo, "which API to simulate: neo, cf (Cloud Foundry) or both")
	return cmd
}
