package consensus

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/raft"

	"github.com/trellis-authz/trellis/storage"
)

// Snapshotter streams the store for raft snapshots. *storage.Store implements it.
type Snapshotter interface {
	BackupAt(w io.Writer, rev uint64) error
	Restore(r io.Reader) error
}

// ExtraScanner lists extra keys under a prefix (to reload member metadata).
type ExtraScanner interface {
	ScanExtra(prefix []byte, fn func(key, value []byte) error) error
}

// fsm is the raft.FSM: a thin adapter that hands each entry to the applier,
// tracks the last raft index applied (writes and non-writes alike) and wakes
// the goroutines waiting for it.
type fsm struct {
	a       *applier
	snap    Snapshotter
	scanner ExtraScanner
	log     *slog.Logger
	onFatal func(error)

	halted  atomic.Pointer[error]
	applied atomic.Uint64              // last raft index applied or skipped
	space   atomic.Pointer[applySpace] // pauses Apply while the disk is short of space; nil: never

	mu      sync.Mutex
	advance chan struct{} // closed and replaced whenever applied grows
	members map[string]Member
	// clusterID is the cluster's random id (a string; unset until applied).
	clusterID atomic.Value

	restores      atomic.Uint64 // snapshots loaded into the store
	restoreSkips  atomic.Uint64 // snapshots not loaded: the store was already past them
	snapshotsMade atomic.Uint64
}

var _ raft.ConfigurationStore = (*fsm)(nil)

// StoreConfiguration implements raft.ConfigurationStore, so that membership
// entries, which change nothing in the store, still advance the applied index
// WaitApplied watches.
func (f *fsm) StoreConfiguration(index uint64, _ raft.Configuration) {
	f.setApplied(index)
}

func newFSM(a *applier, snap Snapshotter, scanner ExtraScanner, log *slog.Logger, onFatal func(error)) (*fsm, error) {
	f := &fsm{a: a, snap: snap, scanner: scanner, log: log, onFatal: onFatal, advance: make(chan struct{})}
	if err := f.reload(); err != nil {
		return nil, err
	}
	f.applied.Store(a.store.AppliedRevision())
	return f, nil
}

