package storagetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/trellis-authz/trellis/storage"
	"github.com/trellis-authz/trellis/tuple"
)

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
	empty, member, ellipsis := "", "member", tuple.Ellipsis
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
		// SpiceDB's "..." reads as "": plain subjects only, on both indexes.
		{ResourceType: "doc", ResourceID: "a", Relation: "viewer", Subject: &tuple.SubjectFilter{Type: "team", ID: "ml", Relation: &ellipsis}},
		{Subject: &tuple.SubjectFilter{Type: "team", ID: "ml", Relation: &ellipsis}},
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
