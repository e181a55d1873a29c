package consensus

import (
	"context"
	"fmt"

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

// CountRelationships counts the relationships matching f at rev.
func (b StorageBackend) CountRelationships(ctx context.Context, rev uint64, f tuple.Filter) (int, error) {
	sn, err := b.Snapshot(rev)
	if err != nil {
		return 0, err
	}
	defer sn.Close()
	c, ok := any(sn).(interface {
		Count(context.Context, tuple.Filter) (int, error)
	})
	if !ok {
		return 0, fmt.Errorf("storage.Snapshot has no Count method")
	}
	return c.Count(ctx, f)
}
