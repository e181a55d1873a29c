package server

import (
	"context"
	"encoding/json"
	"time"

	"github.com/trellis-authz/trellis/alerts"
	"github.com/trellis-authz/trellis/consensus"
)

// alertPoll is how often the leader's alert loop looks for new revisions.
const alertPoll = 50 * time.Millisecond

// alertCursor is the replicated delivery cursor (ADR 0012).
type alertCursor struct{ n *Node }

func (c alertCursor) Load(context.Context) (uint64, error) { return consensus.AlertCursor(c.n.store) }

func (c alertCursor) Store(ctx context.Context, rev uint64) error {
	_, err := c.n.raft.Write(ctx, &consensus.AlertCursorCommand{Meta: consensus.Meta{Principal: "node:" + c.n.cfg.NodeID}, Revision: rev})
	return err
}

// startAlerts runs the alert delivery loop (docs/alerts.md): on the leader
// only, it follows the change feed from the replicated cursor and posts what
// the stored rules match to their webhooks.
func (n *Node) startAlerts() {
	ctx, cancel := context.WithCancel(context.Background())
	loop := &alerts.Loop{
		Sender: &alerts.Sender{Backoff: alerts.DefaultBackoff},
		Feed:   n.store.Changes,
		Cursor: alertCursor{n},
		Rules:  func(context.Context) (alerts.RuleSet, error) { return consensus.AlertRules(n.store) },
		Describe: func(rev uint64, meta []byte) alerts.Revision {
			var m consensus.Meta
			_ = json.Unmarshal(meta, &m) // a record without meta still alerts
			return alerts.Revision{Token: n.srv.Tokens().Encode(rev), Time: m.Time, Principal: m.Principal, Reason: m.Reason,
				Audit: "/v1/audit/entries?since=" + m.Time.UTC().Format(time.RFC3339Nano)}
		},
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(alertPoll)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if !n.raft.IsLeader() {
				loop.Reset()
				continue
			}
			if err := loop.Once(ctx); err != nil && ctx.Err() == nil {
				n.log.Warn("alert delivery", "err", err)
			}
		}
	}()
	n.onClose(func() error { cancel(); <-done; return nil })
}
