package storage

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"sync/atomic"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/trellis-authz/trellis/tuple"
)

// Snapshot reads the store exactly as of one revision. It is safe for
// concurrent use. Expiration is judged at the time of Config.Clock when the
// snapshot was opened, so one snapshot gives one consistent answer.
//
// Every read re-checks, after reading, that the GC horizon has not passed the
// snapshot's revision (and that the store was not restored under it); if it
// has, the read fails with ErrSnapshotExpired rather than return an answer
// Badger may have computed from half-collected versions.
type Snapshot struct {
	st     *Store
	rev    uint64
	gen    uint64
	now    time.Time
	txn    *badger.Txn // read-only, managed: holds no resources, never discarded
	closed atomic.Bool
	gidx   atomic.Uint32 // GroupIndexed: 0 not yet read, 1 yes, 2 no
}

// Snapshot opens a read view at rev, judging expiration at Config.Clock. It
// fails with ErrRevisionAhead above the applied revision and
// ErrSnapshotExpired below the GC horizon.
func (s *Store) Snapshot(rev uint64) (*Snapshot, error) {
	return s.SnapshotAsOf(rev, s.cfg.Clock())
}

// SnapshotAsOf is Snapshot judging expiration at now instead of Config.Clock.
// A zero now filters nothing: expired relationships that are still stored are
// returned. Replicated code (the raft applier) uses a zero now so that its
// answer never depends on a replica's wall clock.
func (s *Store) SnapshotAsOf(rev uint64, now time.Time) (*Snapshot, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	if applied := s.applied.Load(); rev > applied {
		return nil, fmt.Errorf("%w: revision %d, applied %d", ErrRevisionAhead, rev, applied)
	}
	gen := s.gen.Load()
	if s.restoring.Load() {
		return nil, fmt.Errorf("%w: the store is being restored from a backup", ErrSnapshotExpired)
	}
	if h := s.horizon.Load(); rev < h {
		return nil, fmt.Errorf("%w: revision %d is below the GC horizon %d", ErrSnapshotExpired, rev, h)
	}
	return &Snapshot{st: s, rev: rev, gen: gen, now: now, txn: s.db.NewTransactionAt(rev, false)}, nil
}

// Revision is the snapshot's revision.
func (sn *Snapshot) Revision() uint64 { return sn.rev }

// Close releases the snapshot; reads after Close fail with ErrClosed. Safe to
// call twice.
func (sn *Snapshot) Close() { sn.closed.Store(true) }

// valid reports whether answers read so far are trustworthy.
func (sn *Snapshot) valid() error {
	if sn.closed.Load() {
		return fmt.Errorf("%w: snapshot at revision %d", ErrClosed, sn.rev)
	}
	st := sn.st
	if st.closed.Load() {
		return ErrClosed
	}
	if st.gen.Load() != sn.gen {
		return fmt.Errorf("%w: the store was restored from a backup after revision %d was opened", ErrSnapshotExpired, sn.rev)
	}
	if h := st.horizon.Load(); h > sn.rev {
		return fmt.Errorf("%w: revision %d fell below the GC horizon %d", ErrSnapshotExpired, sn.rev, h)
	}
	return nil
}

var errSep = errors.New("storage: names and IDs must not contain 0x00")

// Relationship returns resource#relation@subject if it exists and has not
// expired.
func (sn *Snapshot) Relationship(ctx context.Context, resource tuple.ObjectRef, relation string, subject tuple.SubjectRef) (tuple.Relationship, bool, error) {
	if err := sn.valid(); err != nil {
		return tuple.Relationship{}, false, err
	}
	r := tuple.Relationship{Resource: resource, Relation: relation, Subject: subject}
	if hasSep(resource.Type, resource.ID, relation, subject.Type, subject.ID, subject.Relation) {
		return tuple.Relationship{}, false, errSep
	}
	var buf [160]byte
	key := appendForwardKey(buf[:0], &r)
	item, err := sn.txn.Get(key)
	switch {
	case errors.Is(err, badger.ErrKeyNotFound):
		return tuple.Relationship{}, false, sn.valid()
	case err != nil:
		return tuple.Relationship{}, false, fmt.Errorf("storage: read %s: %w", r.Key(), err)
	}
	if item.UserMeta() != 0 {
		if err := item.Value(func(v []byte) error { return decodeValue(v, &r) }); err != nil {
			return tuple.Relationship{}, false, err
		}
	}
	if err := sn.valid(); err != nil {
		return tuple.Relationship{}, false, err
	}
	if r.ExpiredAt(sn.now) {
		return tuple.Relationship{}, false, nil
	}
	return r, true, nil
}

