package storage

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/trellis-authz/trellis/verdict"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/trellis-authz/trellis/tuple"
)

// maxTrimPerApply bounds how many change records one Apply deletes when the
// GC horizon moves, so a big horizon jump cannot make one batch too large.
const maxTrimPerApply = 1000

// Apply applies b at revision rev, all or nothing: it commits at commitTs = rev
// together with the applied index, the change record and the Finish hook's
// extras.
//
// A batch at or below the applied revision is skipped (Result.Skipped), so a
// replay after restart is safe. A batch that is rejected by the state or by its
// own content (ErrPreconditionFailed, ErrAlreadyExists, ErrLimitExceeded,
// ErrDuplicateUpdate, ErrInvalidBatch, ErrBatchTooLarge) writes no data, but
// the applied revision still advances to rev: the rejection is deterministic,
// so every replica and every replay reaches the same outcome. An error from
// Finish or from Badger leaves the applied revision where it was.
func (s *Store) Apply(rev uint64, b Batch) (Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return Result{}, ErrClosed
	}
	applied := s.applied.Load()
	if rev <= applied {
		return Result{Revision: rev, Skipped: true}, nil
	}
	txn := s.db.NewTransactionAt(applied, true)
	defer txn.Discard()

	changes, err := s.stage(txn, rev, &b)
	if err == nil {
		if ierr := s.stageGroupIndex(txn, applied, changes); ierr != nil {
			// Too big a batch is rejected like one whose data does not fit.
			err = s.wrapTxnErr(rev, "nested-group index", ierr)
		}
	}
	if err == nil {
		var newHorizon, newChangeHorizon uint64
		newHorizon, newChangeHorizon, err = s.stageMeta(txn, rev, &b, changes)
		if err == nil {
			if err = txn.CommitAt(rev, nil); err != nil {
				s.gidxPending = groupPending{}
				return Result{}, s.wrapTxnErr(rev, "commit", err)
			}
			s.publishGroupIndex()
			if b.ChangeFloor != nil {
				s.changeFloor.Store(*b.ChangeFloor)
			}
			if b.Schema != nil {
				s.refreshSchemaCache(rev) // before rev is readable
			}
			if b.Suspend != nil {
				s.refreshSuspensionCache(rev)
			}
			// A suspension may change any answer: like a schema, it
			// invalidates every cached result.
			s.changed(rev, changes, b.Schema != nil || b.Suspend != nil)
			s.published(rev, newHorizon, newChangeHorizon)
			return Result{Revision: rev, Changes: changes}, nil
		}
	}
	s.gidxPending = groupPending{}
	if verdict.Is(err) {
		txn.Discard()
		if merr := s.commitApplied(rev); merr != nil {
			return Result{}, errors.Join(err, merr)
		}
		return Result{Revision: rev}, err
	}
	return Result{}, err
}

// MarkApplied advances the applied revision to rev without writing data; the
// consensus layer calls it for log entries that carry no batch (so a read at
// that revision is allowed). A rev at or below the applied one is ignored.
func (s *Store) MarkApplied(rev uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return ErrClosed
	}
	if rev <= s.applied.Load() {
		return nil
	}
	return s.commitApplied(rev)
}

func (s *Store) commitApplied(rev uint64) error {
	txn := s.db.NewTransactionAt(s.applied.Load(), true)
	defer txn.Discard()
	if err := txn.Set(keyApplied, be64(rev)); err != nil {
		return fmt.Errorf("storage: record applied revision %d: %w", rev, err)
	}
	if err := txn.CommitAt(rev, nil); err != nil {
		return fmt.Errorf("storage: record applied revision %d: %w", rev, err)
	}
	s.published(rev, 0, 0)
	return nil
}

// published makes a committed revision visible. The logical horizon is
// raised before Badger is allowed to discard below it.
func (s *Store) published(rev, horizon, changeHorizon uint64) {
	if changeHorizon > s.changeHorizon.Load() {
		s.changeHorizon.Store(changeHorizon)
	}
	if horizon > s.horizon.Load() {
		s.horizon.Store(horizon)
		s.db.SetDiscardTs(horizon)
	}
	s.applied.Store(rev)
	s.notifyApplied()
}

