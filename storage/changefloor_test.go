package storage_test

import (
	"context"
	"errors"
	"testing"

	"github.com/trellis-authz/trellis/storage"
)

// TestChangeFloorHoldsFeed: a batch's ChangeFloor keeps change records
// from the floor on past the GC horizon, up to ChangeHoldMax revisions
// below the applied one; the hold survives a reopen, and releasing it lets
// the feed be trimmed to the horizon again.
func TestChangeFloorHoldsFeed(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.GCWindow = 5
	cfg.ChangeHoldMax = 40
	s := openAt(t, cfg)
	apply := func(rev uint64, floor *uint64) {
		t.Helper()
		if _, err := s.Apply(rev, storage.Batch{Meta: []byte("m"), ChangeFloor: floor}); err != nil {
			t.Fatalf("Apply(%d): %v", rev, err)
		}
	}
	first := func(from uint64) (uint64, error) {
		var got uint64
		err := s.Changes(ctx, from, func(rev uint64, _ []storage.Change, _ []byte) error {
			if got == 0 {
				got = rev
			}
			return nil
		})
		return got, err
	}
	three := uint64(3)
	for rev := uint64(1); rev <= 30; rev++ {
		if rev == 2 {
			apply(rev, &three)
			continue
		}
		apply(rev, nil)
	}
	// The horizon is 25; the feed is held from 3.
	if got, err := first(3); err != nil || got != 3 {
		t.Fatalf("Changes(3) under a floor of 3 at revision 30: first %d, %v; want 3, nil", got, err)
	}
	if _, err := first(2); !errors.Is(err, storage.ErrSnapshotExpired) {
		t.Errorf("Changes(2) below the floor: %v, want ErrSnapshotExpired", err)
	}

	// The hold survives a reopen.
	s.Close()
	s = openAt(t, cfg)
	for rev := uint64(31); rev <= 42; rev++ {
		apply(rev, nil)
	}
	// 42-40 = 2 < 3: still held.
	if got, err := first(3); err != nil || got != 3 {
		t.Fatalf("Changes(3) after a reopen at 42: first %d, %v; want 3", got, err)
	}
	// Past ChangeHoldMax the hold gives way: at 50, records below 10 go.
	for rev := uint64(43); rev <= 50; rev++ {
		apply(rev, nil)
	}
	if _, err := first(9); !errors.Is(err, storage.ErrSnapshotExpired) {
		t.Errorf("Changes(9) more than ChangeHoldMax below the applied revision: %v, want ErrSnapshotExpired", err)
	}
	if got, err := first(10); err != nil || got != 10 {
		t.Errorf("Changes(10) at the bounded hold: first %d, %v; want 10", got, err)
	}

	// Released, the feed is trimmed to the GC horizon (applied - 5).
	zero := uint64(0)
	apply(51, &zero)
	for rev := uint64(52); rev <= 60; rev++ {
		apply(rev, nil)
	}
	if _, err := first(54); !errors.Is(err, storage.ErrSnapshotExpired) {
		t.Errorf("Changes(54) after the hold was released at 60: %v, want ErrSnapshotExpired", err)
	}
	if got, err := first(55); err != nil || got != 55 {
		t.Errorf("Changes(55) at the horizon: first %d, %v; want 55", got, err)
	}
}
