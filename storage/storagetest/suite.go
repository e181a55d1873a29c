// Package storagetest is the conformance suite for storage.Store: every
// behaviour the rest of Trellis relies on (atomic batches, exact snapshots,
// expiration, filtered reads and cursors, change feed, schema versions,
// extras, GC horizon, backup and restore), run against a store the caller
// opens.
package storagetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
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

func testApplyAndRead(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	res := mustApply(t, s, 3, storage.Batch{Updates: touch(
		"dataset:claims#reader@user:ana",
		"dataset:claims#reader@user:bob",
		"dataset:claims#reader@team:ml#member",
		"dataset:claims#reader@user:*",
		"dataset:claims#owner@user:ana",
		"dataset:other#reader@user:ana",
		"model:m1#user@user:ana",
	)})
	if res.Revision != 3 || res.Skipped || len(res.Changes) != 7 {
		t.Fatalf("Result: got %+v, want revision 3, not skipped, 7 changes", res)
	}
	if got := s.AppliedRevision(); got != 3 {
		t.Fatalf("AppliedRevision: got %d, want 3", got)
	}
	sn := snap(t, s, 3)
	if sn.Revision() != 3 {
		t.Fatalf("Revision: got %d, want 3", sn.Revision())
	}
	for _, c := range []struct {
		rel  string
		want bool
	}{
		{"dataset:claims#reader@user:ana", true},
		{"dataset:claims#reader@team:ml#member", true},
		{"dataset:claims#reader@team:ml", false},
		{"dataset:claims#reader@user:*", true},
		{"dataset:claims#reader@user:carl", false},
		{"dataset:claims#writer@user:ana", false},
		{"dataset:claim#reader@user:ana", false},
	} {
		if got := has(t, sn, c.rel); got != c.want {
			t.Errorf("Relationship(%s): got %v, want %v", c.rel, got, c.want)
		}
	}
	claims := tuple.ObjectRef{Type: "dataset", ID: "claims"}
	equalStrings(t, "Subjects(dataset:claims#reader)", collect(t, sn.Subjects(ctx, claims, "reader", "")),
		[]string{"dataset:claims#reader@team:ml#member", "dataset:claims#reader@user:*", "dataset:claims#reader@user:ana", "dataset:claims#reader@user:bob"})
	equalStrings(t, "Subjects(dataset:claims#reader, user)", collect(t, sn.Subjects(ctx, claims, "reader", "user")),
		[]string{"dataset:claims#reader@user:*", "dataset:claims#reader@user:ana", "dataset:claims#reader@user:bob"})
	equalStrings(t, "Resources(user:ana, dataset, reader)", collect(t, sn.Resources(ctx, tuple.SubjectRef{Type: "user", ID: "ana"}, "dataset", "reader")),
		[]string{"dataset:claims#reader@user:ana", "dataset:other#reader@user:ana"})
	equalStrings(t, "Resources(team:ml#member, dataset, reader)", collect(t, sn.Resources(ctx, tuple.SubjectRef{Type: "team", ID: "ml", Relation: "member"}, "dataset", "reader")),
		[]string{"dataset:claims#reader@team:ml#member"})
	equalStrings(t, "Resources(team:ml, dataset, reader)", collect(t, sn.Resources(ctx, tuple.SubjectRef{Type: "team", ID: "ml"}, "dataset", "reader")), nil)
	// Stopping early must not leak or fail.
	for range sn.Subjects(ctx, claims, "reader", "") {
		break
	}
	// A read at revision 0 sees the empty store.
	equalStrings(t, "ReadAll at 0", all(t, snap(t, s, 0)), nil)
}

func testCreateExisting(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	mustApply(t, s, 1, storage.Batch{Updates: updates(tuple.OpCreate, "doc:a#viewer@user:ana")})
	_, err := s.Apply(2, storage.Batch{Updates: append(touch("doc:b#viewer@user:bob"), updates(tuple.OpCreate, "doc:a#viewer@user:ana")...)})
	wantErr(t, "create of an existing relationship", err, storage.ErrAlreadyExists)
	if got := s.AppliedRevision(); got != 2 {
		t.Errorf("AppliedRevision after a rejected batch: got %d, want 2 (rejections are deterministic, so the revision is consumed)", got)
	}
	equalStrings(t, "state after rejected create", all(t, snap(t, s, 2)), []string{"doc:a#viewer@user:ana"})
	// Creating something new works.
	mustApply(t, s, 3, storage.Batch{Updates: updates(tuple.OpCreate, "doc:b#viewer@user:bob")})
	equalStrings(t, "state after create", all(t, snap(t, s, 3)), []string{"doc:a#viewer@user:ana", "doc:b#viewer@user:bob"})
}

func testDuplicateUpdate(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	_, err := s.Apply(1, storage.Batch{Updates: append(touch("doc:a#viewer@user:ana"), updates(tuple.OpDelete, "doc:a#viewer@user:ana")...)})
	wantErr(t, "same relationship twice", err, storage.ErrDuplicateUpdate)
	// The caveat does not make it a different relationship.
	_, err = s.Apply(2, storage.Batch{Updates: touch("doc:a#viewer@user:ana", "doc:a#viewer@user:ana[only_on:{\"x\":1}]")})
	wantErr(t, "same relationship with a caveat", err, storage.ErrDuplicateUpdate)
	equalStrings(t, "state", all(t, snap(t, s, 2)), nil)
}

func testInvalidBatch(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	bad := []storage.Batch{
		{Updates: []tuple.Update{{Op: 0, Relationship: rel("doc:a#viewer@user:ana")}}},
		{Updates: []tuple.Update{{Op: tuple.OpTouch, Relationship: tuple.Relationship{Resource: tuple.ObjectRef{Type: "doc", ID: "a\x00b"}, Relation: "viewer", Subject: tuple.SubjectRef{Type: "user", ID: "ana"}}}}},
		{Updates: []tuple.Update{{Op: tuple.OpTouch, Relationship: tuple.Relationship{Resource: tuple.ObjectRef{Type: "doc", ID: "a"}, Relation: "viewer", Subject: tuple.SubjectRef{Type: "user", ID: "ana"}, Caveat: &tuple.Caveat{Name: "cav", Context: map[string]any{"ch": make(chan int)}}}}}},
		{Preconditions: []tuple.Precondition{{Op: 9, Filter: tuple.Filter{ResourceType: "doc"}}}},
		{Schema: &storage.SchemaRecord{Text: "definition user {}", Hash: "00"}},
		{DeleteFilter: &storage.DeleteByFilter{}},
	}
	for i, b := range bad {
		_, err := s.Apply(uint64(i+1), b)
		wantErr(t, fmt.Sprintf("bad batch %d", i), err, storage.ErrInvalidBatch)
	}
	equalStrings(t, "state", all(t, snap(t, s, s.AppliedRevision())), nil)
	if _, _, ok, _ := s.Schema(); ok {
		t.Errorf("a schema with a wrong hash was stored")
	}
}

