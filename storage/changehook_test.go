package storage_test

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"github.com/trellis-authz/trellis/storage"
	"github.com/trellis-authz/trellis/tuple"
)

// hookCall is one call of a change hook, with what a reader could see then.
type hookCall struct {
	rev     uint64
	changes []string
	all     bool
	applied uint64 // AppliedRevision during the call
}

// TestChangeHook: the hook hears of every revision that changes
// relationships or the schema, and of a restore, while the revision is not
// yet readable; rejected batches and data-less revisions are not reported.
func TestChangeHook(t *testing.T) {
	s := openAt(t, testConfig(t.TempDir()))
	var calls []hookCall
	s.SetChangeHook(func(rev uint64, changes []storage.Change, all bool) {
		c := hookCall{rev: rev, all: all, applied: s.AppliedRevision()}
		for _, ch := range changes {
			c.changes = append(c.changes, ch.Op.String()+" "+ch.Relationship.String())
		}
		// Not readable yet: ahead of the applied revision, or (restore) the
		// store is being replaced.
		if _, err := s.Snapshot(rev); !errors.Is(err, storage.ErrRevisionAhead) && !(all && errors.Is(err, storage.ErrSnapshotExpired)) {
			t.Errorf("rev %d: Snapshot inside the hook: got %v, want it refused", rev, err)
		}
		calls = append(calls, c)
	})
	touch := func(s string) tuple.Update { return tuple.Update{Op: tuple.OpTouch, Relationship: tuple.MustParse(s)} }
	mustApply := func(rev uint64, b storage.Batch) {
		t.Helper()
		if _, err := s.Apply(rev, b); err != nil {
			t.Fatalf("Apply(%d): %v", rev, err)
		}
	}
	mustApply(1, storage.Batch{Updates: []tuple.Update{touch("doc:1#viewer@user:a"), touch("doc:2#viewer@user:b")}})
	mustApply(2, storage.Batch{Schema: &storage.SchemaRecord{Text: "definition user {}"}})
	if err := s.MarkApplied(3); err != nil { // a raft entry without data
		t.Fatal(err)
	}
	_, err := s.Apply(4, storage.Batch{Updates: []tuple.Update{{Op: tuple.OpCreate, Relationship: tuple.MustParse("doc:1#viewer@user:a")}}})
	if !errors.Is(err, storage.ErrAlreadyExists) {
		t.Fatalf("Apply(4) of an existing create: %v, want ErrAlreadyExists", err)
	}
	mustApply(5, storage.Batch{DeleteFilter: &storage.DeleteByFilter{Filter: tuple.Filter{ResourceType: "doc", ResourceID: "2"}}})

	var backup bytes.Buffer
	if _, err := s.Backup(&backup); err != nil {
		t.Fatal(err)
	}
	if err := s.Restore(&backup); err != nil {
		t.Fatal(err)
	}

	want := []hookCall{
		{rev: 1, changes: []string{"touch doc:1#viewer@user:a", "touch doc:2#viewer@user:b"}, applied: 0},
		{rev: 2, all: true, applied: 1},
		{rev: 5, changes: []string{"delete doc:2#viewer@user:b"}, applied: 4},
		{rev: 5, all: true, applied: 5}, // the restore, of a backup at 5
	}
	if len(calls) != len(want) {
		t.Fatalf("hook calls: got %+v, want %+v", calls, want)
	}
	for i := range want {
		g, w := calls[i], want[i]
		if g.rev != w.rev || g.all != w.all || g.applied != w.applied || !slices.Equal(g.changes, w.changes) {
			t.Errorf("call %d: got %+v, want %+v", i, g, w)
		}
	}
	s.SetChangeHook(nil)
	mustApply(6, storage.Batch{Updates: []tuple.Update{touch("doc:3#viewer@user:c")}})
	if len(calls) != len(want) {
		t.Errorf("a removed hook was called: %+v", calls[len(want):])
	}
}
