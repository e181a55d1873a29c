package main

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/trellis-authz/trellis/server"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/trellis-authz/trellis/audit"
	"github.com/trellis-authz/trellis/client"
)

func cmdContext(cmd *cobra.Command) context.Context {
	if ctx := cmd.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}

// createOutput opens -o FILE, or stdout for "" or "-".
func createOutput(cmd *cobra.Command, path string) (io.Writer, func() error, error) {
	if path == "" || path == "-" {
		return cmd.OutOrStdout(), func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, nil, err
	}
	return f, f.Close, nil
}

func newAuditCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Read, export and verify the tamper-evident audit log",
		Long: `The audit log has one entry per applied write, delete, import chunk and schema
change, kept as the leaves of an RFC 6962 Merkle tree. Each node signs
checkpoints (size, root, revision, time) with its own Ed25519 key in
DATA-DIR/audit-signing.key. See docs/audit.md.`,
	}
	cmd.AddCommand(newAuditTailCommand(), newAuditExportCommand(), newAuditCheckpointCommand(),
		newAuditVerifyCommand(), newAuditPubkeyCommand(), newAuditDecisionsCommand())
	return cmd
}

func newAuditTailCommand() *cobra.Command {
	var r connFlags
	var from int64
	var limit int
	var principal, kind, since, until string
	cmd := &cobra.Command{
		Use:   "tail",
		Short: "Print audit entries as NDJSON (default: the last --limit entries)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req := client.AuditEntriesRequest{Limit: limit, Principal: principal, Kind: kind}
			for _, t := range []struct {
				flag, v string
				dst     *time.Time
			}{{"--since", since, &req.Since}, {"--until", until, &req.Until}} {
				if t.v == "" {
					continue
				}
				tm, err := time.Parse(time.RFC3339Nano, t.v)
				if err != nil {
					return usageError{fmt.Errorf("%s %q: want an RFC 3339 time such as 2026-11-22T10:00:00Z", t.flag, t.v)}
				}
				*t.dst = tm
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			ctx := cmdContext(cmd)
			if from < 0 {
				cp, err := c.AuditCheckpoint(ctx)
				if err != nil {
					return r.serverError(err)
				}
				if size := cp.Checkpoint.Size; size > uint64(limit) {
					req.From = size - uint64(limit)
				}
			} else {
				req.From = uint64(from)
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetEscapeHTML(false)
			printed := 0
			for printed < limit {
				page, err := c.AuditEntries(ctx, req)
				if err != nil {
					return r.serverError(err)
				}
				for _, e := range page.Entries {
					if printed == limit {
						break
					}
					if err := enc.Encode(e); err != nil {
						return err
					}
					printed++
				}
				if page.Next >= page.Size || page.Next == req.From {
					break
				}
				req.From = page.Next
			}
			return nil
		},
	}
	addConnFlags(cmd, &r)
	cmd.Flags().Int64Var(&from, "from", -1, "first sequence number (default: the last --limit entries)")
	cmd.Flags().IntVar(&limit, "limit", 20, "how many entries to print (at most 1000 per page)")
	cmd.Flags().StringVar(&principal, "principal", "", "only entries by this principal")
	cmd.Flags().StringVar(&kind, "kind", "", "only entries of this kind: write, delete, import, schema, decision_anchor")
	cmd.Flags().StringVar(&since, "since", "", "only entries at or after this RFC 3339 time")
	cmd.Flags().StringVar(&until, "until", "", "only entries before this RFC 3339 time")
	return cmd
}

func newAuditExportCommand() *cobra.Command {
	var r connFlags
	var out string
	var size uint64
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Download the audit log as NDJSON (admin), the input of `trellis audit verify`",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			body, n, err := c.AuditExport(cmdContext(cmd), size)
			if err != nil {
				return r.serverError(err)
			}
			defer body.Close()
			w, closeOut, err := createOutput(cmd, out)
			if err != nil {
				return err
			}
			if _, err := io.Copy(w, body); err != nil {
				closeOut()
				return fmt.Errorf("audit export: %w", err)
			}
			if err := closeOut(); err != nil {
				return err
			}
			if out != "" && out != "-" {
				fmt.Fprintf(cmd.ErrOrStderr(), "exported %d audit entries to %s\n", n, out)
			}
			return nil
		},
	}
	addConnFlags(cmd, &r)
	cmd.Flags().StringVarP(&out, "output", "o", "", "write to this file instead of stdout")
	cmd.Flags().Uint64Var(&size, "size", 0, "export only the first N entries (default: all)")
	return cmd
}

func newAuditCheckpointCommand() *cobra.Command {
	var r connFlags
	var out string
	cmd := &cobra.Command{
		Use:   "checkpoint",
		Short: "Print the node's latest signed checkpoint (the note text `audit verify --checkpoint` reads)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			cp, err := c.AuditCheckpoint(cmdContext(cmd))
			if err != nil {
				return r.serverError(err)
			}
			w, closeOut, err := createOutput(cmd, out)
			if err != nil {
				return err
			}
			if r.json {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				err = enc.Encode(cp)
			} else {
				_, err = io.WriteString(w, cp.Checkpoint.Note)
			}
			if err != nil {
				closeOut()
				return err
			}
			return closeOut()
		},
	}
	addConnFlags(cmd, &r)
	cmd.Flags().StringVarP(&out, "output", "o", "", "write to this file instead of stdout")
	return cmd
}

