// Package storage is Trellis's tuple store: Badger in managed mode, where every
// write batch commits at its revision (the raft log index) and every read
// happens at a revision, so a snapshot at any retained revision is exact and
// costs nothing to keep.
//
// # Writes
//
// Store.Apply(rev, batch) runs one Badger transaction read at the applied
// revision and committed with CommitAt(rev): preconditions are evaluated
// against the state before the batch, then creates/touches/deletes in order,
// then the delete-by-filter, then the schema, the Finish hook's extras, the
// change record and the applied index. Either all of it commits or none of it
// does. A batch at or below the applied revision is skipped, so replaying the
// raft log after a restart is harmless. Rejections that depend only on the
// batch and the state (failed precondition, create of an existing
// relationship, limit exceeded, duplicate, invalid or oversized batch) write no
// data but still consume the revision, so every replica and every replay
// agrees. Apply never reads the wall clock; Batch.Now carries the leader's time
// for judging expirations.
//
// # Key layout
//
// IDs and names cannot contain 0x00 (tuple validates them), so 0x00 separates
// fields and key order is field order:
//
//	t\x00 restype \x00 resid \x00 relation \x00 subtype \x00 subid \x00 subrel   forward index → value
//	r\x00 subtype \x00 subid \x00 subrel \x00 restype \x00 relation \x00 resid   reverse index → value
//	c\x00 be64(revision)                                                         change record
//	m\x00schema          schema record (revision written, hash, text)
//	m\x00applied         be64 applied revision
//	m\x00horizon         be64 GC horizon
//	m\x00changes_horizon be64 first revision the change feed still holds
//	m\x00format          be64 on-disk format version (FormatVersion; absent = 1)
//	x\x00 key            extras written by Batch.Finish (audit log, idempotency keys)
//	e\x00 A \x00 B        nested-group index: subject-set edge A@B (A, B = type \x00 id \x00 relation)
//	h\x00 B              nested-group index: be64 count of edges naming B
//	g\x00 A \x00 D        nested-group index: D is inside A (A held by some set) → clean flag
//	G\x00 D \x00 A        the same pair from below
//	m\x00group_index     be64 revision from which the nested-group index is complete
//	s\x00 subject       a suspended subject's record (suspend.go)
//	m\x00suspensions     be64 revision of the last suspend or unsuspend
//
// Exact lookups are one Get on the forward key; object#relation → subjects is a
// prefix scan of the forward index; subject → objects of a type via a relation
// is a prefix scan of the reverse index. Filtered reads choose the index whose
// prefix the filter pins down furthest and check every key against the filter.
// Cursors are the last key returned, so pages are stable at a revision.
//
// # Nested-group index
//
// Apply keeps, in the batch's own transaction, the transitive closure of
// subject-set relationships for every subject set that is a member of some
// set (team:t#member in team:u#member or in dataset:d#reader): which sets
// lie inside it at any depth, and whether a path without caveats or
// expirations joins them (ADR 0010). Snapshot.GroupCovers, GroupContains and
// GroupAncestors read it at the snapshot's revision; GroupIndexed says
// whether it is complete there. It is rebuilt from the relationships at
// Open of a store that lacks it and after Restore (whose backup's index
// keys are skipped). Store.GroupIndexStats reports its size and update cost.
//
// # Values
//
// A plain relationship has an empty value. Otherwise the value is a flags byte
// (1 caveat, 2 expiration), the expiration as varint Unix seconds and uvarint
// nanoseconds, and the caveat as a length-prefixed name and a context: sorted
// keys, each with a tagged value (null, bool, int64, float64, string, list,
// object). The same flags are stored in Badger's per-entry user-meta byte, so
// scans decode a value only when there is something in it. Expired
// relationships stay stored until deleted and read as absent: a Snapshot
// judges expiration at Config.Clock's time when it was opened.
//
// # GC horizon
//
// Old versions are kept above the GC horizon: Badger's discard timestamp is the
// horizon, and compaction keeps, for each key, every version above it and the
// newest one at or below it — exactly what reads at revisions >= horizon need.
// Below the horizon Badger silently answers "not found" once it has compacted,
// which could turn a dropped exclusion into an allow; so the store refuses
// Snapshot(rev < horizon) with ErrSnapshotExpired, and every read re-checks
// after reading that the horizon has not passed its snapshot in the meantime.
// The horizon moves to applied-GCWindow on each Apply (or by SetGCHorizon), is
// persisted before Badger may discard below it, and never moves down. Change
// records below the horizon are deleted, a bounded number per Apply; Changes
// from below the change-feed horizon fails with ErrSnapshotExpired.
//
// # Durability
//
// With Config.SyncWrites (the default) Apply returns only after Badger has
// fsynced the write-ahead log, so an acknowledged batch survives a crash and a
// power loss; a batch interrupted by a crash is absent as a whole (Badger
// replays only complete transactions). Backup streams the newest version of
// every live key at a revision (NewStreamAt) with a CRC-32C trailer; Restore
// drops everything and loads it at the backup's revision, guarded by a marker
// file so a restore interrupted by a crash leaves an empty store, never a
// partial one.
//
// # Format version
//
// FormatVersion names the key layout, the value encoding and the backup
// stream. Open reads m\x00format before anything else and refuses a newer
// version with ErrFormatVersion (a store without the key predates versions, is
// version 1 and gets the key); a backup's header carries the version and
// Restore refuses a newer one before it drops anything. CheckFormatVersion is
// the rule, also used by consensus for raft snapshots. How a later change
// migrates: docs/adr/0008-on-disk-format-version.md.
package storage
