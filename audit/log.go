package audit

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
)

// Store is what the log reads its persisted state from: the latest committed
// value of a key. The storage layer's extra key/values satisfy it.
type Store interface {
	Get(key []byte) (value []byte, ok bool, err error)
}

// KV is a key/value the caller must write in the same storage transaction as
// the change an entry describes.
type KV struct {
	Key, Value []byte
}

// Persisted keys. Every key starts with "audit/".
var (
	keySize      = []byte("audit/size")
	prefixEntry  = []byte("audit/e/")
	prefixNode   = []byte("audit/n/")
	hasher       = rfc6962.DefaultHasher
	rangeFactory = &compact.RangeFactory{Hash: hasher.HashChildren}
)

func entryKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64(bytes.Clone(prefixEntry), seq)
}

func nodeKey(id compact.NodeID) []byte {
	k := append(bytes.Clone(prefixNode), byte(id.Level))
	return binary.BigEndian.AppendUint64(k, id.Index)
}

// Config configures a Log.
type Config struct {
	// Origin is the log's identity, the first line of every checkpoint (for
	// example "trellis.example.com/audit"). All replicas must use the same.
	Origin string
}

// DefaultConfig returns the default configuration.
func DefaultConfig() Config {
	return Config{Origin: "trellis/audit"}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if err := validateOrigin(c.Origin); err != nil {
		return fmt.Errorf("audit config: Origin: %w", err)
	}
	return nil
}

func validateOrigin(o string) error {
	switch {
	case o == "":
		return fmt.Errorf("empty; set the log's identity, e.g. %q", DefaultConfig().Origin)
	case len(o) > 256:
		return fmt.Errorf("%d bytes, limit 256", len(o))
	case !utf8.ValidString(o) || strings.ContainsAny(o, "\n\r"):
		return fmt.Errorf("%q must be one line of UTF-8", o)
	}
	return nil
}

// state is the cheap in-memory part of the log: the compact range (the
// frontier of perfect subtrees) and what the newest entry says. A state is
// never modified once committed, except for filling in root.
type state struct {
	rng      *compact.Range
	root     []byte // computed on first use (O(log n) hashes), under Log.mu
	revision uint64
	time     time.Time
}

func (s *state) size() uint64 { return s.rng.End() }

// rootHash returns the state's root, computing it once. Callers hold Log.mu
// for writing.
func (s *state) rootHash() []byte {
	if s.root == nil {
		r, err := rootOf(s.rng)
		if err != nil {
			// Only a range not starting at 0 fails, and every state starts at 0.
			panic(fmt.Sprintf("audit: root of compact range: %v", err))
		}
		s.root = r
	}
	return s.root
}

func (s *state) clone() *state {
	h := make([][]byte, len(s.rng.Hashes()))
	copy(h, s.rng.Hashes())
	r, _ := rangeFactory.NewRange(0, s.rng.End(), h)
	c := *s
	c.rng, c.root = r, nil
	return &c
}

// Log is the replicated, tamper-evident audit log. It is safe for concurrent
// use: one writer (the FSM) and any number of readers.
//
// Writes are two-phase. Append stages an entry on top of the committed log
// (and any entries staged before it) and returns the key/values to write in
// the storage transaction; nothing is visible to readers yet. After the
// transaction commits, the caller calls Commit; if it aborts, Abort. A caller
// that does not know the outcome calls Sync, which asks the store. Readers
// (Size, Root, Entry, proofs, Checkpoint) only see committed entries.
type Log struct {
	store Store
	cfg   Config

	mu        sync.RWMutex
	committed *state
	staged    *state // nil when nothing is staged
}

// Open loads the log's state from store with DefaultConfig.
func Open(store Store) (*Log, error) {
	return OpenWithConfig(store, DefaultConfig())
}

// OpenWithConfig loads the log's state from store: the size, the frontier
// hashes (one Get per set bit of the size) and the newest entry.
func OpenWithConfig(store Store, cfg Config) (*Log, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	l := &Log{store: store, cfg: cfg}
	st, err := l.load()
	if err != nil {
		return nil, err
	}
	l.committed = st
	return l, nil
}