// Subjects yields the relationships of resource#relation in key order,
// restricted to subjects of subjectType when it is not empty.
func (sn *Snapshot) Subjects(ctx context.Context, resource tuple.ObjectRef, relation string, subjectType string) iter.Seq2[tuple.Relationship, error] {
	return func(yield func(tuple.Relationship, error) bool) {
		if hasSep(resource.Type, resource.ID, relation, subjectType) {
			yield(tuple.Relationship{}, errSep)
			return
		}
		p := make([]byte, 0, 64)
		p = append(append(p, pfxForward...), resource.Type...)
		p = append(append(append(p, sep), resource.ID...), sep)
		p = append(append(p, relation...), sep)
		if subjectType != "" {
			p = append(append(p, subjectType...), sep)
		}
		sn.iterate(ctx, plan{prefix: p}, nil, nil, yield)
	}
}

// Resources yields the relationships resourceType:*#relation@subject from the
// reverse index, in key order. subject.Relation must match exactly.
func (sn *Snapshot) Resources(ctx context.Context, subject tuple.SubjectRef, resourceType, relation string) iter.Seq2[tuple.Relationship, error] {
	return func(yield func(tuple.Relationship, error) bool) {
		if hasSep(subject.Type, subject.ID, subject.Relation, resourceType, relation) {
			yield(tuple.Relationship{}, errSep)
			return
		}
		p := make([]byte, 0, 64)
		p = append(append(p, pfxReverse...), subject.Type...)
		p = append(append(append(p, sep), subject.ID...), sep)
		p = append(append(append(p, subject.Relation...), sep), resourceType...)
		p = append(append(append(p, sep), relation...), sep)
		sn.iterate(ctx, plan{reverse: true, prefix: p}, nil, nil, yield)
	}
}

// iterate runs scan at the snapshot and feeds yield, checking validity and
// the context on every item.
func (sn *Snapshot) iterate(ctx context.Context, p plan, f *tuple.Filter, start []byte, yield func(tuple.Relationship, error) bool) {
	if err := sn.valid(); err != nil {
		yield(tuple.Relationship{}, err)
		return
	}
	stopped := false
	err := scan(sn.txn, p, f, start, sn.now, func(_ []byte, r tuple.Relationship) (bool, error) {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		if err := sn.valid(); err != nil {
			return false, err
		}
		if !yield(r, nil) {
			stopped = true
			return false, nil
		}
		return true, nil
	})
	if err == nil && !stopped {
		err = sn.valid()
	}
	if err != nil {
		yield(tuple.Relationship{}, err)
	}
}

// Read returns up to limit relationships matching f (limit <= 0: all), after
// the position of cursor ("" for the first page), and the cursor of the next
// page ("" when there is none).
func (sn *Snapshot) Read(ctx context.Context, f tuple.Filter, limit int, cursor string) ([]tuple.Relationship, string, error) {
	p, err := planFor(f)
	if err != nil {
		return nil, "", fmt.Errorf("storage: read %s: %w", f, err)
	}
	var start []byte
	if cursor != "" {
		if start, err = decodeCursor(p, cursor); err != nil {
			return nil, "", err
		}
	}
	if err := sn.valid(); err != nil {
		return nil, "", err
	}
	var out []tuple.Relationship
	var lastKey []byte
	more := false
	err = scan(sn.txn, p, &f, start, sn.now, func(k []byte, r tuple.Relationship) (bool, error) {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		if limit > 0 && len(out) == limit {
			more = true
			return false, nil
		}
		out = append(out, r)
		lastKey = append(lastKey[:0], k...)
		return true, nil
	})
	if err == nil {
		err = sn.valid()
	}
	if err != nil {
		return nil, "", err
	}
	if !more {
		return out, "", nil
	}
	return out, encodeCursor(p, lastKey), nil
}

// ReadAll yields every relationship matching f, in index order. An empty
// filter yields every relationship.
func (sn *Snapshot) ReadAll(ctx context.Context, f tuple.Filter) iter.Seq2[tuple.Relationship, error] {
	return func(yield func(tuple.Relationship, error) bool) {
		p, err := planFor(f)
		if err != nil {
			yield(tuple.Relationship{}, fmt.Errorf("storage: read %s: %w", f, err))
			return
		}
		sn.iterate(ctx, p, &f, nil, yield)
	}
}

// Count counts the relationships matching f.
func (sn *Snapshot) Count(ctx context.Context, f tuple.Filter) (int, error) {
	n := 0
	for _, err := range sn.ReadAll(ctx, f) {
		if err != nil {
			return 0, err
		}
		n++
	}
	return n, nil
}

// Schema returns the schema as of the snapshot's revision.
func (sn *Snapshot) Schema() (SchemaRecord, bool, error) {
	if err := sn.valid(); err != nil {
		return SchemaRecord{}, false, err
	}
	if v := sn.st.schema.Load(); v != nil && sn.rev >= v.rev {
		return v.rec, v.ok, sn.valid()
	}
	rec, _, ok, err := readSchema(sn.txn)
	if err == nil {
		err = sn.valid()
	}
	if err != nil {
		return SchemaRecord{}, false, err
	}
	return rec, ok, nil
}
