package alerts

import (
	"context"
	"time"
)

// Letter is a delivery whose attempts ran out: what GET /v1/alerts/failed
// lists and POST /v1/alerts/failed/{id}/retry sends again. It holds the
// payload but never the secret (the rule's webhook supplies it on retry).
type Letter struct {
	ID       string    `json:"id"`
	Rule     string    `json:"rule"`
	URL      string    `json:"url"`
	Payload  Payload   `json:"payload"`
	Error    string    `json:"error"`
	Attempts int       `json:"attempts"`
	Time     time.Time `json:"time"`
	Node     string    `json:"node"`            // the node that gave up
	Local    bool      `json:"local,omitempty"` // kept and retried by Node itself (a decision alert of a follower)
}

// Failed records a letter; an error stops the dispatch (the cursor stays).
type Failed func(ctx context.Context, l Letter) error

// Send delivers p to rule's webhook under id (and logs it when the rule
// says so). When the attempts run out, the letter goes to failed and Send
// returns nil; it returns an error only when ctx ended or failed did.
func (s *Sender) Send(ctx context.Context, rule Rule, id string, p Payload, failed Failed) error {
	if rule.Log && s.Log != nil {
		s.Log.Info("alert", "rule", rule.Name, "delivery", id, "kind", p.Event.Kind, "event", p.Event)
	}
	err := s.Deliver(ctx, rule.Webhook, id, p)
	if err == nil || ctx.Err() != nil {
		return err
	}
	if failed == nil {
		return err
	}
	return failed(ctx, Letter{ID: id, Rule: rule.Name, URL: rule.Webhook.URL, Payload: p, Error: err.Error(),
		Attempts: s.Backoff.Attempts, Time: time.Now().UTC()})
}
