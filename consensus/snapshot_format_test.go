package consensus

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/trellis-authz/trellis/storage"
	"github.com/trellis-authz/trellis/tuple"
)

// memorySink is a raft.SnapshotSink over a buffer.
type memorySink struct{ bytes.Buffer }

func (*memorySink) ID() string    { return "test" }
func (*memorySink) Cancel() error { return nil }
func (*memorySink) Close() error  { return nil }

// fsmOver opens a store in a temporary directory, applies one touch of r at
// rev and returns a state machine over it.
func fsmOver(t *testing.T, rev uint64, r string) (*fsm, *storage.Store) {
	t.Helper()
	cfg := storage.DefaultConfig(filepath.Join(t.TempDir(), "badger"))
	cfg.Logger = testLogger()
	st, err := storage.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	b := storage.Batch{Updates: []tuple.Update{{Op: tuple.OpTouch, Relationship: rel(r)}}}
	if _, err := st.Apply(rev, b); err != nil {
		t.Fatal(err)
	}
	back := FromStorage(st)
	a := &applier{store: back, compile: compileSchema, log: testLogger()}
	f, err := newFSM(a, back, back, testLogger(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return f, st
}

// TestSnapshotNewerFormatRefused: a raft snapshot whose header names a newer
// on-disk format is refused with both versions named, before the store is
// touched; the same snapshot with the current version restores.
func TestSnapshotNewerFormatRefused(t *testing.T) {
	src, _ := fsmOver(t, 7, "dataset:new#reader@user:bob")
	snap, err := src.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var sink memorySink
	if err := snap.Persist(&sink); err != nil {
		t.Fatal(err)
	}
	current := sink.Bytes()
	line := fmt.Sprintf("TRELLIS-SNAPSHOT v%d\n", storage.FormatVersion)
	if !bytes.HasPrefix(current, []byte(line)) {
		t.Fatalf("snapshot header: got %q, want %q", current[:min(len(current), 24)], line)
	}
	newer := append([]byte(fmt.Sprintf("TRELLIS-SNAPSHOT v%d\n", storage.FormatVersion+1)), current[len(line):]...)

	dst, st := fsmOver(t, 3, "dataset:old#reader@user:ann")
	err = dst.Restore(io.NopCloser(bytes.NewReader(newer)))
	if !errors.Is(err, storage.ErrFormatVersion) {
		t.Fatalf("restore of a newer snapshot: got %v, want storage.ErrFormatVersion", err)
	}
	for _, want := range []string{fmt.Sprintf("raft snapshot has on-disk format version %d", storage.FormatVersion+1), fmt.Sprintf("supports only version %d", storage.FormatVersion), "upgrade this node"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if got := st.AppliedRevision(); got != 3 {
		t.Fatalf("store revision after the refused restore: got %d, want 3", got)
	}
	if !has(t, st, "dataset:old#reader@user:ann") || has(t, st, "dataset:new#reader@user:bob") {
		t.Fatal("the refused snapshot changed the store")
	}
	if got := dst.restores.Load(); got != 0 {
		t.Fatalf("restores counted: got %d, want 0", got)
	}

	if err := dst.Restore(io.NopCloser(bytes.NewReader(current))); err != nil {
		t.Fatalf("restore of the current snapshot: %v", err)
	}
	if got := st.AppliedRevision(); got != 7 || !has(t, st, "dataset:new#reader@user:bob") {
		t.Fatalf("after restoring the current snapshot: revision %d, want 7 with the new relationship", got)
	}
}

func TestSnapshotBadHeader(t *testing.T) {
	dst, st := fsmOver(t, 3, "dataset:old#reader@user:ann")
	for name, data := range map[string]string{
		"other program": "SOMETHING ELSE\n",
		"no version":    "TRELLIS-SNAPSHOT v\n" + strings.Repeat("\x00", 16),
		"version 0":     "TRELLIS-SNAPSHOT v0\n" + strings.Repeat("\x00", 16),
		"empty":         "",
	} {
		if err := dst.Restore(io.NopCloser(strings.NewReader(data))); err == nil {
			t.Errorf("%s: restore accepted %q", name, data)
		}
	}
	if got := st.AppliedRevision(); got != 3 {
		t.Fatalf("store revision after refused restores: got %d, want 3", got)
	}
}

var _ raft.SnapshotSink = (*memorySink)(nil)