func (s *Store) wrapTxnErr(rev uint64, what string, err error) error {
	if errors.Is(err, badger.ErrTxnTooBig) {
		return fmt.Errorf("%w: batch at revision %d does not fit in one transaction (%s): a transaction may use 15%% of the %d-byte memtable; split it", ErrBatchTooLarge, rev, what, s.cfg.MemTableSize)
	}
	return fmt.Errorf("storage: apply revision %d: %s: %w", rev, what, err)
}

// stage writes the batch's data into txn and returns its changes.
func (s *Store) stage(txn *badger.Txn, rev uint64, b *Batch) ([]Change, error) {
	now := b.Now
	// Keys are built once here. Both keys of an update share one allocation.
	type keys struct{ fwd, rvk []byte }
	ks := make([]keys, len(b.Updates))
	if err := tuple.CheckUpdates(b.Updates); err != nil {
		var ue *tuple.UpdateError
		if errors.As(err, &ue) && ue.Duplicate() {
			return nil, fmt.Errorf("%w: %v", ErrDuplicateUpdate, err)
		}
		return nil, fmt.Errorf("%w: %v", ErrInvalidBatch, err)
	}
	for i := range b.Updates {
		r := &b.Updates[i].Relationship
		n := len(pfxForward) + len(r.Resource.Type) + len(r.Resource.ID) + len(r.Relation) + len(r.Subject.Type) + len(r.Subject.ID) + len(r.Subject.Relation) + 5
		buf := make([]byte, 0, 2*n)
		fwd := appendForwardKey(buf, r)
		ks[i] = keys{fwd: fwd[:len(fwd):len(fwd)], rvk: appendReverseKey(fwd[len(fwd):], r)}
	}
	for i, p := range b.Preconditions {
		if p.Op != tuple.MustMatch && p.Op != tuple.MustNotMatch {
			return nil, fmt.Errorf("%w: precondition %d: unknown op %v", ErrInvalidBatch, i, p.Op)
		}
		pl, err := planFor(p.Filter)
		if err != nil {
			return nil, fmt.Errorf("%w: precondition %d: %v", ErrInvalidBatch, i, err)
		}
		var found *tuple.Relationship
		err = scan(txn, pl, &p.Filter, nil, now, func(_ []byte, r tuple.Relationship) (bool, error) {
			found = &r
			return false, nil
		})
		if err != nil {
			return nil, s.wrapTxnErr(rev, "precondition", err)
		}
		switch {
		case p.Op == tuple.MustMatch && found == nil:
			return nil, fmt.Errorf("%w: must_match %s: no relationship matches", ErrPreconditionFailed, p.Filter)
		case p.Op == tuple.MustNotMatch && found != nil:
			return nil, fmt.Errorf("%w: must_not_match %s: %s matches", ErrPreconditionFailed, p.Filter, found.Key())
		}
	}

	changes := make([]Change, 0, len(b.Updates))
	for i := range b.Updates {
		u := &b.Updates[i]
		r := &u.Relationship
		fwd, rvk := ks[i].fwd, ks[i].rvk
		switch u.Op {
		case tuple.OpCreate, tuple.OpTouch:
			if u.Op == tuple.OpCreate {
				exists, _, err := getLive(txn, fwd, now)
				if err != nil {
					return nil, s.wrapTxnErr(rev, "read", err)
				}
				if exists {
					return nil, fmt.Errorf("%w: create %s: the relationship exists", ErrAlreadyExists, r.Key())
				}
			}
			val, um, err := appendValue(nil, r)
			if err != nil {
				return nil, fmt.Errorf("%w: update %d (%s): %v", ErrInvalidBatch, i, r.Key(), err)
			}
			if err := txn.SetEntry(badger.NewEntry(fwd, val).WithMeta(um)); err != nil {
				return nil, s.wrapTxnErr(rev, "write", err)
			}
			if err := txn.SetEntry(badger.NewEntry(rvk, val).WithMeta(um)); err != nil {
				return nil, s.wrapTxnErr(rev, "write", err)
			}
			changes = append(changes, Change{Op: tuple.OpTouch, Relationship: *r})
		case tuple.OpDelete:
			exists, old, err := getLive(txn, fwd, time.Time{})
			if err != nil {
				return nil, s.wrapTxnErr(rev, "read", err)
			}
			if !exists {
				continue
			}
			if err := deleteBoth(txn, fwd, rvk); err != nil {
				return nil, s.wrapTxnErr(rev, "delete", err)
			}
			old.Resource, old.Relation, old.Subject = r.Resource, r.Relation, r.Subject
			changes = append(changes, Change{Op: tuple.OpDelete, Relationship: old})
		}
	}

	if d := b.DeleteFilter; d != nil {
		if d.Filter == (tuple.Filter{}) {
			return nil, fmt.Errorf("%w: the delete filter is empty and would delete every relationship; name at least a resource type or a subject", ErrInvalidBatch)
		}
		pl, err := planFor(d.Filter)
		if err != nil {
			return nil, fmt.Errorf("%w: delete filter: %v", ErrInvalidBatch, err)
		}
		var victims []tuple.Relationship
		err = scan(txn, pl, &d.Filter, nil, time.Time{}, func(_ []byte, r tuple.Relationship) (bool, error) {
			victims = append(victims, r)
			return d.Limit <= 0 || len(victims) <= d.Limit, nil
		})
		if err != nil {
			return nil, s.wrapTxnErr(rev, "delete filter", err)
		}
		if d.Limit > 0 && len(victims) > d.Limit {
			return nil, fmt.Errorf("%w: delete filter %s matches more than %d relationships; raise the limit or narrow the filter", ErrLimitExceeded, d.Filter, d.Limit)
		}
		for i := range victims {
			fwd := appendForwardKey(nil, &victims[i])
			if err := deleteBoth(txn, fwd, appendReverseKey(nil, &victims[i])); err != nil {
				return nil, s.wrapTxnErr(rev, "delete filter", err)
			}
			changes = append(changes, Change{Op: tuple.OpDelete, Relationship: victims[i]})
		}
	}
	return changes, nil
}

