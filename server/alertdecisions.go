package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/trellis-authz/trellis/alerts"
	"github.com/trellis-authz/trellis/engine"
	"github.com/trellis-authz/trellis/service"
	"github.com/trellis-authz/trellis/wire"
)

// Decision alerts are delivered by the node that answered the check: a
// decision is a fact of that node, not of the replicated state, and a
// follower cannot propose. Their queue is in memory (alerts.Watcher); a
// delivery whose attempts run out becomes a replicated dead letter when
// this node leads, and otherwise stays in this node's own list, retried
// every letterRetry.
const (
	watchDepth      = 1024 // decision candidates waiting for the worker
	maxDeliveries   = 16   // decision deliveries in flight at once
	maxLocalLetters = 1000
	letterRetry     = time.Minute
)

// alertRuntime is a node's decision-alert state.
type alertRuntime struct {
	watch *alerts.Watcher
	local *localLetters

	mu     sync.Mutex // serializes reloads
	raw    []byte     // the stored rules last installed
	loaded bool
	audit  auditWatch     // guarded by mu
	sends  sync.WaitGroup // audit alerts being delivered
	stats  alerts.Stats   // every delivery of this node (metrics.go)
}

func newAlertRuntime() *alertRuntime {
	return &alertRuntime{watch: alerts.NewWatcher(watchDepth), local: &localLetters{}}
}

// localLetters are this node's dead letters that it could not replicate.
type localLetters struct {
	mu      sync.Mutex
	letters []alerts.Letter
	rules   map[string]alerts.Rule // by letter id: the rule to send it with
}

func (l *localLetters) list() []alerts.Letter {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]alerts.Letter(nil), l.letters...)
}

func (l *localLetters) add(r alerts.Rule, letter alerts.Letter) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.rules == nil {
		l.rules = map[string]alerts.Rule{}
	}
	if len(l.letters) >= maxLocalLetters {
		delete(l.rules, l.letters[0].ID)
		l.letters = l.letters[1:]
	}
	l.letters = append(l.letters, letter)
	l.rules[letter.ID] = r
}

func (l *localLetters) remove(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, x := range l.letters {
		if x.ID == id {
			l.letters = append(l.letters[:i:i], l.letters[i+1:]...)
			delete(l.rules, id)
			return
		}
	}
}

// decisionDeliveryID is the id of rule's alert about the check requestKey
// answered by node.
func decisionDeliveryID(rule, node, requestKey string) string {
	h := sha256.Sum256(fmt.Appendf(nil, "decision\x00%s\x00%s\x00%s", rule, node, requestKey))
	return hex.EncodeToString(h[:16])
}

// deliverDecisions takes candidates from the watcher until ctx ends, each
// delivered in its own goroutine (at most maxDeliveries at once; the rest
// wait in the watcher's bounded queue).
func (a *alertRuntime) deliverDecisions(ctx context.Context, n *Node, sender *alerts.Sender) {
	sem := make(chan struct{}, maxDeliveries)
	var wg sync.WaitGroup
	defer wg.Wait()
	retry := time.NewTicker(letterRetry)
	defer retry.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-retry.C:
			a.retryLocal(ctx, sender)
		case c := <-a.watch.Queue():
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			wg.Add(1)
			go func() {
				defer func() { <-sem; wg.Done() }()
				a.deliverDecision(ctx, n, sender, c)
			}()
		}
	}
}

