package engine

import (
	"hash/maphash"
	"slices"
	"sync/atomic"

	"github.com/trellis-authz/trellis/tuple"
)

// Changes records, for the store an engine reads, the newest revision at which
// each thing the engine reads changed. With it the engine's cache keeps a
// sub-problem's result across revisions: the result stays valid for as long
// as nothing its evaluation read has changed. Without it a result is valid
// only at the revision it was computed at, and every write empties the cache
// in effect (every check after it misses).
//
// The engine reads three kinds of things, and a written relationship
// resource#relation@subject changes the ones it belongs to:
//
//   - one exact relationship (resource#relation@subject, also for subject
//     user:*): a check's direct lookup;
//   - the subject sets of resource#relation: what a check follows into groups;
//   - all subjects of resource#relation: what an arrow follows;
//   - every relationship naming one subject, and every subject-set
//     relationship anywhere: what an answer from the nested-group index
//     (GroupIndex) read.
//
// So granting dataset:d#reader to one user does not disturb cached checks of
// other users on dataset:d, unless they went through the relation's subject
// sets and the grant was to a subject set.
//
// Sets are hashed into two tables of slots, each slot keeping the newest
// revision of any set that maps to it (a count-min sketch with max instead of
// sum). A set changed after a revision only if its slots in both tables did:
// its own change raised both, so a change is never missed, and an unrelated
// set that shares one slot no longer makes the cache forget a result early
// unless another one also shares the other slot. Under ~900 writes/s on three
// nodes, one table of 256 Ki slots made about one cached check in five miss
// for an unrelated write; two tables of that size, about one in a thousand
// (bench/RESULTS.md, "change index with two tables").
//
// The contract with the store: recording a revision's changes (Record,
// RecordRevision, RecordBulk or RecordAll) returns before any reader can open
// that revision. storage.Store.SetChangeHook
// is called at that point.
type Changes struct {
	seed  maphash.Seed
	slots [2][]atomic.Uint64 // indexed by the key's low and its high 32 bits
	mask  uint64
	all   atomic.Uint64 // newest revision that changed everything (schema, restore)
	// epoch counts RecordAll calls: a result computed in an older epoch is
	// never reused, even at its own revision (a restore may replace the
	// state a revision number stood for).
	epoch atomic.Uint64
}

// DefaultChangeSlots is the slot count NewChanges uses for 0: 256 Ki slots
// in each table, 4 MiB in all.
const DefaultChangeSlots = 1 << 18

// NewChanges returns a change index with at least slots slots in each table
// (rounded up to a power of two; 0 means DefaultChangeSlots; the second table
// uses 32 bits of a key, so more than 2^32 slots add nothing). Every slot
// starts at floor, the revision the store is at: nothing is known of changes
// before it, so no result computed below it is reused.
func NewChanges(slots int, floor uint64) *Changes {
	if slots <= 0 {
		slots = DefaultChangeSlots
	}
	n := 1
	for n < slots {
		n <<= 1
	}
	c := &Changes{seed: maphash.MakeSeed(), mask: uint64(n - 1)}
	c.slots[0] = make([]atomic.Uint64, n)
	c.slots[1] = make([]atomic.Uint64, n)
	c.all.Store(floor)
	return c
}

// Record notes that relationship r was written or deleted at rev.
func (c *Changes) Record(rev uint64, r tuple.Relationship) {
	c.raiseKey(c.exactKey(r.Resource, r.Relation, r.Subject), rev)
	c.raiseKey(c.setKey(kindAll, r.Resource, r.Relation), rev)
	c.raiseKey(c.subjectKey(r.Subject), rev)
	if r.Subject.Relation != "" {
		c.raiseKey(c.setKey(kindSubjectSets, r.Resource, r.Relation), rev)
		c.raiseKey(c.groupsKey(), rev)
	}
}

// raiseKey records a change of the set with key k at rev, in both tables.
func (c *Changes) raiseKey(k, rev uint64) {
	raise(&c.slots[0][k&c.mask], rev)
	raise(&c.slots[1][(k>>32)&c.mask], rev)
}

// changedAfter reports whether the set with key k may have changed after rev:
// its slots in both tables are newer.
func (c *Changes) changedAfter(k, rev uint64) bool {
	return c.slots[0][k&c.mask].Load() > rev && c.slots[1][(k>>32)&c.mask].Load() > rev
}