// stageMeta writes the schema, extras, change record, applied index and GC
// bookkeeping, and returns the horizons to publish after the commit.
func (s *Store) stageMeta(txn *badger.Txn, rev uint64, b *Batch, changes []Change) (horizon, changeHorizon uint64, err error) {
	if sc := b.Schema; sc != nil {
		sum := sha256.Sum256([]byte(sc.Text))
		h := hex.EncodeToString(sum[:])
		if sc.Hash != "" && sc.Hash != h {
			return 0, 0, fmt.Errorf("%w: schema hash %s does not match the text (its SHA-256 is %s); leave Hash empty to have it computed", ErrInvalidBatch, sc.Hash, h)
		}
		if err := txn.Set(keySchema, encodeSchema(rev, SchemaRecord{Text: sc.Text, Hash: h})); err != nil {
			return 0, 0, s.wrapTxnErr(rev, "schema", err)
		}
	}
	if b.Suspend != nil {
		if err := s.stageSuspension(txn, rev, b.Suspend); err != nil {
			return 0, 0, err
		}
	}
	if b.Finish != nil {
		kvs, err := b.Finish(changes)
		if err != nil {
			return 0, 0, fmt.Errorf("storage: apply revision %d: finish hook: %w", rev, err)
		}
		for _, kv := range kvs {
			if len(kv.Key) == 0 {
				return 0, 0, fmt.Errorf("storage: apply revision %d: finish hook returned an empty key", rev)
			}
			if err := txn.Set(extraKey(kv.Key), bytes.Clone(kv.Value)); err != nil {
				return 0, 0, s.wrapTxnErr(rev, "extra", err)
			}
		}
	}
	rec, err := encodeChangeRecord(b.Meta, changes)
	if err != nil {
		return 0, 0, fmt.Errorf("%w: change record: %v", ErrInvalidBatch, err)
	}
	if err := txn.Set(changeKey(rev), rec); err != nil {
		return 0, 0, s.wrapTxnErr(rev, "change record", err)
	}
	if err := txn.Set(keyApplied, be64(rev)); err != nil {
		return 0, 0, s.wrapTxnErr(rev, "applied index", err)
	}

	horizon = s.horizon.Load()
	if w := s.cfg.GCWindow; w > 0 && rev > w && rev-w > horizon {
		horizon = rev - w
		if err := txn.Set(keyHorizon, be64(horizon)); err != nil {
			return 0, 0, s.wrapTxnErr(rev, "GC horizon", err)
		}
	}
	if f := b.ChangeFloor; f != nil && *f != s.changeFloor.Load() {
		if err := txn.Set(keyChangeFloor, be64(*f)); err != nil {
			return 0, 0, s.wrapTxnErr(rev, "change feed floor", err)
		}
	}
	changeHorizon, err = s.trimChanges(txn, s.trimTarget(rev, horizon, b.ChangeFloor))
	if err != nil {
		return 0, 0, s.wrapTxnErr(rev, "trim change feed", err)
	}
	return horizon, changeHorizon, nil
}

