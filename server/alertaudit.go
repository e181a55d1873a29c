package server

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/trellis-authz/trellis/alerts"
	"github.com/trellis-authz/trellis/consensus"
)

// defaultAuditEvery is how often the leader proposes its audit root while an
// `audit: true` rule exists and the log has grown (Config.AlertAuditEvery).
const defaultAuditEvery = 5 * time.Second

// auditWatch is a node's side of the audit-agreement check (docs/alerts.md):
// the leader puts its root at its log's size in the replicated state (an
// AuditRootCommand, applied at one raft index everywhere, after every entry
// it covers), and each node compares its own root for that size. A node
// that disagrees delivers the alert itself: only it can see that its tree
// differs. It is driven by the alert poll goroutine only.
type auditWatch struct {
	rules    []alerts.Rule // the audit rules in force
	proposed uint64        // the size this node last proposed, as leader
	next     time.Time     // when the leader may propose again
	compared consensus.AuditRoot
}

// setRules installs the audit rules of rs.
func (w *auditWatch) setRules(rs alerts.RuleSet) {
	w.rules = w.rules[:0]
	for _, r := range rs.Rules {
		if r.Kind() == alerts.KindAudit {
			w.rules = append(w.rules, r)
		}
	}
}

// tick proposes the leader's root when due and compares the latest one.
func (w *auditWatch) tick(ctx context.Context, n *Node, deliver func(alerts.Rule, string, alerts.Payload)) {
	if len(w.rules) == 0 {
		return
	}
	if n.raft.IsLeader() && time.Now().After(w.next) {
		w.next = time.Now().Add(cmp.Or(n.cfg.AlertAuditEvery, defaultAuditEvery))
		if err := w.propose(ctx, n); err != nil && ctx.Err() == nil {
			n.log.Warn("audit root not proposed", "err", err)
		}
	}
	latest, ok, err := consensus.LatestAuditRoot(n.store)
	if err != nil || !ok || latest == w.compared {
		return
	}
	w.compared = latest
	own, err := n.audit.log.RootAt(latest.Size)
	ownHex := hex.EncodeToString(own)
	if err == nil && ownHex == latest.Root {
		return
	}
	if err != nil {
		ownHex = "unreadable: " + err.Error()
	}
	n.log.Error("this node's audit root disagrees with the leader's", "size", latest.Size, "root", ownHex, "leader", latest.Node, "leader_root", latest.Root)
	ev := alerts.Event{Kind: alerts.KindAudit, Node: n.cfg.NodeID, Revision: latest.Revision, Token: n.srv.Tokens().Encode(latest.Revision),
		Time: time.Now().UTC(), Principal: "node:" + latest.Node,
		Audit: &alerts.AuditEvent{Size: latest.Size, Root: ownHex, LeaderRoot: latest.Root}}
	for _, r := range w.rules {
		h := sha256.Sum256(fmt.Appendf(nil, "audit\x00%s\x00%s\x00%d\x00%s", r.Name, n.cfg.NodeID, latest.Size, latest.Root))
		deliver(r, hex.EncodeToString(h[:16]), alerts.Payload{Rule: r.Name, Event: ev,
			Audit: fmt.Sprintf("/v1/audit/proof/consistency?from=%d&to=%d", latest.Size, n.audit.log.Size())})
	}
}

// propose writes the leader's root at its current size, when it has grown.
func (w *auditWatch) propose(ctx context.Context, n *Node) error {
	size := n.audit.log.Size()
	if size == 0 || size == w.proposed {
		return nil
	}
	root, err := n.audit.log.RootAt(size)
	if err != nil {
		return err
	}
	if latest, ok, _ := consensus.LatestAuditRoot(n.store); ok && latest.Size == size && latest.Root == hex.EncodeToString(root) {
		w.proposed = size // an earlier leader proposed this one
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := n.raft.Write(ctx, &consensus.AuditRootCommand{Meta: consensus.Meta{Principal: n.principal()},
		Node: n.cfg.NodeID, Size: size, Root: hex.EncodeToString(root)}); err != nil {
		return err
	}
	w.proposed = size
	return nil
}
