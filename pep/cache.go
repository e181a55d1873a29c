package pep

import (
	"sync"
	"sync/atomic"
)

// entry is one cached answer.
type entry struct {
	resource, permission, subject string
	ctx                           []ckv
	rev                           uint64 // the revision it was checked at
	deadline                      int64  // monotonic ns (since Client.epoch) after which it is not served
	dec                           Decision
	next                          *entry // another question with the same hash
}

func (e *entry) is(q *Question) bool {
	return e.resource == q.Resource && e.permission == q.Permission && e.subject == q.Subject && sameContext(e.ctx, q.Context)
}

// group holds the cached answers of one resource type and permission: the
// unit the watch evicts.
type group struct {
	mu sync.RWMutex
	m  map[uint64]*entry
}

// groupTable maps resource type, then permission, to its group. A table is
// never changed once published; adding a group publishes a copy.
type groupTable map[string]map[string]*group

// cache is the decision cache. Its fields are read by Decide without a lock
// (atomics and immutable tables) and changed by the watch loop.
type cache struct {
	max    int64
	size   atomic.Int64
	groups atomic.Pointer[groupTable]
	addMu  sync.Mutex // serializes publishing new tables
}

func newCache(max int) *cache {
	c := &cache{max: int64(max)}
	t := groupTable{}
	c.groups.Store(&t)
	return c
}

// find returns the entry for q under hash k, or nil. It does not look at the
// deadline or the revision.
func (c *cache) find(typ string, q *Question, k uint64) *entry {
	g := (*c.groups.Load())[typ][q.Permission]
	if g == nil {
		return nil
	}
	g.mu.RLock()
	e := g.m[k]
	for e != nil && !e.is(q) {
		e = e.next
	}
	g.mu.RUnlock()
	return e
}

// group returns the group of a type and permission, creating it.
func (c *cache) group(typ, perm string) *group {
	if g := (*c.groups.Load())[typ][perm]; g != nil {
		return g
	}
	c.addMu.Lock()
	defer c.addMu.Unlock()
	old := *c.groups.Load()
	if g := old[typ][perm]; g != nil {
		return g
	}
	next := make(groupTable, len(old)+1)
	for t, perms := range old {
		next[t] = perms
	}
	perms := make(map[string]*group, len(old[typ])+1)
	for p, g := range old[typ] {
		perms[p] = g
	}
	g := &group{m: map[uint64]*entry{}}
	perms[perm] = g
	next[typ] = perms
	c.groups.Store(&next)
	return g
}

// put inserts e under hash k, replacing the entry of the same question,
// when admit (called under the group's lock) allows it. It reports whether
// it inserted.
func (c *cache) put(typ string, k uint64, e *entry, admit func() bool) bool {
	g := c.group(typ, e.permission)
	g.mu.Lock()
	if !admit() {
		g.mu.Unlock()
		return false
	}
	// Chains are relinked in place: readers walk them only under the read
	// lock, and an entry's other fields never change once it is published.
	replaced := false
	tail := e
	for old := g.m[k]; old != nil; {
		next := old.next
		if old.resource == e.resource && old.permission == e.permission && old.subject == e.subject && sameCanon(old.ctx, e.ctx) {
			replaced = true
		} else {
			tail.next, tail = old, old
		}
		old = next
	}
	tail.next = nil
	g.m[k] = e
	g.mu.Unlock()
	if !replaced {
		c.size.Add(1)
	}
	return true
}

func sameCanon(a, b []ckv) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].key != b[i].key || !a[i].val.equal(b[i].val) {
			return false
		}
	}
	return true
}

// clearGroup drops every entry of one group and returns how many it held.
func (c *cache) clearGroup(g *group) int {
	g.mu.Lock()
	n := 0
	for _, e := range g.m {
		for ; e != nil; e = e.next {
			n++
		}
	}
	if n > 0 {
		g.m = map[uint64]*entry{}
	}
	g.mu.Unlock()
	c.size.Add(-int64(n))
	return n
}

// clear drops the entries of the groups of the given types and permissions.
func (c *cache) clear(nodes []node) int {
	t := *c.groups.Load()
	n := 0
	for _, nd := range nodes {
		if g := t[nd.typ][nd.rel]; g != nil {
			n += c.clearGroup(g)
		}
	}
	return n
}

// clearAll drops every entry.
func (c *cache) clearAll() int {
	n := 0
	for _, perms := range *c.groups.Load() {
		for _, g := range perms {
			n += c.clearGroup(g)
		}
	}
	return n
}

// trim drops entries until the cache holds at most max: first those past
// their deadline, then any. It returns how many it dropped.
func (c *cache) trim(now int64) int {
	dropped := 0
	for pass := 0; pass < 2 && c.size.Load() > c.max; pass++ {
		for _, perms := range *c.groups.Load() {
			for _, g := range perms {
				g.mu.Lock()
				for k, head := range g.m {
					if c.size.Load() <= c.max {
						break
					}
					var first, tail *entry
					for e := head; e != nil; {
						next := e.next
						if pass == 0 && e.deadline > now {
							if first == nil {
								first = e
							} else {
								tail.next = e
							}
							tail = e
						} else {
							dropped++
							c.size.Add(-1)
						}
						e = next
					}
					if first == nil {
						delete(g.m, k)
					} else {
						tail.next = nil
						g.m[k] = first
					}
				}
				g.mu.Unlock()
			}
		}
	}
	return dropped
}
