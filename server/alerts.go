package server

import (
	"bytes"
	"context"
	"encoding/json"
	"time"

	"github.com/trellis-authz/trellis/alerts"
	"github.com/trellis-authz/trellis/consensus"
)

// alertPoll is how often every node reloads the alert rules and the leader's
// alert loop looks for new revisions.
const alertPoll = 50 * time.Millisecond

// alertCursor is the replicated delivery cursor (ADR 0012).
type alertCursor struct{ n *Node }

func (c alertCursor) Load(context.Context) (uint64, error) { return consensus.AlertCursor(c.n.store) }

func (c alertCursor) Store(ctx context.Context, rev uint64) error {
	_, err := c.n.raft.Write(ctx, &consensus.AlertCursorCommand{Meta: consensus.Meta{Principal: c.n.principal()}, Revision: rev})
	return err
}

// principal is the name the node's own writes carry.
func (n *Node) principal() string { return "node:" + n.cfg.NodeID }

// feedMeta is what the alert loop reads of a change record's meta.
type feedMeta struct {
	consensus.Meta
	Kind       string `json:"kind"`
	SchemaHash string `json:"schema_hash"`
}

// startAlerts runs the alert loops (docs/alerts.md): on every node, the
// rules are reloaded when they change and decision alerts are delivered by
// the node that answered the check (alertdecisions.go); on the leader only,
// the change feed is followed from the replicated cursor and what the rules
// select is posted to their webhooks, a delivery whose attempts run out
// becoming a replicated dead letter.
func (n *Node) startAlerts() {
	ctx, cancel := context.WithCancel(context.Background())
	backoff := n.cfg.AlertBackoff
	if backoff == (alerts.Backoff{}) {
		backoff = alerts.DefaultBackoff
	}
	sender := &alerts.Sender{Backoff: backoff, Log: n.log.With("component", "alerts"), Stats: &n.alert.stats}
	loop := &alerts.Loop{
		Sender:  sender,
		Feed:    n.store.Changes,
		Cursor:  alertCursor{n},
		Horizon: n.store.ChangeHorizon,
		Log:     n.log.With("component", "alerts"),
		Rules:   func(context.Context) (alerts.RuleSet, error) { return consensus.AlertRules(n.store) },
		Describe: func(rev uint64, meta []byte) alerts.Revision {
			var m feedMeta
			_ = json.Unmarshal(meta, &m) // a record without meta still alerts
			return alerts.Revision{Kind: m.Kind, SchemaHash: m.SchemaHash, Token: n.srv.Tokens().Encode(rev),
				Time: m.Time, Principal: m.Principal, Reason: m.Reason,
				Audit: "/v1/audit/entries?since=" + m.Time.UTC().Format(time.RFC3339Nano)}
		},
		Failed: func(ctx context.Context, l alerts.Letter) error {
			l.Node = n.cfg.NodeID
			n.log.Warn("alert delivery failed for good; kept as a dead letter (GET /v1/alerts/failed)", "rule", l.Rule, "delivery", l.ID, "err", l.Error)
			return n.svc.Alerts.AddLetter(ctx, n.principal(), l)
		},
	}
	done := make(chan struct{}, 2)
	go func() {
		defer func() { done <- struct{}{} }()
		n.alert.deliverDecisions(ctx, n, sender)
	}()
	go func() {
		defer func() { n.alert.sends.Wait(); done <- struct{}{} }()
		t := time.NewTicker(alertPoll)
		defer t.Stop()
		reload := n.alert.reload(n)
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			reload()
			n.alert.checkAudit(ctx, n, sender)
			if !n.raft.IsLeader() {
				loop.Reset()
				continue
			}
			if err := loop.Once(ctx); err != nil && ctx.Err() == nil {
				n.log.Warn("alert delivery", "err", err)
			}
		}
	}()
	n.onClose(func() error { cancel(); <-done; <-done; return nil })
}

// reload returns what reloads the decision watcher's rules now (after a PUT
// on this node) and what the poll calls: both go through one lock, so a
// poll that read the old rules cannot install them after the new ones.
func (a *alertRuntime) reload(n *Node) func() {
	return func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		raw, err := consensus.AlertRulesRaw(n.store)
		if err != nil || a.loaded && bytes.Equal(raw, a.raw) {
			return
		}
		rs, err := consensus.AlertRules(n.store)
		if err != nil {
			n.log.Warn("alert rules unreadable", "err", err)
			return
		}
		a.watch.SetRules(rs)
		a.audit.setRules(rs)
		a.raw, a.loaded = raw, true
	}
}

// checkAudit runs the audit-agreement check (alertaudit.go); its alerts are
// delivered in their own goroutines, like decision alerts.
func (a *alertRuntime) checkAudit(ctx context.Context, n *Node, sender *alerts.Sender) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.audit.tick(ctx, n, func(r alerts.Rule, id string, p alerts.Payload) {
		a.sends.Add(1)
		go func() {
			defer a.sends.Done()
			_ = sender.Send(ctx, r, id, p, a.failed(n, r))
		}()
	})
}
