package alerts

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/trellis-authz/trellis/tuple"
)

// Event is one relationship change as a delivery reports it.
type Event struct {
	Op           string    `json:"op"`
	Relationship string    `json:"relationship"`
	Revision     uint64    `json:"revision"`
	Token        string    `json:"token"`
	Time         time.Time `json:"time"`
	Principal    string    `json:"principal,omitempty"`
	Reason       string    `json:"reason,omitempty"`
}

// Payload is the JSON body POSTed to a webhook.
type Payload struct {
	Rule  string `json:"rule"`
	Event Event  `json:"event"`
	Audit string `json:"audit"` // link to the audit entry of the revision
}

// NewEvent builds the event of change index i of a revision.
func NewEvent(op tuple.Op, rel tuple.Relationship, revision uint64, token string, at time.Time, principal, reason string) Event {
	return Event{Op: op.String(), Relationship: rel.String(), Revision: revision, Token: token,
		Time: at.UTC(), Principal: principal, Reason: reason}
}

// DeliveryID is the deterministic id of the delivery of change index of
// revision to rule: a redelivery carries the same id.
func DeliveryID(rule string, revision uint64, index int) string {
	h := sha256.Sum256(fmt.Appendf(nil, "%s\x00%d\x00%d", rule, revision, index))
	return hex.EncodeToString(h[:16])
}

// Sign returns the Trellis-Signature header value of body under secret.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify reports whether sig is body's signature under secret, in constant time.
func Verify(secret string, body []byte, sig string) bool {
	return hmac.Equal([]byte(Sign(secret, body)), []byte(sig))
}

// Backoff bounds the retries of one delivery.
type Backoff struct {
	First    time.Duration // delay before the first retry
	Max      time.Duration // no delay is longer
	Attempts int           // total attempts, at least 1; 0: until ctx ends
}

// DefaultBackoff: 200 ms doubling up to 30 s, until the context ends.
var DefaultBackoff = Backoff{First: 200 * time.Millisecond, Max: 30 * time.Second}

// delay is the wait before retry n (0-based): First·2ⁿ capped at Max, with
// full jitter over its upper half.
func (b Backoff) delay(n int) time.Duration {
	d := b.First
	for i := 0; i < n && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2)
}

// Sender POSTs payloads to webhooks.
type Sender struct {
	Client  *http.Client // nil: a client with a 10 s timeout
	Backoff Backoff
}

// Deliver POSTs p to w, signed, with the delivery id, retrying any transport
// error or non-2xx answer with backoff until it is accepted, the attempts run
// out or ctx ends. It returns the id and the last error.
func (s *Sender) Deliver(ctx context.Context, w Webhook, id string, p Payload) error {
	body, err := json.Marshal(p)
	if err != nil {
		return err
	}
	cl := s.Client
	if cl == nil {
		cl = &http.Client{Timeout: 10 * time.Second}
	}
	for n := 0; ; n++ {
		err = post(ctx, cl, w, id, body)
		if err == nil {
			return nil
		}
		if s.Backoff.Attempts > 0 && n+1 >= s.Backoff.Attempts {
			return fmt.Errorf("delivery %s to %s: %d attempts: %w", id, w.URL, n+1, err)
		}
		t := time.NewTimer(s.Backoff.delay(n))
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("delivery %s to %s: %w (last: %v)", id, w.URL, ctx.Err(), err)
		case <-t.C:
		}
	}
}

func post(ctx context.Context, cl *http.Client, w Webhook, id string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Trellis-Signature", Sign(w.Secret, body))
	req.Header.Set("Trellis-Delivery", id)
	resp, err := cl.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook answered %s", resp.Status)
	}
	return nil
}
