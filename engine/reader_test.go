package engine_test

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/trellis-authz/trellis/engine"
	"github.com/trellis-authz/trellis/storage"
	"github.com/trellis-authz/trellis/tuple"
)

var _ engine.Reader = (*storage.Snapshot)(nil)

// storeEpoch is the clock the test stores judge expiration by: long before
// any expiration in the fixtures, so the store hides nothing and the engine's
// own expiration handling is what the fixtures test.
var storeEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// newBadgerReader writes rels at revision 1 of an in-memory Badger store and
// returns the snapshot at revision 1.
func newBadgerReader(t testing.TB, rels []tuple.Relationship) *storage.Snapshot {
	t.Helper()
	st, err := storage.Open(memStoreConfig(storeEpoch))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	b := storage.Batch{}
	for _, r := range rels {
		b.Updates = append(b.Updates, tuple.Update{Op: tuple.OpTouch, Relationship: r})
	}
	if _, err := st.Apply(1, b); err != nil {
		t.Fatalf("apply: %v", err)
	}
	sn, err := st.Snapshot(1)
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	return sn
}

// memStoreConfig configures a small in-memory store whose clock is now.
func memStoreConfig(now time.Time) storage.Config {
	cfg := storage.DefaultConfig("")
	cfg.InMemory = true
	cfg.SyncWrites = false
	cfg.ValueLogGCInterval = 0
	cfg.MemTableSize = 16 << 20
	cfg.BlockCacheSize = 16 << 20
	cfg.Clock = func() time.Time { return now }
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	return cfg
}

// newFixtureReader returns the reader fixtures run against: a real Badger
// snapshot.
func newFixtureReader(t testing.TB, rels []tuple.Relationship) engine.Reader {
	return newBadgerReader(t, rels)
}