func testPreconditions(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	mustApply(t, s, 1, storage.Batch{Updates: touch("doc:a#owner@user:ana", "doc:a#viewer@user:bob")})
	ana := "ana"
	ownerAna := tuple.Filter{ResourceType: "doc", ResourceID: "a", Relation: "owner", Subject: &tuple.SubjectFilter{Type: "user", ID: ana}}
	ownerCarl := tuple.Filter{ResourceType: "doc", ResourceID: "a", Relation: "owner", Subject: &tuple.SubjectFilter{Type: "user", ID: "carl"}}
	cases := []struct {
		name string
		pre  []tuple.Precondition
		want error
	}{
		{"must_match holds", []tuple.Precondition{{Op: tuple.MustMatch, Filter: ownerAna}}, nil},
		{"must_match fails", []tuple.Precondition{{Op: tuple.MustMatch, Filter: ownerCarl}}, storage.ErrPreconditionFailed},
		{"must_not_match holds", []tuple.Precondition{{Op: tuple.MustNotMatch, Filter: ownerCarl}}, nil},
		{"must_not_match fails", []tuple.Precondition{{Op: tuple.MustNotMatch, Filter: ownerAna}}, storage.ErrPreconditionFailed},
		{"second of two fails", []tuple.Precondition{{Op: tuple.MustMatch, Filter: ownerAna}, {Op: tuple.MustNotMatch, Filter: tuple.Filter{Subject: &tuple.SubjectFilter{Type: "user", ID: "bob"}}}}, storage.ErrPreconditionFailed},
		// Preconditions see the state before the batch, not the batch's own writes.
		// (This is the sixth case, so it runs at revision 7 and writes doc:n7.)
		{"own write is not seen", []tuple.Precondition{{Op: tuple.MustMatch, Filter: tuple.Filter{ResourceType: "doc", ResourceID: "n7"}}}, storage.ErrPreconditionFailed},
	}
	rev := uint64(1)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rev++
			before := all(t, snap(t, s, rev-1))
			_, err := s.Apply(rev, storage.Batch{Preconditions: c.pre, Updates: touch(fmt.Sprintf("doc:n%d#viewer@user:x", rev))})
			after := all(t, snap(t, s, rev))
			if c.want == nil {
				if err != nil {
					t.Fatalf("Apply: got %v, want success", err)
				}
				if len(after) != len(before)+1 {
					t.Fatalf("got %d relationships, want %d", len(after), len(before)+1)
				}
				return
			}
			wantErr(t, "Apply", err, c.want)
			equalStrings(t, "a failed precondition writes nothing", after, before)
		})
	}
}

func testDeleteByFilter(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	mustApply(t, s, 1, storage.Batch{Updates: touch(
		"doc:a#viewer@user:ana", "doc:a#viewer@user:bob", "doc:a#viewer@user:carl",
		"doc:a#owner@user:ana", "doc:b#viewer@user:ana")})
	f := tuple.Filter{ResourceType: "doc", ResourceID: "a", Relation: "viewer"}
	_, err := s.Apply(2, storage.Batch{Updates: touch("doc:z#viewer@user:zed"), DeleteFilter: &storage.DeleteByFilter{Filter: f, Limit: 2}})
	wantErr(t, "delete over the limit", err, storage.ErrLimitExceeded)
	equalStrings(t, "nothing written on limit exceeded", all(t, snap(t, s, 2)), all(t, snap(t, s, 1)))

	res := mustApply(t, s, 3, storage.Batch{Updates: touch("doc:a#viewer@user:dan"), DeleteFilter: &storage.DeleteByFilter{Filter: f, Limit: 4}})
	var deleted []string
	for _, c := range res.Changes {
		if c.Op == tuple.OpDelete {
			deleted = append(deleted, c.Relationship.String())
		}
	}
	// The filter runs after the updates, so it deletes the touched one too.
	equalStrings(t, "deleted", sorted(deleted...), sorted("doc:a#viewer@user:ana", "doc:a#viewer@user:bob", "doc:a#viewer@user:carl", "doc:a#viewer@user:dan"))
	equalStrings(t, "state", all(t, snap(t, s, 3)), []string{"doc:a#owner@user:ana", "doc:b#viewer@user:ana"})

	// Unlimited, through the reverse index.
	mustApply(t, s, 4, storage.Batch{DeleteFilter: &storage.DeleteByFilter{Filter: tuple.Filter{Subject: &tuple.SubjectFilter{Type: "user", ID: "ana"}}}})
	equalStrings(t, "state", all(t, snap(t, s, 4)), nil)
	if n, _ := snap(t, s, 4).Count(ctx, tuple.Filter{Subject: &tuple.SubjectFilter{Type: "user", ID: "ana"}}); n != 0 {
		t.Errorf("reverse index after delete: got %d, want 0", n)
	}
}

func testDeleteChanges(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	mustApply(t, s, 1, storage.Batch{Updates: touch(`doc:a#viewer@user:ana[on_net:{"cidr":"10.0.0.0/8"}]`)})
	res := mustApply(t, s, 2, storage.Batch{Updates: updates(tuple.OpDelete, "doc:a#viewer@user:ana", "doc:a#viewer@user:nobody")})
	if len(res.Changes) != 1 {
		t.Fatalf("changes: got %d, want 1 (the delete of an absent relationship is omitted)", len(res.Changes))
	}
	c := res.Changes[0]
	if want := `doc:a#viewer@user:ana[on_net:{"cidr":"10.0.0.0/8"}]`; c.Op != tuple.OpDelete || c.Relationship.String() != want {
		t.Errorf("change: got %v %s, want delete %s (with the caveat it had)", c.Op, c.Relationship, want)
	}
	if has(t, snap(t, s, 2), "doc:a#viewer@user:ana") {
		t.Errorf("deleted relationship still present")
	}
	if n, _ := snap(t, s, 2).Count(ctx, tuple.Filter{Subject: &tuple.SubjectFilter{Type: "user", ID: "ana"}}); n != 0 {
		t.Errorf("reverse entry after delete: got %d, want 0", n)
	}
}

