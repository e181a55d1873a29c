package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/trellis-authz/trellis/bench/benchcli"
)

// version is the binary's version; release builds set it with
// -ldflags "-X main.version=v1.2.3".
var version = "dev"

// newRootCommand builds the "trellis" command tree. To add a subcommand,
// write newXxxCommand() *cobra.Command in its own file (xxx.go) and add one
// AddCommand line here.
func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "trellis",
		Short: "Trellis: relationship-based access control for AI systems",
		Long: `Trellis is a Zanzibar-style access-control engine. It reads schemas in the
SpiceDB schema language (*.zed), stores relationships, and answers "may this
subject do that on this resource, right now?".`,
		Version:       version,
		SilenceUsage:  true, // usage is printed for flag errors only, below
		SilenceErrors: true, // execute prints errors once
	}
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w\n\n%s", err, cmd.UsageString())}
	})

	root.AddCommand(newSchemaCommand())
	root.AddCommand(newServeCommand())
	root.AddCommand(newRecoverCommand())
	root.AddCommand(newHealthCommand())
	root.AddCommand(newTokenCommand())
	root.AddCommand(benchcli.NewCommand("bench"))
	root.AddCommand(newValidateCommand())
	root.AddCommand(newDevCommand(), newClusterCommand())
	root.AddCommand(newAuditCommand(), newWatchCommand())
	root.AddCommand(newCheckCommand())
	root.AddCommand(newExpandCommand())
	root.AddCommand(newWriteCommand())
	root.AddCommand(newReadCommand())
	root.AddCommand(newDeleteCommand())
	root.AddCommand(newLookupResourcesCommand())
	root.AddCommand(newLookupSubjectsCommand())
	root.AddCommand(newPlanCommand())
	root.AddCommand(newSuspendCommand(), newUnsuspendCommand(), newSuspensionsCommand())
	root.AddCommand(newAlertsCommand())
	root.AddCommand(newImportCommand())
	root.AddCommand(newExportCommand())
	return root
}

// exitError carries an exit code for a failure that has already been
// reported to the user (such as schema errors printed per file).
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// usageError is a command-line mistake; it exits with status 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// minArgs is cobra.MinimumNArgs reporting a usage error (exit status 2).
func minArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.MinimumNArgs(n)(cmd, args); err != nil {
			return usageError{fmt.Errorf("%w\n\n%s", err, cmd.UsageString())}
		}
		return nil
	}
}

// execute runs the command with args and returns the process exit code: 0 on
// success, 1 on failure, 2 on a usage error.
func execute(cmd *cobra.Command, args []string) int {
	cmd.SetArgs(args)
	err := cmd.Execute()
	if err == nil {
		return 0
	}
	var exit exitError
	if errors.As(err, &exit) {
		return exit.code
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "trellis: %v\n", err)
	var usage usageError
	if errors.As(err, &usage) {
		return 2
	}
	return 1
}