// RecordAll notes that anything may have changed at rev: a schema change, or
// a store restored from a backup.
func (c *Changes) RecordAll(rev uint64) {
	raise(&c.all, rev)
	c.epoch.Add(1)
}

// BulkChangeThreshold is the number of changed relationships above which
// RecordRevision records a revision with RecordBulk: more than the largest
// write the API takes by default (MaxUpdatesPerWrite, 1,000), so with default
// settings only import chunks take it.
const BulkChangeThreshold = 1000

// RecordRevision records the n relationships written or deleted at rev
// (rel(i) is the i-th): one by one, or with RecordBulk when there are more
// than BulkChangeThreshold of them.
func (c *Changes) RecordRevision(rev uint64, n int, rel func(i int) tuple.Relationship) {
	if n > BulkChangeThreshold {
		c.RecordBulk(rev)
		return
	}
	for i := range n {
		c.Record(rev, rel(i))
	}
}

// RecordBulk notes that so many relationships changed at rev that every set
// is treated as changed: results computed before rev are recomputed. It costs
// one store where Record per relationship costs several cache misses, which
// an import chunk of thousands of relationships pays on the path every chunk
// waits for. Unlike RecordAll it keeps results computed at rev or later.
func (c *Changes) RecordBulk(rev uint64) {
	raise(&c.all, rev)
}

func raise(v *atomic.Uint64, rev uint64) {
	for {
		old := v.Load()
		if old >= rev || v.CompareAndSwap(old, rev) {
			return
		}
	}
}

// What a key names (see Changes).
const (
	kindExact       byte = 'e'
	kindAll         byte = 'a'
	kindSubjectSets byte = 's'
	kindSubject     byte = 'u' // every relationship naming one subject
	kindGroups      byte = 'g' // every subject-set relationship: the nested-group index
)

// subjectKey hashes "the relationships naming subj": what a check answered
// from the nested-group index read of the subject.
func (c *Changes) subjectKey(subj tuple.SubjectRef) uint64 {
	var h maphash.Hash
	h.SetSeed(c.seed)
	h.WriteByte(kindSubject)
	writeSubject(&h, subj)
	return h.Sum64()
}

// groupsKey hashes "the nested-group index": any subject-set relationship
// written or deleted changes it.
func (c *Changes) groupsKey() uint64 {
	var h maphash.Hash
	h.SetSeed(c.seed)
	h.WriteByte(kindGroups)
	return h.Sum64()
}

// setKey hashes a part of resource#relation: all its subjects (kindAll) or
// its subject sets (kindSubjectSets).
func (c *Changes) setKey(kind byte, res tuple.ObjectRef, rel string) uint64 {
	var h maphash.Hash
	h.SetSeed(c.seed)
	h.WriteByte(kind)
	writeSet(&h, res, rel)
	return h.Sum64()
}

// exactKey hashes one relationship.
func (c *Changes) exactKey(res tuple.ObjectRef, rel string, subj tuple.SubjectRef) uint64 {
	var h maphash.Hash
	h.SetSeed(c.seed)
	h.WriteByte(kindExact)
	writeSet(&h, res, rel)
	h.WriteByte(0)
	writeSubject(&h, subj)
	return h.Sum64()
}

func writeSubject(h *maphash.Hash, subj tuple.SubjectRef) {
	h.WriteString(subj.Type)
	h.WriteByte(0)
	h.WriteString(subj.ID)
	h.WriteByte(0)
	h.WriteString(subj.Relation)
}

func writeSet(h *maphash.Hash, res tuple.ObjectRef, rel string) {
	h.WriteString(res.Type)
	h.WriteByte(0)
	h.WriteString(res.ID)
	h.WriteByte(0)
	h.WriteString(rel)
}

// unchangedSince reports whether no set in deps (keys from setKey and
// exactKey) changed after rev, up to the newest revision recorded.
func (c *Changes) unchangedSince(deps []uint64, rev uint64) bool {
	if c.all.Load() > rev {
		return false
	}
	for _, d := range deps {
		if c.changedAfter(d, rev) {
			return false
		}
	}
	return true
}

// maxDeps bounds the keys one cached result remembers; a result that read
// more is kept for its own revision only.
const maxDeps = 256

// deps collects the Changes keys of what one sub-problem read, its own reads and
// those of every sub-problem below it. Branches of a sub-problem may run
// concurrently, so it is guarded by its pathNode's mutex.
type deps struct {
	keys  []uint64
	exact bool // read something Changes does not track: valid at its revision only
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
