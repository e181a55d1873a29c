package alerts

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/trellis-authz/trellis/tuple"
)

// Event is what happened, as a delivery reports it. Kind says which fields
// are set: relationship (Op, Relationship), schema (SchemaHash), decision
// and denials (Check; Denials and Action for a burst), audit (Audit).
type Event struct {
	Kind         string      `json:"kind"`
	Op           string      `json:"op,omitempty"`
	Relationship string      `json:"relationship,omitempty"`
	SchemaHash   string      `json:"schema_hash,omitempty"`
	Check        *CheckEvent `json:"check,omitempty"`
	Denials      int         `json:"denials,omitempty"`
	Action       string      `json:"action,omitempty"`
	Audit        *AuditEvent `json:"audit,omitempty"`
	Gap          *GapEvent   `json:"gap,omitempty"`
	Node         string      `json:"node,omitempty"` // the node that saw a decision or audit event
	Revision     uint64      `json:"revision,omitempty"`
	Token        string      `json:"token"`
	Time         time.Time   `json:"time"`
	Principal    string      `json:"principal,omitempty"`
	Reason       string      `json:"reason,omitempty"`
}

// CheckEvent is the check a decision event is about.
type CheckEvent struct {
	Resource   string `json:"resource"`
	Permission string `json:"permission"`
	Subject    string `json:"subject"`
	Result     string `json:"result"`
	RequestID  string `json:"request_id,omitempty"`
}

// AuditEvent is an audit root that disagrees with the leader's.
type AuditEvent struct {
	Size       uint64 `json:"size"`
	Root       string `json:"root"`        // this node's root for Size entries
	LeaderRoot string `json:"leader_root"` // the leader's
}

// GapEvent is a run of revisions whose alerts were lost: the change feed
// was trimmed past them before they were delivered (docs/alerts.md).
type GapEvent struct {
	From uint64 `json:"from"`
	To   uint64 `json:"to"`
}

// Payload is the JSON body POSTed to a webhook.
type Payload struct {
	Rule  string `json:"rule"`
	Event Event  `json:"event"`
	Audit string `json:"audit,omitempty"` // link to the audit entry of the revision
}

// NewEvent builds the event of one relationship change of a revision.
func NewEvent(op tuple.Op, rel tuple.Relationship, revision uint64, token string, at time.Time, principal, reason string) Event {
	return Event{Kind: KindRelationship, Op: op.String(), Relationship: rel.String(), Revision: revision, Token: token,
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

// DefaultBackoff: 200 ms doubling up to 30 s, 12 attempts (about two
// and a half minutes) before a delivery becomes a dead letter.
var DefaultBackoff = Backoff{First: 200 * time.Millisecond, Max: 30 * time.Second, Attempts: 12}

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
	Log     *slog.Logger // where rules with log: true write their events
	Stats   *Stats       // counted into when set
}

// Stats counts deliveries, for metrics.
type Stats struct {
	Delivered atomic.Uint64 // accepted by the webhook
	Retried   atomic.Uint64 // attempts refused or failed, then tried again
	Failed    atomic.Uint64 // deliveries whose attempts ran out (dead letters)
	Skipped   atomic.Uint64 // revisions trimmed from the feed before delivery (gap events)
}

func (s *Sender) now() time.Time { return time.Now().UTC() }

// defaultClient is the Sender's client when it has none: a 10 s timeout,
// and idle connections kept for up to maxDeliveries-many posts to one
// webhook at once (the standard transport keeps 2 per host, so a busy
// webhook would cost a new TCP connection, and a TLS handshake, for most
// deliveries).
var defaultClient = func() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	return &http.Client{Timeout: 10 * time.Second, Transport: t}
}()

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
		cl = defaultClient
	}
	for n := 0; ; n++ {
		err = post(ctx, cl, w, id, body)
		if err == nil {
			if s.Stats != nil {
				s.Stats.Delivered.Add(1)
			}
			return nil
		}
		if s.Backoff.Attempts > 0 && n+1 >= s.Backoff.Attempts {
			if s.Stats != nil {
				s.Stats.Failed.Add(1)
			}
			return fmt.Errorf("delivery %s to %s: %d attempts: %w", id, w.URL, n+1, err)
		}
		if s.Stats != nil {
			s.Stats.Retried.Add(1)
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
		return &statusError{resp.Status}
	}
	return nil
}

// Ping POSTs a signed ping event for rule to its webhook, once, and reports
// whether an HTTP server answered (any status: the check is that the URL
// reaches a web server, not that it accepts pings).
func (s *Sender) Ping(ctx context.Context, rule Rule) error {
	body, err := json.Marshal(Payload{Rule: rule.Name, Event: Event{Kind: "ping", Time: time.Now().UTC()}})
	if err != nil {
		return err
	}
	cl := s.Client
	if cl == nil {
		cl = &http.Client{Timeout: 5 * time.Second}
	}
	err = post(ctx, cl, rule.Webhook, "ping-"+DeliveryID(rule.Name, uint64(time.Now().UnixNano()), 0), body)
	var st *statusError
	if errors.As(err, &st) {
		return nil
	}
	return err
}

// statusError is a webhook's answer other than 2xx.
type statusError struct{ status string }

func (e *statusError) Error() string { return "webhook answered " + e.status }
