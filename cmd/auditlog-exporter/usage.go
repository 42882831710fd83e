package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// usageError is a mistake on the command line: exit 2, whatever it wraps.
// Cobra's own parse errors (an unknown command or flag, a flag's bad
// value, a stray argument, a required flag left out) become one where
// cobra reports them (typeUsageErrors), so that exitCode maps by type,
// never by the wording of a message.
type usageError struct{ error }

func (u usageError) Unwrap() error { return u.error }

// typeUsageErrors makes every error cobra raises about the command line
// of root and its subcommands a usageError: flag parsing through the flag
// error function (inherited by every subcommand), positional arguments
// through each command's Args validator, required flags and flag groups
// before any command runs. Call it once the command tree is complete.
func typeUsageErrors(root *cobra.Command) {
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	// The root runs nothing itself: without arguments it shows its help
	// (as cobra does for a command that cannot run), with any it names an
	// unknown command. Cobra's own check for that lives in its command
	// search and cannot be wrapped, so the root takes it over.
	root.Args = unknownCommand
	root.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		if err := cmd.ValidateRequiredFlags(); err != nil {
			return usageError{err}
		}
		if err := cmd.ValidateFlagGroups(); err != nil {
			return usageError{err}
		}
		return nil
	}
	// The completion command is otherwise added only when cobra runs.
	root.InitDefaultCompletionCmd()
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c != root && c.Args != nil {
			c.Args = usageArgs(c.Args)
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// usageArgs is v with its errors made usageErrors.
func usageArgs(v cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := v(cmd, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}

// unknownCommand is the root's Args: any argument names a command that
// does not exist (the words of cobra's own message, with its suggestions).
func unknownCommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if !cmd.DisableSuggestions {
		if cmd.SuggestionsMinimumDistance <= 0 {
			cmd.SuggestionsMinimumDistance = 2
		}
		if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
			msg += "\n\nDid you mean this?"
			for _, n := range s {
				msg += "\n  " + n // a tab would be shown escaped
			}
		}
	}
	return usageError{fmt.Errorf("%s", msg)}
}
