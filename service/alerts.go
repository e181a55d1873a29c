package service

import (
	"context"
	"errors"
	"fmt"

	"github.com/trellis-authz/trellis/alerts"
	"github.com/trellis-authz/trellis/consensus"
	"github.com/trellis-authz/trellis/wire"
)

// Alerts stores and shows the alert rule set (docs/alerts.md). Setting it is
// a replicated command with an audit entry of kind "alerts"; secrets are
// never returned.
type Alerts struct {
	reads  *Reads
	writer Writer
	extras consensus.ExtraReader // nil: no rules are stored
	sender *alerts.Sender        // pings and retries: one attempt each
	local  func() []alerts.Letter
	stored func() // nil: nobody to tell
}

// Put replaces the rule set, after validating it against the schema in force
// and, unless skipCheck, checking that every webhook answers (a signed ping).
func (a *Alerts) Put(ctx context.Context, c Caller, reason string, rs alerts.RuleSet, skipCheck bool) (wire.SuspensionWriteResponse, error) {
	var out wire.SuspensionWriteResponse
	var m Mutation
	if reason == "" {
		reason = "alert rules replaced"
	}
	if err := mutationMeta(c, &m, reason, ""); err != nil {
		return out, err
	}
	if rs.Rules == nil {
		rs.Rules = []alerts.Rule{}
	}
	if err := a.validate(ctx, rs); err != nil {
		return out, err
	}
	if !skipCheck {
		if err := a.pingAll(ctx, rs); err != nil {
			return out, err
		}
	}
	m.Alerts = &rs
	res, err := a.writer.Write(ctx, m)
	if errors.Is(err, consensus.ErrInvalidAlerts) {
		return out, argErr("rules", "%v", err)
	} else if err != nil {
		return out, writeError(err)
	}
	if a.stored != nil {
		a.stored()
	}
	return wire.SuspensionWriteResponse{WrittenAt: a.reads.tokens.Encode(res.Revision)}, nil
}

// Get returns the stored rule set, every secret shown as "set".
func (a *Alerts) Get(context.Context) (alerts.RuleSet, error) {
	rs := alerts.RuleSet{Rules: []alerts.Rule{}}
	if a.extras == nil {
		return rs, nil
	}
	got, err := consensus.AlertRules(a.extras)
	if err != nil {
		return rs, err
	}
	if got.Rules == nil {
		return rs, nil
	}
	return alerts.Redacted(got), nil
}

// validate checks rs against the schema in force.
func (a *Alerts) validate(ctx context.Context, rs alerts.RuleSet) error {
	v, err := a.reads.latestSchema(ctx)
	if err != nil {
		return err
	}
	sch := v.schema
	v.snap.Close()
	if err := alerts.Validate(rs, sch); err != nil {
		var e *alerts.Error
		if errors.As(err, &e) {
			return argErr(e.Field, "%s", e.Msg)
		}
		return argErr("rules", "%v", err)
	}
	return nil
}

// pingAll pings each distinct webhook URL of rs once, in parallel; the first
// that no web server answers is a 400 naming its rule.
func (a *Alerts) pingAll(ctx context.Context, rs alerts.RuleSet) error {
	type job struct {
		i   int
		err error
	}
	seen := map[string]bool{}
	ch := make(chan job, len(rs.Rules))
	n := 0
	for i, r := range rs.Rules {
		if seen[r.Webhook.URL] {
			continue
		}
		seen[r.Webhook.URL] = true
		n++
		go func() { ch <- job{i, a.sender.Ping(ctx, r)} }()
	}
	var first *job
	for range n {
		j := <-ch
		if j.err != nil && (first == nil || j.i < first.i) {
			first = &j
		}
	}
	if first != nil {
		return argErr(fmt.Sprintf("rules[%d].webhook.url", first.i), "%s does not answer (%v); check the URL, or send \"skip_webhook_check\": true to store the rules anyway",
			rs.Rules[first.i].Webhook.URL, first.err)
	}
	return nil
}