func testSnapshotIsolation(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	mustApply(t, s, 5, storage.Batch{Updates: touch("doc:a#viewer@user:ana", "doc:a#viewer@user:bob", "doc:b#viewer@user:ana")})
	old := snap(t, s, 5)
	want := all(t, old)
	wantRev := collect(t, old.Resources(ctx, tuple.SubjectRef{Type: "user", ID: "ana"}, "doc", "viewer"))

	mustApply(t, s, 6, storage.Batch{Updates: append(touch(`doc:a#viewer@user:ana[cav_one:{"k":"v"}]`, "doc:c#viewer@user:ana"), updates(tuple.OpDelete, "doc:a#viewer@user:bob")...)})
	mustApply(t, s, 9, storage.Batch{DeleteFilter: &storage.DeleteByFilter{Filter: tuple.Filter{ResourceType: "doc"}}})
	mustApply(t, s, 10, storage.Batch{Updates: touch("doc:a#viewer@user:bob[expiration:2020-01-01T00:00:00Z]")})

	for _, sn := range []*storage.Snapshot{old, snap(t, s, 5)} {
		equalStrings(t, "revision 5 after later writes", all(t, sn), want)
		equalStrings(t, "reverse at revision 5", collect(t, sn.Resources(ctx, tuple.SubjectRef{Type: "user", ID: "ana"}, "doc", "viewer")), wantRev)
		got, ok, err := sn.Relationship(ctx, tuple.ObjectRef{Type: "doc", ID: "a"}, "viewer", tuple.SubjectRef{Type: "user", ID: "ana"})
		if err != nil || !ok || got.Caveat != nil {
			t.Errorf("exact lookup at 5: got %v %v %v, want uncaveated doc:a#viewer@user:ana", got, ok, err)
		}
	}
	// Revisions between batches read as the batch before them.
	equalStrings(t, "revision 8", all(t, snap(t, s, 8)), all(t, snap(t, s, 6)))
	equalStrings(t, "revision 9", all(t, snap(t, s, 9)), nil)
}

func testReplaySkipped(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	mustApply(t, s, 4, storage.Batch{Updates: touch("doc:a#viewer@user:ana")})
	for _, rev := range []uint64{4, 2} {
		res, err := s.Apply(rev, storage.Batch{Updates: touch("doc:replayed#viewer@user:x")})
		if err != nil || !res.Skipped {
			t.Fatalf("Apply(%d) at applied 4: got %+v %v, want skipped", rev, res, err)
		}
	}
	equalStrings(t, "state", all(t, snap(t, s, 4)), []string{"doc:a#viewer@user:ana"})
	// A rejected batch is skipped on replay too.
	_, err := s.Apply(5, storage.Batch{Updates: updates(tuple.OpCreate, "doc:a#viewer@user:ana")})
	wantErr(t, "create existing", err, storage.ErrAlreadyExists)
	if res, err := s.Apply(5, storage.Batch{Updates: updates(tuple.OpCreate, "doc:a#viewer@user:ana")}); err != nil || !res.Skipped {
		t.Fatalf("replay of rejected batch: got %+v %v, want skipped", res, err)
	}
	if err := s.MarkApplied(7); err != nil {
		t.Fatal(err)
	}
	if got := s.AppliedRevision(); got != 7 {
		t.Fatalf("after MarkApplied(7): got %d", got)
	}
	equalStrings(t, "state at 7", all(t, snap(t, s, 7)), []string{"doc:a#viewer@user:ana"})
}

func testRevisionBounds(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	mustApply(t, s, 2, storage.Batch{Updates: touch("doc:a#viewer@user:ana")})
	_, err := s.Snapshot(3)
	wantErr(t, "Snapshot above applied", err, storage.ErrRevisionAhead)
	err = s.SetGCHorizon(3)
	wantErr(t, "SetGCHorizon above applied", err, storage.ErrRevisionAhead)
	ctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := s.WaitApplied(ctx, 3); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitApplied(3) at 2: got %v, want deadline exceeded", err)
	}
	done := make(chan error, 1)
	go func() { done <- s.WaitApplied(context.Background(), 3) }()
	mustApply(t, s, 3, storage.Batch{})
	if err := <-done; err != nil {
		t.Fatalf("WaitApplied(3): %v", err)
	}
}