// reload re-derives the applier's cache and the member map from the store.
func (f *fsm) reload() error {
	if err := f.a.loadSchema(); err != nil {
		return err
	}
	if err := f.loadClusterID(); err != nil {
		return err
	}
	members := map[string]Member{}
	if f.scanner != nil {
		err := f.scanner.ScanExtra(memberPrefix, func(_, v []byte) error {
			var m Member
			if err := json.Unmarshal(v, &m); err != nil {
				return fmt.Errorf("decoding member record: %w", err)
			}
			if m.RaftAddr != "" || m.APIAddr != "" {
				members[m.ID] = m
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	f.mu.Lock()
	f.members = members
	f.mu.Unlock()
	return nil
}

// Apply implements raft.FSM. It returns a WriteResult or an error.
func (f *fsm) Apply(l *raft.Log) any {
	if p := f.halted.Load(); p != nil {
		return fmt.Errorf("%w: %w", ErrHalted, *p)
	}
	if l.Type != raft.LogCommand {
		f.setApplied(l.Index)
		return nil
	}
	if !f.space.Load().wait() {
		// Shutting down while paused: the entry is not applied (the store's
		// applied index stays before it), so a restart replays it.
		return fmt.Errorf("%w: it shut down while waiting for disk space to apply entry %d", ErrClosed, l.Index)
	}
	res, err := f.a.apply(l.Index, l.Data)
	if IsFatal(err) {
		f.halt(err)
		return err
	}
	if err == nil && len(l.Data) > 0 && CommandType(l.Data[0]) == TypeMember {
		f.noteMember(l.Data)
	}
	if err == nil && len(l.Data) > 0 && CommandType(l.Data[0]) == TypeCluster && f.clusterID.Load() == nil {
		if err := f.loadClusterID(); err != nil {
			f.log.Warn("reading the cluster id", "error", err)
		}
	}
	f.setApplied(l.Index)
	if err != nil {
		return err
	}
	return res
}

// halt stops the state machine for good (until the process restarts with a
// binary that can apply the entry). The store's applied index stays before the
// failed entry, so a fixed binary replays it.
func (f *fsm) halt(err error) {
	f.halted.Store(&err)
	f.log.Error("state machine halted: refusing to apply further entries so this replica cannot diverge", "error", err)
	if f.onFatal != nil {
		f.onFatal(err)
	}
}

// noteMember refreshes one member from the store after a member command (the
// store, not the command, is authoritative: a replayed old command is skipped).
func (f *fsm) noteMember(data []byte) {
	c, err := Decode(data)
	if err != nil {
		return
	}
	id := c.(*MemberCommand).ID
	raw, ok, err := f.a.store.Extra(append(append([]byte{}, memberPrefix...), id...))
	if err != nil {
		f.log.Warn("reading member record", "member", id, "error", err)
		return
	}
	var m Member
	if ok {
		if err := json.Unmarshal(raw, &m); err != nil {
			f.log.Warn("decoding member record", "member", id, "error", err)
			return
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !ok || m.RaftAddr == "" && m.APIAddr == "" {
		delete(f.members, id)
		return
	}
	f.members[id] = m
}

func (f *fsm) member(id string) (Member, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, ok := f.members[id]
	return m, ok
}

func (f *fsm) setApplied(index uint64) {
	f.mu.Lock()
	if index > f.applied.Load() {
		f.applied.Store(index)
		close(f.advance)
		f.advance = make(chan struct{})
	}
	f.mu.Unlock()
}

// waitApplied blocks until the raft index applied reaches index.
func (f *fsm) waitApplied(ctx context.Context, index uint64) error {
	for {
		f.mu.Lock()
		ch := f.advance
		done := f.applied.Load() >= index
		f.mu.Unlock()
		if done {
			return nil
		}
		if p := f.halted.Load(); p != nil {
			return fmt.Errorf("%w: %w", ErrHalted, *p)
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("waiting for index %d (applied %d): %w", index, f.applied.Load(), ctx.Err())
		}
	}
}

// Snapshot format: a header line naming the store's on-disk format version
// (storage.FormatVersion, in decimal), then the store's backup stream.
//
//	"TRELLIS-SNAPSHOT v1\n" | be64(raft index) | be64(store revision) | backup...
const snapshotMagic = "TRELLIS-SNAPSHOT v"

// maxSnapshotLine bounds the header line a restore reads before it gives up.
const maxSnapshotLine = 40

type fsmSnapshot struct {
	f     *fsm
	index uint64
	rev   uint64
}

// Snapshot implements raft.FSM. The backup itself streams in Persist, at the
// store revision captured here, while new entries keep applying.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	if p := f.halted.Load(); p != nil {
		return nil, fmt.Errorf("no snapshot of a halted state machine: %w", *p)
	}
	return &fsmSnapshot{f: f, index: f.applied.Load(), rev: f.a.store.AppliedRevision()}, nil
}

func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	err := func() error {
		w := bufio.NewWriterSize(sink, 1<<16)
		hdr := make([]byte, 0, maxSnapshotLine+16)
		hdr = append(hdr, snapshotMagic...)
		hdr = strconv.AppendUint(hdr, storage.FormatVersion, 10)
		hdr = append(hdr, '\n')
		hdr = binary.BigEndian.AppendUint64(hdr, s.index)
		hdr = binary.BigEndian.AppendUint64(hdr, s.rev)
		if _, err := w.Write(hdr); err != nil {
			return err
		}
		if err := s.f.snap.BackupAt(w, s.rev); err != nil {
			return fmt.Errorf("backup at revision %d: %w", s.rev, err)
		}
		return w.Flush()
	}()
	if err != nil {
		sink.Cancel()
		return err
	}
	s.f.snapshotsMade.Add(1)
	return sink.Close()
}

func (s *fsmSnapshot) Release() {}

// Restore implements raft.FSM: it replaces the store's contents with the
// snapshot, unless the store has already applied past the snapshot (a restart:
// raft offers the latest local snapshot, which the store already contains).
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	r := bufio.NewReaderSize(rc, 1<<16)
	index, rev, err := readSnapshotHeader(r)
	if err != nil {
		return err
	}
	restored := false
	if have := f.a.store.AppliedRevision(); have >= rev {
		f.restoreSkips.Add(1)
		f.log.Info("snapshot not loaded: the store already holds it", "snapshot_index", index, "snapshot_revision", rev, "store_revision", have)
	} else {
		if err := f.snap.Restore(r); err != nil {
			return fmt.Errorf("restoring snapshot at index %d (revision %d): %w", index, rev, err)
		}
		f.restores.Add(1)
		restored = true
		f.log.Info("snapshot restored into the store", "snapshot_index", index, "snapshot_revision", rev)
		f.a.schema = nil
		if r, ok := f.a.audit.(AuditReloader); ok {
			if err := r.Reload(); err != nil {
				return fmt.Errorf("reloading the audit log after restore: %w", err)
			}
		}
	}
	if err := f.reload(); err != nil {
		return err
	}
	f.mu.Lock()
	if restored || index > f.applied.Load() {
		f.applied.Store(index)
	}
	close(f.advance)
	f.advance = make(chan struct{})
	f.mu.Unlock()
	return nil
}

// memberList returns the recorded members in no particular order.
func (f *fsm) memberList() []Member {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Member, 0, len(f.members))
	for _, m := range f.members {
		out = append(out, m)
	}
	return out
}

// readSnapshotHeader reads the header line and the two indexes, and refuses
// a snapshot of a newer on-disk format before anything is changed.
func readSnapshotHeader(r *bufio.Reader) (index, rev uint64, err error) {
	line, err := r.Peek(maxSnapshotLine)
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, 0, fmt.Errorf("reading snapshot header: %w", err)
	}
	nl := bytes.IndexByte(line, '\n')
	if nl < 0 || !bytes.HasPrefix(line, []byte(snapshotMagic)) {
		return 0, 0, errors.New("not a trellis snapshot (bad header); was it written by another program?")
	}
	version, perr := strconv.ParseUint(string(line[len(snapshotMagic):nl]), 10, 64)
	if perr != nil {
		return 0, 0, fmt.Errorf("not a trellis snapshot (bad format version %q in the header)", line[len(snapshotMagic):nl])
	}
	if err := storage.CheckFormatVersion(version, "the raft snapshot"); err != nil {
		return 0, 0, fmt.Errorf("%w (the node that wrote it runs a newer release: upgrade this node before it rejoins)", err)
	}
	if _, err := r.Discard(nl + 1); err != nil {
		return 0, 0, fmt.Errorf("reading snapshot header: %w", err)
	}
	var ids [16]byte
	if _, err := io.ReadFull(r, ids[:]); err != nil {
		return 0, 0, fmt.Errorf("reading snapshot header: %w", err)
	}
	return binary.BigEndian.Uint64(ids[:8]), binary.BigEndian.Uint64(ids[8:]), nil
}
