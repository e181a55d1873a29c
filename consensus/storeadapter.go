package consensus

import (
	"context"
	"time"

	"github.com/trellis-authz/trellis/storage"
	"github.com/trellis-authz/trellis/tuple"
)

// StorageBackend adapts a *storage.Store to everything the node uses: the
// applier's Store, snapshots, member metadata scans and relationship counts.
type StorageBackend struct {
	*storage.Store
}

// FromStorage wraps a store for Config.Store.
func FromStorage(s *storage.Store) StorageBackend { return StorageBackend{s} }

var (
	_ StoreBackend        = StorageBackend{}
	_ RelationshipCounter = StorageBackend{}
	_ ExtraScanner        = StorageBackend{}
	_ appliedMarker       = StorageBackend{}
)

// CountRelationships counts the relationships matching f and match (nil: all)
// at rev. It applies no expiration filter and reads no clock: a relationship
// that has expired but is still stored counts, so the answer is the same on
// every replica and on replay.
func (b StorageBackend) CountRelationships(ctx context.Context, rev uint64, f tuple.Filter, match func(tuple.Relationship) bool) (int, error) {
	sn, err := b.SnapshotAsOf(rev, time.Time{})
	if err != nil {
		return 0, err
	}
	defer sn.Close()
	if match == nil {
		return sn.Count(ctx, f)
	}
	n := 0
	for r, err := range sn.ReadAll(ctx, f) {
		if err != nil {
			return 0, err
		}
		if match(r) {
			n++
		}
	}
	return n, nil
}
