package service

import (
	"time"

	"github.com/trellis-authz/trellis/audit"
	"github.com/trellis-authz/trellis/engine"
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
func (p *Permissions) recordDecision(c Caller, requestKey string, req engine.CheckRequest, result, token string) {
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
