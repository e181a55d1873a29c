package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/trellis-authz/trellis/engine"
)

// Kinds of request failure. Handlers wrap one of these (see fail); the single
// function httpError maps each to its status and code. The text is the default
// message when a handler gives none.
var (
	ErrInvalidJSON        = errors.New("request body is not valid JSON for this endpoint")
	ErrInvalidArgument    = errors.New("invalid argument")
	ErrInvalidToken       = errors.New("invalid consistency token")
	ErrInvalidCursor      = errors.New("invalid cursor")
	ErrInvalidSchema      = errors.New("schema does not compile")
	ErrSubjectNotAllowed  = errors.New("subject type not allowed by the relation")
	ErrInvalidContext     = errors.New("invalid caveat context")
	ErrTooManyUpdates     = errors.New("too many updates in one request")
	ErrUnauthenticated    = errors.New("missing or unknown bearer token")
	ErrForbidden          = errors.New("role not allowed")
	ErrUnknownType        = errors.New("unknown object type")
	ErrUnknownRelation    = errors.New("unknown relation or permission")
	ErrNoSchema           = errors.New("no schema is stored")
	ErrNotFound           = errors.New("no such route")
	ErrMethodNotAllowed   = errors.New("method not allowed")
	ErrAlreadyExists      = errors.New("relationship already exists")
	ErrUnsafeSchemaChange = errors.New("schema change would orphan stored relationships")
	ErrIdempotencyReuse   = errors.New("idempotency key reused for a different request")
	ErrPreconditionFailed = errors.New("precondition failed")
	ErrBodyTooLarge       = errors.New("request body too large")
	ErrOverloaded         = errors.New("server overloaded")
	ErrUnavailable        = errors.New("no leader or quorum")
	ErrNoLeader           = errors.New("no leader to forward the request to")
	ErrNotReady           = errors.New("node not ready")
	ErrDeadlineExceeded   = errors.New("request deadline exceeded")
	ErrSnapshotExpired    = errors.New("snapshot expired")
	ErrLimitExceeded      = errors.New("more relationships match than the limit allows")
	ErrDepthExceeded      = errors.New("maximum check depth exceeded")
	ErrCaveatEvaluation   = errors.New("caveat evaluation failed")
	ErrOutcomeUnknown     = errors.New("write outcome unknown")
)

// Error is what a failed request answers, inside {"error": ...}.
type Error struct {
	Code      string         `json:"code"`
	Message   string         `json:"message"`
	Details   map[string]any `json:"details,omitempty"`
	RequestID string         `json:"request_id,omitempty"`
}

// ErrorResponse is the body of every error answer.
type ErrorResponse struct {
	Error Error `json:"error"`
}

// requestError is a failure a handler diagnosed: a kind (one of the Err values
// above, or a dependency's sentinel), a message for the client and details.
type requestError struct {
	kind    error
	msg     string
	details map[string]any
}

func (e *requestError) Error() string { return e.msg }
func (e *requestError) Unwrap() error { return e.kind }

// fail builds a requestError. details may be nil.
func fail(kind error, details map[string]any, format string, args ...any) error {
	return &requestError{kind: kind, msg: fmt.Sprintf(format, args...), details: details}
}

// statusCode pairs a status with a code.
type statusCode struct {
	status int
	code   string
}

