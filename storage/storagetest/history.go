package storagetest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/trellis-authz/trellis/storage"
	"github.com/trellis-authz/trellis/tuple"
)

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
	// A reader overtaken by trimming learns that it missed records.
	calls := 0
	err = s.Changes(ctx, 5, func(rev uint64, _ []storage.Change, _ []byte) error {
		calls++
		if calls == 1 {
			if err := s.SetGCHorizon(7); err != nil {
				return err
			}
			mustApply(t, s, 8, storage.Batch{})
		}
		return nil
	})
	if !errors.Is(err, storage.ErrSnapshotExpired) {
		t.Errorf("Changes overtaken by trimming: got %v after %d calls, want ErrSnapshotExpired", err, calls)
	}
	// Many revisions are read across chunks, in order.
	for rev := uint64(9); rev < 9+600; rev++ {
		mustApply(t, s, rev, storage.Batch{Meta: []byte(fmt.Sprint(rev))})
	}
	got, err = read(9)
	if err != nil || len(got) != 600 {
		t.Fatalf("Changes(9): got %d records, %v; want 600", len(got), err)
	}
	for i, r := range got {
		if r.rev != uint64(9+i) {
			t.Fatalf("record %d: got revision %d, want %d", i, r.rev, 9+i)
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
