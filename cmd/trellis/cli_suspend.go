package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/trellis-authz/trellis/client"
	"github.com/trellis-authz/trellis/wire"
)

// newSuspendCommand is "trellis suspend SUBJECT --reason ... [--until ...]".
func newSuspendCommand() *cobra.Command {
	var (
		conn  connFlags
		wf    writeFlags
		until string
	)
	cmd := &cobra.Command{
		Use:   "suspend SUBJECT",
		Short: "Cut a subject off everywhere: every check, lookup and expand denies it (admin)",
		Long: `suspend records a suspension of SUBJECT (user:eve, service_account:etl, or a
subject set team:ml#member) through raft. From the printed token on, every
node denies the subject every permission however it would get it (directly,
through groups, through a wildcard); a suspended subject set grants nothing
through itself. It is audited (kind "suspend") and shows in explain traces.
Lift it with "trellis unsuspend". See docs/suspension.md.

--until (RFC 3339) ends it by itself at that time. Suspending a suspended
subject replaces its reason and until.

Exit status: 0 suspended, 1 when the server refuses it, 2 on a usage error.`,
		Example: `  trellis suspend service_account:etl --reason "SEC-7 key leaked"
  trellis suspend user:eve --reason "SEC-9 offboarding" --until 2026-12-31T00:00:00Z`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return suspensionWrite(cmd, &conn, &wf, args[0], "suspended", func(c *client.Client, key string) (*wire.SuspensionWriteResponse, error) {
				return c.Suspend(cmd.Context(), wire.SuspendRequest{Subject: args[0], Reason: wf.reason, Until: until, IdempotencyKey: key})
			})
		},
	}
	addConnFlags(cmd, &conn)
	addWriteFlags(cmd, &wf)
	cmd.Flags().StringVar(&until, "until", "", "end the suspension by itself at this RFC 3339 time (default: until unsuspended)")
	return cmd
}

// suspensionWrite runs a suspend or unsuspend: the reason is required, the
// answer is printed as "SUBJECT <done> at TOKEN" (or JSON).
func suspensionWrite(cmd *cobra.Command, conn *connFlags, wf *writeFlags, subject, done string,
	call func(c *client.Client, key string) (*wire.SuspensionWriteResponse, error)) error {
	if wf.reason == "" {
		return usageError{fmt.Errorf("--reason is required: say why %s is %s (it is kept in the audit log)", subject, done)}
	}
	key, err := wf.key()
	if err != nil {
		return err
	}
	c, err := conn.client()
	if err != nil {
		return err
	}
	res, err := call(c, key)
	if err != nil {
		return wf.failed(conn.serverError(err), false)
	}
	if conn.json {
		return printJSON(cmd.OutOrStdout(), map[string]any{"written_at": res.WrittenAt, "idempotency_key": key})
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%s %s at %s\n", subject, done, res.WrittenAt)
	return nil
}

// newUnsuspendCommand is "trellis unsuspend SUBJECT --reason ...".
func newUnsuspendCommand() *cobra.Command {
	var (
		conn connFlags
		wf   writeFlags
	)
	cmd := &cobra.Command{
		Use:   "unsuspend SUBJECT",
		Short: "Lift a subject's suspension (admin)",
		Long: `unsuspend lifts the suspension of SUBJECT: from the printed token on, every
node answers for it as before the suspension. It is audited (kind
"unsuspend"). A subject that is not suspended is an error (not_found).

Exit status: 0 lifted, 1 when the server refuses it, 2 on a usage error.`,
		Example: `  trellis unsuspend service_account:etl --reason "SEC-7 key rotated"`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return suspensionWrite(cmd, &conn, &wf, args[0], "unsuspended", func(c *client.Client, key string) (*wire.SuspensionWriteResponse, error) {
				return c.Unsuspend(cmd.Context(), wire.UnsuspendRequest{Subject: args[0], Reason: wf.reason, IdempotencyKey: key})
			})
		},
	}
	addConnFlags(cmd, &conn)
	addWriteFlags(cmd, &wf)
	return cmd
}

// newSuspensionsCommand is "trellis suspensions": list them.
func newSuspensionsCommand() *cobra.Command {
	var (
		conn        connFlags
		consistency string
	)
	cmd := &cobra.Command{
		Use:   "suspensions",
		Short: "List the suspended subjects",
		Long: `suspensions lists every stored suspension: subject, whether it is in force
(a lapsed --until shows "lapsed"), until, who and why. With --json the
answer is {"suspensions": [...], "read_at"}.

Exit status: 0 on success, 1 on an error, 2 on a usage error.`,
		Example: `  trellis suspensions
  trellis suspensions --json | jq -r '.suspensions[].subject'`,
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
			res, err := c.Suspensions(cmd.Context(), cons)
			if err != nil {
				return conn.serverError(err)
			}
			if conn.json {
				return printJSON(cmd.OutOrStdout(), res)
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "SUBJECT\tSTATE\tUNTIL\tBY\tREASON")
			for _, s := range res.Suspensions {
				state, u := "active", "-"
				if !s.Active {
					state = "lapsed"
				}
				if s.Until != nil {
					u = s.Until.UTC().Format(time.RFC3339)
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", s.Subject, state, u, s.Principal, s.Reason)
			}
			w.Flush()
			fmt.Fprintf(cmd.ErrOrStderr(), "(%d suspended, read at %s)\n", len(res.Suspensions), res.ReadAt)
			return nil
		},
	}
	addConnFlags(cmd, &conn)
	addConsistencyFlag(cmd, &consistency)
	return cmd
}
