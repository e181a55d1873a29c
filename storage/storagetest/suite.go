package storagetest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/trellis-authz/trellis/storage"
	"github.com/trellis-authz/trellis/tuple"
)

// Opener opens a fresh, empty store for one test; the store must use clock as
// Config.Clock and must not set Config.GCWindow. The opener closes the store
// when the test ends (Close twice is harmless).
type Opener func(t *testing.T, clock func() time.Time) *storage.Store

// Run runs the whole suite.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(*testing.T, Opener)
	}{
		{"ApplyAndRead", testApplyAndRead},
		{"CreateExisting", testCreateExisting},
		{"DuplicateUpdate", testDuplicateUpdate},
		{"InvalidBatch", testInvalidBatch},
		{"Preconditions", testPreconditions},
		{"DeleteByFilter", testDeleteByFilter},
		{"DeleteChanges", testDeleteChanges},
		{"SnapshotIsolation", testSnapshotIsolation},
		{"ReplaySkipped", testReplaySkipped},
		{"RevisionBounds", testRevisionBounds},
		{"Expiration", testExpiration},
		{"CaveatRoundTrip", testCaveatRoundTrip},
		{"FiltersAndPagination", testFiltersAndPagination},
		{"InvalidCursor", testInvalidCursor},
		{"ChangeFeed", testChangeFeed},
		{"Schema", testSchema},
		{"Extras", testExtras},
		{"GCHorizon", testGCHorizon},
		{"BackupRestore", testBackupRestore},
		{"RestoreCorrupt", testRestoreCorrupt},
		{"ConcurrentReadersSeeWholeBatches", testConcurrentReaders},
		{"SharedSnapshot", testSharedSnapshot},
		{"LargeBatch", testLargeBatch},
		{"Closed", testClosed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open) })
	}
}

var ctx = context.Background()

// fixedClock is a clock tests move by hand.
type fixedClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fixedClock {
	return &fixedClock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *fixedClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fixedClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func openStore(t *testing.T, open Opener) (*storage.Store, *fixedClock) {
	t.Helper()
	c := newClock()
	return open(t, c.Now), c
}

func rel(s string) tuple.Relationship { return tuple.MustParse(s) }

func touch(ss ...string) []tuple.Update { return updates(tuple.OpTouch, ss...) }

func updates(op tuple.Op, ss ...string) []tuple.Update {
	out := make([]tuple.Update, len(ss))
	for i, s := range ss {
		out[i] = tuple.Update{Op: op, Relationship: rel(s)}
	}
	return out
}

func mustApply(t *testing.T, s *storage.Store, rev uint64, b storage.Batch) storage.Result {
	t.Helper()
	res, err := s.Apply(rev, b)
	if err != nil {
		t.Fatalf("Apply(%d): %v", rev, err)
	}
	return res
}

func snap(t *testing.T, s *storage.Store, rev uint64) *storage.Snapshot {
	t.Helper()
	sn, err := s.Snapshot(rev)
	if err != nil {
		t.Fatalf("Snapshot(%d): %v", rev, err)
	}
	t.Cleanup(sn.Close)
	return sn
}

// all returns every relationship at the snapshot, as canonical strings.
func all(t *testing.T, sn *storage.Snapshot) []string {
	t.Helper()
	var out []string
	for r, err := range sn.ReadAll(ctx, tuple.Filter{}) {
		if err != nil {
			t.Fatalf("ReadAll at %d: %v", sn.Revision(), err)
		}
		out = append(out, r.String())
	}
	return out
}

func collect(t *testing.T, seq func(func(tuple.Relationship, error) bool)) []string {
	t.Helper()
	var out []string
	for r, err := range seq {
		if err != nil {
			t.Fatalf("iterate: %v", err)
		}
		out = append(out, r.String())
	}
	return out
}

func sorted(ss ...string) []string {
	out := slices.Clone(ss)
	slices.Sort(out)
	return out
}

func equalStrings(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n got  %q\n want %q", what, got, want)
	}
}

func has(t *testing.T, sn *storage.Snapshot, s string) bool {
	t.Helper()
	r := rel(s)
	got, ok, err := sn.Relationship(ctx, r.Resource, r.Relation, r.Subject)
	if err != nil {
		t.Fatalf("Relationship(%s) at %d: %v", s, sn.Revision(), err)
	}
	if ok && (got.Key() != r.Key()) {
		t.Fatalf("Relationship(%s) returned %s", s, got)
	}
	return ok
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