func (l *Log) load() (*state, error) {
	size, err := l.storedSize()
	if err != nil {
		return nil, err
	}
	rng, err := l.rangeAt(size)
	if err != nil {
		return nil, err
	}
	st := &state{rng: rng}
	if size > 0 {
		e, raw, err := l.entry(size - 1)
		if err != nil {
			return nil, err
		}
		leaf, err := l.node(compact.NewNodeID(0, size-1))
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(leaf, hasher.HashLeaf(raw)) {
			return nil, fmt.Errorf("%w: stored leaf hash of entry %d does not match the entry", ErrCorrupt, size-1)
		}
		st.revision, st.time = e.Revision, e.Time
	}
	return st, nil
}

// rangeAt builds the compact range [0, size) from the persisted roots of the
// perfect subtrees that cover it (one per set bit of size).
func (l *Log) rangeAt(size uint64) (*compact.Range, error) {
	ids := compact.RangeNodes(0, size, nil)
	hashes := make([][]byte, len(ids))
	for i, id := range ids {
		h, err := l.node(id)
		if err != nil {
			return nil, err
		}
		hashes[i] = h
	}
	rng, err := rangeFactory.NewRange(0, size, hashes)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return rng, nil
}

func rootOf(r *compact.Range) ([]byte, error) {
	if r.End() == 0 {
		return hasher.EmptyRoot(), nil
	}
	return r.GetRootHash(nil)
}

func (l *Log) storedSize() (uint64, error) {
	v, ok, err := l.store.Get(keySize)
	if err != nil {
		return 0, fmt.Errorf("audit: read size: %w", err)
	}
	if !ok {
		return 0, nil
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("%w: size value has %d bytes, want 8", ErrCorrupt, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

func (l *Log) node(id compact.NodeID) ([]byte, error) {
	v, ok, err := l.store.Get(nodeKey(id))
	if err != nil {
		return nil, fmt.Errorf("audit: read node (level %d, index %d): %w", id.Level, id.Index, err)
	}
	if !ok || len(v) != hasher.Size() {
		return nil, fmt.Errorf("%w: node (level %d, index %d) missing or malformed", ErrCorrupt, id.Level, id.Index)
	}
	return v, nil
}

func (l *Log) entry(seq uint64) (Entry, []byte, error) {
	raw, ok, err := l.store.Get(entryKey(seq))
	if err != nil {
		return Entry{}, nil, fmt.Errorf("audit: read entry %d: %w", seq, err)
	}
	if !ok {
		return Entry{}, nil, fmt.Errorf("%w: entry %d missing from store", ErrCorrupt, seq)
	}
	e, err := UnmarshalEntry(raw)
	if err != nil {
		return Entry{}, nil, fmt.Errorf("%w: entry %d: %v", ErrCorrupt, seq, err)
	}
	if e.Seq != seq {
		return Entry{}, nil, fmt.Errorf("%w: entry stored at %d says seq %d", ErrCorrupt, seq, e.Seq)
	}
	return e, raw, nil
}

// Append stages e as the next entry and returns the key/values to write in
// the same storage transaction, and the entry's sequence number (its leaf
// index). Append sets e.Seq itself; the caller's value is ignored. The
// entry's revision must not be below the previous entry's.
//
// The staged entry is not visible until Commit. Several Appends may be staged
// for one transaction; the key/values of the last one supersede the "size"
// key of earlier ones, so write all of them in order.
func (l *Log) Append(e Entry) (kvs []KV, seq uint64, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	base := l.staged
	if base == nil {
		base = l.committed
	}
	if e.Revision < base.revision {
		return nil, 0, fmt.Errorf("%w: revision %d is below the previous entry's %d", ErrInvalidEntry, e.Revision, base.revision)
	}
	e.Seq = base.size()
	raw, err := e.MarshalBinary()
	if err != nil {
		return nil, 0, err
	}
	next := base.clone()
	kvs = append(kvs, KV{Key: entryKey(e.Seq), Value: raw})
	visit := func(id compact.NodeID, hash []byte) {
		kvs = append(kvs, KV{Key: nodeKey(id), Value: bytes.Clone(hash)})
	}
	if err := next.rng.Append(hasher.HashLeaf(raw), visit); err != nil {
		return nil, 0, fmt.Errorf("audit: append leaf %d: %w", e.Seq, err)
	}
	next.revision, next.time = e.Revision, e.Time.UTC()
	kvs = append(kvs, KV{Key: bytes.Clone(keySize), Value: binary.BigEndian.AppendUint64(nil, next.size())})
	l.staged = next
	return kvs, e.Seq, nil
}

// Commit makes the staged entries visible. Call it after the storage
// transaction that wrote their key/values has committed.
func (l *Log) Commit() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.staged != nil {
		l.committed, l.staged = l.staged, nil
	}
}

// Abort drops the staged entries. Call it when the storage transaction did
// not commit; the in-memory tree is then exactly as before the Appends.
func (l *Log) Abort() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.staged = nil
}

// Sync reconciles memory with the store when the caller does not know whether
// the last transaction committed: if the store holds the staged size the
// staged entries are committed, if it holds the committed size they are
// dropped, and otherwise the state is reloaded from the store.
func (l *Log) Sync() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	size, err := l.storedSize()
	if err != nil {
		return err
	}
	switch {
	case l.staged != nil && size == l.staged.size():
		l.committed = l.staged
	case size == l.committed.size():
	default:
		st, err := l.load()
		if err != nil {
			return err
		}
		l.committed = st
	}
	l.staged = nil
	return nil
}

