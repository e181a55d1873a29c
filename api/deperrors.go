package api

import (
	"net/http"

	"github.com/trellis-authz/trellis/consensus"
	"github.com/trellis-authz/trellis/storage"
)

// depErrors maps the sentinel errors of the packages the API calls. httpError
// consults it after errorTable; keep the two in one place when adding rows.
var depErrors = []struct {
	kind error
	statusCode
}{
	{storage.ErrPreconditionFailed, statusCode{http.StatusPreconditionFailed, "precondition_failed"}},
	{storage.ErrAlreadyExists, statusCode{http.StatusConflict, "already_exists"}},
	{storage.ErrSnapshotExpired, statusCode{http.StatusGone, "snapshot_expired"}},
	{storage.ErrRevisionAhead, statusCode{http.StatusGatewayTimeout, "deadline_exceeded"}},
	{storage.ErrLimitExceeded, statusCode{http.StatusBadRequest, "limit_exceeded"}},
	{storage.ErrInvalidCursor, statusCode{http.StatusBadRequest, "invalid_cursor"}},
	{storage.ErrDuplicateUpdate, statusCode{http.StatusBadRequest, "invalid_argument"}},
	{storage.ErrInvalidBatch, statusCode{http.StatusBadRequest, "invalid_argument"}},
	{storage.ErrBatchTooLarge, statusCode{http.StatusRequestEntityTooLarge, "body_too_large"}},
	{storage.ErrClosed, statusCode{http.StatusServiceUnavailable, "unavailable"}},
	{storage.ErrCorrupt, statusCode{http.StatusServiceUnavailable, "unavailable"}},
	{storage.ErrFormatVersion, statusCode{http.StatusServiceUnavailable, "unavailable"}},
	{consensus.ErrUnknownCommand, statusCode{http.StatusServiceUnavailable, "unavailable"}},
	{consensus.ErrNotLeader, statusCode{http.StatusServiceUnavailable, "unavailable"}},
	{consensus.ErrNoLeader, statusCode{http.StatusServiceUnavailable, "unavailable"}},
	{consensus.ErrLeadershipLost, statusCode{http.StatusServiceUnavailable, "outcome_unknown"}},
	{consensus.ErrClosed, statusCode{http.StatusServiceUnavailable, "unavailable"}},
	{consensus.ErrHalted, statusCode{http.StatusServiceUnavailable, "unavailable"}},
	{consensus.ErrInvalidCommand, statusCode{http.StatusBadRequest, "invalid_argument"}},
	{consensus.ErrNoSchema, statusCode{http.StatusNotFound, "schema_not_found"}},
	{consensus.ErrSchemaInvalid, statusCode{http.StatusBadRequest, "invalid_schema"}},
	{consensus.ErrSchemaViolation, statusCode{http.StatusBadRequest, "schema_violation"}},
	{consensus.ErrUnsafeSchemaChange, statusCode{http.StatusConflict, "unsafe_schema_change"}},
	{consensus.ErrMemberConflict, statusCode{http.StatusConflict, "member_conflict"}},
	{consensus.ErrWouldLoseQuorum, statusCode{http.StatusConflict, "would_lose_quorum"}},
	{consensus.ErrMemberNotCaughtUp, statusCode{http.StatusServiceUnavailable, "member_not_caught_up"}},
	{consensus.ErrDiskFull, statusCode{http.StatusInsufficientStorage, "disk_full"}},
	{consensus.ErrStorageFailed, statusCode{http.StatusServiceUnavailable, "storage_failed"}},
	{consensus.ErrIdempotencyKeyReused, statusCode{http.StatusConflict, "idempotency_key_reused"}},
	{storage.ErrNotSuspended, statusCode{http.StatusNotFound, "not_found"}},
	{consensus.ErrInvalidSuspension, statusCode{http.StatusBadRequest, "invalid_argument"}},
	{consensus.ErrInvalidAlerts, statusCode{http.StatusBadRequest, "invalid_argument"}},
}
