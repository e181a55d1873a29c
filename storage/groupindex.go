package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"maps"
	"strings"
	"sync/atomic"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/trellis-authz/trellis/tuple"
)

// The nested-group index (ADR 0010) keeps, for every subject set A = T:id#rel
// that holds other subject sets, the transitive closure of "B is inside A"
// over subject-set relationships A@B:
//
//	e\x00 A \x00 B   a subject-set relationship T:id#rel@B (one edge)
//	g\x00 A \x00 D   D is inside A at some depth (down closure)
//	G\x00 D \x00 A   the same pair from below (up closure: all groups of D)
//
//	h\x00 B          be64 count of the edges naming B as their subject set
//	                 and be64 count of the edges from B
//
// where A, B and D are encoded as type \x00 id \x00 relation. Closures are
// kept only for sets that are themselves members of some set (h > 0), such
// as team#member; a set nothing holds (dataset:d#reader) has none, and the
// engine's walk takes the step from it to the sets it holds. Each value is one
// byte: 1 when the pair is joined by a path of clean edges (no caveat, no
// expiration), 0 when every path has a caveated or expiring edge. Wildcard
// subject sets (T:*#rel) are not edges: the engine never follows them.
//
// The index is written in the Apply transaction of the write that changes it,
// so a snapshot reads it as of its revision. m\x00group_index holds the
// revision from which it is complete (the store's first revision, or the one
// of the last rebuild: opening a store that lacks it, a restore); a snapshot
// below that revision does not use it.
const (
	pfxGroupEdge = "e\x00"
	pfxGroupDown = "g\x00"
	pfxGroupUp   = "G\x00"
	pfxGroupUsed = "h\x00"
)

var keyGroupIndex = []byte(pfxMeta + "group_index")

// isGroupIndexKey reports whether k belongs to the nested-group index (which
// a restore rebuilds instead of loading).
func isGroupIndexKey(k []byte) bool {
	for _, p := range []string{pfxGroupEdge, pfxGroupDown, pfxGroupUp, pfxGroupUsed} {
		if bytes.HasPrefix(k, []byte(p)) {
			return true
		}
	}
	return bytes.Equal(k, keyGroupIndex)
}

// GroupIndexStats reports the nested-group index's size and update cost.
type GroupIndexStats struct {
	Pairs        int64         // closure pairs (each stored twice, down and up)
	Updates      uint64        // Apply calls that changed a subject-set edge
	PairsWritten uint64        // closure keys written or deleted by them
	UpdateTime   time.Duration // time they spent on the index
	Rebuilds     uint64        // full rebuilds (open of an older store, restore)
}

type groupIndexCounters struct {
	pairs, updates, written, nanos, rebuilds atomic.Int64
}

// GroupIndexStats returns the index's counters since Open.
func (s *Store) GroupIndexStats() GroupIndexStats {
	c := &s.gidx
	return GroupIndexStats{Pairs: c.pairs.Load(), Updates: uint64(c.updates.Load()), PairsWritten: uint64(c.written.Load()),
		UpdateTime: time.Duration(c.nanos.Load()), Rebuilds: uint64(c.rebuilds.Load())}
}

// GroupIndexSize returns the bytes (keys and values, as stored before
// compression) of the index and of the relationships (both their keys) at
// the applied revision. It scans both, so it is for benchmarks and
// diagnostics, not for a metrics scrape.
func (s *Store) GroupIndexSize() (index, relationships uint64) {
	txn := s.db.NewTransactionAt(s.applied.Load(), false)
	defer txn.Discard()
	size := func(pfx string) uint64 {
		p := []byte(pfx)
		it := txn.NewIterator(badger.IteratorOptions{Prefix: p})
		defer it.Close()
		var n uint64
		for it.Seek(p); it.ValidForPrefix(p); it.Next() {
			item := it.Item()
			n += uint64(len(item.Key())) + uint64(item.ValueSize())
		}
		return n
	}
	for _, p := range []string{pfxGroupEdge, pfxGroupDown, pfxGroupUp, pfxGroupUsed} {
		index += size(p)
	}
	for _, p := range []string{pfxForward, pfxReverse} {
		relationships += size(p)
	}
	return index, relationships
}

// node is a subject set, encoded as type \x00 id \x00 relation.
type node string

func setNode(typ, id, rel string) node { return node(typ + "\x00" + id + "\x00" + rel) }