// Size returns the number of committed entries.
func (l *Log) Size() uint64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.committed.size()
}

// Root returns the RFC 6962 root hash of the committed entries (the hash of
// the empty string for an empty log).
func (l *Log) Root() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.committed.rootHash())
}

// LastRevision returns the revision of the newest committed entry (0 when
// empty). The FSM can compare it with a replayed command's revision.
func (l *Log) LastRevision() uint64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.committed.revision
}

// Origin returns the log's configured origin.
func (l *Log) Origin() string { return l.cfg.Origin }

// Entry returns the committed entry with sequence number seq.
func (l *Log) Entry(seq uint64) (Entry, error) {
	if size := l.Size(); seq >= size {
		return Entry{}, fmt.Errorf("%w: sequence %d, log size %d", ErrNotFound, seq, size)
	}
	e, _, err := l.entry(seq)
	return e, err
}

// LeafHash returns the stored leaf hash of entry seq.
func (l *Log) LeafHash(seq uint64) ([]byte, error) {
	if size := l.Size(); seq >= size {
		return nil, fmt.Errorf("%w: sequence %d, log size %d", ErrNotFound, seq, size)
	}
	return l.node(compact.NewNodeID(0, seq))
}

// Filter selects entries. Empty fields match anything.
type Filter struct {
	Kind      string `json:"kind,omitempty"`
	Principal string `json:"principal,omitempty"`
	RequestID string `json:"request_id,omitempty"`
	// Since and Until bound the entry time (inclusive, exclusive).
	Since time.Time `json:"since,omitzero"`
	Until time.Time `json:"until,omitzero"`
}

func (f *Filter) match(e *Entry) bool {
	return (f.Kind == "" || f.Kind == e.Kind) &&
		(f.Principal == "" || f.Principal == e.Principal) &&
		(f.RequestID == "" || f.RequestID == e.RequestID) &&
		(f.Since.IsZero() || !e.Time.Before(f.Since)) &&
		(f.Until.IsZero() || e.Time.Before(f.Until))
}

// MaxScan bounds how many entries one Entries call reads while filtering.
const MaxScan = 10000

// Entries returns up to limit committed entries with sequence >= from that
// match filter, in sequence order, and the sequence to continue from (equal
// to Size() when the scan reached the end). It reads at most MaxScan entries
// per call, so a selective filter may return fewer than limit with next <
// Size(); call again from next.
func (l *Log) Entries(from uint64, limit int, filter Filter) (entries []Entry, next uint64, err error) {
	size := l.Size()
	if limit <= 0 {
		return nil, from, fmt.Errorf("%w: limit %d, want > 0", ErrBadRange, limit)
	}
	seq := from
	for scanned := 0; seq < size && len(entries) < limit && scanned < MaxScan; seq, scanned = seq+1, scanned+1 {
		e, _, err := l.entry(seq)
		if err != nil {
			return nil, seq, err
		}
		if filter.match(&e) {
			entries = append(entries, e)
		}
	}
	return entries, max(seq, from), nil
}
