package storage_test

import (
	"context"
	"testing"
	"time"

	"github.com/trellis-authz/trellis/storage"
	"github.com/trellis-authz/trellis/tuple"
)

// TestSnapshotAsOf: Snapshot hides relationships expired at Config.Clock;
// SnapshotAsOf judges at the given time, and a zero time hides nothing (the
// replicated schema check relies on it to read no clock).
func TestSnapshotAsOf(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	cfg := testConfig("")
	cfg.InMemory = true
	cfg.Clock = func() time.Time { return now }
	s := openAt(t, cfg)
	r := tuple.MustParse("doc:a#viewer@user:ana[expiration:2026-01-01T11:00:00Z]")
	if _, err := s.Apply(1, storage.Batch{Updates: []tuple.Update{{Op: tuple.OpTouch, Relationship: r}}}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	f := tuple.Filter{ResourceType: "doc"}
	for _, c := range []struct {
		name string
		open func() (*storage.Snapshot, error)
		want int
	}{
		{"Snapshot at the clock", func() (*storage.Snapshot, error) { return s.Snapshot(1) }, 0},
		{"as of after expiry", func() (*storage.Snapshot, error) { return s.SnapshotAsOf(1, now) }, 0},
		{"as of before expiry", func() (*storage.Snapshot, error) { return s.SnapshotAsOf(1, now.Add(-2*time.Hour)) }, 1},
		{"as of zero time", func() (*storage.Snapshot, error) { return s.SnapshotAsOf(1, time.Time{}) }, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			sn, err := c.open()
			if err != nil {
				t.Fatal(err)
			}
			defer sn.Close()
			n, err := sn.Count(ctx, f)
			if err != nil || n != c.want {
				t.Errorf("Count: got %d, %v, want %d", n, err, c.want)
			}
			_, found, err := sn.Relationship(ctx, r.Resource, r.Relation, r.Subject)
			if err != nil || found != (c.want == 1) {
				t.Errorf("Relationship: got found=%v, %v, want %v", found, err, c.want == 1)
			}
		})
	}
	if _, err := s.SnapshotAsOf(2, time.Time{}); err == nil {
		t.Errorf("SnapshotAsOf above the applied revision: got nil error, want ErrRevisionAhead")
	}
}
