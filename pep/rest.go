package pep

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/trellis-authz/trellis/tuple"
	"github.com/trellis-authz/trellis/wire"
)

// maxAnswer bounds how much of an answer the PEP reads.
const maxAnswer = 1 << 20

// Error is an error answer of Trellis (any status but 200), with the API's
// code and message.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("trellis answered %d: %s", e.Status, e.Message)
	}
	return fmt.Sprintf("trellis answered %d %s: %s", e.Status, e.Code, e.Message)
}

// validate checks a question's syntax before anything is sent.
func validate(q *Question) error {
	if _, err := tuple.ParseObject(q.Resource); err != nil {
		return fmt.Errorf("%w: resource: %v", ErrInvalidQuestion, err)
	}
	if err := tuple.ValidateName(q.Permission); err != nil {
		return fmt.Errorf("%w: permission %q: %v", ErrInvalidQuestion, q.Permission, err)
	}
	if _, err := tuple.ParseSubject(q.Subject); err != nil {
		return fmt.Errorf("%w: subject: %v", ErrInvalidQuestion, err)
	}
	return nil
}

// newID returns a random UUID (version 4), the decision id of a check.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}

// ask sends the question to Trellis and caches the answer. The returned
// decision carries its id even when err is set.
func (c *Client) ask(ctx context.Context, q *Question) (Decision, error) {
	d := Decision{DecisionID: newID()}
	if err := validate(q); err != nil {
		return d, err
	}
	raw, err := contextJSON(q.Context)
	if err != nil {
		return d, fmt.Errorf("%w: context does not encode as JSON: %v", ErrInvalidQuestion, err)
	}
	req := wire.CheckRequest{Resource: q.Resource, Permission: q.Permission, Subject: q.Subject, Context: raw}
	// Reading at least what the PEP knows makes the answer cacheable (an
	// answer older than the watch is not) and never older than a change the
	// PEP has seen.
	req.Consistency = c.consistency(freshness(ctx))

	ctx, span := c.tracer.Start(ctx, "trellis.check", trace.WithSpanKind(trace.SpanKindClient))
	defer span.End()
	recording := span.IsRecording()
	if recording {
		span.SetAttributes(attribute.String("trellis.resource", q.Resource), attribute.String("trellis.permission", q.Permission),
			attribute.String("trellis.subject", q.Subject), attribute.String("trellis.decision_id", d.DecisionID))
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()

	var out wire.CheckResponse
	err = c.post(ctx, "/v1/check", d.DecisionID, &req, &out)
	if err == nil {
		err = checkAnswer(&out)
	}
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		return d, err
	}
	d.CheckedAt = out.CheckedAt
	switch out.Result {
	case "allowed":
		d.Allowed = true
	case "conditional":
		d.Conditional, d.Missing = true, out.MissingContext
	}
	if recording {
		span.SetAttributes(attribute.String("trellis.result", out.Result))
	}
	var expires time.Time
	if out.ExpiresAt != nil {
		expires = *out.ExpiresAt
	}
	c.remember(q, d, parseToken(out.CheckedAt), expires)
	return d, nil
}

// checkAnswer refuses an answer that is not one Trellis gives.
func checkAnswer(out *wire.CheckResponse) error {
	switch out.Result {
	case "allowed", "denied":
	case "conditional":
		if len(out.MissingContext) == 0 {
			return fmt.Errorf("%w: a conditional answer names no missing context", ErrBadResponse)
		}
	default:
		return fmt.Errorf("%w: result %q is none of allowed, denied, conditional", ErrBadResponse, out.Result)
	}
	if out.CheckedAt == "" {
		return fmt.Errorf("%w: the answer has no checked_at token", ErrBadResponse)
	}
	return nil
}

// post sends one JSON request to Trellis and decodes a 200 answer into out.
// requestID, when set, is sent as X-Request-Id. The trace context of ctx is
// propagated. Errors: *Error for an error answer, ErrTimeout when ctx's
// deadline passed, ErrBadResponse for an answer that does not decode.
func (c *Client) post(ctx context.Context, path, requestID string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidQuestion, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	return c.do(req, requestID, out)
}

// get sends one GET request to Trellis and decodes a 200 answer into out.
func (c *Client) get(ctx context.Context, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return err
	}
	return c.do(req, "", out)
}

func (c *Client) do(req *http.Request, requestID string, out any) error {
	ctx := req.Context()
	req.Header.Set("Accept", "application/json")
	if c.auth != "" {
		req.Header.Set("Authorization", c.auth)
	}
	if requestID != "" {
		req.Header.Set(wire.RequestIDHeader, requestID)
	}
	c.prop.Inject(ctx, propagation.HeaderCarrier(req.Header))
	resp, err := c.http.Do(req)
	if err != nil {
		return c.transportError(ctx, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return c.transportError(ctx, err)
	}
	if len(b) > maxAnswer {
		return fmt.Errorf("%w: %s answered more than %d bytes", ErrBadResponse, req.URL.Path, maxAnswer)
	}
	if resp.StatusCode != http.StatusOK {
		var er wire.ErrorResponse
		if json.Unmarshal(b, &er) == nil && er.Error.Code != "" {
			return &Error{Status: resp.StatusCode, Code: er.Error.Code, Message: er.Error.Message}
		}
		return &Error{Status: resp.StatusCode, Message: snippet(b)}
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%w: %s: %v (body %s)", ErrBadResponse, req.URL.Path, err, snippet(b))
	}
	return nil
}

func (c *Client) transportError(ctx context.Context, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w (%v): %v", ErrTimeout, c.cfg.Timeout, err)
	}
	return fmt.Errorf("asking trellis: %w", err)
}

func snippet(b []byte) string {
	const n = 200
	if len(b) > n {
		return fmt.Sprintf("%q...(%d bytes)", b[:n], len(b))
	}
	return fmt.Sprintf("%q", b)
}
