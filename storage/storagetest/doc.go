// Package storagetest is the conformance suite for storage.Store: every
// behaviour the rest of Trellis relies on (atomic batches, exact snapshots,
// expiration, filtered reads and cursors, change feed, schema versions,
// extras, GC horizon, backup and restore), run against a store the caller
// opens.
package storagetest
