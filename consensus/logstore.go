package consensus

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	wal "github.com/hashicorp/raft-wal"
)

// Raft log stores (Config.LogStore).
const (
	// LogStoreWAL keeps the raft log in append-only segment files
	// (hashicorp/raft-wal): one fsync per append and truncation by deleting
	// whole segments. It is the default for a new data directory.
	LogStoreWAL = "wal"
	// LogStoreBolt keeps the raft log in a BoltDB B+tree file (raft.db),
	// what data directories made before the WAL use.
	LogStoreBolt = "bolt"
)

// logStore is a raft log and stable store that can be closed.
type logStore interface {
	raft.LogStore
	raft.StableStore
	io.Closer
}

// boltFile and walDir are the raft log's places in the data directory.
const (
	boltFile = "raft.db"
	walDir   = "raft-wal"
)

// chooseLogStore picks the log store for dataDir: whatever it already holds
// (a log is never converted in place), else the configured kind.
func chooseLogStore(dataDir, configured string) (string, error) {
	hasBolt := exists(filepath.Join(dataDir, boltFile))
	hasWAL := exists(filepath.Join(dataDir, walDir))
	switch {
	case hasBolt && hasWAL:
		return "", fmt.Errorf("data directory %s holds two raft logs (%s and %s/); keep the one this node last ran with", dataDir, boltFile, walDir)
	case hasBolt:
		return LogStoreBolt, nil
	case hasWAL:
		return LogStoreWAL, nil
	}
	if configured == "" {
		return LogStoreWAL, nil
	}
	return configured, nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, fs.ErrNotExist)
}

// openLogStore opens (or creates) the raft log of kind in dataDir.
func openLogStore(dataDir, kind string, segmentSize int, log hclog.Logger) (logStore, error) {
	switch kind {
	case LogStoreBolt:
		path := filepath.Join(dataDir, boltFile)
		s, err := raftboltdb.New(raftboltdb.Options{Path: path})
		if err != nil {
			return nil, fmt.Errorf("opening raft log %s: %w", path, err)
		}
		return s, nil
	case LogStoreWAL:
		dir := filepath.Join(dataDir, walDir)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("creating raft log directory %s: %w", dir, err)
		}
		if segmentSize <= 0 {
			segmentSize = wal.DefaultSegmentSize
		}
		w, err := wal.Open(dir, wal.WithLogger(log), wal.WithSegmentSize(segmentSize))
		if err != nil {
			return nil, fmt.Errorf("opening raft log %s: %w", dir, err)
		}
		return w, nil
	}
	return nil, fmt.Errorf("unknown raft log store %q; use %q or %q", kind, LogStoreWAL, LogStoreBolt)
}