// errorTable lists every kind of error the API answers with, in the order
// httpError tests them. Dependency sentinels are added by depErrors so this
// package's fakes and the real packages map identically.
var errorTable = []struct {
	kind error
	statusCode
}{
	{ErrInvalidJSON, statusCode{http.StatusBadRequest, "invalid_json"}},
	{ErrInvalidArgument, statusCode{http.StatusBadRequest, "invalid_argument"}},
	{ErrInvalidToken, statusCode{http.StatusBadRequest, "invalid_token"}},
	{ErrInvalidCursor, statusCode{http.StatusBadRequest, "invalid_cursor"}},
	{engine.ErrInvalidCursor, statusCode{http.StatusBadRequest, "invalid_cursor"}},
	{ErrInvalidSchema, statusCode{http.StatusBadRequest, "invalid_schema"}},
	{ErrSubjectNotAllowed, statusCode{http.StatusBadRequest, "subject_not_allowed"}},
	{ErrInvalidContext, statusCode{http.StatusBadRequest, "invalid_context"}},
	{engine.ErrInvalidContext, statusCode{http.StatusBadRequest, "invalid_context"}},
	{ErrTooManyUpdates, statusCode{http.StatusBadRequest, "too_many_updates"}},
	{ErrLimitExceeded, statusCode{http.StatusBadRequest, "limit_exceeded"}},
	{ErrDepthExceeded, statusCode{http.StatusBadRequest, "depth_exceeded"}},
	{engine.ErrDepthExceeded, statusCode{http.StatusBadRequest, "depth_exceeded"}},
	{ErrCaveatEvaluation, statusCode{http.StatusBadRequest, "caveat_evaluation_failed"}},
	{engine.ErrCaveatEvaluation, statusCode{http.StatusBadRequest, "caveat_evaluation_failed"}},
	{ErrUnauthenticated, statusCode{http.StatusUnauthorized, "unauthenticated"}},
	{ErrForbidden, statusCode{http.StatusForbidden, "permission_denied"}},
	{ErrUnknownType, statusCode{http.StatusNotFound, "unknown_type"}},
	{engine.ErrUnknownType, statusCode{http.StatusNotFound, "unknown_type"}},
	{ErrUnknownRelation, statusCode{http.StatusNotFound, "unknown_relation"}},
	{engine.ErrUnknownPermission, statusCode{http.StatusNotFound, "unknown_relation"}},
	{ErrNoSchema, statusCode{http.StatusNotFound, "schema_not_found"}},
	{ErrNotFound, statusCode{http.StatusNotFound, "not_found"}},
	{ErrMethodNotAllowed, statusCode{http.StatusMethodNotAllowed, "method_not_allowed"}},
	{ErrAlreadyExists, statusCode{http.StatusConflict, "already_exists"}},
	{ErrUnsafeSchemaChange, statusCode{http.StatusConflict, "unsafe_schema_change"}},
	{ErrIdempotencyReuse, statusCode{http.StatusConflict, "idempotency_key_reused"}},
	{ErrPreconditionFailed, statusCode{http.StatusPreconditionFailed, "precondition_failed"}},
	{ErrBodyTooLarge, statusCode{http.StatusRequestEntityTooLarge, "body_too_large"}},
	{ErrOverloaded, statusCode{http.StatusTooManyRequests, "overloaded"}},
	{ErrUnavailable, statusCode{http.StatusServiceUnavailable, "unavailable"}},
	{ErrNoLeader, statusCode{http.StatusServiceUnavailable, "no_leader"}},
	{ErrNotReady, statusCode{http.StatusServiceUnavailable, "not_ready"}},
	{ErrOutcomeUnknown, statusCode{http.StatusServiceUnavailable, "outcome_unknown"}},
	{ErrDeadlineExceeded, statusCode{http.StatusGatewayTimeout, "deadline_exceeded"}},
	{context.DeadlineExceeded, statusCode{http.StatusGatewayTimeout, "deadline_exceeded"}},
	{ErrSnapshotExpired, statusCode{http.StatusGone, "snapshot_expired"}},
	// The client went away; nobody reads this answer, but the log and the
	// metrics should not count it as a server fault.
	{context.Canceled, statusCode{statusClientClosed, "canceled"}},
}

// statusClientClosed is the non-standard status (as nginx uses it) recorded
// when the client cancelled its request.
const statusClientClosed = 499

// httpError maps any error to its HTTP status and body. It is the one place
// where errors become statuses; anything it does not recognize is a 500
// "internal" whose cause is logged, never shown.
func httpError(err error) (int, Error) {
	var re *requestError
	msg := ""
	var details map[string]any
	if errors.As(err, &re) {
		msg, details = re.msg, re.details
	}
	for _, row := range append(errorTable, depErrors...) {
		if errors.Is(err, row.kind) {
			if msg == "" {
				msg = err.Error()
			}
			return row.status, Error{Code: row.code, Message: msg, Details: details}
		}
	}
	return http.StatusInternalServerError, Error{
		Code:    "internal",
		Message: "internal error; quote the request_id when reporting it",
	}
}
