package pep

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/trellis-authz/trellis/wire"
)

// DecisionIDHeader carries the decision id of a denial (HTTP), and, in lower
// case, the gRPC metadata key of one.
const DecisionIDHeader = "Trellis-Decision-Id"

// Codes of a denial's error body.
const (
	CodeDenied         = "permission_denied" // Trellis denied
	CodeMissingContext = "missing_context"   // conditional: the request lacked caveat context
	CodeFailed         = "decision_failed"   // Trellis could not be asked, or the request could not be mapped: failed closed
)

// Denial returns the body a middleware answers a denial with (as 403), in
// the API's error shape: the code says why, the details carry the decision
// id and, for a conditional answer, the missing context parameters. err is
// the error of Decide or of the mapping function, if any; its text is not
// sent (it may describe the service's internals), only its kind.
func Denial(d Decision, err error) wire.ErrorResponse {
	e := wire.Error{Code: CodeDenied, Message: "permission denied", Details: map[string]any{"decision_id": d.DecisionID}}
	switch {
	case err != nil:
		e.Code = CodeFailed
		e.Message = "the authorization decision could not be made, so access is denied"
		if errors.Is(err, ErrTimeout) {
			e.Message = "the authorization service did not answer in time, so access is denied"
		}
	case d.Conditional:
		e.Code = CodeMissingContext
		e.Message = "permission denied: the request lacks context the policy needs: " + strings.Join(d.Missing, ", ")
		e.Details["missing_context"] = d.Missing
	}
	return wire.ErrorResponse{Error: e}
}

type decisionKey struct{}

// DecisionFrom returns the decision a middleware made for this request.
func DecisionFrom(ctx context.Context) (Decision, bool) {
	d, ok := ctx.Value(decisionKey{}).(Decision)
	return d, ok
}

// WithDecision returns ctx carrying d (for DecisionFrom).
func WithDecision(ctx context.Context, d Decision) context.Context {
	return context.WithValue(ctx, decisionKey{}, d)
}

// Enforce is the rule every middleware applies: a request whose mapping
// failed (mapErr) is denied without asking, with a fresh decision id; any
// other is decided by Decide; allowed is true only for an allowed decision
// without error.
func (c *Client) Enforce(ctx context.Context, q Question, mapErr error) (d Decision, allowed bool, err error) {
	if mapErr != nil {
		c.m.failed.Inc()
		return Decision{DecisionID: newID()}, false, mapErr
	}
	d, err = c.Decide(ctx, q)
	return d, err == nil && d.Allowed, err
}

// Middleware returns net/http middleware that asks c about every request:
// mapReq turns the request into a question. An allowed request goes on to
// the next handler with the decision in its context (DecisionFrom); anything
// else — a denial, a conditional answer, an error of mapReq or of Decide —
// is answered 403 with the decision id in the Trellis-Decision-Id header and
// the body of Denial.
func Middleware(c *Client, mapReq func(*http.Request) (Question, error)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			q, err := mapReq(r)
			d, allowed, err := c.Enforce(r.Context(), q, err)
			if allowed {
				next.ServeHTTP(w, r.WithContext(WithDecision(r.Context(), d)))
				return
			}
			writeDenial(w, d, err)
		})
	}
}

func writeDenial(w http.ResponseWriter, d Decision, err error) {
	body, _ := json.Marshal(Denial(d, err))
	h := w.Header()
	h.Set(DecisionIDHeader, d.DecisionID)
	h.Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusForbidden)
	_, _ = w.Write(body)
}
