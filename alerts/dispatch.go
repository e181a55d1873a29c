package alerts

import (
	"context"
	"time"

	"github.com/trellis-authz/trellis/storage"
)

// Revision describes one committed revision of the change feed.
type Revision struct {
	Revision  uint64
	Token     string // the revision's consistency token
	Time      time.Time
	Principal string
	Reason    string
	Audit     string // link to the revision's audit entry
	Changes   []storage.Change
}

// Dispatch delivers every change of r that a rule of rs matches, in change
// order, each with DeliveryID(rule, revision, change index). It returns the
// number of deliveries made and the first delivery that failed for good; a
// caller advances its delivery cursor past r only when the error is nil, so
// a retry after a restart sends the same deliveries with the same ids.
func (s *Sender) Dispatch(ctx context.Context, rs RuleSet, r Revision) (int, error) {
	n := 0
	for i, c := range r.Changes {
		for _, rule := range rs.Rules {
			if !rule.Match.Matches(c.Op, c.Relationship) {
				continue
			}
			p := Payload{Rule: rule.Name, Audit: r.Audit,
				Event: NewEvent(c.Op, c.Relationship, r.Revision, r.Token, r.Time, r.Principal, r.Reason)}
			if err := s.Deliver(ctx, rule.Webhook, DeliveryID(rule.Name, r.Revision, i), p); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}
