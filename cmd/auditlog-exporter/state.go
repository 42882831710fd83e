package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/exporter"
	"github.com/spf13/cobra"
)

func newStateCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "state",
		Short: "Read or move the watermark",
	}
	var cfgPath, output string
	var all bool
	show := &cobra.Command{
		Use:   "show --config FILE",
		Short: "Show each account's watermark and how many windows are due",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfigOffline(cfgPath)
			if err != nil {
				return err
			}
			store, err := cfg.OpenStore(cmd.Context(), true)
			if err != nil {
				return err
			}
			defer func() { _ = store.Close() }() // opened read-only
			states, err := exporter.ShowState(cmd.Context(), cfg.Watermarks(), store, time.Now())
			if err != nil {
				return err
			}
			switch output {
			case "json":
				enc := json.NewEncoder(stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(states)
			case "text":
				return writeStates(stdout, states, all)
			}
			return usageError{fmt.Errorf("--output %q: want text or json", output)}
		},
	}
	show.Flags().StringVarP(&cfgPath, "config", "c", "", "configuration file (YAML)")
	show.Flags().StringVarP(&output, "output", "o", "text", "text or json")
	show.Flags().BoolVar(&all, "all", false, "list every account (by default, with more than 20 accounts, a summary and the accounts behind)")

	var setCfg, watermark, account string
	set := &cobra.Command{
		Use:   "set --config FILE --watermark T [--account NAME]",
		Short: "Move an account's watermark to a window boundary",
		Long: `Move an account's watermark. The next run exports from T on: an earlier T
re-exports windows (adding only records they lack, never replacing what was
committed); a later T
skips windows. T is RFC 3339 (2026-11-24T10:00:00Z), a date (2026-11-24) or a
negative duration (-24h), must be a boundary of the export.window grid and not
in the future. --account is needed when the configuration has several.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfigOffline(setCfg)
			if err != nil {
				return err
			}
			if watermark == "" {
				return usageError{fmt.Errorf("--watermark is required")}
			}
			now := time.Now()
			t, err := exporter.ParseTimeArg(watermark, now)
			if err != nil {
				return usageError{fmt.Errorf("--watermark: %w", err)}
			}
			if account == "" {
				srcs := cfg.Sources()
				if len(srcs) != 1 {
					return usageError{fmt.Errorf("--account is required: the configuration has %d accounts", len(srcs))}
				}
				account = srcs[0].Account
			}
			store, err := cfg.OpenStore(cmd.Context(), false)
			if err != nil {
				return err
			}
			// The watermark was written and synced before Close, which
			// only releases the lock.
			defer func() { _ = store.Close() }()
			v, _ := versionInfo()
			st, err := exporter.SetState(cmd.Context(), cfg.Watermarks(), store, account, t, now, v)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(stdout, "account %s: watermark set to %s (window %s)\n", st.Account, st.Watermark.Format(time.RFC3339), st.Window)
			return err
		},
	}
	set.Flags().StringVarP(&setCfg, "config", "c", "", "configuration file (YAML)")
	set.Flags().StringVar(&watermark, "watermark", "", "new watermark: RFC 3339, a date, or -DURATION")
	set.Flags().StringVar(&account, "account", "", "account to move (default: the only configured one)")
	cmd.AddCommand(show, set)
	return cmd
}

// stateRows is how many accounts `state show` lists before it summarizes.
const stateRows = 20

// writeStates prints the accounts' watermarks as a table. With more than
// stateRows accounts (and not all), it prints a summary line and only the
// accounts that are behind (more than one window due), most behind first,
// at most stateRows of them.
func writeStates(out io.Writer, states []exporter.AccountState, all bool) error {
	var b bytes.Buffer
	w := &b
	more := 0
	rows := states
	if !all && len(states) > stateRows {
		var behind []exporter.AccountState
		maxDue := 0
		for _, s := range states {
			if s.WindowsDue > 1 {
				behind = append(behind, s)
			}
			maxDue = max(maxDue, s.WindowsDue)
		}
		sort.SliceStable(behind, func(i, j int) bool { return behind[i].WindowsDue > behind[j].WindowsDue })
		fmt.Fprintf(w, "%d accounts: %d up to date (at most one window due), %d behind (up to %d windows due)\n", len(states), len(states)-len(behind), len(behind), maxDue)
		if len(behind) == 0 {
			_, err := out.Write(b.Bytes())
			return err
		}
		rows = behind
		if len(rows) > stateRows {
			more = len(rows) - stateRows
			rows = rows[:stateRows]
		}
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ACCOUNT\tWATERMARK\tWINDOW\tWINDOWS DUE\tBEHIND\tUPDATED")
	for _, s := range rows {
		updated := "never (starts at export.start)"
		if s.Saved {
			updated = s.UpdatedAt.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", s.Account, s.Watermark.Format(time.RFC3339), s.Window, s.WindowsDue, s.Behind, updated)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if more > 0 {
		fmt.Fprintf(w, "... and %d more behind (--all or --output json for every account)\n", more)
	}
	_, err := out.Write(b.Bytes())
	return err
}