func testExpiration(t *testing.T, open Opener) {
	s, clock := openStore(t, open)
	exp := time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC)
	r := fmt.Sprintf("doc:a#viewer@user:ana[expiration:%s]", exp.Format(time.RFC3339))
	mustApply(t, s, 1, storage.Batch{Updates: touch(r, "doc:a#viewer@user:bob")})
	sub := tuple.SubjectRef{Type: "user", ID: "ana"}
	check := func(name string, want bool) {
		t.Helper()
		sn := snap(t, s, 1)
		wantN := 0
		if want {
			wantN = 1
		}
		if got := has(t, sn, "doc:a#viewer@user:ana"); got != want {
			t.Errorf("%s: Relationship: got %v, want %v", name, got, want)
		}
		if got := len(collect(t, sn.Subjects(ctx, tuple.ObjectRef{Type: "doc", ID: "a"}, "viewer", ""))); got != 1+wantN {
			t.Errorf("%s: Subjects: got %d, want %d", name, got, 1+wantN)
		}
		if got := len(collect(t, sn.Resources(ctx, sub, "doc", "viewer"))); got != wantN {
			t.Errorf("%s: Resources: got %d, want %d", name, got, wantN)
		}
		if n, _ := sn.Count(ctx, tuple.Filter{ResourceType: "doc"}); n != 1+wantN {
			t.Errorf("%s: Count: got %d, want %d", name, n, 1+wantN)
		}
		rels, _, _ := sn.Read(ctx, tuple.Filter{Subject: &tuple.SubjectFilter{Type: "user", ID: "ana"}}, 10, "")
		if len(rels) != wantN {
			t.Errorf("%s: Read: got %d, want %d", name, len(rels), wantN)
		}
	}
	check("before expiration", true)
	got, _, _ := snap(t, s, 1).Relationship(ctx, tuple.ObjectRef{Type: "doc", ID: "a"}, "viewer", sub)
	if got.Expiration == nil || !got.Expiration.Equal(exp) {
		t.Errorf("expiration: got %v, want %v", got.Expiration, exp)
	}
	clock.Set(exp.Add(-time.Nanosecond))
	check("a nanosecond before", true)
	clock.Set(exp)
	check("at expiration", false)
	clock.Set(exp.Add(time.Hour))
	check("after expiration", false)

	// A snapshot judges expiration at the time it was opened.
	clock.Set(exp.Add(-time.Hour))
	sn := snap(t, s, 1)
	clock.Set(exp.Add(time.Hour))
	if !has(t, sn, "doc:a#viewer@user:ana") {
		t.Errorf("a snapshot opened before expiration lost the relationship when the clock moved")
	}

	// In Apply, Batch.Now decides: with Now after expiration, create succeeds
	// over the expired relationship; with zero Now it still exists.
	_, err := s.Apply(2, storage.Batch{Updates: updates(tuple.OpCreate, "doc:a#viewer@user:ana")})
	wantErr(t, "create over an expired relationship without Now", err, storage.ErrAlreadyExists)
	mustApply(t, s, 3, storage.Batch{Now: exp.Add(time.Second), Updates: updates(tuple.OpCreate, "doc:a#viewer@user:ana")})
	if !has(t, snap(t, s, 3), "doc:a#viewer@user:ana") {
		t.Errorf("recreated relationship missing")
	}
	// A must_match precondition does not see an expired relationship when Now is set.
	mustApply(t, s, 4, storage.Batch{Updates: touch(fmt.Sprintf("doc:b#viewer@user:ana[expiration:%s]", exp.Format(time.RFC3339)))})
	_, err = s.Apply(5, storage.Batch{Now: exp, Preconditions: []tuple.Precondition{{Op: tuple.MustMatch, Filter: tuple.Filter{ResourceType: "doc", ResourceID: "b"}}}})
	wantErr(t, "must_match on an expired relationship", err, storage.ErrPreconditionFailed)
}

func testCaveatRoundTrip(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	exp := time.Date(2031, 2, 3, 4, 5, 6, 789, time.UTC)
	rels := []tuple.Relationship{
		rel(`doc:a#viewer@user:ana[only_cav]`),
		rel(`doc:a#viewer@user:bob[ctx_cav:{"s":"x","i":-42,"f":1.5,"b":true,"n":null,"l":[1,"two",[3]],"m":{"k":{"deep":false}},"big":9007199254740993,"e":""}]`),
		{Resource: tuple.ObjectRef{Type: "doc", ID: "a"}, Relation: "viewer", Subject: tuple.SubjectRef{Type: "user", ID: "carl"}, Caveat: &tuple.Caveat{Name: "both_cav", Context: map[string]any{"x": int64(1)}}, Expiration: &exp},
		{Resource: tuple.ObjectRef{Type: "doc", ID: "a"}, Relation: "viewer", Subject: tuple.SubjectRef{Type: "user", ID: "dan"}, Expiration: &exp},
		rel(`doc:a#viewer@user:eve`),
	}
	var ups []tuple.Update
	for _, r := range rels {
		ups = append(ups, tuple.Update{Op: tuple.OpTouch, Relationship: r})
	}
	mustApply(t, s, 1, storage.Batch{Updates: ups})
	sn := snap(t, s, 1)
	for _, want := range rels {
		got, ok, err := sn.Relationship(ctx, want.Resource, want.Relation, want.Subject)
		if err != nil || !ok || !got.Equal(want) {
			t.Errorf("Relationship: got %s (%v, %v), want %s", got, ok, err, want)
		}
	}
	var got []string
	for r, err := range sn.Resources(ctx, tuple.SubjectRef{Type: "user", ID: "bob"}, "doc", "viewer") {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, r.String())
	}
	equalStrings(t, "reverse index keeps the caveat", got, []string{rels[1].String()})
}

