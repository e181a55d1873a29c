package storage

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/trellis-authz/trellis/tuple"
	"github.com/trellis-authz/trellis/verdict"
)

// Suspensions (tuple.Suspension, docs/suspension.md) are stored one key per
// subject under their own prefix, versioned like every key, so a snapshot at
// revision r reads exactly the set committed by r:
//
//	s\x00 subject       JSON suspension record
//	m\x00suspensions    be64 revision of the last suspend or unsuspend
const pfxSuspension = "s\x00"

var keySuspensions = []byte(pfxMeta + "suspensions")

// ErrNotSuspended: an unsuspend named a subject that is not suspended; nothing
// was written.
var ErrNotSuspended = verdict.New("subject is not suspended")

// SuspensionChange, in a Batch, suspends a subject (replacing an earlier
// suspension of it) or, with Remove, lifts its suspension.
type SuspensionChange struct {
	Suspension tuple.Suspension // Revision is set by Apply
	Remove     bool
}

type suspensionRecord struct {
	Subject   string     `json:"subject"`
	Reason    string     `json:"reason"`
	Principal string     `json:"principal,omitempty"`
	Since     time.Time  `json:"since"`
	Until     *time.Time `json:"until,omitempty"`
	Revision  uint64     `json:"revision"`
}

func suspensionKey(subj tuple.SubjectRef) []byte {
	return append([]byte(pfxSuspension), subj.String()...)
}

// stageSuspension writes b.Suspend into txn at rev.
func (s *Store) stageSuspension(txn *badger.Txn, rev uint64, c *SuspensionChange) error {
	if err := tuple.ValidateSubject(c.Suspension.Subject); err != nil {
		return fmt.Errorf("%w: suspension subject: %v", ErrInvalidBatch, err)
	}
	key := suspensionKey(c.Suspension.Subject)
	if c.Remove {
		_, err := txn.Get(key)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return fmt.Errorf("%w: %s has no suspension to lift; list them with GET /v1/suspensions", ErrNotSuspended, c.Suspension.Subject)
		}
		if err != nil {
			return s.wrapTxnErr(rev, "suspension", err)
		}
		if err := txn.Delete(key); err != nil {
			return s.wrapTxnErr(rev, "suspension", err)
		}
	} else {
		x := c.Suspension
		v, err := json.Marshal(suspensionRecord{Subject: x.Subject.String(), Reason: x.Reason, Principal: x.Principal,
			Since: x.Since, Until: x.Until, Revision: rev})
		if err != nil {
			return fmt.Errorf("%w: suspension: %v", ErrInvalidBatch, err)
		}
		if err := txn.Set(key, v); err != nil {
			return s.wrapTxnErr(rev, "suspension", err)
		}
	}
	if err := txn.Set(keySuspensions, be64(rev)); err != nil {
		return s.wrapTxnErr(rev, "suspension", err)
	}
	return nil
}

// readSuspensions reads every suspension visible to txn and the revision of
// the last change (0 when there never was one).
func readSuspensions(txn *badger.Txn) (*tuple.SuspensionSet, uint64, error) {
	rev, _, err := getUint(txn, keySuspensions)
	if err != nil || rev == 0 {
		return nil, 0, err
	}
	var list []tuple.Suspension
	p := []byte(pfxSuspension)
	it := txn.NewIterator(badger.IteratorOptions{Prefix: p, PrefetchValues: false})
	defer it.Close()
	for it.Seek(p); it.ValidForPrefix(p); it.Next() {
		var r suspensionRecord
		if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &r) }); err != nil {
			return nil, 0, fmt.Errorf("%w: suspension %q: %v", ErrCorrupt, it.Item().Key(), err)
		}
		subj, err := tuple.ParseSubject(r.Subject)
		if err != nil {
			return nil, 0, fmt.Errorf("%w: suspension %q: %v", ErrCorrupt, it.Item().Key(), err)
		}
		list = append(list, tuple.Suspension{Subject: subj, Reason: r.Reason, Principal: r.Principal,
			Since: r.Since, Until: r.Until, Revision: r.Revision})
	}
	return tuple.NewSuspensionSet(list), rev, nil
}

// suspensionVersion is the latest suspension set as of some applied
// revision, last changed at rev: it answers Snapshot.Suspensions for every
// snapshot at rev or later, the way schemaVersion answers Schema.
type suspensionVersion struct {
	rev uint64
	set *tuple.SuspensionSet
}

// refreshSuspensionCache reloads the cached set as of revision at; it runs
// after a suspension change commits and before its revision is readable. On
// a read error the cache is dropped and snapshots read Badger.
func (s *Store) refreshSuspensionCache(at uint64) {
	txn := s.db.NewTransactionAt(at, false)
	defer txn.Discard()
	set, rev, err := readSuspensions(txn)
	if err != nil {
		s.suspensions.Store(nil)
		return
	}
	s.suspensions.Store(&suspensionVersion{rev: rev, set: set})
}

// Suspensions returns the suspensions stored at the snapshot's revision
// (lapsed ones included; judge them with tuple.Suspension.Active), nil when
// there are none. When the set has not changed since the snapshot's revision
// it is the store's cached set: one atomic load.
func (sn *Snapshot) Suspensions() (*tuple.SuspensionSet, error) {
	if err := sn.valid(); err != nil {
		return nil, err
	}
	if v := sn.st.suspensions.Load(); v != nil && sn.rev >= v.rev {
		return v.set, nil
	}
	set, _, err := readSuspensions(sn.txn)
	if err == nil {
		err = sn.valid()
	}
	if err != nil {
		return nil, err
	}
	return set, nil
}
