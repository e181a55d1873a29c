package server

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/trellis-authz/trellis/audit"
	"github.com/trellis-authz/trellis/consensus"
	"log/slog"
	"os"
	"sync"
	"time"
)

// DecisionConfig are the decision-log flags of `trellis serve`.
type DecisionConfig struct {
	File           string        // --decision-log: the NDJSON chain; empty disables the log
	Sample         float64       // --decision-sample: fraction of checks recorded, 0..1
	AnchorInterval time.Duration // --decision-anchor-interval
}

func DefaultDecisionConfig() DecisionConfig {
	return DecisionConfig{Sample: 1, AnchorInterval: time.Minute}
}

// validate checks the flags; a zero File disables the log and skips the rest.
func (o DecisionConfig) validate() error {
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
func openDecisionLog(o DecisionConfig, nodeID string) (*nodeDecisions, error) {
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
		return nil, fmt.Errorf("--decision-log does not verify, so it cannot be continued (move it aside and keep it as evidence; a new file starts a new chain): %w", audit.DescribeDecisionError(o.File, err))
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

// decisionFeed is the feed of the node's decision log (the records it
// appends, served by GET /v1/decisions and its stream), nil without a log.
func (n *Node) decisionFeed() *audit.DecisionFeed {
	if n.dec == nil {
		return nil
	}
	return n.dec.open.log.Feed()
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

// decisionRuntime is a running node's decision log and its anchorer.
type decisionRuntime struct {
	open     *nodeDecisions
	anchorer *decisionAnchorer
	stop     context.CancelFunc
	stopped  chan struct{}
}

// startDecisions starts anchoring the chain's head through node every
// interval.
func startDecisions(d *nodeDecisions, node anchorProposer, o Config) *decisionRuntime {
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
