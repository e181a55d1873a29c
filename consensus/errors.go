package consensus

import (
	"errors"

	"github.com/trellis-authz/trellis/verdict"
)

// Sentinel errors. Errors returned by Node.Write wrap one of these, or an error
// of package storage (storage.ErrPreconditionFailed, storage.ErrAlreadyExists,
// storage.ErrLimitExceeded), or an error of package schema, so that the API layer
// can map them with errors.Is.
var (
	// ErrNotLeader is returned by leader-only operations on a follower; Leader
	// names the node to ask instead.
	ErrNotLeader = errors.New("node is not the leader")
	// ErrLeadershipLost means the node lost leadership while a write was in
	// flight: its outcome is unknown. Retry with the same idempotency key.
	ErrLeadershipLost = errors.New("leadership lost while committing; outcome unknown")
	// ErrNoLeader is returned when the cluster has no known leader.
	ErrNoLeader = errors.New("cluster has no leader")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("consensus node is closed")
	// ErrInvalidCommand is returned for a command that cannot be encoded or
	// decoded (malformed relationship, missing field).
	ErrInvalidCommand = verdict.New("invalid command")
	// ErrUnknownCommand is the fatal error for a log entry whose command type
	// this binary does not know. The FSM halts rather than skip it.
	ErrUnknownCommand = errors.New("unknown command type")
	// ErrHalted is returned by every apply after a fatal apply error: the node
	// stopped applying so that it cannot diverge from its peers.
	ErrHalted = errors.New("state machine halted after a fatal error")
	// ErrNoSchema rejects relationship writes before any schema was written.
	ErrNoSchema = verdict.New("no schema has been written yet")
	// ErrSchemaInvalid rejects a schema write whose text does not compile.
	ErrSchemaInvalid = verdict.New("schema is invalid")
	// ErrSchemaViolation rejects a relationship the schema in force does not
	// allow; the error also wraps the schema package's finer sentinel
	// (schema.ErrUnknownType, schema.ErrSubjectNotAllowed, ...).
	ErrSchemaViolation = verdict.New("relationship not allowed by the schema")
	// ErrUnsafeSchemaChange rejects a schema write that would remove a type or
	// relation that still has relationships.
	ErrUnsafeSchemaChange = verdict.New("unsafe schema change")
	// ErrMemberConflict rejects a membership change that names an existing
	// member's ID with other addresses, or another member's raft or API
	// address. Nothing was changed.
	ErrMemberConflict = verdict.New("member conflicts with an existing member")
	// ErrMemberNotCaughtUp means a new member was added as a non-voter but did
	// not catch up with the leader's log in time (it may be unreachable). It
	// stays a non-voter, which cannot cost the cluster its quorum: add it
	// again to promote it once it is up, or remove it.
	ErrMemberNotCaughtUp = errors.New("new member has not caught up with the leader")
	// ErrWouldLoseQuorum refuses a membership change after which the voters
	// would not have a reachable majority. Nothing was changed.
	ErrWouldLoseQuorum = verdict.New("membership change would leave no reachable quorum")
	// ErrDiskFull refuses a write on a leader whose data directory has less
	// free space than Config.MinFreeBytes. Nothing was proposed; retry once
	// space is freed.
	ErrDiskFull = errors.New("not enough free disk space")
	// ErrStorageFailed reports that the node could not write its raft log
	// (a failed write or fsync: the disk is failing). The write's outcome is
	// unknown; retry it with the same idempotency key.
	ErrStorageFailed = errors.New("the node's disk failed")
	// ErrIdempotencyKeyReused rejects a request that reuses an idempotency key
	// of a different request within the idempotency window.
	ErrIdempotencyKeyReused = verdict.New("idempotency key reused with a different request")
)
