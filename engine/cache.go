package engine

import (
	"hash/maphash"
	"sync"
	"time"

	"github.com/trellis-authz/trellis/tuple"
)

// cacheKey identifies one sub-problem: does subject have relation on resource,
// given the request context with digest ctxHash; at revision when the engine
// has no Changes (with Changes, revision is 0 and the entry says which
// revision it was computed at).
type cacheKey struct {
	revision uint64
	ctxHash  ctxDigest
	resource tuple.ObjectRef
	relation string
	subject  tuple.SubjectRef
}

// cached is a stored sub-problem result.
type cached struct {
	res     Result
	missing []string
	exp     time.Time // zero: valid for as long as the revision is
	rev     uint64    // the revision it was computed at
	deps    []uint64  // what it read (Changes keys), sorted
	exact   bool      // valid at rev only
	epoch   uint64    // Changes.epoch when the query that computed it began
	via     uint64    // the via bits of watch, the Watch of the query that stored it
	watch   *Watch
}

// cache is a size-bounded map of sub-problem results, in shards that each
// have their own lock, so that concurrent checks (32 clients on a server)
// do not queue on one mutex for every sub-problem they look up or store.
// Each shard keeps two generations: new entries go into cur; when cur is
// full it becomes old and a fresh cur starts, so the least recently used
// half is dropped at once. A hit in old is promoted to cur. This is LRU-like
// at a fraction of the bookkeeping.
type cache struct {
	seed   maphash.Seed
	shards []cacheShard
}

type cacheShard struct {
	mu       sync.Mutex
	capacity int // per generation
	cur, old map[cacheKey]cached
	_        [64]byte // keep shards' locks on separate cache lines
}

// cacheShards is how many shards a cache of many entries has; a small cache
// (a call's memo) has one.
const cacheShards = 64

func newCache(entries int) *cache {
	n := 1
	if entries >= 64*cacheShards {
		n = cacheShards
	}
	c := &cache{seed: maphash.MakeSeed(), shards: make([]cacheShard, n)}
	half := max(entries/2/n, 1)
	for i := range c.shards {
		c.shards[i] = cacheShard{capacity: half, cur: make(map[cacheKey]cached, min(half, 1024))}
	}
	return c
}

// newMemo returns a cache for sharing results inside one call; it starts
// empty-handed (no preallocation) since most calls share little.
func newMemo() *cache {
	return &cache{shards: []cacheShard{{capacity: bulkMemoEntries / 2, cur: map[cacheKey]cached{}}}}
}

// shard returns k's shard.
func (c *cache) shard(k *cacheKey) *cacheShard {
	if len(c.shards) == 1 {
		return &c.shards[0]
	}
	var h maphash.Hash
	h.SetSeed(c.seed)
	h.WriteString(k.resource.ID)
	h.WriteString(k.relation)
	h.WriteString(k.subject.ID)
	return &c.shards[h.Sum64()%uint64(len(c.shards))]
}

// get returns the result for k if it is present and has not expired at now.
func (c *cache) get(k cacheKey, now time.Time) (cached, bool) {
	s := c.shard(&k)
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.cur[k]
	if !ok {
		if v, ok = s.old[k]; ok {
			delete(s.old, k)
			s.putLocked(k, v)
		}
	}
	if !ok {
		return cached{}, false
	}
	if !v.exp.IsZero() && !now.Before(v.exp) {
		delete(s.cur, k)
		return cached{}, false
	}
	return v, true
}

func (c *cache) put(k cacheKey, v cached) {
	s := c.shard(&k)
	s.mu.Lock()
	s.putLocked(k, v)
	s.mu.Unlock()
}

func (s *cacheShard) putLocked(k cacheKey, v cached) {
	if len(s.cur) >= s.capacity {
		s.old = s.cur
		s.cur = make(map[cacheKey]cached, min(s.capacity, 1024))
	}
	s.cur[k] = v
}

func (c *cache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += len(s.cur) + len(s.old)
		s.mu.Unlock()
	}
	return n
}
