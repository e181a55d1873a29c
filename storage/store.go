package storage

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

// restoreMarker is a file in Dir that exists while Restore runs; a store that
// finds it on Open was interrupted mid-restore and is emptied.
const restoreMarker = "TRELLIS-RESTORING"

// Store is a tuple store over Badger in managed mode: every batch commits at
// its revision, and every read happens at a revision.
type Store struct {
	cfg Config
	db  *badger.DB
	log *slog.Logger

	// mu serializes writers: Apply, SetGCHorizon, MarkApplied, Restore, Close.
	mu sync.Mutex
	// gidx counts the nested-group index's size and updates; gidxPending is
	// the running Apply's share (guarded by mu), published after its commit.
	gidx groupIndexCounters
	// gidxFrom is the revision the nested-group index is complete from (the
	// value of its marker), 0 until known: Snapshot.GroupIndexed reads it
	// instead of the marker.
	gidxFrom    atomic.Uint64
	gidxPending groupPending
	// gcMu keeps value-log GC and Compact away from Restore and Close.
	gcMu sync.Mutex

	applied       atomic.Uint64
	horizon       atomic.Uint64 // reads below are refused
	changeHorizon atomic.Uint64 // change records below are deleted
	changeFloor   atomic.Uint64 // change records from here on are held (Batch.ChangeFloor); 0: none
	gen           atomic.Uint64 // bumped by Restore; snapshots of an older gen expire
	closed        atomic.Bool
	restoring     atomic.Bool

	// schema caches the latest schema so that reads, which all need it, do not
	// fetch and decode it from Badger every time (see Snapshot.Schema).
	schema atomic.Pointer[schemaVersion]
	// suspensions caches the latest suspension set (suspend.go).
	suspensions atomic.Pointer[suspensionVersion]

	// onChange, when set, is told what each revision changed before the
	// revision becomes readable (see SetChangeHook).
	onChange atomic.Pointer[ChangeHook]

	appliedCh chan struct{} // closed and replaced on every advance of applied (guarded by notifyMu)
	notifyMu  sync.Mutex

	stopGC chan struct{}
	gcDone chan struct{}
}

// Open opens (or creates) a store.
func Open(cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	s := &Store{cfg: cfg, log: cfg.Logger.With("component", "storage"), appliedCh: make(chan struct{})}
	interrupted := false
	if !cfg.InMemory {
		if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
			return nil, fmt.Errorf("storage: create %s: %w", cfg.Dir, err)
		}
		if _, err := os.Stat(filepath.Join(cfg.Dir, restoreMarker)); err == nil {
			interrupted = true
		}
	}
	db, err := badger.OpenManaged(badgerOptions(cfg))
	if err != nil {
		return nil, fmt.Errorf("storage: open badger in %s: %w", cfg.Dir, err)
	}
	s.db = db
	if interrupted {
		s.log.Warn("a restore was interrupted; emptying the store", "dir", cfg.Dir)
		if err := db.DropAll(); err != nil {
			db.Close()
			return nil, fmt.Errorf("storage: empty the store after an interrupted restore: %w", err)
		}
		if err := removeMarker(cfg.Dir); err != nil {
			db.Close()
			return nil, err
		}
	}
	if err := s.openFormat(); err != nil {
		db.Close()
		return nil, err
	}
	if err := s.ensureGroupIndex(); err != nil {
		db.Close()
		return nil, err
	}
	db.SetDiscardTs(s.horizon.Load())
	if cfg.ValueLogGCInterval > 0 && !cfg.InMemory {
		s.stopGC, s.gcDone = make(chan struct{}), make(chan struct{})
		go s.valueLogGCLoop(cfg.ValueLogGCInterval)
	}
	return s, nil
}

