package main

import (
	"testing"
)

// TestCacheAcrossWrites: on every node of a cluster, a cached check result
// survives a write elsewhere (answered from the cache, no new misses), and a
// write that revokes it is never missed (the store tells the engine what
// each applied entry changed before the revision is readable).
func TestCacheAcrossWrites(t *testing.T) {
	c := newTestCluster(t, 3, nil)
	last := c.mustWrite(c.leader(), "touch", "doc:1#viewer@user:x")
	for _, i := range []int{c.leader(), c.followers()[0]} {
		eng := c.node(i).Engine()
		c.mustCheck(i, "doc:1", "view", "user:x", fresh(last), "allowed")
		_, before := eng.CacheStats()

		t2 := c.mustWrite(c.leader(), "touch", "doc:2#viewer@user:y") // another document
		c.mustCheck(i, "doc:1", "view", "user:x", fresh(t2), "allowed")
		hits, after := eng.CacheStats()
		if after != before || hits == 0 {
			t.Errorf("node %d: after a write to another document, misses went %d → %d (hits %d); want the cached answer reused", i+1, before, after, hits)
		}

		t3 := c.mustWrite(c.leader(), "touch", "doc:1#banned@user:x")
		c.mustCheck(i, "doc:1", "view", "user:x", fresh(t3), "denied")
		last = c.mustWrite(c.leader(), "delete", "doc:1#banned@user:x")
		c.mustCheck(i, "doc:1", "view", "user:x", fresh(last), "allowed")
	}
}
