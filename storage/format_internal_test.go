package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"strings"
	"testing"

	"github.com/trellis-authz/trellis/tuple"
)

// storedFormat reads the format key as Open left it.
func storedFormat(t *testing.T, s *Store) (uint64, bool) {
	t.Helper()
	txn := s.db.NewTransactionAt(math.MaxUint64, false)
	defer txn.Discard()
	v, ok, err := getUint(txn, keyFormat)
	if err != nil {
		t.Fatal(err)
	}
	return v, ok
}

// setFormat overwrites (or, with ok false, deletes) the format key, the way a
// newer release or a release before format versions would have left it.
func setFormat(t *testing.T, s *Store, v uint64, ok bool) {
	t.Helper()
	ts := max(s.applied.Load(), 1)
	txn := s.db.NewTransactionAt(ts, true)
	defer txn.Discard()
	var err error
	if ok {
		err = txn.Set(keyFormat, be64(v))
	} else {
		err = txn.Delete(keyFormat)
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := txn.CommitAt(ts, nil); err != nil {
		t.Fatal(err)
	}
}

func touchBatch(rels ...string) Batch {
	var b Batch
	for _, r := range rels {
		b.Updates = append(b.Updates, tuple.Update{Op: tuple.OpTouch, Relationship: tuple.MustParse(r)})
	}
	return b
}

func TestOpenRecordsFormatVersion(t *testing.T) {
	s, _ := openManualGCStore(t)
	defer s.Close()
	if v, ok := storedFormat(t, s); !ok || v != FormatVersion {
		t.Fatalf("a new store's format key: got %d (present %v), want %d", v, ok, FormatVersion)
	}
}

// TestOpenStoreWithoutFormatKey: a store written before format versions (no
// key) opens as version 1, keeps its data and gets the key.
func TestOpenStoreWithoutFormatKey(t *testing.T) {
	s, cfg := openManualGCStore(t)
	if _, err := s.Apply(1, touchBatch("doc:a#viewer@user:ann")); err != nil {
		t.Fatal(err)
	}
	setFormat(t, s, 0, false)
	if _, ok := storedFormat(t, s); ok {
		t.Fatal("the format key is still there after deleting it")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(cfg)
	if err != nil {
		t.Fatalf("opening a store without a format key: %v", err)
	}
	defer s.Close()
	// Version 1 (no key) is migrated at Open and recorded as the current one.
	if v, ok := storedFormat(t, s); !ok || v != FormatVersion {
		t.Fatalf("format key after Open: got %d (present %v), want %d", v, ok, FormatVersion)
	}
	if got := s.AppliedRevision(); got != 1 {
		t.Fatalf("applied revision: got %d, want 1", got)
	}
	if !rawHas(t, s, 1, tuple.MustParse("doc:a#viewer@user:ann")) {
		t.Fatal("the relationship written before the reopen is gone")
	}
}

func TestOpenNewerFormatFails(t *testing.T) {
	s, cfg := openManualGCStore(t)
	if _, err := s.Apply(1, touchBatch("doc:a#viewer@user:ann")); err != nil {
		t.Fatal(err)
	}
	setFormat(t, s, FormatVersion+1, true)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := Open(cfg)
	if !errors.Is(err, ErrFormatVersion) {
		t.Fatalf("Open of a newer format: got %v, want ErrFormatVersion", err)
	}
	for _, want := range []string{fmt.Sprintf("format version %d", FormatVersion+1), fmt.Sprintf("supports only version %d", FormatVersion), cfg.Dir,
		fmt.Sprintf("run a Trellis release that supports format version %d", FormatVersion+1)} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

func TestCheckFormatVersion(t *testing.T) {
	for _, tc := range []struct {
		v    uint64
		want error
	}{{0, ErrCorrupt}, {1, nil}, {FormatVersion, nil}, {FormatVersion + 1, ErrFormatVersion}, {math.MaxUint64, ErrFormatVersion}} {
		err := CheckFormatVersion(tc.v, "the thing")
		if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("CheckFormatVersion(%d): got %v, want %v", tc.v, err, tc.want)
		}
	}
}

// withBackupVersion rewrites a backup's format version field and its
// checksum, so the result is a well-formed backup of another version.
func withBackupVersion(t *testing.T, backup []byte, v uint64) []byte {
	t.Helper()
	if !bytes.HasPrefix(backup, backupMagic) || backup[len(backupMagic)] != byte(FormatVersion) {
		t.Fatalf("backup does not start with the magic and version %d", FormatVersion)
	}
	out := append([]byte{}, backupMagic...)
	out = binary.AppendUvarint(out, v)
	out = append(out, backup[len(backupMagic)+1:len(backup)-4]...)
	return binary.BigEndian.AppendUint32(out, crc32.Checksum(out, castagnoli))
}

// TestRestoreNewerBackupChangesNothing: a backup of a newer format is refused
// with both versions named, and the store keeps its contents.
func TestRestoreNewerBackupChangesNothing(t *testing.T) {
	src, _ := openManualGCStore(t)
	defer src.Close()
	if _, err := src.Apply(5, touchBatch("doc:new#viewer@user:bob")); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := src.Backup(&buf); err != nil {
		t.Fatal(err)
	}

	dst, _ := openManualGCStore(t)
	defer dst.Close()
	if _, err := dst.Apply(2, touchBatch("doc:old#viewer@user:ann")); err != nil {
		t.Fatal(err)
	}

	// The rewritten backup at the current version restores: the rewrite itself
	// is faithful, so the refusal below is about the version alone.
	if err := dst.Restore(bytes.NewReader(withBackupVersion(t, buf.Bytes(), FormatVersion))); err != nil {
		t.Fatalf("restore of a re-encoded current backup: %v", err)
	}
	if !rawHas(t, dst, 5, tuple.MustParse("doc:new#viewer@user:bob")) {
		t.Fatal("the restored relationship is missing")
	}
	if _, err := dst.Apply(6, touchBatch("doc:old#viewer@user:ann")); err != nil {
		t.Fatal(err)
	}

	err := dst.Restore(bytes.NewReader(withBackupVersion(t, buf.Bytes(), FormatVersion+1)))
	if !errors.Is(err, ErrFormatVersion) {
		t.Fatalf("restore of a newer backup: got %v, want ErrFormatVersion", err)
	}
	for _, want := range []string{fmt.Sprintf("backup has on-disk format version %d", FormatVersion+1), fmt.Sprintf("supports only version %d", FormatVersion)} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if got := dst.AppliedRevision(); got != 6 {
		t.Fatalf("applied revision after the refused restore: got %d, want 6", got)
	}
	for _, r := range []string{"doc:old#viewer@user:ann", "doc:new#viewer@user:bob"} {
		if !rawHas(t, dst, 6, tuple.MustParse(r)) {
			t.Errorf("%s is gone after a refused restore", r)
		}
	}
	if v, ok := storedFormat(t, dst); !ok || v != FormatVersion {
		t.Fatalf("format key after the refused restore: got %d (present %v)", v, ok)
	}
}

// TestRestoreWritesFormatVersion: a restored store records the format even
// when the backup was of an empty store (revision 0).
func TestRestoreWritesFormatVersion(t *testing.T) {
	for _, rev := range []uint64{0, 3} {
		src, _ := openManualGCStore(t)
		if rev > 0 {
			if _, err := src.Apply(rev, touchBatch("doc:a#viewer@user:ann")); err != nil {
				t.Fatal(err)
			}
		}
		var buf bytes.Buffer
		if _, err := src.Backup(&buf); err != nil {
			t.Fatal(err)
		}
		src.Close()
		dst, _ := openManualGCStore(t)
		setFormat(t, dst, 0, false)
		if err := dst.Restore(&buf); err != nil {
			t.Fatalf("revision %d: %v", rev, err)
		}
		if v, ok := storedFormat(t, dst); !ok || v != FormatVersion {
			t.Errorf("revision %d: format key after restore: got %d (present %v), want %d", rev, v, ok, FormatVersion)
		}
		dst.Close()
	}
}