func (n node) subject() tuple.SubjectRef {
	f := strings.SplitN(string(n), "\x00", 3)
	if len(f) != 3 {
		return tuple.SubjectRef{}
	}
	return tuple.SubjectRef{Type: f[0], ID: f[1], Relation: f[2]}
}

// edgeOf returns the edge a relationship makes, if it is a subject-set one.
func edgeOf(r *tuple.Relationship) (parent, child node, clean, ok bool) {
	if r.Subject.Relation == "" || r.Subject.ID == tuple.Wildcard {
		return "", "", false, false
	}
	return setNode(r.Resource.Type, r.Resource.ID, r.Relation), setNode(r.Subject.Type, r.Subject.ID, r.Subject.Relation),
		r.Caveat == nil && r.Expiration == nil, true
}

func pairKey(pfx string, a, b node) []byte {
	k := make([]byte, 0, len(pfx)+len(a)+len(b)+1)
	return append(append(append(append(k, pfx...), a...), sep), b...)
}

func flag(clean bool) []byte {
	if clean {
		return []byte{1}
	}
	return []byte{0}
}

// scanPairs reads the pairs under pfx+a from txn: the other node and its flag.
func scanPairs(txn *badger.Txn, pfx string, a node) (map[node]bool, error) {
	p := pairKey(pfx, a, "")
	it := txn.NewIterator(badger.IteratorOptions{Prefix: p, PrefetchValues: false})
	defer it.Close()
	out := map[node]bool{}
	for it.Seek(p); it.ValidForPrefix(p); it.Next() {
		item := it.Item()
		clean := false
		if err := item.Value(func(v []byte) error { clean = len(v) == 1 && v[0] == 1; return nil }); err != nil {
			return nil, err
		}
		out[node(item.Key()[len(p):])] = clean
	}
	return out, nil
}

// closure computes the down closure of a over edges(n): every node below a,
// flagged clean when a path of clean edges reaches it.
func closure(a node, edges func(node) (map[node]bool, error)) (map[node]bool, error) {
	out := map[node]bool{}
	queue := []node{a}
	for len(queue) > 0 { // every path, clean or not
		n := queue[0]
		queue = queue[1:]
		kids, err := edges(n)
		if err != nil {
			return nil, err
		}
		for c := range kids {
			if _, ok := out[c]; !ok {
				out[c] = false
				queue = append(queue, c)
			}
		}
	}
	seen := map[node]bool{a: true}
	queue = append(queue, a)
	for len(queue) > 0 { // clean paths only
		n := queue[0]
		queue = queue[1:]
		kids, _ := edges(n) // memoized by the caller: no error the first pass did not give
		for c, clean := range kids {
			if clean && !seen[c] {
				seen[c] = true
				out[c] = true
				queue = append(queue, c)
			}
		}
	}
	return out, nil
}

// groupUpdate maintains the index for one Apply: base reads the store before
// the batch; overlay holds the batch's edge changes (nil: deleted).
type groupUpdate struct {
	base    *badger.Txn
	overlay map[node]map[node]*bool
	memo    map[node]map[node]bool
	before  map[node]counts // h of the changed edges' ends before the batch
	after   map[node]counts // and after it
}

// counts is the value of h\x00 B: the edges naming B as their subject set
// (holders: B keeps a closure when there are any) and the edges from B
// (kids: B holds no set when there are none).
type counts struct{ holders, kids uint64 }

func usedKey(n node) []byte { return append([]byte(pfxGroupUsed), n...) }

func (c counts) encode() []byte {
	return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, c.holders), c.kids)
}

func decodeCounts(v []byte) counts {
	if len(v) != 16 {
		return counts{}
	}
	return counts{holders: binary.BigEndian.Uint64(v), kids: binary.BigEndian.Uint64(v[8:])}
}

func readCounts(txn *badger.Txn, n node) (counts, error) {
	item, err := txn.Get(usedKey(n))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return counts{}, nil
	}
	if err != nil {
		return counts{}, err
	}
	var c counts
	err = item.Value(func(v []byte) error { c = decodeCounts(v); return nil })
	return c, err
}

// covered reports whether n keeps a closure after the batch.
func (u *groupUpdate) covered(n node) (bool, error) {
	if c, ok := u.after[n]; ok {
		return c.holders > 0, nil
	}
	c, err := readCounts(u.base, n)
	return c.holders > 0, err
}

