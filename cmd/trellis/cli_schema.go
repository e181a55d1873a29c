package main

import (
	"fmt"
	"github.com/trellis-authz/trellis/wire"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/trellis-authz/trellis/schema/compile"
)

// newSchemaReadCommand is "trellis schema read": print the server's schema.
func newSchemaReadCommand() *cobra.Command {
	var (
		conn        connFlags
		consistency string
	)
	cmd := &cobra.Command{
		Use:   "read",
		Short: "Print the schema stored on the server",
		Long: `read prints the schema the server holds, as written, so it can be saved to a
file, edited and written back. Its hash and the revision read go to stderr.
With --json the answer is {"schema", "hash", "read_at"}.

Exit status: 0 on success, 1 on an error (schema_not_found when none was
written yet), 2 on a usage error.`,
		Example: `  trellis schema read > schema.zed
  trellis schema read --json | jq -r .hash`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cons, err := parseConsistency(consistency)
			if err != nil {
				return err
			}
			c, err := conn.client()
			if err != nil {
				return err
			}
			res, err := c.Schema(cmd.Context(), cons)
			if err != nil {
				return conn.serverError(err)
			}
			out := cmd.OutOrStdout()
			if conn.json {
				return printJSON(out, res)
			}
			io.WriteString(out, res.Schema)
			if !strings.HasSuffix(res.Schema, "\n") {
				fmt.Fprintln(out)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "(hash %s, read at %s)\n", res.Hash, res.ReadAt)
			return nil
		},
	}
	addConnFlags(cmd, &conn)
	addConsistencyFlag(cmd, &consistency)
	return cmd
}

// newSchemaWriteCommand is "trellis schema write FILE": replace the server's
// schema after compiling it locally.
func newSchemaWriteCommand() *cobra.Command {
	var (
		conn connFlags
		wf   writeFlags
	)
	cmd := &cobra.Command{
		Use:   "write FILE",
		Short: "Replace the server's schema with a schema file (\"-\": stdin)",
		Long: `write compiles FILE locally first, printing every error with its position
as "trellis schema check" does, and sends it only when it compiles. The
server refuses a change that would orphan stored relationships
(unsafe_schema_change); run "trellis schema diff" first to see what changes.

It prints the new schema's hash, the token of the written revision and any
warnings.

Exit status: 0 written, 1 when the file has errors or the server refuses it,
2 on a usage error.`,
		Example: `  trellis schema write examples/ai-governance/schema.zed --reason "add model#tuner"`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := args[0]
			var src []byte
			var err error
			if path == "-" {
				src, err = io.ReadAll(cmd.InOrStdin())
			} else {
				src, err = os.ReadFile(path)
			}
			if err != nil {
				return err
			}
			if _, errs := compile.CompileText(path, string(src)); errs.Err() != nil {
				printErrors(cmd.ErrOrStderr(), errs)
				fmt.Fprintf(cmd.ErrOrStderr(), "%s: %s; not written\n", path, countProblems(errs))
				return exitError{code: 1}
			}
			key, err := wf.key()
			if err != nil {
				return err
			}
			c, err := conn.client()
			if err != nil {
				return err
			}
			res, err := c.WriteSchema(cmd.Context(), wire.WriteSchemaRequest{Schema: string(src), Reason: wf.reason, IdempotencyKey: key})
			if err != nil {
				return wf.failed(conn.serverError(err), false)
			}
			out := cmd.OutOrStdout()
			if conn.json {
				return printJSON(out, map[string]any{"written_at": res.WrittenAt, "hash": res.Hash, "warnings": res.Warnings, "idempotency_key": key})
			}
			for _, w := range res.Warnings {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s\n", w)
			}
			fmt.Fprintf(out, "schema written at %s (hash %s)\n", res.WrittenAt, res.Hash)
			if wf.generated {
				fmt.Fprintf(out, "idempotency key %s\n", key)
			}
			return nil
		},
	}
	addConnFlags(cmd, &conn)
	addWriteFlags(cmd, &wf)
	return cmd
}
