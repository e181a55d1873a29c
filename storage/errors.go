package storage

import (
	"errors"

	"github.com/trellis-authz/trellis/verdict"
)

// Errors returned by the store. They are wrapped with details; test with
// errors.Is.
var (
	// ErrPreconditionFailed: a batch precondition did not hold; nothing was written.
	ErrPreconditionFailed = verdict.New("precondition failed")
	// ErrAlreadyExists: a create named a relationship that exists; nothing was written.
	ErrAlreadyExists = verdict.New("relationship already exists")
	// ErrSnapshotExpired: the revision is below the GC horizon (or the store was
	// restored under the snapshot); its data may already be collected.
	ErrSnapshotExpired = verdict.New("snapshot expired")
	// ErrRevisionAhead: the revision is above the applied revision.
	ErrRevisionAhead = verdict.New("revision not yet applied")
	// ErrLimitExceeded: a delete-by-filter matched more relationships than its limit.
	ErrLimitExceeded = verdict.New("delete limit exceeded")
	// ErrClosed: the store or snapshot is closed.
	ErrClosed = errors.New("store closed")
	// ErrInvalidCursor: a pagination cursor is malformed or belongs to another filter.
	ErrInvalidCursor = verdict.New("invalid cursor")
	// ErrDuplicateUpdate: the same relationship appears twice in one batch.
	ErrDuplicateUpdate = verdict.New("duplicate update in batch")
	// ErrBatchTooLarge: the batch does not fit in one Badger transaction
	// (raise Config.MemTableSize or split the batch).
	ErrBatchTooLarge = verdict.New("batch too large")
	// ErrInvalidBatch: the batch is malformed (bad op, invalid relationship,
	// unencodable caveat context).
	ErrInvalidBatch = verdict.New("invalid batch")
	// ErrCorrupt: stored or backup bytes do not decode.
	ErrCorrupt = errors.New("corrupt data")
	// ErrFormatVersion: a store, backup or raft snapshot has an on-disk format
	// version newer than this binary's FormatVersion; nothing was changed.
	ErrFormatVersion = errors.New("unsupported on-disk format version")
)
