package api

import (
	"time"

	"github.com/labstack/echo/v4"

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

// recordDecision offers one answered check to Deps.Decisions, when set. The
// request id is the sampling key; a bulk item uses "<request id>#<index>" so
// that items are sampled and identified one by one. A failure to record is
// logged and does not change the answer already computed.
func (s *Server) recordDecision(c echo.Context, requestKey string, req engine.CheckRequest, result, token string) {
	if s.deps.Decisions == nil {
		return
	}
	d := audit.Decision{
		Time:       time.Now().UTC(),
		Principal:  principalOf(c).Name,
		RequestID:  requestKey,
		Resource:   req.Resource.String(),
		Permission: req.Permission,
		Subject:    req.Subject.String(),
		Result:     result,
		Token:      token,
	}
	if _, err := s.deps.Decisions.Record(d); err != nil {
		s.log.Error("decision log: recording a check decision failed", "request_id", requestID(c), "err", err)
	}
}
