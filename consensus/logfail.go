package consensus

import (
	"fmt"
	"log/slog"

	"github.com/hashicorp/raft"
)

// failingLogs wraps the raft log store so that a failure to store entries
// (a failed write or fsync of the raft log: a failing disk) reaches the
// writers waiting on them as ErrStorageFailed, with the directory and what
// to do. Raft's own log cache reports such a failure as text only, so
// without the wrapper a client saw "internal error".
type failingLogs struct {
	raft.LogStore
	dir string
}

func (l failingLogs) StoreLog(log *raft.Log) error {
	return l.wrap(l.LogStore.StoreLog(log))
}

func (l failingLogs) StoreLogs(logs []*raft.Log) error {
	return l.wrap(l.LogStore.StoreLogs(logs))
}

func (l failingLogs) wrap(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w: writing the raft log under %s failed (%v); the write's outcome is unknown: retry it with the same idempotency key, and check the disk (the node steps down, and stops if the disk keeps failing)", ErrStorageFailed, l.dir, err)
}

// failingStable wraps raft's stable store (its term and vote) so that a
// failure to persist them, on which raft panics and the process stops,
// first says in the log why and what to do.
type failingStable struct {
	raft.StableStore
	dir string
	log *slog.Logger
}

func (s failingStable) Set(key, val []byte) error {
	return s.note(s.StableStore.Set(key, val))
}

func (s failingStable) SetUint64(key []byte, val uint64) error {
	return s.note(s.StableStore.SetUint64(key, val))
}

func (s failingStable) note(err error) error {
	if err != nil {
		s.log.Error("the disk under the raft directory is failing: stopping so that nothing unsynced is acknowledged; fix or replace the disk and restart on the same data directory (nothing acknowledged is lost)",
			"dir", s.dir, "error", err)
	}
	return err
}

var _ raft.MonotonicLogStore = failingLogs{}

// IsMonotonic passes on what the wrapped store says (raft.MonotonicLogStore:
// raft-wal needs its log reset, not truncated, after a snapshot install).
func (l failingLogs) IsMonotonic() bool {
	m, ok := l.LogStore.(raft.MonotonicLogStore)
	return ok && m.IsMonotonic()
}