// testFiltersAndPagination compares every filtered read with a brute-force
// filter over all relationships, and pages through each with small pages.
func testFiltersAndPagination(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	var ups []tuple.Update
	var everything []tuple.Relationship
	for _, res := range []string{"doc:a", "doc:ab", "doc:abc", "doc:b", "folder:a", "org/doc:a"} {
		for _, relname := range []string{"viewer", "owner"} {
			for _, sub := range []string{"user:ana", "user:bob", "user:*", "team:ml#member", "team:ml", "team:ops#admin"} {
				r := rel(res + "#" + relname + "@" + sub)
				ups = append(ups, tuple.Update{Op: tuple.OpTouch, Relationship: r})
				everything = append(everything, r)
			}
		}
	}
	mustApply(t, s, 1, storage.Batch{Updates: ups})
	sn := snap(t, s, 1)
	empty, member := "", "member"
	filters := []tuple.Filter{
		{},
		{ResourceType: "doc"},
		{ResourceType: "doc", ResourceID: "a"},
		{ResourceType: "doc", ResourceIDPrefix: "a"},
		{ResourceType: "doc", ResourceIDPrefix: "ab"},
		{ResourceType: "doc", ResourceIDPrefix: "ab", Relation: "owner"},
		{ResourceType: "doc", Relation: "owner"},
		{ResourceType: "doc", ResourceID: "a", Relation: "viewer"},
		{ResourceType: "doc", ResourceID: "a", Relation: "viewer", Subject: &tuple.SubjectFilter{Type: "team"}},
		{ResourceType: "doc", ResourceID: "a", Relation: "viewer", Subject: &tuple.SubjectFilter{Type: "team", ID: "ml"}},
		{ResourceType: "doc", ResourceID: "a", Relation: "viewer", Subject: &tuple.SubjectFilter{Type: "team", ID: "ml", Relation: &empty}},
		{ResourceType: "doc", Subject: &tuple.SubjectFilter{Type: "user", ID: "ana"}},
		{ResourceType: "doc", Relation: "viewer", Subject: &tuple.SubjectFilter{Type: "team", ID: "ml", Relation: &member}},
		{ResourceType: "doc", ResourceIDPrefix: "ab", Subject: &tuple.SubjectFilter{Type: "user", ID: "ana"}},
		{Subject: &tuple.SubjectFilter{Type: "user"}},
		{Subject: &tuple.SubjectFilter{Type: "user", ID: "*"}},
		{Subject: &tuple.SubjectFilter{Type: "team", ID: "ml", Relation: &empty}},
		{Subject: &tuple.SubjectFilter{Type: "team", Relation: &member}},
		{ResourceType: "org/doc"},
		{ResourceType: "nothing"},
	}
	for _, f := range filters {
		t.Run(f.String(), func(t *testing.T) {
			var want []string
			for _, r := range everything {
				if f.Matches(r) {
					want = append(want, r.String())
				}
			}
			slices.Sort(want)
			var got []string
			for r, err := range sn.ReadAll(ctx, f) {
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, r.String())
			}
			slices.Sort(got)
			equalStrings(t, "ReadAll", got, want)
			n, err := sn.Count(ctx, f)
			if err != nil || n != len(want) {
				t.Errorf("Count: got %d (%v), want %d", n, err, len(want))
			}
			for _, limit := range []int{1, 3, 1000} {
				var paged []string
				cursor, pages := "", 0
				for {
					rels, next, err := sn.Read(ctx, f, limit, cursor)
					if err != nil {
						t.Fatalf("Read(limit %d): %v", limit, err)
					}
					if len(rels) > limit {
						t.Fatalf("Read(limit %d): got %d", limit, len(rels))
					}
					for _, r := range rels {
						paged = append(paged, r.String())
					}
					pages++
					if next == "" {
						break
					}
					if len(rels) == 0 {
						t.Fatalf("Read(limit %d): empty page with a next cursor", limit)
					}
					cursor = next
				}
				slices.Sort(paged)
				equalStrings(t, fmt.Sprintf("pages of %d", limit), paged, want)
				if wantPages := max(1, (len(want)+limit-1)/limit); pages != wantPages {
					t.Errorf("pages of %d: got %d pages, want %d", limit, pages, wantPages)
				}
			}
		})
	}
}

func testInvalidCursor(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	mustApply(t, s, 1, storage.Batch{Updates: touch("doc:a#viewer@user:ana", "doc:b#viewer@user:ana", "folder:x#viewer@user:ana")})
	sn := snap(t, s, 1)
	_, next, err := sn.Read(ctx, tuple.Filter{ResourceType: "doc"}, 1, "")
	if err != nil || next == "" {
		t.Fatalf("first page: %q %v", next, err)
	}
	for name, c := range map[string]struct {
		f      tuple.Filter
		cursor string
	}{
		"garbage":             {tuple.Filter{ResourceType: "doc"}, "!!not-base64"},
		"truncated":           {tuple.Filter{ResourceType: "doc"}, next[:2]},
		"other resource type": {tuple.Filter{ResourceType: "folder"}, next},
		"other index":         {tuple.Filter{Subject: &tuple.SubjectFilter{Type: "user", ID: "ana"}}, next},
	} {
		if _, _, err := sn.Read(ctx, c.f, 1, c.cursor); !errors.Is(err, storage.ErrInvalidCursor) {
			t.Errorf("%s: got %v, want ErrInvalidCursor", name, err)
		}
	}
}

func testChangeFeed(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	mustApply(t, s, 2, storage.Batch{Updates: touch("doc:a#viewer@user:ana", "doc:b#viewer@user:ana"), Meta: []byte("first")})
	_, _ = s.Apply(3, storage.Batch{Updates: updates(tuple.OpCreate, "doc:a#viewer@user:ana")}) // rejected: no record
	mustApply(t, s, 5, storage.Batch{Updates: updates(tuple.OpDelete, "doc:a#viewer@user:ana")})
	mustApply(t, s, 6, storage.Batch{Schema: &storage.SchemaRecord{Text: "definition user {}"}, Meta: []byte("schema")})
	type rec struct {
		rev  uint64
		desc string
	}
	read := func(from uint64) ([]rec, error) {
		var out []rec
		err := s.Changes(ctx, from, func(rev uint64, changes []storage.Change, meta []byte) error {
			d := string(meta) + ":"
			for _, c := range changes {
				d += " " + c.Op.String() + " " + c.Relationship.String()
			}
			out = append(out, rec{rev, d})
			return nil
		})
		return out, err
	}
	got, err := read(0)
	if err != nil {
		t.Fatal(err)
	}
	want := []rec{
		{2, "first: touch doc:a#viewer@user:ana touch doc:b#viewer@user:ana"},
		{5, ": delete doc:a#viewer@user:ana"},
		{6, "schema:"},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Changes(0):\n got  %v\n want %v", got, want)
	}
	if got, _ := read(3); !slices.Equal(got, want[1:]) {
		t.Errorf("Changes(3): got %v, want %v", got, want[1:])
	}
	if got, _ := read(7); len(got) != 0 {
		t.Errorf("Changes(7): got %v, want none", got)
	}
	stop := errors.New("stop")
	n := 0
	err = s.Changes(ctx, 0, func(uint64, []storage.Change, []byte) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("an error from fn: got %v after %d calls, want stop after 1", err, n)
	}
	// Moving the horizon trims the feed below it at the next apply.
	if err := s.SetGCHorizon(5); err != nil {
		t.Fatal(err)
	}
	mustApply(t, s, 7, storage.Batch{Meta: []byte("after")})
	if _, err := read(2); !errors.Is(err, storage.ErrSnapshotExpired) {
		t.Errorf("Changes(2) below the change horizon: got %v, want ErrSnapshotExpired", err)
	}
	got, err = read(5)
	if err != nil || len(got) != 3 || got[2].rev != 7 {
		t.Errorf("Changes(5): got %v %v, want revisions 5, 6, 7", got, err)
	}
	// Many revisions are read across chunks, in order.
	for rev := uint64(8); rev < 8+600; rev++ {
		mustApply(t, s, rev, storage.Batch{Meta: []byte(fmt.Sprint(rev))})
	}
	got, err = read(8)
	if err != nil || len(got) != 600 {
		t.Fatalf("Changes(8): got %d records, %v; want 600", len(got), err)
	}
	for i, r := range got {
		if r.rev != uint64(8+i) {
			t.Fatalf("record %d: got revision %d, want %d", i, r.rev, 8+i)
		}
	}
}

