package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/trellis-authz/trellis/audit"
	"github.com/trellis-authz/trellis/client"
	"github.com/trellis-authz/trellis/consensus"
)

// decisionOptions are the decision-log flags of `trellis serve`.
type decisionOptions struct {
	File           string        // --decision-log: the NDJSON chain; empty disables the log
	Sample         float64       // --decision-sample: fraction of checks recorded, 0..1
	AnchorInterval time.Duration // --decision-anchor-interval
}

func defaultDecisionOptions() decisionOptions {
	return decisionOptions{Sample: 1, AnchorInterval: time.Minute}
}

func addDecisionFlags(fs *pflag.FlagSet, o *decisionOptions) {
	fs.StringVar(&o.File, "decision-log", o.File, "append-only file (created 0600) for this node's hash chain of check decisions; empty: no decision log")
	fs.Float64Var(&o.Sample, "decision-sample", o.Sample, "fraction of checks recorded in --decision-log, 0..1 (chosen by a keyed hash of the request id with a per-process secret, so callers cannot pick ids that escape it)")
	fs.DurationVar(&o.AnchorInterval, "decision-anchor-interval", o.AnchorInterval, "how often the decision chain's head is anchored in the replicated audit log (when it changed and this node leads)")
}

// validate checks the flags; a zero File disables the log and skips the rest.
func (o decisionOptions) validate() error {
	if o.File == "" {
		return nil
	}
	if !(o.Sample >= 0 && o.Sample <= 1) {
		return fmt.Errorf("--decision-sample %v: want a fraction within 0..1, e.g. 0.1", o.Sample)
	}
	if o.AnchorInterval <= 0 {
		return fmt.Errorf("--decision-anchor-interval %v: want a positive duration, e.g. 1m", o.AnchorInterval)
	}
	return nil
}

// nodeDecisions is a node's open decision log and the file behind it.
type nodeDecisions struct {
	log  *audit.DecisionLog
	file *os.File
}

// openDecisionLog opens (creating 0600) the chain file, verifies what it
// already holds and continues the chain from its head. A file that does not
// verify stops the start: appending to a broken chain would hide the break.
func openDecisionLog(o decisionOptions, nodeID string) (*nodeDecisions, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(o.File, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("--decision-log: %w", err)
	}
	head, err := audit.VerifyDecisions(bufio.NewReaderSize(f, 1<<16), nil)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("--decision-log does not verify, so it cannot be continued (move it aside and keep it as evidence; a new file starts a new chain): %w", decisionVerifyError(o.File, err))
	}
	cfg := audit.DefaultDecisionConfig(nodeID)
	cfg.SampleRate = o.Sample
	dl, err := audit.NewDecisionLog(f, head, cfg)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("--decision-log: %w", err)
	}
	return &nodeDecisions{log: dl, file: f}, nil
}

// Close syncs and closes the chain file.
func (d *nodeDecisions) Close() error {
	return errors.Join(d.file.Sync(), d.file.Close())
}

// anchorProposer is what the anchorer needs of the consensus node.
// *consensus.Node satisfies it.
type anchorProposer interface {
	IsLeader() bool
	Write(ctx context.Context, c consensus.Command) (consensus.WriteResult, error)
}

// decisionAnchorer proposes AnchorCommands carrying the decision chain's
// head. Only the leader can propose, so a node anchors its chain while it
// leads; a follower's head waits (and stays marked as changed) until it
// becomes leader. See docs/audit.md.
type decisionAnchorer struct {
	node   anchorProposer
	log    *audit.DecisionLog
	nodeID string
	logger *slog.Logger

	mu       sync.Mutex
	anchored audit.DecisionHead // the last head anchored by this process
	done     bool               // anchored at least once
}

// anchorOnce proposes the current head if the chain is not empty, changed
// since the last anchor this process wrote (after a restart the first
// non-empty head is anchored once again), and this node leads. It reports
// whether it wrote an anchor.
func (a *decisionAnchorer) anchorOnce(ctx context.Context) (bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	head := a.log.Head()
	if head.Count == 0 || a.done && head.Count == a.anchored.Count {
		return false, nil // nothing recorded yet, or nothing new
	}
	if !a.node.IsLeader() {
		return false, nil
	}
	_, err := a.node.Write(ctx, &consensus.AnchorCommand{
		Meta: consensus.Meta{Principal: "node:" + a.nodeID, Reason: "decision chain head", Time: time.Now().UTC()},
		Node: a.nodeID, Size: head.Count, Head: hex.EncodeToString(head.Hash),
	})
	if err != nil {
		return false, fmt.Errorf("anchoring decision chain head %d: %w", head.Count, err)
	}
	a.anchored, a.done = head, true
	return true, nil
}

// run anchors every interval until ctx ends.
func (a *decisionAnchorer) run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			wctx, cancel := context.WithTimeout(ctx, interval)
			if ok, err := a.anchorOnce(wctx); err != nil {
				a.logger.Warn("decision log: anchoring failed; retrying at the next interval", "err", err)
			} else if ok {
				a.logger.Debug("decision log: head anchored", "records", a.log.Head().Count)
			}
			cancel()
		}
	}
}

// decisionVerifyError names the first bad record of a decision log: a
// *audit.VerifyError's Seq is the record index there.
func decisionVerifyError(file string, err error) error {
	var ve *audit.VerifyError
	if !errors.As(err, &ve) || !ve.HasSeq {
		return fmt.Errorf("%s: %w", file, err)
	}
	where := fmt.Sprintf("record %d", ve.Seq)
	if ve.Line > 0 {
		where += fmt.Sprintf(" (line %d)", ve.Line)
	}
	return fmt.Errorf("%s: %s: %s: %w", file, where, ve.Msg, ve.Err)
}

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
				return decisionVerifyError(args[0], err)
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

// decisionRuntime is a running node's decision log and its anchorer.
type decisionRuntime struct {
	open     *nodeDecisions
	anchorer *decisionAnchorer
	stop     context.CancelFunc
	stopped  chan struct{}
}

// startDecisions starts anchoring the chain's head through node every
// interval.
func startDecisions(d *nodeDecisions, node anchorProposer, o nodeOptions) *decisionRuntime {
	a := &decisionAnchorer{node: node, log: d.log, nodeID: o.NodeID, logger: o.Log.With("component", "decisions")}
	ctx, cancel := context.WithCancel(context.Background())
	rt := &decisionRuntime{open: d, anchorer: a, stop: cancel, stopped: make(chan struct{})}
	go func() {
		defer close(rt.stopped)
		a.run(ctx, o.Decisions.AnchorInterval)
	}()
	return rt
}

// Close stops the anchorer, anchors the final head when this node leads (so a
// clean shutdown leaves the whole chain anchored), and closes the file. Call
// it after the HTTP server stopped and before raft closes.
func (rt *decisionRuntime) Close() error {
	rt.stop()
	<-rt.stopped
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := rt.anchorer.anchorOnce(ctx)
	return errors.Join(err, rt.open.Close())
}
