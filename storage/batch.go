package storage

import (
	"time"

	"github.com/trellis-authz/trellis/tuple"
)

// Batch is one all-or-nothing write, applied at a single revision. The consensus
// layer carries it in a raft log entry; Apply validates nothing about the schema
// (the caller has), only the state: preconditions, create-of-existing.
type Batch struct {
	// Preconditions are checked against the state before the batch; if any fails,
	// nothing is written and Apply returns an error wrapping ErrPreconditionFailed.
	Preconditions []tuple.Precondition
	// Updates are applied in order. A create of a relationship that exists fails
	// the whole batch with ErrAlreadyExists. The same relationship must not appear
	// twice in one batch.
	Updates []tuple.Update
	// DeleteFilter, when set, deletes every relationship matching the filter (up
	// to Limit; 0 means no limit) after Updates. If more than Limit match, nothing
	// is written and Apply returns ErrLimitExceeded.
	DeleteFilter *DeleteByFilter
	// Schema, when set, stores a new schema text at this revision.
	Schema *SchemaRecord
	// Suspend, when set, suspends a subject or lifts its suspension at this
	// revision (suspend.go); lifting one that does not exist fails the batch
	// with ErrNotSuspended.
	Suspend *SuspensionChange
	// ChangeFloor, when set, holds the change feed from that revision on:
	// its records are not trimmed at the GC horizon (relationship versions
	// still are), so a consumer that records its position in the store (the
	// alert loop's cursor) cannot be overtaken. The hold is bounded by
	// Config.ChangeHoldMax revisions below the applied one; 0 releases it.
	ChangeFloor *uint64
	// Meta is opaque bytes stored at this revision alongside the change record
	// in the change feed (the consensus layer keeps the principal, reason and
	// request id there). May be nil.
	Meta []byte
	// Finish, when set, is called inside the write transaction after the updates
	// are staged and before commit, with the changes the batch made. The extra
	// key/values it returns are written in the same transaction (the audit log
	// and idempotency records use this), so they commit exactly when the batch
	// does. An error from Finish aborts the batch.
	Finish func(changes []Change) ([]KV, error)
	// Now, when not zero, is the leader-chosen time at which expirations are
	// judged inside Apply: a relationship expired at Now counts as absent for
	// preconditions and for create's exists check. Zero means stored
	// relationships count as present whatever their expiration. Apply never
	// reads the wall clock, so replicas stay deterministic.
	Now time.Time
}

// KV is an extra key/value written with a batch. Keys live in their own
// namespace (the store prefixes them), are read at the latest revision with
// Store.Extra and Store.ScanExtra, and are never removed by relationship writes.
type KV struct {
	Key   []byte
	Value []byte
}

// DeleteByFilter deletes relationships that match a filter.
type DeleteByFilter struct {
	Filter tuple.Filter
	Limit  int
}

// SchemaRecord is a stored schema: its text and the hex SHA-256 of the text.
type SchemaRecord struct {
	Text string
	Hash string
}

// Result says what a batch did.
type Result struct {
	Revision uint64
	// Skipped is true when rev was at or below the applied index and nothing was
	// done (replay after a restart).
	Skipped bool
	// Changes lists what the batch changed, in order: every touch/create that
	// wrote, and every relationship deleted (deletes of absent ones are omitted).
	Changes []Change
}

// Change is one change recorded in the change feed.
type Change struct {
	Op           tuple.Op // OpTouch (written, also for create) or OpDelete
	Relationship tuple.Relationship
}