func testSchema(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	if _, _, ok, err := s.Schema(); ok || err != nil {
		t.Fatalf("Schema on an empty store: got ok=%v err=%v", ok, err)
	}
	mustApply(t, s, 2, storage.Batch{Schema: &storage.SchemaRecord{Text: "definition user {}"}})
	mustApply(t, s, 3, storage.Batch{Updates: touch("doc:a#viewer@user:ana")})
	const v2 = "definition user {}\ndefinition doc { relation viewer: user }"
	mustApply(t, s, 4, storage.Batch{Schema: &storage.SchemaRecord{Text: v2}})
	rec, rev, ok, err := s.Schema()
	if err != nil || !ok || rec.Text != v2 || rev != 4 || len(rec.Hash) != 64 {
		t.Fatalf("latest schema: got %+v rev %d ok %v err %v, want v2 written at 4 with a SHA-256 hash", rec, rev, ok, err)
	}
	for _, c := range []struct {
		rev  uint64
		text string
		ok   bool
	}{{1, "", false}, {2, "definition user {}", true}, {3, "definition user {}", true}, {4, v2, true}} {
		got, ok, err := snap(t, s, c.rev).Schema()
		if err != nil || ok != c.ok || got.Text != c.text {
			t.Errorf("schema at %d: got %q %v %v, want %q %v", c.rev, got.Text, ok, err, c.text, c.ok)
		}
	}
	// A correct hash given by the caller is accepted.
	mustApply(t, s, 5, storage.Batch{Schema: &storage.SchemaRecord{Text: v2, Hash: rec.Hash}})
}

