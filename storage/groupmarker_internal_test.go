package storage

import (
	"testing"

	"github.com/trellis-authz/trellis/tuple"
)

// TestGroupIndexedFromMarker: a store written before the index existed (its
// marker dropped here, every version of it) gets the index at Open, built at
// the applied revision; a snapshot below that revision does not use it, one
// at or above does, and the answer is the same from the revision the store
// keeps (gidxFrom) and from the marker.
func TestGroupIndexedFromMarker(t *testing.T) {
	s, cfg := openManualGCStore(t)
	for rev := uint64(1); rev <= 3; rev++ {
		b := Batch{Updates: []tuple.Update{{Op: tuple.OpTouch, Relationship: tuple.MustParse("team:a#member@team:b#member")}}}
		if rev == 2 {
			b.Updates[0].Relationship = tuple.MustParse("team:b#member@user:u")
		}
		if _, err := s.Apply(rev, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.db.DropPrefix(keyGroupIndex); err != nil {
		t.Fatal(err)
	}
	s.Close()
	var err error
	if s, err = Open(cfg); err != nil {
		t.Fatal(err)
	}
	want := map[uint64]bool{1: false, 2: false, 3: true}
	check := func(when string) {
		t.Helper()
		for rev, ok := range want {
			sn, err := s.Snapshot(rev)
			if err != nil {
				t.Fatal(err)
			}
			if got := sn.GroupIndexed(); got != ok {
				t.Errorf("%s: GroupIndexed at revision %d = %v, want %v (index rebuilt at 3)", when, rev, got, ok)
			}
		}
	}
	check("after the rebuild at Open")
	if got := s.gidxFrom.Load(); got != 3 {
		t.Fatalf("the store keeps %d as the index's first revision, want 3", got)
	}
	s.Close()
	if s, err = Open(cfg); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	check("after a reopen")
	s.gidxFrom.Store(0) // unknown: the snapshot reads the marker
	check("from the marker")
}
