package storage_test

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/trellis-authz/trellis/storage"
	"github.com/trellis-authz/trellis/tuple"
)

func suspendedAt(t *testing.T, st *storage.Store, rev uint64) []string {
	t.Helper()
	sn, err := st.Snapshot(rev)
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Close()
	set, err := sn.Suspensions()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range set.All() {
		out = append(out, fmt.Sprintf("%s@%d", s.Subject, s.Revision))
	}
	return out
}

// TestSuspensionsAtRevisions: each revision reads exactly the suspensions
// committed by it; an unsuspend of an absent subject is rejected, writes
// nothing and still consumes its revision; the set survives a reopen (the
// cache is reloaded) and a backup restored into another store.
func TestSuspensionsAtRevisions(t *testing.T) {
	dir := t.TempDir()
	st := openAt(t, testConfig(dir))
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	until := now.Add(time.Hour)
	sub := func(s string) tuple.SubjectRef {
		r, err := tuple.ParseSubject(s)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	batches := []storage.Batch{
		{Updates: []tuple.Update{{Op: tuple.OpTouch, Relationship: tuple.MustParse("doc:a#reader@user:eve")}}},
		{Suspend: &storage.SuspensionChange{Suspension: tuple.Suspension{Subject: sub("user:eve"), Reason: "r", Since: now}}},
		{Suspend: &storage.SuspensionChange{Suspension: tuple.Suspension{Subject: sub("team:ml#member"), Reason: "r", Since: now, Until: &until}}},
		{Updates: []tuple.Update{{Op: tuple.OpTouch, Relationship: tuple.MustParse("doc:b#reader@user:bob")}}},
		{Suspend: &storage.SuspensionChange{Suspension: tuple.Suspension{Subject: sub("user:eve")}, Remove: true}},
	}
	for i, b := range batches {
		if _, err := st.Apply(uint64(i+1), b); err != nil {
			t.Fatalf("revision %d: %v", i+1, err)
		}
	}
	_, err := st.Apply(6, storage.Batch{Suspend: &storage.SuspensionChange{Suspension: tuple.Suspension{Subject: sub("user:bob")}, Remove: true}})
	if !errors.Is(err, storage.ErrNotSuspended) || st.AppliedRevision() != 6 {
		t.Fatalf("unsuspend of bob: %v (applied %d), want ErrNotSuspended at revision 6", err, st.AppliedRevision())
	}
	want := map[uint64][]string{1: nil, 2: {"user:eve@2"}, 3: {"team:ml#member@3", "user:eve@2"}, 4: {"team:ml#member@3", "user:eve@2"}, 5: {"team:ml#member@3"}, 6: {"team:ml#member@3"}}
	check := func(st *storage.Store, what string) {
		t.Helper()
		for rev, w := range want {
			if got := suspendedAt(t, st, rev); !slices.Equal(got, w) {
				t.Errorf("%s: revision %d: %q, want %q", what, rev, got, w)
			}
		}
	}
	check(st, "written")
	sn, _ := st.Snapshot(6)
	set, _ := sn.Suspensions()
	if s, ok := set.Lookup(sub("team:ml#member"), now); !ok || s.Until == nil || !s.Until.Equal(until) {
		t.Errorf("team:ml#member at now: %+v %v, want its until", s, ok)
	}
	if _, ok := set.Lookup(sub("team:ml#member"), until); ok {
		t.Error("a suspension is still in force at its until")
	}
	var backup bytes.Buffer
	if _, err := st.Backup(&backup); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	reopened := openAt(t, testConfig(dir))
	if got := suspendedAt(t, reopened, 6); !slices.Equal(got, want[6]) {
		t.Errorf("reopened: %q, want %q", got, want[6])
	}
	other := openAt(t, testConfig(t.TempDir()))
	if err := other.Restore(&backup); err != nil {
		t.Fatal(err)
	}
	if got := suspendedAt(t, other, other.AppliedRevision()); !slices.Equal(got, want[6]) {
		t.Errorf("restored: %q, want %q", got, want[6])
	}
}
