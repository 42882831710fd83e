package main

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/auditlog-exporter/auditlog-exporter/config"
	"github.com/spf13/cobra"
)

func newCheckCmd(stdout, stderr io.Writer) *cobra.Command {
	var cfgPath string
	cmd := &cobra.Command{
		Use:   "check --config FILE",
		Short: "Prove the configuration works: token, one record, sinks and state writable",
		Long: `Validate the configuration, obtain a token for every account, read one record
(Neo: with the count of the API's listing without a time filter, which SAP
documents as the last 30 days, not the whole retention), and prove every sink and the state store are writable (a probe object or file
is written and removed; S3 and stdout sinks also stage a file in
export.spool_dir), then say what the next run would export for each account
(windows due, from the saved watermark or export.start). Prints one PASS,
WARN or FAIL line per item, with a hint for each warning and failure: a
warning for windows older than the API keeps records (they can no longer
be complete) or a catch-up of more than 7 days. Exit codes as for run: 0
all passed (warnings included); 3 credentials or account refused; 2
configuration (bucket missing, access denied, unwritable directory); 1
anything else.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cfgPath)
			if err != nil {
				return err
			}
			log := newLogger(config.LogConfig{Level: "warn", Format: cfg.Log.Format}, stderr, cfg.Secrets())
			items := cfg.Check(cmd.Context(), log)
			var b bytes.Buffer
			tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
			for _, it := range items {
				if it.Warn {
					fmt.Fprintf(tw, "WARN\t%s\t%s\n\t\thint: %s\n", it.Name, it.Detail, it.Hint)
					continue
				}
				if it.Err == nil {
					fmt.Fprintf(tw, "PASS\t%s\t%s\n", it.Name, it.Detail)
					continue
				}
				fmt.Fprintf(tw, "FAIL\t%s\t%s\n", it.Name, strings.ReplaceAll(it.Err.Error(), "\n", " "))
				if it.Hint != "" {
					fmt.Fprintf(tw, "\t\thint: %s\n", it.Hint)
				}
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if _, err := stdout.Write(b.Bytes()); err != nil {
				return err
			}
			return config.CheckError(items)
		},
	}
	cmd.Flags().StringVarP(&cfgPath, "config", "c", "", "configuration file (YAML)")
	return cmd
}
