package engine

import (
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
}

// cache is a size-bounded map of sub-problem results. It keeps two
// generations: new entries go into cur; when cur is full it becomes old and a
// fresh cur starts, so the least recently used half is dropped at once. A hit
// in old is promoted to cur. This is LRU-like at a fraction of the bookkeeping.
type cache struct {
	mu       sync.Mutex
	capacity int // per generation
	cur, old map[cacheKey]cached
}

func newCache(entries int) *cache {
	half := max(entries/2, 1)
	return &cache{capacity: half, cur: make(map[cacheKey]cached, min(half, 1024))}
}

// newMemo returns a cache for sharing results inside one call; it starts
// empty-handed (no preallocation) since most calls share little.
func newMemo() *cache { return &cache{capacity: bulkMemoEntries / 2, cur: map[cacheKey]cached{}} }

// get returns the result for k if it is present and has not expired at now.
func (c *cache) get(k cacheKey, now time.Time) (cached, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.cur[k]
	if !ok {
		if v, ok = c.old[k]; ok {
			delete(c.old, k)
			c.putLocked(k, v)
		}
	}
	if !ok {
		return cached{}, false
	}
	if !v.exp.IsZero() && !now.Before(v.exp) {
		delete(c.cur, k)
		return cached{}, false
	}
	return v, true
}

func (c *cache) put(k cacheKey, v cached) {
	c.mu.Lock()
	c.putLocked(k, v)
	c.mu.Unlock()
}

func (c *cache) putLocked(k cacheKey, v cached) {
	if len(c.cur) >= c.capacity {
		c.old = c.cur
		c.cur = make(map[cacheKey]cached, min(c.capacity, 1024))
	}
	c.cur[k] = v
}

func (c *cache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.cur) + len(c.old)
}