// PingResult is one webhook's answer to a test ping.
type PingResult struct {
	Rule  string `json:"rule"`
	URL   string `json:"url"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// Test validates rs against the schema in force and pings every rule's
// webhook, saying which answered; an empty rs tests the stored rules.
func (a *Alerts) Test(ctx context.Context, rs alerts.RuleSet) ([]PingResult, error) {
	if len(rs.Rules) == 0 {
		var err error
		if rs, err = a.rules(); err != nil {
			return nil, err
		}
	} else if err := a.validate(ctx, rs); err != nil {
		return nil, err
	}
	out := make([]PingResult, len(rs.Rules))
	if len(rs.Rules) == 0 {
		return []PingResult{}, nil
	}
	done := make(chan struct{}, len(rs.Rules))
	for i, r := range rs.Rules {
		go func() {
			out[i] = PingResult{Rule: r.Name, URL: r.Webhook.URL, OK: true}
			if err := a.sender.Ping(ctx, r); err != nil {
				out[i].OK, out[i].Error = false, err.Error()
			}
			done <- struct{}{}
		}()
	}
	for range rs.Rules {
		<-done
	}
	return out, nil
}

func (a *Alerts) rules() (alerts.RuleSet, error) {
	if a.extras == nil {
		return alerts.RuleSet{}, nil
	}
	return consensus.AlertRules(a.extras)
}

// Failed lists the dead letters: the replicated ones (deliveries of the
// leader) and this node's own (decision alerts it could not deliver and
// retries by itself, marked local).
func (a *Alerts) Failed(context.Context) ([]alerts.Letter, error) {
	out := []alerts.Letter{}
	if a.extras != nil {
		got, err := consensus.AlertLetters(a.extras)
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
	}
	if a.local != nil {
		out = append(out, a.local()...)
	}
	return out, nil
}

// AddLetter records a dead letter in the replicated list (leader only).
func (a *Alerts) AddLetter(ctx context.Context, principal string, l alerts.Letter) error {
	_, err := a.writer.Write(ctx, Mutation{AlertLetter: &AlertLetter{Add: &l}, Principal: principal, Reason: "alert delivery failed"})
	return err
}

// Retry sends a replicated dead letter once more, to its rule's webhook as
// the rule stands now; delivered, it leaves the list.
func (a *Alerts) Retry(ctx context.Context, c Caller, id string) (alerts.Letter, error) {
	l, err := a.letter(id)
	if err != nil {
		return l, err
	}
	rs, err := a.rules()
	if err != nil {
		return l, err
	}
	var rule *alerts.Rule
	for i := range rs.Rules {
		if rs.Rules[i].Name == l.Rule {
			rule = &rs.Rules[i]
		}
	}
	if rule == nil {
		return l, fail(ErrNotFound, map[string]any{"id": id, "rule": l.Rule},
			"rule %q of letter %s is no longer in the rule set; drop it with POST /v1/alerts/failed/drop {\"id\": \"%s\"} (trellis alerts drop %s)", l.Rule, id, id, id)
	}
	if err := a.sender.Deliver(ctx, rule.Webhook, l.ID, l.Payload); err != nil {
		return l, fail(ErrWebhookFailed, map[string]any{"id": id, "url": rule.Webhook.URL, "retryable": true},
			"%v; the letter stays in the list", err)
	}
	return l, a.remove(ctx, c, id, "alert letter retried and delivered")
}

// Drop removes a replicated dead letter without delivering it.
func (a *Alerts) Drop(ctx context.Context, c Caller, id string) error {
	if _, err := a.letter(id); err != nil {
		return err
	}
	return a.remove(ctx, c, id, "alert letter dropped")
}

func (a *Alerts) remove(ctx context.Context, c Caller, id, reason string) error {
	m := Mutation{AlertLetter: &AlertLetter{Remove: id}}
	if err := mutationMeta(c, &m, reason, ""); err != nil {
		return err
	}
	if _, err := a.writer.Write(ctx, m); err != nil {
		return writeError(err)
	}
	return nil
}

func (a *Alerts) letter(id string) (alerts.Letter, error) {
	if a.extras != nil {
		got, err := consensus.AlertLetters(a.extras)
		if err != nil {
			return alerts.Letter{}, err
		}
		for _, l := range got {
			if l.ID == id {
				return l, nil
			}
		}
	}
	if a.local != nil {
		for _, l := range a.local() {
			if l.ID == id {
				return l, fail(ErrNotFound, map[string]any{"id": id, "node": l.Node},
					"letter %s is local to node %s (a decision alert it could not deliver); that node retries it by itself every minute", id, l.Node)
			}
		}
	}
	return alerts.Letter{}, fail(ErrNotFound, map[string]any{"id": id}, "no dead letter %s; GET /v1/alerts/failed lists them", id)
}
