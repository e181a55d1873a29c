package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/trellis-authz/trellis/audit"
	"github.com/trellis-authz/trellis/client"
)

func newAuditDecisionsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "decisions",
		Short: "Check a node's decision log (the sampled hash chain of check decisions)",
	}
	cmd.AddCommand(newAuditDecisionsVerifyCommand())
	return cmd
}

func newAuditDecisionsVerifyCommand() *cobra.Command {
	var r connFlags
	var anchorSeq int64
	var anchorFile string
	cmd := &cobra.Command{
		Use:   "verify FILE",
		Short: "Verify a decision log offline, and optionally against a head anchored in the audit log",
		Long: `Verify recomputes every record's hash of a --decision-log file and checks the
chain (indexes from 0, each prev equal to the previous hash). With
--anchor-seq N it fetches audit entry N (kind decision_anchor) from --endpoint
(admin) and checks that the file reaches that anchored head, so an edited,
truncated or rewritten chain fails; --anchor FILE reads that entry from a file
instead (one JSON entry as ` + "`trellis audit tail`" + ` prints it), offline.

Exit status: 0 when the file verifies, 1 when it does not (the message names
the first bad record index), 2 for a usage error.`,
		Args: minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usageError{fmt.Errorf("verify takes one decision log file, got %d arguments", len(args))}
			}
			if anchorSeq >= 0 && anchorFile != "" {
				return usageError{errors.New("--anchor-seq and --anchor exclude each other; give one")}
			}
			var anchor *audit.Entry
			switch {
			case anchorFile != "":
				b, err := os.ReadFile(anchorFile)
				if err != nil {
					return usageError{fmt.Errorf("--anchor: %w", err)}
				}
				var e audit.Entry
				if err := json.Unmarshal(b, &e); err != nil {
					return usageError{fmt.Errorf("--anchor %s: not an audit entry (JSON as `trellis audit tail` prints): %w", anchorFile, err)}
				}
				anchor = &e
			case anchorSeq >= 0:
				c, err := r.client()
				if err != nil {
					return err
				}
				page, err := c.AuditEntries(cmdContext(cmd), client.AuditEntriesRequest{From: uint64(anchorSeq), Limit: 1})
				if err != nil {
					return r.serverError(err)
				}
				if len(page.Entries) == 0 || page.Entries[0].Seq != uint64(anchorSeq) {
					return fmt.Errorf("audit entry %d does not exist (the log has %d entries)", anchorSeq, page.Size)
				}
				// The wire form is audit.Entry's JSON; read it back as one.
				b, err := json.Marshal(page.Entries[0])
				if err != nil {
					return err
				}
				var e audit.Entry
				if err := json.Unmarshal(b, &e); err != nil {
					return fmt.Errorf("audit entry %d: %w", anchorSeq, err)
				}
				anchor = &e
			}
			var in io.Reader = cmd.InOrStdin()
			if args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return err
				}
				defer f.Close()
				in = bufio.NewReaderSize(f, 1<<16)
			}
			head, err := audit.VerifyDecisions(in, anchor)
			if err != nil {
				return audit.DescribeDecisionError(args[0], err)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "%s: ok: %d records, head %x\n", args[0], head.Count, head.Hash)
			if anchor != nil {
				fmt.Fprintf(w, "anchor: audit entry %d (%s, revision %d) covers %d records: matches\n",
					anchor.Seq, anchor.Principal, anchor.Revision, anchor.ChangeCount)
			}
			return nil
		},
	}
	addConnFlags(cmd, &r)
	cmd.Flags().Int64Var(&anchorSeq, "anchor-seq", -1, "sequence number of a decision_anchor audit entry to check against (fetched from --endpoint)")
	cmd.Flags().StringVar(&anchorFile, "anchor", "", "file holding a decision_anchor audit entry as JSON (offline alternative to --anchor-seq)")
	return cmd
}
