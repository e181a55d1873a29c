package audit

import (
	"errors"
	"fmt"
)

// Sentinel errors. Functions wrap them with context; test with errors.Is.
var (
	// ErrInvalidEntry means an entry cannot be encoded or decoded canonically.
	ErrInvalidEntry = errors.New("invalid audit entry")
	// ErrNotFound means the sequence number is not in the log (yet).
	ErrNotFound = errors.New("audit entry not found")
	// ErrBadRange means a proof or export was asked for sizes the log does not
	// have, or in the wrong order.
	ErrBadRange = errors.New("bad audit tree size or index")
	// ErrCorrupt means the persisted log state is inconsistent.
	ErrCorrupt = errors.New("audit log state is corrupt")
	// ErrPending means an operation needs the staged (uncommitted) entries to be
	// committed or aborted first.
	ErrPending = errors.New("audit log has staged entries")
	// ErrBadCheckpoint means a checkpoint text is malformed.
	ErrBadCheckpoint = errors.New("malformed checkpoint")
	// ErrWrongKey means a checkpoint was signed by a different key (or key
	// name) than the one given.
	ErrWrongKey = errors.New("checkpoint signed by a different key")
	// ErrBadSignature means a checkpoint signature does not verify.
	ErrBadSignature = errors.New("checkpoint signature does not verify")
	// ErrTampered means an export or decision chain fails verification.
	ErrTampered = errors.New("audit data fails verification")
)

// VerifyError says where an export or a decision chain first failed to verify.
// It wraps ErrTampered (or ErrBadCheckpoint / ErrWrongKey / ErrBadSignature for
// checkpoint problems).
type VerifyError struct {
	// Seq is the sequence number expected at the first position that does not
	// verify: the first edited entry, the first missing one (deleted, swapped
	// away or truncated), or the position a duplicate occupies. HasSeq is
	// false when the failure is not tied to one position (e.g. a root
	// mismatch with correct leaf hashes everywhere).
	Seq    uint64
	HasSeq bool
	// Line is the 1-based export line, 0 when not tied to a line.
	Line int
	// Msg says what is wrong.
	Msg string
	// Err is the sentinel.
	Err error
}

func (e *VerifyError) Error() string {
	switch {
	case e.HasSeq && e.Line > 0:
		return fmt.Sprintf("%v: sequence %d (line %d): %s", e.Err, e.Seq, e.Line, e.Msg)
	case e.HasSeq:
		return fmt.Sprintf("%v: sequence %d: %s", e.Err, e.Seq, e.Msg)
	default:
		return fmt.Sprintf("%v: %s", e.Err, e.Msg)
	}
}

func (e *VerifyError) Unwrap() error { return e.Err }
