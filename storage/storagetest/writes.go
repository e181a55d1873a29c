package storagetest

import (
	"errors"
	"fmt"
	"testing"

	"github.com/trellis-authz/trellis/storage"
	"github.com/trellis-authz/trellis/tuple"
)

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