func badgerOptions(cfg Config) badger.Options {
	o := badger.DefaultOptions(cfg.Dir).
		WithInMemory(cfg.InMemory).
		WithSyncWrites(cfg.SyncWrites).
		WithMemTableSize(cfg.MemTableSize).
		WithBlockCacheSize(cfg.BlockCacheSize).
		WithIndexCacheSize(cfg.IndexCacheSize).
		WithLogger(badgerLogger{cfg.Logger.With("component", "badger")}).
		// One writer (Apply holds a mutex), so conflict detection is pure cost.
		WithDetectConflicts(false).
		// Versions above the discard timestamp are always kept; at or below it
		// only the newest, which is exactly what a read at the horizon needs.
		WithNumVersionsToKeep(1).
		// Relationship values are tiny and stay in the LSM tree; change records
		// and large extras go to the value log.
		WithValueThreshold(4 << 10).
		WithNumMemtables(3).
		WithNumCompactors(2).
		WithCompression(options.Snappy).
		WithCompactL0OnClose(true).
		WithMetricsEnabled(false)
	if cfg.InMemory {
		// No value log in memory: every value must stay in the LSM tree, so
		// allow the largest (a change record of a big batch).
		o.Dir, o.ValueDir = "", ""
		o = o.WithValueThreshold(1 << 20)
	}
	return o
}

func (s *Store) loadMeta() error {
	txn := s.db.NewTransactionAt(math.MaxUint64, false)
	defer txn.Discard()
	for _, m := range []struct {
		key []byte
		dst *atomic.Uint64
	}{{keyApplied, &s.applied}, {keyHorizon, &s.horizon}, {keyChangeHorizon, &s.changeHorizon}, {keyChangeFloor, &s.changeFloor}} {
		v, ok, err := getUint(txn, m.key)
		if err != nil {
			return err
		}
		if ok {
			m.dst.Store(v)
		}
	}
	s.refreshSchemaCache(s.applied.Load())
	s.refreshSuspensionCache(s.applied.Load())
	return nil
}

// schemaVersion is the latest schema as of some applied revision: written at
// rev (0 and !ok when there is none). It answers Snapshot.Schema for every
// snapshot at rev or later, because a later schema write refreshes the cache
// before its revision becomes readable.
type schemaVersion struct {
	rev uint64
	rec SchemaRecord
	ok  bool
}

// refreshSchemaCache reloads the cached schema as of revision at. It must run
// after a schema write commits and before that revision is published. On a
// read error the cache is dropped and snapshots read the schema from Badger.
func (s *Store) refreshSchemaCache(at uint64) {
	txn := s.db.NewTransactionAt(at, false)
	defer txn.Discard()
	rec, rev, ok, err := readSchema(txn)
	if err != nil {
		s.schema.Store(nil)
		return
	}
	s.schema.Store(&schemaVersion{rev: rev, rec: rec, ok: ok})
}

func getUint(txn *badger.Txn, key []byte) (uint64, bool, error) {
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("storage: read %q: %w", key, err)
	}
	var v uint64
	err = item.Value(func(b []byte) error {
		if len(b) != 8 {
			return fmt.Errorf("%w: %q holds %d bytes, want 8", ErrCorrupt, key, len(b))
		}
		v = binary.BigEndian.Uint64(b)
		return nil
	})
	return v, err == nil, err
}

// Close stops background work and closes Badger. Snapshots must not be read
// after Close. Calling Close twice is harmless.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Swap(true) {
		return nil
	}
	if s.stopGC != nil {
		close(s.stopGC)
		<-s.gcDone
	}
	s.gcMu.Lock()
	defer s.gcMu.Unlock()
	s.notifyApplied()
	return s.db.Close()
}

// ChangeHook is told what a revision changed: the relationships written and
// deleted, and all=true when anything may have changed (a schema write, or a
// restore that replaced the contents).
type ChangeHook func(rev uint64, changes []Change, all bool)

