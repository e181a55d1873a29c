package storage

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/trellis-authz/trellis/tuple"
)

func rawHas(t *testing.T, s *Store, rev uint64, r tuple.Relationship) bool {
	t.Helper()
	txn := s.db.NewTransactionAt(rev, false)
	defer txn.Discard()
	_, err := txn.Get(appendForwardKey(nil, &r))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return true
}

// openManualGCStore opens a store in a temporary directory whose GC horizon
// moves only when the test moves it, with no background value-log GC.
// It returns the config too, to reopen the store with.
func openManualGCStore(t *testing.T) (*Store, Config) {
	t.Helper()
	cfg := DefaultConfig(t.TempDir())
	cfg.GCWindow = 0
	cfg.ValueLogGCInterval = 0
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s, cfg
}

// TestExpiredAfterCompaction shows why the horizon check exists: after the
// horizon moves and Badger compacts, Badger itself answers "not found" for an
// old revision that did have the relationship, while the store refuses the
// read with ErrSnapshotExpired. Reads at the horizon stay exact.
func TestExpiredAfterCompaction(t *testing.T) {
	s, cfg := openManualGCStore(t)
	deny := tuple.MustParse("doc:secret#banned@user:eve")
	apply := func(rev uint64, b Batch) {
		t.Helper()
		if _, err := s.Apply(rev, b); err != nil {
			t.Fatal(err)
		}
	}
	apply(1, Batch{Updates: []tuple.Update{{Op: tuple.OpTouch, Relationship: deny}}})
	var filler []tuple.Update
	for i := 0; i < 200; i++ {
		filler = append(filler, tuple.Update{Op: tuple.OpTouch, Relationship: tuple.MustParse(fmt.Sprintf("doc:f%d#viewer@user:u%d", i, i))})
	}
	apply(2, Batch{Updates: filler})
	apply(3, Batch{Updates: []tuple.Update{{Op: tuple.OpDelete, Relationship: deny}}})
	apply(4, Batch{Updates: []tuple.Update{{Op: tuple.OpTouch, Relationship: tuple.MustParse("doc:x#viewer@user:x")}}})
	if !rawHas(t, s, 2, deny) {
		t.Fatal("before GC: Badger lost revision 2")
	}
	if err := s.SetGCHorizon(4); err != nil {
		t.Fatal(err)
	}
	// Close flushes the memtable and compacts level 0 with the discard
	// timestamp set; reopening and Compact (Flatten + value-log GC) force the
	// rest.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Compact(); err != nil {
		t.Fatal(err)
	}
	if rawHas(t, s, 2, deny) {
		t.Fatal("Badger still has revision 2's relationship after compaction; the test proves nothing")
	}
	for _, rev := range []uint64{1, 2, 3} {
		if _, err := s.Snapshot(rev); !errors.Is(err, ErrSnapshotExpired) {
			t.Errorf("Snapshot(%d) below the horizon after compaction: got %v, want ErrSnapshotExpired", rev, err)
		}
	}
	sn, err := s.Snapshot(4)
	if err != nil {
		t.Fatal(err)
	}
	n, err := sn.Count(context.Background(), tuple.Filter{ResourceType: "doc"})
	if err != nil || n != 201 {
		t.Errorf("Count at the horizon: got %d %v, want 201", n, err)
	}
}

// TestTrimDeletesChangeRecords: the change records below the horizon are
// gone from the store, not only hidden by the change horizon; a gap of more
// than maxTrimPerApply revisions (sparse revision numbers, as raft indexes
// are) is closed over several applies, and no record at or above the horizon
// is touched.
func TestTrimDeletesChangeRecords(t *testing.T) {
	s, _ := openManualGCStore(t)
	defer s.Close()
	records := func() (revs []uint64) {
		txn := s.db.NewTransactionAt(^uint64(0), false)
		defer txn.Discard()
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(pfxChange)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			revs = append(revs, binary.BigEndian.Uint64(it.Item().Key()[len(pfxChange):]))
		}
		return revs
	}
	// Revisions 1..5, then a jump to 2*maxTrimPerApply+10 and two more.
	revs := []uint64{1, 2, 3, 4, 5, 2*maxTrimPerApply + 10, 2*maxTrimPerApply + 11}
	for _, rev := range revs {
		if _, err := s.Apply(rev, Batch{Meta: []byte("m")}); err != nil {
			t.Fatal(err)
		}
	}
	if got := records(); len(got) != len(revs) {
		t.Fatalf("before trimming: records %v, want %v", got, revs)
	}
	horizon := uint64(2*maxTrimPerApply + 10)
	if err := s.SetGCHorizon(horizon); err != nil {
		t.Fatal(err)
	}
	next := uint64(2*maxTrimPerApply + 12)
	for i := 0; s.ChangeHorizon() < horizon; i++ {
		if i == 3 {
			t.Fatalf("change horizon %d after 3 applies, want %d", s.ChangeHorizon(), horizon)
		}
		if _, err := s.Apply(next, Batch{Meta: []byte("m")}); err != nil {
			t.Fatal(err)
		}
		if i == 0 && s.ChangeHorizon() > maxTrimPerApply {
			t.Errorf("after the first apply the change horizon is %d: one apply trimmed more than maxTrimPerApply (%d) revisions", s.ChangeHorizon(), maxTrimPerApply)
		}
		next++
	}
	got := records()
	for _, r := range got {
		if r < horizon {
			t.Errorf("change record of revision %d is still stored below the horizon %d", r, horizon)
		}
	}
	if len(got) == 0 || got[0] != horizon {
		t.Errorf("records %v: the one at the horizon (%d) must stay", got, horizon)
	}
}
