package engine

import (
	"hash/maphash"
	"slices"
	"sync/atomic"
)

// Changes records, for the store an engine reads, the newest revision at which
// each relationship set (resource#relation) changed. With it the engine's
// cache keeps a sub-problem's result across revisions: the result stays valid
// for as long as none of the sets its evaluation read has changed. Without it
// a result is valid only at the revision it was computed at, and every write
// empties the cache in effect (every check after it misses).
//
// Sets are hashed into a fixed number of slots that keep the newest revision
// of any set that maps to them; two sets sharing a slot only make the cache
// forget a result early, never keep a stale one.
//
// The contract with the store: Record (or RecordAll) for a revision's changes
// returns before any reader can open that revision. storage.Store.SetChangeHook
// is called at that point.
type Changes struct {
	seed  maphash.Seed
	slots []atomic.Uint64
	mask  uint64
	all   atomic.Uint64 // newest revision that changed everything (schema, restore)
	// epoch counts RecordAll calls: a result computed in an older epoch is
	// never reused, even at its own revision (a restore may replace the
	// state a revision number stood for).
	epoch atomic.Uint64
}

// DefaultChangeSlots is the slot count NewChanges uses for 0: 256 Ki slots,
// 2 MiB.
const DefaultChangeSlots = 1 << 18

// NewChanges returns a change index with at least slots slots (rounded up to a
// power of two; 0 means DefaultChangeSlots). Every slot starts at floor, the
// revision the store is at: nothing is known of changes before it, so no
// result computed below it is reused.
func NewChanges(slots int, floor uint64) *Changes {
	if slots <= 0 {
		slots = DefaultChangeSlots
	}
	n := 1
	for n < slots {
		n <<= 1
	}
	c := &Changes{seed: maphash.MakeSeed(), slots: make([]atomic.Uint64, n), mask: uint64(n - 1)}
	c.all.Store(floor)
	return c
}

// Record notes that resourceType:resourceID#relation changed at rev.
func (c *Changes) Record(rev uint64, resourceType, resourceID, relation string) {
	raise(&c.slots[c.key(resourceType, resourceID, relation)&c.mask], rev)
}

// RecordAll notes that anything may have changed at rev: a schema change, or
// a store restored from a backup.
func (c *Changes) RecordAll(rev uint64) {
	raise(&c.all, rev)
	c.epoch.Add(1)
}

func raise(v *atomic.Uint64, rev uint64) {
	for {
		old := v.Load()
		if old >= rev || v.CompareAndSwap(old, rev) {
			return
		}
	}
}

// key hashes one relationship set.
func (c *Changes) key(resourceType, resourceID, relation string) uint64 {
	var h maphash.Hash
	h.SetSeed(c.seed)
	h.WriteString(resourceType)
	h.WriteByte(0)
	h.WriteString(resourceID)
	h.WriteByte(0)
	h.WriteString(relation)
	return h.Sum64()
}

// unchangedSince reports whether no set in deps (keys from key) changed after
// rev, up to the newest revision recorded.
func (c *Changes) unchangedSince(deps []uint64, rev uint64) bool {
	if c.all.Load() > rev {
		return false
	}
	for _, d := range deps {
		if c.slots[d&c.mask].Load() > rev {
			return false
		}
	}
	return true
}

// maxDeps bounds the sets one cached result remembers; a result that read
// more is kept for its own revision only.
const maxDeps = 256

// deps collects the relationship sets one sub-problem read, its own reads and
// those of every sub-problem below it. Branches of a sub-problem may run
// concurrently, so it is guarded.
type deps struct {
	keys  []uint64
	exact bool // read something not tracked by set: valid at its revision only
}

// compact sorts and deduplicates the keys and clips the slice, so that
// appending to a stored copy never writes into it; past maxDeps the result
// becomes exact.
func (d *deps) compact() {
	slices.Sort(d.keys)
	d.keys = slices.Clip(slices.Compact(d.keys))
	if len(d.keys) > maxDeps {
		d.keys, d.exact = nil, true
	}
}