// trimTarget is where the change feed may be trimmed to at rev: the GC
// horizon, or below it the floor a holder set (the batch's own, else the
// stored one), but never more than ChangeHoldMax revisions below rev.
func (s *Store) trimTarget(rev, horizon uint64, batchFloor *uint64) uint64 {
	floor := s.changeFloor.Load()
	if batchFloor != nil {
		floor = *batchFloor
	}
	if floor == 0 || floor >= horizon {
		return horizon
	}
	hold := s.cfg.ChangeHoldMax
	if hold == 0 {
		hold = defaultHoldMax
	}
	if rev > hold && rev-hold > floor {
		return min(horizon, rev-hold)
	}
	return floor
}

// trimChanges deletes change records below the GC horizon, those of at most
// maxTrimPerApply revisions, and returns the new change-feed horizon. It
// deletes by key without reading: each revision has at most one record, and
// deleting one a revision never had (a raft entry that changed no
// relationship) only writes a tombstone. In the steady state it deletes one
// record per Apply; an iterator per Apply cost more than the delete.
func (s *Store) trimChanges(txn *badger.Txn, horizon uint64) (uint64, error) {
	cur := s.changeHorizon.Load()
	if horizon <= cur {
		return cur, nil
	}
	next := min(horizon, cur+maxTrimPerApply)
	for r := cur; r < next; r++ {
		if err := txn.Delete(changeKey(r)); err != nil {
			return 0, err
		}
	}
	if err := txn.Set(keyChangeHorizon, be64(next)); err != nil {
		return 0, err
	}
	return next, nil
}

// getLive reads a forward key and reports whether it holds a relationship that
// has not expired at now (a zero now never expires anything). The returned
// relationship has only its caveat and expiration filled in.
func getLive(txn *badger.Txn, key []byte, now time.Time) (bool, tuple.Relationship, error) {
	var r tuple.Relationship
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, r, nil
	}
	if err != nil {
		return false, r, err
	}
	if item.UserMeta() == 0 {
		return true, r, nil
	}
	err = item.Value(func(v []byte) error { return decodeValue(v, &r) })
	if err != nil {
		return false, r, err
	}
	if !now.IsZero() && r.ExpiredAt(now) {
		return false, r, nil
	}
	return true, r, nil
}

func deleteBoth(txn *badger.Txn, fwd, rvk []byte) error {
	if err := txn.Delete(fwd); err != nil {
		return err
	}
	return txn.Delete(rvk)
}
