package storage

import (
	"fmt"
	"math"
)

// FormatVersion is the on-disk format this binary reads and writes: the key
// layout and value encoding in doc.go and the backup stream in backup.go. It
// is stored under m\x00format, written in every backup header and, by
// consensus, in every raft snapshot header. A binary refuses a store, backup
// or snapshot of a newer version (see CheckFormatVersion); a change to any of
// the formats bumps it and migrates older stores at Open (ADR 0008).
//
// Versions: 1, the key layout of round 1; 2, the nested-group index (ADR
// 0010) is kept in every write's transaction. A version-1 store is migrated
// at Open (its index is built there) and recorded as 2, so a binary that
// does not maintain the index refuses it instead of letting it go stale.
const FormatVersion uint64 = 2

// keyFormat holds the store's format version (be64). A store written before
// format versions existed has no such key; it is version 1, and Open records
// that.
var keyFormat = []byte(pfxMeta + "format")

// CheckFormatVersion is the one rule for a format version found in a store,
// a backup or a raft snapshot (what names it in the message): versions
// 1..FormatVersion are accepted, a newer one fails with ErrFormatVersion
// naming both versions and what to do, and 0 is corrupt.
func CheckFormatVersion(found uint64, what string) error {
	switch {
	case found == 0:
		return fmt.Errorf("%w: %s has format version 0, which no Trellis writes", ErrCorrupt, what)
	case found > FormatVersion:
		return fmt.Errorf("%w: %s has on-disk format version %d, but this Trellis binary supports only version %d (it was written by a newer release); "+
			"run a Trellis release that supports format version %d, or restore into an empty data directory a backup of format version %d taken before the upgrade (a downgrade is never done in place)",
			ErrFormatVersion, what, found, FormatVersion, found, FormatVersion)
	}
	return nil
}

// openFormat checks the store's format version before anything else is read,
// then loads the metadata. A store without the key (created before format
// versions) is version 1; an older store is migrated by Open (the group
// index is built after this) and the current version recorded, so that the
// next binary knows.
func (s *Store) openFormat() error {
	txn := s.db.NewTransactionAt(math.MaxUint64, false)
	v, ok, err := getUint(txn, keyFormat)
	txn.Discard()
	if err != nil {
		return err
	}
	if ok {
		if err := CheckFormatVersion(v, fmt.Sprintf("the store in %q", s.cfg.Dir)); err != nil {
			return err
		}
	}
	if err := s.loadMeta(); err != nil {
		return err
	}
	if ok && v == FormatVersion {
		return nil
	}
	if s.applied.Load() > 0 {
		from := "no format version (written before format versions, version 1)"
		if ok {
			from = fmt.Sprintf("format version %d", v)
		}
		s.log.Info("migrating the store to the current format version", "dir", s.cfg.Dir, "from", from, "to", FormatVersion)
	}
	return s.writeFormat()
}

// writeFormat records FormatVersion. It commits at the applied revision (at
// least 1: Badger cannot commit at timestamp 0); no snapshot reads metadata,
// so the timestamp only has to be one Badger accepts.
func (s *Store) writeFormat() error {
	ts := max(s.applied.Load(), 1)
	txn := s.db.NewTransactionAt(ts, true)
	defer txn.Discard()
	if err := txn.Set(keyFormat, be64(FormatVersion)); err != nil {
		return fmt.Errorf("storage: write format version: %w", err)
	}
	if err := txn.CommitAt(ts, nil); err != nil {
		return fmt.Errorf("storage: write format version: %w", err)
	}
	return nil
}
