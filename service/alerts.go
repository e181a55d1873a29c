package service

import (
	"context"
	"errors"

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
}

// Put replaces the rule set, after validating it against the schema in force.
func (a *Alerts) Put(ctx context.Context, c Caller, reason string, rs alerts.RuleSet) (wire.SuspensionWriteResponse, error) {
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
	v, err := a.reads.latestSchema(ctx)
	if err != nil {
		return out, err
	}
	sch := v.schema
	v.snap.Close()
	if err := alerts.Validate(rs, sch); err != nil {
		var e *alerts.Error
		if errors.As(err, &e) {
			return out, argErr(e.Field, "%s", e.Msg)
		}
		return out, argErr("rules", "%v", err)
	}
	m.Alerts = &rs
	res, err := a.writer.Write(ctx, m)
	if errors.Is(err, consensus.ErrInvalidAlerts) {
		return out, argErr("rules", "%v", err)
	} else if err != nil {
		return out, writeError(err)
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
