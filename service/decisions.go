package service

import (
	"context"
	"time"

	"github.com/trellis-authz/trellis/alerts"
	"github.com/trellis-authz/trellis/audit"
	"github.com/trellis-authz/trellis/engine"
	"github.com/trellis-authz/trellis/wire"
)

// DecisionRecorder keeps the optional decision log: every answered check is
// offered to it after the answer is computed, and it decides (by sampling)
// whether to record it. *audit.DecisionLog satisfies it.
type DecisionRecorder interface {
	Record(d audit.Decision) (recorded bool, err error)
}

var _ DecisionRecorder = (*audit.DecisionLog)(nil)

// recordDecision offers one answered check to the decision log, when set. The
// request id is the sampling key; a bulk item uses "<request id>#<index>" so
// that items are sampled and identified one by one. A failure to record is
// logged and does not change the answer already computed.
//
// Every answered check is also offered to the decision alert watcher, when
// set (a cheap, non-blocking look: see alerts.Watcher).
func (p *Permissions) recordDecision(c Caller, requestKey string, req engine.CheckRequest, res engine.CheckResult, token string) {
	result := res.Result.String()
	if p.alerts.Active() {
		p.alerts.Offer(alerts.Decision{Resource: req.Resource, Permission: req.Permission, Subject: req.Subject,
			Context: req.Context, Result: result, Token: token, Principal: c.Principal, RequestID: requestKey, Time: time.Now().UTC(),
			Watch: req.Watch, Watched: res.Watched})
	}
	if p.decisions == nil {
		return
	}
	d := audit.Decision{
		Time:       time.Now().UTC(),
		Principal:  c.Principal,
		RequestID:  requestKey,
		Resource:   req.Resource.String(),
		Permission: req.Permission,
		Subject:    req.Subject.String(),
		Result:     result,
		Token:      token,
	}
	if _, err := p.decisions.Record(d); err != nil {
		p.log.Error("decision log: recording a check decision failed", "request_id", c.RequestID, "err", err)
	}
}

// WentThrough re-answers a check at the revision of token and reports
// whether its deciding branch went through spec (a relation, a caveat, or
// both), for the alert worker confirming a check that did not report it
// itself (its rule's spec did not fit the rules' engine.Watch). It records
// nothing and is offered to no watcher.
func (p *Permissions) WentThrough(ctx context.Context, token string, d alerts.Decision, spec engine.WatchSpec) (bool, error) {
	w, err := engine.NewWatch([]engine.WatchSpec{spec})
	if err != nil {
		return false, err
	}
	v, err := p.reads.resolve(ctx, &wire.Consistency{Mode: wire.AtExactSnapshot, Token: token})
	if err != nil {
		return false, err
	}
	defer v.snap.Close()
	res, err := p.engine.Check(ctx, view(v), engine.CheckRequest{Resource: d.Resource, Permission: d.Permission,
		Subject: d.Subject, Context: d.Context, Watch: w})
	if err != nil {
		return false, err
	}
	return w.Has(res.Watched, 0), nil
}
