package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/auditlog-exporter/auditlog-exporter/errclass"
	"github.com/spf13/cobra"
)

// exitCode maps by type: what an error says does not decide its code.
func TestExitCodeMapping(t *testing.T) {
	cases := []struct {
		name string
		err  error
		code int
	}{
		{"usage", usageError{errors.New("--from and --to are required")}, exitConfig},
		{"usage, wrapped", fmt.Errorf("backfill: %w", usageError{errors.New("--parallel must be between 1 and 8")}), exitConfig},
		{"usage, noted", notedError{error: usageError{errors.New("x")}, note: "n"}, exitConfig},
		{"configuration", errclass.Mark(errclass.Config, errors.New("export.window: 7m0s does not divide 24h")), exitConfig},
		{"configuration, wrapped", fmt.Errorf("load: %w", errclass.Mark(errclass.Config, errors.New("bad"))), exitConfig},
		{"credentials", errclass.Mark(errclass.Auth, errors.New("HTTP 401")), exitAuth},
		{"retryable", errclass.Mark(errclass.Retryable, errors.New("HTTP 503")), exitFailed},
		{"permanent", errclass.Mark(errclass.Permanent, errors.New("HTTP 400")), exitFailed},
		{"plain", errors.New("sink file:./out: no space left on device"), exitFailed},
		{"interrupted", context.Canceled, exitFailed},
		// Worded like cobra's parse errors, but not one: no longer exit 2.
		{"untyped cobra wording", errors.New(`unknown flag: --confg`), exitFailed},
		{"untyped accepts wording", errors.New("accepts 0 arg(s), received 1"), exitFailed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := exitCode(c.err); got != c.code {
				t.Fatalf("exitCode(%v) = %d, want %d", c.err, got, c.code)
			}
		})
	}
}

// Every mistake cobra finds on the command line exits 2 with cobra's
// words; asking for help exits 0.
func TestCommandLineMistakesExit2(t *testing.T) {
	cases := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"unknown command", []string{"runn"}, exitConfig, `unknown command "runn" for "auditlog-exporter"`},
		{"unknown command, suggested", []string{"verfy"}, exitConfig, "Did you mean this?\n    verify"},
		{"unknown flag", []string{"run", "--confg", "x.yaml"}, exitConfig, "unknown flag: --confg"},
		{"unknown root flag", []string{"--confg"}, exitConfig, "unknown flag: --confg"},
		{"unknown shorthand", []string{"run", "-q"}, exitConfig, "unknown shorthand flag: 'q' in -q"},
		{"flag without its value", []string{"run", "--config"}, exitConfig, "flag needs an argument: --config"},
		{"flag's bad value", []string{"backfill", "--parallel", "many"}, exitConfig, `invalid argument "many" for "--parallel"`},
		{"stray argument", []string{"run", "now"}, exitConfig, `unknown command "now" for "auditlog-exporter run"`},
		{"stray argument, nested", []string{"state", "show", "all"}, exitConfig, `unknown command "all" for "auditlog-exporter state show"`},
		{"stray argument, completion", []string{"completion", "bash", "extra"}, exitConfig, `unknown command "extra"`},
		{"a command's own check", []string{"run"}, exitConfig, "--config is required"},
		{"no command", nil, exitOK, "Available Commands:"},
		{"help", []string{"--help"}, exitOK, "Available Commands:"},
		{"help command", []string{"help", "run"}, exitOK, "auditlog-exporter run"},
		{"a command's help", []string{"state", "--help"}, exitOK, "show"},
		{"completion", []string{"completion", "bash"}, exitOK, "bash completion"},
		{"version", []string{"version"}, exitOK, "auditlog-exporter"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := execute(t.Context(), c.args, &stdout, &stderr)
			if code != c.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, c.code, stdout.String(), stderr.String())
			}
			if !strings.Contains(stdout.String()+stderr.String(), c.msg) {
				t.Fatalf("output lacks %q\nstdout: %s\nstderr: %s", c.msg, stdout.String(), stderr.String())
			}
			if c.code == exitConfig && !strings.Contains(stderr.String(), "(exit 2: fix the configuration or command line") {
				t.Fatalf("stderr lacks what exit 2 means:\n%s", stderr.String())
			}
		})
	}
}

// A command tree typed by typeUsageErrors: a required flag or a flag
// group left incomplete is a usage error too (no command of the product
// marks one yet).
func TestRequiredFlagsAreUsageErrors(t *testing.T) {
	newTree := func() *cobra.Command {
		root := &cobra.Command{Use: "x", SilenceErrors: true, SilenceUsage: true}
		root.SetOut(io.Discard)
		root.SetErr(io.Discard)
		sub := &cobra.Command{Use: "sub", Args: cobra.ExactArgs(1), RunE: func(*cobra.Command, []string) error { return nil }}
		sub.Flags().String("need", "", "")
		sub.Flags().String("a", "", "")
		sub.Flags().String("b", "", "")
		if err := sub.MarkFlagRequired("need"); err != nil {
			t.Fatal(err)
		}
		sub.MarkFlagsRequiredTogether("a", "b")
		root.AddCommand(sub)
		typeUsageErrors(root)
		return root
	}
	cases := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"sub", "arg"}, exitConfig, `required flag(s) "need" not set`},
		{[]string{"sub", "--need", "1", "--a", "1", "arg"}, exitConfig, "if any flags in the group [a b] are set they must all be set"},
		{[]string{"sub", "--need", "1"}, exitConfig, "accepts 1 arg(s), received 0"},
		{[]string{"sub", "--need", "1", "arg"}, exitOK, ""},
	}
	for _, c := range cases {
		root := newTree()
		root.SetArgs(c.args)
		err := root.Execute()
		code := exitOK
		if err != nil {
			code = exitCode(err)
		}
		if code != c.code || err != nil && !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%q: exit %d (%v), want %d with %q", c.args, code, err, c.code, c.msg)
		}
	}
}