// deliverDecision confirms a through/caveat candidate the check did not
// confirm itself by answering it again with the rule's own watch, takes a
// denials rule's action, and delivers.
func (a *alertRuntime) deliverDecision(ctx context.Context, n *Node, sender *alerts.Sender, c alerts.Candidate) {
	d, m := c.Decision, c.Rule.Decision
	kind := alerts.KindDenials
	if m.Denials == nil {
		kind = alerts.KindDecision
	}
	if m.Denials == nil && !c.Confirmed {
		ok, err := n.svc.Permissions.WentThrough(ctx, d.Token, d, engine.WatchSpec{Through: m.Through, Caveat: m.Caveat})
		if err != nil {
			n.log.Warn("decision alert: could not re-answer the check to confirm it", "rule", c.Rule.Name, "request_id", d.RequestID, "err", err)
			return
		}
		if !ok {
			return
		}
	}
	ev := alerts.Event{Kind: kind, Node: n.cfg.NodeID, Token: d.Token, Time: d.Time, Principal: d.Principal, Denials: c.Denials,
		Check: &alerts.CheckEvent{Resource: d.Resource.String(), Permission: d.Permission, Subject: d.Subject.String(), Result: d.Result, RequestID: d.RequestID}}
	if c.Rule.Action == "suspend" {
		ev.Action = a.suspend(ctx, n, c)
	}
	id := decisionDeliveryID(c.Rule.Name, n.cfg.NodeID, d.RequestID)
	if kind == alerts.KindDenials {
		id = decisionDeliveryID(c.Rule.Name, n.cfg.NodeID, d.Subject.String()+"@"+d.Time.Format(time.RFC3339Nano))
	}
	p := alerts.Payload{Rule: c.Rule.Name, Event: ev}
	_ = sender.Send(ctx, c.Rule, id, p, a.failed(n, c.Rule))
}

// failed keeps a node-local alert whose attempts ran out: as a replicated
// dead letter when this node leads, else in this node's own list.
func (a *alertRuntime) failed(n *Node, r alerts.Rule) alerts.Failed {
	return func(ctx context.Context, l alerts.Letter) error {
		l.Node = n.cfg.NodeID
		n.log.Warn("alert delivery failed for good; kept as a dead letter (GET /v1/alerts/failed)", "rule", l.Rule, "delivery", l.ID, "err", l.Error)
		if n.raft.IsLeader() {
			if err := n.svc.Alerts.AddLetter(ctx, n.principal(), l); err == nil {
				return nil
			}
		}
		l.Local = true
		a.local.add(r, l)
		return nil
	}
}

// suspend suspends the subject whose denials crossed the threshold, for
// one window, and says what was done. Only the leader can write: on a
// follower the action is reported as not taken.
func (a *alertRuntime) suspend(ctx context.Context, n *Node, c alerts.Candidate) string {
	subj := c.Decision.Subject.String()
	if !n.raft.IsLeader() {
		return fmt.Sprintf("not taken: node %s does not lead and cannot write; suspend %s by hand (trellis suspend)", n.cfg.NodeID, subj)
	}
	w, _ := time.ParseDuration(c.Rule.Decision.Denials.Window)
	until := time.Now().Add(w).UTC().Format(time.RFC3339)
	res, err := n.svc.Suspensions.Suspend(ctx, callerNode(n), wire.SuspendRequest{Subject: subj, Until: until,
		Reason: fmt.Sprintf("alert rule %s: %d denials within %s", c.Rule.Name, c.Denials, c.Rule.Decision.Denials.Window)})
	if err != nil {
		return fmt.Sprintf("failed: suspending %s: %v", subj, err)
	}
	return fmt.Sprintf("suspended %s until %s (token %s)", subj, until, res.WrittenAt)
}

// retryLocal tries this node's own dead letters once each.
func (a *alertRuntime) retryLocal(ctx context.Context, sender *alerts.Sender) {
	one := &alerts.Sender{Client: sender.Client, Backoff: alerts.Backoff{Attempts: 1}, Stats: sender.Stats}
	for _, l := range a.local.list() {
		a.local.mu.Lock()
		r, ok := a.local.rules[l.ID]
		a.local.mu.Unlock()
		if ok && one.Deliver(ctx, r.Webhook, l.ID, l.Payload) == nil {
			a.local.remove(l.ID)
		}
	}
}

// callerNode is the node itself as the caller of a service: the principal
// of the writes it makes on its own (an alert rule's suspension).
func callerNode(n *Node) service.Caller {
	return service.Caller{Principal: n.principal(), RequestID: "alert-" + n.cfg.NodeID}
}