// parsePublicKey reads "<name> <base64>" (as `audit pubkey` prints it), or
// just the base64 key, from a flag value or, when it names a file, from the
// file.
func parsePublicKey(v string) (ed25519.PublicKey, error) {
	if b, err := os.ReadFile(v); err == nil {
		v = string(b)
	}
	fields := strings.Fields(v)
	if len(fields) == 0 {
		return nil, errors.New("--pubkey is empty")
	}
	raw, err := base64.StdEncoding.DecodeString(fields[len(fields)-1])
	if err != nil || len(raw) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("--pubkey %q: want the output of `trellis audit pubkey` (\"<name> <base64 Ed25519 key>\") or a file holding it", v)
	}
	return ed25519.PublicKey(raw), nil
}

func readCheckpointFile(path string) (*audit.Checkpoint, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--checkpoint: %w", err)
	}
	if t := strings.TrimSpace(string(b)); strings.HasPrefix(t, "{") {
		// The answer of GET /v1/audit/checkpoint (wire.AuditCheckpointResponse),
		// read with audit's own type, which checks the fields against the note.
		var resp struct {
			Checkpoint *audit.Checkpoint `json:"checkpoint"`
		}
		if err := json.Unmarshal(b, &resp); err == nil && resp.Checkpoint != nil {
			return resp.Checkpoint, nil
		}
		var cp audit.Checkpoint
		if err := json.Unmarshal(b, &cp); err != nil {
			return nil, fmt.Errorf("--checkpoint %s: %w", path, err)
		}
		return &cp, nil
	}
	cp, err := audit.ParseCheckpoint(b)
	if err != nil {
		return nil, fmt.Errorf("--checkpoint %s: %w", path, err)
	}
	return cp, nil
}

func newAuditVerifyCommand() *cobra.Command {
	var checkpoint, pubkey string
	cmd := &cobra.Command{
		Use:   "verify EXPORT",
		Short: "Verify an audit export offline: sequence, leaf hashes, revisions, and a checkpoint's root and signature",
		Long: `Verify recomputes every entry's leaf hash from its fields and the RFC 6962
root over all of them, without contacting any server. With --checkpoint the
root of the first checkpoint-size entries must equal the checkpoint's (so a
truncated, reordered or edited export fails); with --pubkey the checkpoint's
Ed25519 signature is checked against a key you pinned earlier (never one taken
from the server being audited). EXPORT "-" reads stdin.

Exit status: 0 when the export verifies, 1 when it does not (the message
names the first bad sequence number when there is one), 2 for a usage error.`,
		Args: minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usageError{fmt.Errorf("verify takes one export file, got %d arguments", len(args))}
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
			var cp *audit.Checkpoint
			if checkpoint != "" {
				var err error
				if cp, err = readCheckpointFile(checkpoint); err != nil {
					return usageError{err}
				}
			}
			var pub ed25519.PublicKey
			if pubkey != "" {
				if cp == nil {
					return usageError{errors.New("--pubkey verifies a checkpoint's signature; give --checkpoint too")}
				}
				var err error
				if pub, err = parsePublicKey(pubkey); err != nil {
					return usageError{err}
				}
			}
			rep, err := audit.Verify(in, cp, pub)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "%s: ok: %d entries, root %s, last revision %d\n", args[0], rep.Size,
				base64.StdEncoding.EncodeToString(rep.Root), rep.LastRevision)
			if rep.CheckpointVerified {
				fmt.Fprintf(w, "checkpoint: size %d matches (origin %s, signer %s)\n", cp.Size, cp.Origin, cp.KeyName)
			}
			if rep.SignatureVerified {
				fmt.Fprintf(w, "signature: ok\n")
			} else if cp != nil {
				fmt.Fprintf(w, "signature: not checked (give --pubkey with a key you pinned)\n")
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&checkpoint, "checkpoint", "", "checkpoint file (note text from `trellis audit checkpoint`, or its --json form)")
	cmd.Flags().StringVar(&pubkey, "pubkey", "", "pinned signer public key (\"<name> <base64>\" as `trellis audit pubkey` prints, or a file holding it)")
	return cmd
}

func newAuditPubkeyCommand() *cobra.Command {
	var dataDir, clusterID, nodeID string
	cmd := &cobra.Command{
		Use:   "pubkey",
		Short: "Print this node's checkpoint signing public key (\"<name> <base64>\"), for verifiers to pin",
		Long: `Print the public half of DATA-DIR/audit-signing.key (created on the node's first
start, mode 0600) with the key name the node signs under, as
"<name> <base64 Ed25519 public key>". Run it on the node itself and hand the
line to auditors over a channel you trust; they pass it to
` + "`trellis audit verify --pubkey`" + `. Use the same --cluster-id and --node-id as
` + "`trellis serve`" + `.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			line, err := server.AuditPublicKey(dataDir, clusterID, nodeID)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), line)
			return nil
		},
	}
	o := server.DefaultConfig()
	cmd.Flags().StringVar(&dataDir, "data-dir", o.DataDir, "the node's data directory")
	cmd.Flags().StringVar(&clusterID, "cluster-id", o.ClusterID, "the node's --cluster-id")
	cmd.Flags().StringVar(&nodeID, "node-id", o.NodeID, "the node's --node-id")
	return cmd
}