func testExtras(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	var seen []storage.Change
	mustApply(t, s, 1, storage.Batch{
		Updates: touch("doc:a#viewer@user:ana"),
		Finish: func(changes []storage.Change) ([]storage.KV, error) {
			seen = changes
			return []storage.KV{{Key: []byte("audit/0001"), Value: []byte("entry1")}, {Key: []byte("idem/abc"), Value: []byte("1")}}, nil
		},
	})
	if len(seen) != 1 || seen[0].Relationship.String() != "doc:a#viewer@user:ana" {
		t.Errorf("Finish saw %v, want the one touch", seen)
	}
	mustApply(t, s, 2, storage.Batch{Finish: func([]storage.Change) ([]storage.KV, error) {
		return []storage.KV{{Key: []byte("audit/0002"), Value: []byte("entry2")}}, nil
	}})
	v, ok, err := s.Extra([]byte("idem/abc"))
	if err != nil || !ok || string(v) != "1" {
		t.Errorf("Extra(idem/abc): got %q %v %v", v, ok, err)
	}
	if _, ok, _ := s.Extra([]byte("idem/none")); ok {
		t.Errorf("Extra of a missing key reported ok")
	}
	var keys []string
	err = s.ScanExtra([]byte("audit/"), func(k, v []byte) error {
		keys = append(keys, string(k)+"="+string(v))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	equalStrings(t, "ScanExtra(audit/)", keys, []string{"audit/0001=entry1", "audit/0002=entry2"})

	// An error from Finish aborts everything and does not consume the revision.
	boom := errors.New("boom")
	_, err = s.Apply(3, storage.Batch{Updates: touch("doc:b#viewer@user:bob"), Finish: func([]storage.Change) ([]storage.KV, error) {
		return nil, boom
	}})
	if !errors.Is(err, boom) {
		t.Fatalf("Finish error: got %v, want boom", err)
	}
	if got := s.AppliedRevision(); got != 2 {
		t.Errorf("applied after a Finish error: got %d, want 2", got)
	}
	equalStrings(t, "state after Finish error", all(t, snap(t, s, 2)), []string{"doc:a#viewer@user:ana"})
}

func testGCHorizon(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	for rev := uint64(1); rev <= 6; rev++ {
		mustApply(t, s, rev, storage.Batch{Updates: touch(fmt.Sprintf("doc:a#viewer@user:u%d", rev))})
	}
	held := snap(t, s, 3)
	if err := s.SetGCHorizon(4); err != nil {
		t.Fatal(err)
	}
	if got := s.GCHorizon(); got != 4 {
		t.Fatalf("GCHorizon: got %d, want 4", got)
	}
	_, err := s.Snapshot(3)
	wantErr(t, "Snapshot(3) below the horizon", err, storage.ErrSnapshotExpired)
	_, _, err = held.Relationship(ctx, tuple.ObjectRef{Type: "doc", ID: "a"}, "viewer", tuple.SubjectRef{Type: "user", ID: "u1"})
	wantErr(t, "a snapshot opened before the horizon passed it", err, storage.ErrSnapshotExpired)
	for _, err := range held.ReadAll(ctx, tuple.Filter{}) {
		wantErr(t, "ReadAll on an expired snapshot", err, storage.ErrSnapshotExpired)
		break
	}
	if got := len(all(t, snap(t, s, 4))); got != 4 {
		t.Errorf("read at the horizon: got %d relationships, want 4", got)
	}
	// The horizon never moves down.
	if err := s.SetGCHorizon(2); err != nil || s.GCHorizon() != 4 {
		t.Errorf("SetGCHorizon(2) after 4: got horizon %d err %v, want 4 and no error", s.GCHorizon(), err)
	}
	err = s.BackupAt(new(discard), 3)
	wantErr(t, "BackupAt below the horizon", err, storage.ErrSnapshotExpired)
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func testBackupRestore(t *testing.T, open Opener) {
	src, _ := openStore(t, open)
	mustApply(t, src, 2, storage.Batch{Updates: touch("doc:a#viewer@user:ana", `doc:a#viewer@user:bob[cav_x:{"a":[1,2]}]`), Schema: &storage.SchemaRecord{Text: "definition user {}"},
		Finish: func([]storage.Change) ([]storage.KV, error) {
			return []storage.KV{{Key: []byte("k1"), Value: []byte("v1")}}, nil
		}})
	mustApply(t, src, 4, storage.Batch{Updates: append(touch("doc:b#owner@team:ml#member"), updates(tuple.OpDelete, "doc:a#viewer@user:ana")...), Meta: []byte("m4")})
	var backup4 bytes.Buffer
	if err := src.BackupAt(&backup4, 4); err != nil {
		t.Fatal(err)
	}
	mustApply(t, src, 5, storage.Batch{Updates: touch("doc:later#viewer@user:x")})
	var backup5 bytes.Buffer
	rev, err := src.Backup(&backup5)
	if err != nil || rev != 5 {
		t.Fatalf("Backup: got rev %d err %v, want 5", rev, err)
	}

	dst, _ := openStore(t, open)
	mustApply(t, dst, 9, storage.Batch{Updates: touch("junk:x#viewer@user:junk")})
	oldSnap := snap(t, dst, 9)
	if err := dst.Restore(bytes.NewReader(backup4.Bytes())); err != nil {
		t.Fatal(err)
	}
	if got := dst.AppliedRevision(); got != 4 {
		t.Fatalf("applied after restore: got %d, want 4", got)
	}
	if _, _, err := oldSnap.Relationship(ctx, tuple.ObjectRef{Type: "junk", ID: "x"}, "viewer", tuple.SubjectRef{Type: "user", ID: "junk"}); !errors.Is(err, storage.ErrSnapshotExpired) {
		t.Errorf("snapshot from before the restore: got %v, want ErrSnapshotExpired", err)
	}
	equalStrings(t, "restored relationships", all(t, snap(t, dst, 4)), all(t, snap(t, src, 4)))
	equalStrings(t, "restored reverse index",
		collect(t, snap(t, dst, 4).Resources(ctx, tuple.SubjectRef{Type: "team", ID: "ml", Relation: "member"}, "doc", "owner")),
		[]string{"doc:b#owner@team:ml#member"})
	if _, err := dst.Snapshot(3); !errors.Is(err, storage.ErrSnapshotExpired) {
		t.Errorf("Snapshot below the restored revision: got %v, want ErrSnapshotExpired", err)
	}
	rec, srev, ok, err := dst.Schema()
	if err != nil || !ok || rec.Text != "definition user {}" || srev != 2 {
		t.Errorf("restored schema: got %+v rev %d ok %v err %v", rec, srev, ok, err)
	}
	if v, ok, _ := dst.Extra([]byte("k1")); !ok || string(v) != "v1" {
		t.Errorf("restored extra: got %q %v", v, ok)
	}
	var revs []uint64
	if err := dst.Changes(ctx, 0, func(rev uint64, _ []storage.Change, _ []byte) error { revs = append(revs, rev); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(revs, []uint64{2, 4}) {
		t.Errorf("restored change feed: got %v, want [2 4]", revs)
	}
	// The restored store keeps working, and replays at or below 4 are skipped.
	if res, _ := dst.Apply(4, storage.Batch{Updates: touch("doc:replay#viewer@user:x")}); !res.Skipped {
		t.Errorf("Apply(4) after restore at 4 was not skipped")
	}
	mustApply(t, dst, 5, storage.Batch{Updates: touch("doc:after#viewer@user:x")})
	if !has(t, snap(t, dst, 5), "doc:after#viewer@user:x") || !has(t, snap(t, dst, 5), "doc:b#owner@team:ml#member") {
		t.Errorf("writes after restore are missing")
	}
	// A backup of an empty store empties the target.
	empty, _ := openStore(t, open)
	var backup0 bytes.Buffer
	if rev, err := empty.Backup(&backup0); err != nil || rev != 0 {
		t.Fatalf("Backup of an empty store: got rev %d err %v", rev, err)
	}
	scratch, _ := openStore(t, open)
	mustApply(t, scratch, 3, storage.Batch{Updates: touch("doc:z#viewer@user:z")})
	if err := scratch.Restore(bytes.NewReader(backup0.Bytes())); err != nil {
		t.Fatalf("Restore of an empty backup: %v", err)
	}
	if got := scratch.AppliedRevision(); got != 0 {
		t.Errorf("applied after restoring an empty backup: got %d, want 0", got)
	}
	equalStrings(t, "after restoring an empty backup", all(t, snap(t, scratch, 0)), nil)
	mustApply(t, scratch, 1, storage.Batch{Updates: touch("doc:y#viewer@user:y")})
	// Restoring the later backup replaces everything again.
	if err := dst.Restore(bytes.NewReader(backup5.Bytes())); err != nil {
		t.Fatal(err)
	}
	equalStrings(t, "second restore", all(t, snap(t, dst, 5)), all(t, snap(t, src, 5)))
}

func testRestoreCorrupt(t *testing.T, open Opener) {
	src, _ := openStore(t, open)
	mustApply(t, src, 1, storage.Batch{Updates: touch("doc:a#viewer@user:ana", "doc:b#viewer@user:bob")})
	var b bytes.Buffer
	if _, err := src.Backup(&b); err != nil {
		t.Fatal(err)
	}
	flipped := slices.Clone(b.Bytes())
	flipped[len(flipped)/2] ^= 0x40
	for name, data := range map[string][]byte{
		"not a backup": []byte("hello"),
		"truncated":    b.Bytes()[:b.Len()-3],
		"bit flipped":  flipped,
	} {
		t.Run(name, func(t *testing.T) {
			dst, _ := openStore(t, open)
			mustApply(t, dst, 3, storage.Batch{Updates: touch("doc:z#viewer@user:z")})
			err := dst.Restore(bytes.NewReader(data))
			wantErr(t, "Restore", err, storage.ErrCorrupt)
			if name == "not a backup" {
				// Rejected before anything was dropped.
				if dst.AppliedRevision() != 3 {
					t.Errorf("applied after rejecting a bad header: got %d, want 3", dst.AppliedRevision())
				}
				return
			}
			if got := dst.AppliedRevision(); got != 0 {
				t.Errorf("applied after a failed restore: got %d, want 0 (empty store)", got)
			}
			equalStrings(t, "state after a failed restore", all(t, snap(t, dst, 0)), nil)
		})
	}
}

// testConcurrentReaders moves a group of relationships from one generation
// to the next in every batch while readers check that each snapshot shows
// exactly one whole generation.
func testConcurrentReaders(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	const group, batches, readers = 20, 60, 2
	gen := func(g int) []tuple.Update {
		var ups []tuple.Update
		for i := 0; i < group; i++ {
			ups = append(ups, tuple.Update{Op: tuple.OpTouch, Relationship: rel(fmt.Sprintf("doc:shared#viewer@user:g%d_%d", g, i))})
			if g > 0 {
				ups = append(ups, tuple.Update{Op: tuple.OpDelete, Relationship: rel(fmt.Sprintf("doc:shared#viewer@user:g%d_%d", g-1, i))})
			}
		}
		return ups
	}
	mustApply(t, s, 1, storage.Batch{Updates: gen(0)})
	var total atomic.Int64
	done := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, readers)
	for r := 0; r < readers; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			checks := 0
			for {
				select {
				case <-done:
					if checks == 0 {
						errs <- errors.New("reader made no checks")
					}
					return
				default:
				}
				rev := s.AppliedRevision()
				sn, err := s.Snapshot(rev)
				if err != nil {
					errs <- err
					return
				}
				gens := map[string]int{}
				for rel, err := range sn.Subjects(ctx, tuple.ObjectRef{Type: "doc", ID: "shared"}, "viewer", "user") {
					if err != nil {
						errs <- err
						return
					}
					g, _, _ := cut(rel.Subject.ID, '_')
					gens[g]++
				}
				if len(gens) != 1 || gens[fmt.Sprintf("g%d", rev-1)] != group {
					errs <- fmt.Errorf("snapshot at %d saw generations %v, want exactly g%d with %d subjects", rev, gens, rev-1, group)
					return
				}
				checks++
				total.Add(1)
				sn.Close()
			}
		}()
	}
	for g := 1; g <= batches; g++ {
		// Let the readers make progress between batches, so reads overlap
		// writes however fast the store is.
		seen := total.Load()
		for wait := 0; total.Load() == seen && wait < 1000; wait++ {
			time.Sleep(time.Millisecond)
		}
		mustApply(t, s, uint64(g+1), storage.Batch{Updates: gen(g)})
	}
	close(done)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func cut(s string, c byte) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func testLargeBatch(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	var ups []tuple.Update
	for i := 0; i < 10000; i++ {
		ups = append(ups, tuple.Update{Op: tuple.OpCreate, Relationship: rel(fmt.Sprintf("dataset:d%d#reader@user:u%d", i%100, i))})
	}
	res := mustApply(t, s, 1, storage.Batch{Updates: ups})
	if len(res.Changes) != 10000 {
		t.Fatalf("changes: got %d, want 10000", len(res.Changes))
	}
	if n, err := snap(t, s, 1).Count(ctx, tuple.Filter{ResourceType: "dataset"}); err != nil || n != 10000 {
		t.Fatalf("Count: got %d %v, want 10000", n, err)
	}
	// Relationships with 1 KiB IDs overflow one transaction: a clear error, nothing written.
	long := make([]byte, 1000)
	for i := range long {
		long[i] = 'x'
	}
	ups = ups[:0]
	for i := 0; i < 10000; i++ {
		ups = append(ups, tuple.Update{Op: tuple.OpTouch, Relationship: tuple.Relationship{
			Resource: tuple.ObjectRef{Type: "dataset", ID: fmt.Sprintf("%s%d", long, i)}, Relation: "reader",
			Subject: tuple.SubjectRef{Type: "user", ID: fmt.Sprintf("%s%d", long, i)}}})
	}
	_, err := s.Apply(2, storage.Batch{Updates: ups})
	wantErr(t, "oversized batch", err, storage.ErrBatchTooLarge)
	if n, _ := snap(t, s, 2).Count(ctx, tuple.Filter{ResourceType: "dataset"}); n != 10000 {
		t.Fatalf("Count after the oversized batch: got %d, want 10000", n)
	}
}

func testClosed(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	mustApply(t, s, 1, storage.Batch{Updates: touch("doc:a#viewer@user:ana")})
	sn, err := s.Snapshot(1)
	if err != nil {
		t.Fatal(err)
	}
	sn.Close()
	sn.Close()
	_, _, err = sn.Relationship(ctx, tuple.ObjectRef{Type: "doc", ID: "a"}, "viewer", tuple.SubjectRef{Type: "user", ID: "ana"})
	wantErr(t, "read after Snapshot.Close", err, storage.ErrClosed)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	_, err = s.Apply(2, storage.Batch{})
	wantErr(t, "Apply after Close", err, storage.ErrClosed)
	_, err = s.Snapshot(1)
	wantErr(t, "Snapshot after Close", err, storage.ErrClosed)
}

// testSharedSnapshot reads one snapshot from several goroutines at once (the
// engine fans out over one snapshot) while writes continue.
func testSharedSnapshot(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	var ups []tuple.Update
	for i := 0; i < 200; i++ {
		ups = append(ups, tuple.Update{Op: tuple.OpTouch, Relationship: rel(fmt.Sprintf("doc:d%d#viewer@user:u%d", i%10, i))})
	}
	mustApply(t, s, 1, storage.Batch{Updates: ups})
	sn := snap(t, s, 1)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				n := 0
				for _, err := range sn.Subjects(ctx, tuple.ObjectRef{Type: "doc", ID: fmt.Sprintf("d%d", i%10)}, "viewer", "") {
					if err != nil {
						errs <- err
						return
					}
					n++
				}
				if n != 20 {
					errs <- fmt.Errorf("Subjects: got %d, want 20", n)
					return
				}
				if _, ok, err := sn.Relationship(ctx, tuple.ObjectRef{Type: "doc", ID: "d3"}, "viewer", tuple.SubjectRef{Type: "user", ID: "u13"}); !ok || err != nil {
					errs <- fmt.Errorf("Relationship: got %v %v", ok, err)
					return
				}
			}
		}()
	}
	for rev := uint64(2); rev < 12; rev++ {
		mustApply(t, s, rev, storage.Batch{DeleteFilter: &storage.DeleteByFilter{Filter: tuple.Filter{ResourceType: "doc", ResourceID: fmt.Sprintf("d%d", rev-2)}}})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