// SetChangeHook installs fn (nil removes it). The store calls it for every
// revision that changes relationships or the schema, and for a restore,
// after the revision is durable in Badger and before it becomes readable:
// a reader that opens the revision finds the hook already told. It runs under
// the writer lock, so it must be quick and must not call back into the store.
// An engine's cache uses it (engine.Changes) to keep results across writes
// that cannot affect them.
func (s *Store) SetChangeHook(fn ChangeHook) {
	if fn == nil {
		s.onChange.Store(nil)
		return
	}
	s.onChange.Store(&fn)
}

func (s *Store) changed(rev uint64, changes []Change, all bool) {
	if fn := s.onChange.Load(); fn != nil && (all || len(changes) > 0) {
		(*fn)(rev, changes, all)
	}
}

// AppliedRevision is the revision of the last applied batch (0 when empty).
func (s *Store) AppliedRevision() uint64 { return s.applied.Load() }

// GCHorizon is the lowest revision that can still be read.
func (s *Store) GCHorizon() uint64 { return s.horizon.Load() }

// ChangeHorizon is the lowest revision from which Changes can still read.
func (s *Store) ChangeHorizon() uint64 { return s.changeHorizon.Load() }

// WaitApplied blocks until the applied revision is at least rev, the context
// ends or the store closes.
func (s *Store) WaitApplied(ctx context.Context, rev uint64) error {
	for {
		s.notifyMu.Lock()
		ch := s.appliedCh
		s.notifyMu.Unlock()
		if s.applied.Load() >= rev {
			return nil
		}
		if s.closed.Load() {
			return ErrClosed
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (s *Store) notifyApplied() {
	s.notifyMu.Lock()
	close(s.appliedCh)
	s.appliedCh = make(chan struct{})
	s.notifyMu.Unlock()
}

// SetGCHorizon moves the GC horizon up to rev (never down; at most the applied
// revision). Reads below it fail with ErrSnapshotExpired from now on; the new
// horizon is stored durably before Badger may discard anything below it.
func (s *Store) SetGCHorizon(rev uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return ErrClosed
	}
	applied := s.applied.Load()
	if rev > applied {
		return fmt.Errorf("%w: GC horizon %d is above the applied revision %d", ErrRevisionAhead, rev, applied)
	}
	if rev <= s.horizon.Load() {
		return nil
	}
	// The horizon is written at the applied revision: it is metadata that no
	// snapshot reads, and every revision must be a raft index, so no new one
	// can be invented here.
	txn := s.db.NewTransactionAt(applied, true)
	defer txn.Discard()
	if err := txn.Set(keyHorizon, be64(rev)); err != nil {
		return fmt.Errorf("storage: set GC horizon: %w", err)
	}
	if err := txn.CommitAt(applied, nil); err != nil {
		return fmt.Errorf("storage: set GC horizon: %w", err)
	}
	s.horizon.Store(rev)
	s.db.SetDiscardTs(rev)
	return nil
}

// Extra returns the latest value of a key written by a Batch.Finish hook.
func (s *Store) Extra(key []byte) ([]byte, bool, error) {
	if s.closed.Load() {
		return nil, false, ErrClosed
	}
	txn := s.db.NewTransactionAt(s.applied.Load(), false)
	defer txn.Discard()
	item, err := txn.Get(extraKey(key))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("storage: extra %q: %w", key, err)
	}
	v, err := item.ValueCopy(nil)
	if err != nil {
		return nil, false, fmt.Errorf("storage: extra %q: %w", key, err)
	}
	return v, true, nil
}

// ScanExtra calls fn, in key order, for every extra key with the prefix at the
// latest revision. The slices are valid only during the call.
func (s *Store) ScanExtra(prefix []byte, fn func(key, value []byte) error) error {
	if s.closed.Load() {
		return ErrClosed
	}
	txn := s.db.NewTransactionAt(s.applied.Load(), false)
	defer txn.Discard()
	p := extraKey(prefix)
	it := txn.NewIterator(badger.IteratorOptions{Prefix: p, PrefetchValues: false})
	defer it.Close()
	for it.Seek(p); it.ValidForPrefix(p); it.Next() {
		item := it.Item()
		k := item.Key()[len(pfxExtra):]
		if err := item.Value(func(v []byte) error { return fn(k, v) }); err != nil {
			return err
		}
	}
	return nil
}

// Schema returns the latest schema and the revision that wrote it.
func (s *Store) Schema() (SchemaRecord, uint64, bool, error) {
	if s.closed.Load() {
		return SchemaRecord{}, 0, false, ErrClosed
	}
	if v := s.schema.Load(); v != nil {
		return v.rec, v.rev, v.ok, nil
	}
	txn := s.db.NewTransactionAt(s.applied.Load(), false)
	defer txn.Discard()
	return readSchema(txn)
}

func readSchema(txn *badger.Txn) (SchemaRecord, uint64, bool, error) {
	item, err := txn.Get(keySchema)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return SchemaRecord{}, 0, false, nil
	}
	if err != nil {
		return SchemaRecord{}, 0, false, fmt.Errorf("storage: read schema: %w", err)
	}
	var rec SchemaRecord
	var rev uint64
	err = item.Value(func(v []byte) error {
		var err error
		rec, rev, err = decodeSchema(v)
		return err
	})
	if err != nil {
		return SchemaRecord{}, 0, false, err
	}
	return rec, rev, true, nil
}

