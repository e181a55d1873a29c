package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/trellis-authz/trellis/engine"
	"github.com/trellis-authz/trellis/service"
	"github.com/trellis-authz/trellis/verdict"
	"github.com/trellis-authz/trellis/wire"
)

// statusCode pairs a status with a code.
type statusCode struct {
	status int
	code   string
}

// errorTable lists every kind of error the API answers with, in the order
// httpError tests them: the service's kinds, then the sentinels of the
// packages below it (depErrors). A verdict that is in neither is a 400
// invalid_argument, never a 500: only a failure of the node is that.
var errorTable = []struct {
	kind error
	statusCode
}{
	{service.ErrInvalidJSON, statusCode{http.StatusBadRequest, "invalid_json"}},
	{service.ErrInvalidArgument, statusCode{http.StatusBadRequest, "invalid_argument"}},
	{service.ErrInvalidToken, statusCode{http.StatusBadRequest, "invalid_token"}},
	{service.ErrTokenFromFuture, statusCode{http.StatusBadRequest, "token_from_the_future"}},
	{service.ErrInvalidCursor, statusCode{http.StatusBadRequest, "invalid_cursor"}},
	{engine.ErrInvalidCursor, statusCode{http.StatusBadRequest, "invalid_cursor"}},
	{service.ErrInvalidSchema, statusCode{http.StatusBadRequest, "invalid_schema"}},
	{service.ErrSubjectNotAllowed, statusCode{http.StatusBadRequest, "subject_not_allowed"}},
	{service.ErrInvalidContext, statusCode{http.StatusBadRequest, "invalid_context"}},
	{engine.ErrInvalidContext, statusCode{http.StatusBadRequest, "invalid_context"}},
	{service.ErrTooManyUpdates, statusCode{http.StatusBadRequest, "too_many_updates"}},
	{service.ErrLimitExceeded, statusCode{http.StatusBadRequest, "limit_exceeded"}},
	{service.ErrDepthExceeded, statusCode{http.StatusBadRequest, "depth_exceeded"}},
	{engine.ErrDepthExceeded, statusCode{http.StatusBadRequest, "depth_exceeded"}},
	{service.ErrCaveatEvaluation, statusCode{http.StatusBadRequest, "caveat_evaluation_failed"}},
	{engine.ErrCaveatEvaluation, statusCode{http.StatusBadRequest, "caveat_evaluation_failed"}},
	{service.ErrUnauthenticated, statusCode{http.StatusUnauthorized, "unauthenticated"}},
	{service.ErrForbidden, statusCode{http.StatusForbidden, "permission_denied"}},
	{service.ErrUnknownType, statusCode{http.StatusNotFound, "unknown_type"}},
	{engine.ErrUnknownType, statusCode{http.StatusNotFound, "unknown_type"}},
	{service.ErrUnknownRelation, statusCode{http.StatusNotFound, "unknown_relation"}},
	{engine.ErrUnknownPermission, statusCode{http.StatusNotFound, "unknown_relation"}},
	{service.ErrNoSchema, statusCode{http.StatusNotFound, "schema_not_found"}},
	{service.ErrNotFound, statusCode{http.StatusNotFound, "not_found"}},
	{service.ErrMethodNotAllowed, statusCode{http.StatusMethodNotAllowed, "method_not_allowed"}},
	{service.ErrAlreadyExists, statusCode{http.StatusConflict, "already_exists"}},
	{service.ErrUnsafeSchemaChange, statusCode{http.StatusConflict, "unsafe_schema_change"}},
	{service.ErrWebhookFailed, statusCode{http.StatusBadGateway, "webhook_failed"}},
	{service.ErrIdempotencyReuse, statusCode{http.StatusConflict, "idempotency_key_reused"}},
	{service.ErrPreconditionFailed, statusCode{http.StatusPreconditionFailed, "precondition_failed"}},
	{service.ErrBodyTooLarge, statusCode{http.StatusRequestEntityTooLarge, "body_too_large"}},
	{service.ErrOverloaded, statusCode{http.StatusTooManyRequests, "overloaded"}},
	{service.ErrUnavailable, statusCode{http.StatusServiceUnavailable, "unavailable"}},
	{service.ErrNoLeader, statusCode{http.StatusServiceUnavailable, "no_leader"}},
	{service.ErrNotReady, statusCode{http.StatusServiceUnavailable, "not_ready"}},
	{service.ErrOutcomeUnknown, statusCode{http.StatusServiceUnavailable, "outcome_unknown"}},
	{service.ErrDeadlineExceeded, statusCode{http.StatusGatewayTimeout, "deadline_exceeded"}},
	{context.DeadlineExceeded, statusCode{http.StatusGatewayTimeout, "deadline_exceeded"}},
	{service.ErrSnapshotExpired, statusCode{http.StatusGone, "snapshot_expired"}},
	{service.ErrDecisionLogDisabled, statusCode{http.StatusNotFound, "decision_log_disabled"}},
	{service.ErrDecisionsMissed, statusCode{http.StatusGone, "decisions_missed"}},
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
func httpError(err error) (int, wire.Error) {
	var se *service.Error
	msg := ""
	var details map[string]any
	if errors.As(err, &se) {
		msg, details = se.Message, se.Details
	}
	if msg == "" && err != nil {
		msg = err.Error()
	}
	for _, row := range errorTable {
		if errors.Is(err, row.kind) {
			return row.status, wire.Error{Code: row.code, Message: msg, Details: details}
		}
	}
	for _, row := range depErrors {
		if errors.Is(err, row.kind) {
			return row.status, wire.Error{Code: row.code, Message: msg, Details: details}
		}
	}
	if verdict.Is(err) {
		return http.StatusBadRequest, wire.Error{Code: "invalid_argument", Message: msg, Details: details}
	}
	return http.StatusInternalServerError, wire.Error{
		Code:    "internal",
		Message: "internal error; quote the request_id when reporting it",
	}
}

// fail builds a service error of a kind (see service.Fail).
var fail = service.Fail

// describe is httpError for the services: the error body, and whether it is
// an answer (false for a 500, whose cause is never shown).
func describe(err error) (*wire.Error, bool) {
	status, body := httpError(err)
	return &body, status != http.StatusInternalServerError
}
