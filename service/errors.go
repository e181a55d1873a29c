package service

import (
	"errors"
	"fmt"

	"github.com/trellis-authz/trellis/verdict"
)

// Kinds of request failure. A service wraps one of these (see Fail); each
// transport maps each kind to its status once (package api: HTTP status and
// code). The verdicts — the caller's input or the state it names is the
// problem — are made with verdict.New; the others say the node could not
// answer (overload, no leader, deadline) and are plain errors.
var (
	ErrInvalidJSON        = verdict.New("request body is not valid JSON for this endpoint")
	ErrInvalidArgument    = verdict.New("invalid argument")
	ErrInvalidToken       = verdict.New("invalid consistency token")
	ErrTokenFromFuture    = verdict.New("consistency token names a revision the cluster has not committed")
	ErrInvalidCursor      = verdict.New("invalid cursor")
	ErrInvalidSchema      = verdict.New("schema does not compile")
	ErrSubjectNotAllowed  = verdict.New("subject type not allowed by the relation")
	ErrInvalidContext     = verdict.New("invalid caveat context")
	ErrTooManyUpdates     = verdict.New("too many updates in one request")
	ErrUnauthenticated    = verdict.New("missing or unknown bearer token")
	ErrForbidden          = verdict.New("role not allowed")
	ErrUnknownType        = verdict.New("unknown object type")
	ErrUnknownRelation    = verdict.New("unknown relation or permission")
	ErrNoSchema           = verdict.New("no schema is stored")
	ErrNotFound           = verdict.New("not found")
	ErrMethodNotAllowed   = verdict.New("method not allowed")
	ErrAlreadyExists      = verdict.New("relationship already exists")
	ErrUnsafeSchemaChange = verdict.New("schema change would orphan stored relationships")
	ErrIdempotencyReuse   = verdict.New("idempotency key reused for a different request")
	ErrPreconditionFailed = verdict.New("precondition failed")
	ErrBodyTooLarge       = verdict.New("request body too large")
	ErrSnapshotExpired    = verdict.New("snapshot expired")
	ErrLimitExceeded      = verdict.New("more relationships match than the limit allows")
	ErrDepthExceeded      = verdict.New("maximum check depth exceeded")
	ErrCaveatEvaluation   = verdict.New("caveat evaluation failed")
	ErrWebhookFailed      = verdict.New("webhook did not accept the delivery")
	// The decision records of GET /v1/decisions and its stream.
	ErrDecisionLogDisabled = verdict.New("this node keeps no decision log")
	ErrDecisionsMissed     = verdict.New("decision records no longer kept for this stream")

	ErrOverloaded       = errors.New("server overloaded")
	ErrUnavailable      = errors.New("no leader or quorum")
	ErrNoLeader         = errors.New("no leader to forward the request to")
	ErrNotReady         = errors.New("node not ready")
	ErrDeadlineExceeded = errors.New("request deadline exceeded")
	ErrOutcomeUnknown   = errors.New("write outcome unknown")
)

// Error is a failure a service diagnosed: a kind (one of the Err values
// above, or a dependency's sentinel), a message for the caller that says what
// to fix, and details (the field, the limit).
type Error struct {
	Kind    error
	Message string
	Details map[string]any
}

func (e *Error) Error() string { return e.Message }
func (e *Error) Unwrap() error { return e.Kind }

// Fail builds an *Error. details may be nil.
func Fail(kind error, details map[string]any, format string, args ...any) error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...), Details: details}
}

// fail is Fail inside the package.
var fail = Fail

func argErr(field string, format string, args ...any) error {
	return fail(ErrInvalidArgument, map[string]any{"field": field}, format, args...)
}