// DiskSize is the bytes the store's files occupy on disk, counted like du
// (allocated blocks, not the apparent size of Badger's sparse preallocated
// files); Badger's own estimate for an in-memory store.
func (s *Store) DiskSize() (int64, error) {
	if s.cfg.InMemory {
		lsm, vlog := s.db.Size()
		return lsm + vlog, nil
	}
	var total int64
	err := filepath.WalkDir(s.cfg.Dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			total += allocatedSize(info)
		}
		return nil
	})
	return total, err
}

// Compact forces Badger to rewrite its tables now (so versions below the GC
// horizon are dropped) and then runs value-log GC until it finds nothing to
// reclaim. It is for tests and operators; normal operation compacts in the
// background.
func (s *Store) Compact() error {
	s.gcMu.Lock()
	defer s.gcMu.Unlock()
	if s.closed.Load() {
		return ErrClosed
	}
	if err := s.db.Flatten(2); err != nil {
		return fmt.Errorf("storage: flatten: %w", err)
	}
	s.runValueLogGC()
	return nil
}

func (s *Store) runValueLogGC() {
	if s.cfg.InMemory {
		return
	}
	for i := 0; i < 100; i++ {
		if err := s.db.RunValueLogGC(0.5); err != nil {
			if !errors.Is(err, badger.ErrNoRewrite) && !errors.Is(err, badger.ErrRejected) {
				s.log.Warn("value-log GC failed", "err", err)
			}
			return
		}
	}
}

func (s *Store) valueLogGCLoop(every time.Duration) {
	defer close(s.gcDone)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stopGC:
			return
		case <-t.C:
			s.gcMu.Lock()
			if !s.closed.Load() {
				s.runValueLogGC()
			}
			s.gcMu.Unlock()
		}
	}
}

func removeMarker(dir string) error {
	if err := os.Remove(filepath.Join(dir, restoreMarker)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("storage: remove restore marker: %w", err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("storage: sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("storage: sync %s: %w", dir, err)
	}
	return nil
}

// badgerLogger adapts slog to Badger's logger; Badger's Info chatter goes to
// Debug.
type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) Errorf(f string, a ...any)   { b.l.Error(trim(fmt.Sprintf(f, a...))) }
func (b badgerLogger) Warningf(f string, a ...any) { b.l.Warn(trim(fmt.Sprintf(f, a...))) }
func (b badgerLogger) Infof(f string, a ...any)    { b.l.Debug(trim(fmt.Sprintf(f, a...))) }
func (b badgerLogger) Debugf(f string, a ...any)   {}

func trim(s string) string {
	for len(s) > 0 && (s[len(s)-1] == '\n' || s[len(s)-1] == ' ') {
		s = s[:len(s)-1]
	}
	return s
}