// count works out, from the batch's final edge states, the counts of every
// end of a changed edge before and after the batch, and writes the new ones.
func (u *groupUpdate) count(txn *badger.Txn) error {
	u.before, u.after = map[node]counts{}, map[node]counts{}
	load := func(n node) error {
		if _, ok := u.before[n]; ok {
			return nil
		}
		c, err := readCounts(u.base, n)
		u.before[n], u.after[n] = c, c
		return err
	}
	for parent, kids := range u.overlay {
		if err := load(parent); err != nil {
			return err
		}
		for child, st := range kids {
			if err := load(child); err != nil {
				return err
			}
			_, err := u.base.Get(pairKey(pfxGroupEdge, parent, child))
			existed := err == nil
			if err != nil && !errors.Is(err, badger.ErrKeyNotFound) {
				return err
			}
			p, c := u.after[parent], u.after[child]
			switch {
			case existed && st == nil:
				p.kids--
				u.after[parent] = p
				c = u.after[child] // parent and child may be one set
				c.holders--
				u.after[child] = c
			case !existed && st != nil:
				p.kids++
				u.after[parent] = p
				c = u.after[child]
				c.holders++
				u.after[child] = c
			}
		}
	}
	for n, c := range u.after {
		if c == u.before[n] {
			continue
		}
		var err error
		if c == (counts{}) {
			err = txn.Delete(usedKey(n))
		} else {
			err = txn.Set(usedKey(n), c.encode())
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (u *groupUpdate) edges(n node) (map[node]bool, error) {
	if m, ok := u.memo[n]; ok {
		return m, nil
	}
	m, err := scanPairs(u.base, pfxGroupEdge, n)
	if err != nil {
		return nil, err
	}
	for c, st := range u.overlay[n] {
		if st == nil {
			delete(m, c)
		} else {
			m[c] = *st
		}
	}
	u.memo[n] = m
	return m, nil
}

// stageGroupIndex updates the index for the batch's changes inside txn. The
// groups whose closure may change are the parents of changed edges and every
// group above them before the batch (a group that a new edge puts above a
// changed parent is itself the parent of a changed edge); each is recomputed
// from the edges after the batch and only the difference is written.
func (s *Store) stageGroupIndex(txn *badger.Txn, applied uint64, changes []Change) error {
	var u *groupUpdate
	start := time.Now()
	for i := range changes {
		c := &changes[i]
		parent, child, clean, ok := edgeOf(&c.Relationship)
		if !ok {
			continue
		}
		if u == nil {
			u = &groupUpdate{base: s.db.NewTransactionAt(applied, false), overlay: map[node]map[node]*bool{}, memo: map[node]map[node]bool{}}
			defer u.base.Discard()
		}
		if u.overlay[parent] == nil {
			u.overlay[parent] = map[node]*bool{}
		}
		k := pairKey(pfxGroupEdge, parent, child)
		if c.Op == tuple.OpDelete {
			u.overlay[parent][child] = nil
			if err := txn.Delete(k); err != nil {
				return err
			}
		} else {
			u.overlay[parent][child] = &clean
			if err := txn.Set(k, flag(clean)); err != nil {
				return err
			}
		}
	}
	if u == nil {
		return nil
	}
	if err := u.count(txn); err != nil {
		return err
	}
	var written, delta int64
	if parent, child, clean, ok := u.singleAdd(); ok {
		var err error
		if written, delta, err = u.addEdge(txn, parent, child, clean); err != nil {
			return err
		}
		s.gidxPending = groupPending{delta: delta, written: written, nanos: int64(time.Since(start))}
		return nil
	}
	todo := map[node]bool{}
	for n, c := range u.after {
		if (c.holders > 0) != (u.before[n].holders > 0) {
			todo[n] = true // gains or loses its closure
		}
	}
	for parent := range u.overlay {
		if u.before[parent].holders == 0 && u.after[parent].holders == 0 {
			// Nothing holds parent, before or after: it has no closure and
			// nothing above it (dataset:d#reader).
			continue
		}
		todo[parent] = true
		up, err := scanPairs(u.base, pfxGroupUp, parent)
		if err != nil {
			return err
		}
		for a := range up {
			todo[a] = true
		}
	}
	for a := range todo {
		now := map[node]bool{}
		if ok, err := u.covered(a); err != nil {
			return err
		} else if ok {
			if now, err = closure(a, u.edges); err != nil {
				return err
			}
		}
		old, err := scanPairs(u.base, pfxGroupDown, a)
		if err != nil {
			return err
		}
		for d, clean := range now {
			if was, ok := old[d]; ok && was == clean {
				continue
			} else if !ok {
				delta++
			}
			written++
			if err := txn.Set(pairKey(pfxGroupDown, a, d), flag(clean)); err != nil {
				return err
			}
			if err := txn.Set(pairKey(pfxGroupUp, d, a), flag(clean)); err != nil {
				return err
			}
		}
		for d := range old {
			if _, ok := now[d]; ok {
				continue
			}
			written++
			delta--
			if err := txn.Delete(pairKey(pfxGroupDown, a, d)); err != nil {
				return err
			}
			if err := txn.Delete(pairKey(pfxGroupUp, d, a)); err != nil {
				return err
			}
		}
	}
	s.gidxPending = groupPending{delta: delta, written: written, nanos: int64(time.Since(start))}
	return nil
}

// singleAdd reports whether the batch changed one edge only, and added it
// (it was not stored before): the common write, which needs no recomputation.
func (u *groupUpdate) singleAdd() (parent, child node, clean, ok bool) {
	if len(u.overlay) != 1 {
		return "", "", false, false
	}
	for p, kids := range u.overlay {
		if len(kids) != 1 {
			return "", "", false, false
		}
		for c, st := range kids {
			if st == nil {
				return "", "", false, false
			}
			parent, child, clean = p, c, *st
		}
	}
	if _, err := u.base.Get(pairKey(pfxGroupEdge, parent, child)); !errors.Is(err, badger.ErrKeyNotFound) {
		return "", "", false, false // stored already (or unreadable): recompute
	}
	return parent, child, clean, true
}

// addEdge adds the pairs one new edge parent@child makes: every group at or
// above parent over every set at or below child. A pair is clean when it
// was, or when both halves and the edge are.
func (u *groupUpdate) addEdge(txn *badger.Txn, parent, child node, clean bool) (written, delta int64, err error) {
	ups, err := scanPairs(u.base, pfxGroupUp, parent)
	if err != nil {
		return 0, 0, err
	}
	if ok, err := u.covered(parent); err != nil {
		return 0, 0, err
	} else if ok {
		ups[parent] = true
	}
	var downs map[node]bool
	if u.before[child].holders == 0 {
		// The child is a member of something for the first time: its own
		// closure is new.
		if downs, err = closure(child, u.edges); err != nil {
			return 0, 0, err
		}
		for d, c := range downs {
			written++
			delta++
			if err := txn.Set(pairKey(pfxGroupDown, child, d), flag(c)); err != nil {
				return 0, 0, err
			}
			if err := txn.Set(pairKey(pfxGroupUp, d, child), flag(c)); err != nil {
				return 0, 0, err
			}
		}
		downs = maps.Clone(downs)
		delete(ups, child) // its closure, from the edges after the batch, is complete
	} else if downs, err = scanPairs(u.base, pfxGroupDown, child); err != nil {
		return 0, 0, err
	}
	downs[child] = true
	for a, upClean := range ups {
		old, err := scanPairs(u.base, pfxGroupDown, a)
		if err != nil {
			return 0, 0, err
		}
		for d, downClean := range downs {
			c := upClean && clean && downClean
			was, ok := old[d]
			if ok && (was || !c) {
				continue
			}
			if !ok {
				delta++
			}
			written++
			if err := txn.Set(pairKey(pfxGroupDown, a, d), flag(c)); err != nil {
				return 0, 0, err
			}
			if err := txn.Set(pairKey(pfxGroupUp, d, a), flag(c)); err != nil {
				return 0, 0, err
			}
		}
	}
	return written, delta, nil
}

// groupPending is what one Apply's index update counts, published after commit.
type groupPending struct{ delta, written, nanos int64 }

func (s *Store) publishGroupIndex() {
	p := s.gidxPending
	s.gidxPending = groupPending{}
	if p == (groupPending{}) {
		return
	}
	s.gidx.pairs.Add(p.delta)
	s.gidx.written.Add(p.written)
	s.gidx.nanos.Add(p.nanos)
	s.gidx.updates.Add(1)
}
