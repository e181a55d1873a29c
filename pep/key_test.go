package pep

import (
	"hash/maphash"
	"math"
	"slices"
	"testing"
)

func TestKeyCanonicalContext(t *testing.T) {
	h := hasher{maphash.MakeSeed()}
	base := Question{Resource: "dataset:claims", Permission: "read", Subject: "user:ana"}
	with := func(ctx map[string]any) *Question { q := base; q.Context = ctx; return &q }
	same := []struct {
		name string
		a, b map[string]any
	}{
		{"nil and empty", nil, map[string]any{}},
		{"int and float64", map[string]any{"n": 3}, map[string]any{"n": 3.0}},
		{"int64 and uint8", map[string]any{"n": int64(7)}, map[string]any{"n": uint8(7)}},
		{"nested maps by JSON", map[string]any{"m": map[string]any{"a": 1, "b": "x"}}, map[string]any{"m": map[string]any{"b": "x", "a": 1}}},
		{"several keys", map[string]any{"a": "x", "b": true, "c": nil}, map[string]any{"c": nil, "b": true, "a": "x"}},
	}
	for _, tc := range same {
		ka, oka := h.key(with(tc.a))
		kb, okb := h.key(with(tc.b))
		if !oka || !okb || ka != kb {
			t.Errorf("%s: keys %x (%v) and %x (%v), want equal", tc.name, ka, oka, kb, okb)
		}
		if !sameContext(canonContext(tc.a), tc.b) {
			t.Errorf("%s: sameContext = false, want true", tc.name)
		}
	}
	differ := []struct {
		name string
		a, b map[string]any
	}{
		{"string and number", map[string]any{"n": "3"}, map[string]any{"n": 3}},
		{"values", map[string]any{"p": "fraud"}, map[string]any{"p": "marketing"}},
		{"keys", map[string]any{"p": "x"}, map[string]any{"q": "x"}},
		{"swapped values", map[string]any{"a": "x", "b": "y"}, map[string]any{"a": "y", "b": "x"}},
		{"fraction", map[string]any{"n": 3.5}, map[string]any{"n": 3}},
		{"bool", map[string]any{"b": true}, map[string]any{"b": false}},
		{"null and absent", map[string]any{"c": nil}, map[string]any{}},
		{"big float and int", map[string]any{"n": float64(1 << 60)}, map[string]any{"n": int64(1 << 60)}},
	}
	for _, tc := range differ {
		if sameContext(canonContext(tc.a), tc.b) {
			t.Errorf("%s: sameContext = true, want false", tc.name)
		}
	}
	if _, ok := h.key(with(map[string]any{"x": math.NaN()})); ok {
		t.Error("a NaN context is cacheable; it cannot be sent as JSON")
	}
	if sameContext(canonContext(map[string]any{"x": math.NaN()}), map[string]any{"x": math.NaN()}) {
		t.Error("NaN equals NaN in the cache")
	}
	// Fields are not interchangeable.
	k1, _ := h.key(&Question{Resource: "a:b", Permission: "read", Subject: "user:c"})
	k2, _ := h.key(&Question{Resource: "user:c", Permission: "read", Subject: "a:b"})
	if k1 == k2 {
		t.Error("swapping resource and subject gives the same key")
	}
}

func TestCacheCollisionsKeepQuestionsApart(t *testing.T) {
	c := newCache(10)
	a := &entry{resource: "dataset:a", permission: "read", subject: "user:x", rev: 1, deadline: math.MaxInt64, dec: Decision{Allowed: true}}
	b := &entry{resource: "dataset:b", permission: "read", subject: "user:x", rev: 1, deadline: math.MaxInt64}
	yes := func() bool { return true }
	// The same hash on purpose: a collision.
	c.put("dataset", 42, a, yes)
	c.put("dataset", 42, b, yes)
	qa := &Question{Resource: "dataset:a", Permission: "read", Subject: "user:x"}
	qb := &Question{Resource: "dataset:b", Permission: "read", Subject: "user:x"}
	if e := c.find("dataset", qa, 42); e == nil || !e.dec.Allowed {
		t.Fatalf("find a = %+v, want the allowed entry", e)
	}
	if e := c.find("dataset", qb, 42); e == nil || e.dec.Allowed {
		t.Fatalf("find b = %+v, want the denied entry", e)
	}
	a2 := &entry{resource: "dataset:a", permission: "read", subject: "user:x", rev: 2, deadline: math.MaxInt64}
	c.put("dataset", 42, a2, yes)
	if got := c.size.Load(); got != 2 {
		t.Fatalf("size after replacing a = %d, want 2", got)
	}
	if e := c.find("dataset", qa, 42); e == nil || e.rev != 2 || e.dec.Allowed {
		t.Fatalf("find a after replace = %+v, want revision 2, denied", e)
	}
	if c.put("dataset", 7, &entry{resource: "dataset:c", permission: "read", subject: "user:x"}, func() bool { return false }) {
		t.Fatal("put ignored a refusing admit")
	}
	if n := c.clear([]node{{"dataset", "read"}}); n != 2 || c.size.Load() != 0 {
		t.Fatalf("clear = %d, size %d; want 2, 0", n, c.size.Load())
	}
}

func TestCacheTrim(t *testing.T) {
	c := newCache(5)
	for i := range 8 {
		deadline := int64(math.MaxInt64)
		if i < 2 {
			deadline = 0 // expired
		}
		c.put("dataset", uint64(i), &entry{resource: "dataset:x" + string(rune('a'+i)), permission: "read", subject: "user:x", deadline: deadline}, func() bool { return true })
	}
	n := c.trim(1)
	if c.size.Load() != 5 || n != 3 {
		t.Fatalf("trim dropped %d, size %d; want 3 and 5", n, c.size.Load())
	}
	for i := range 2 {
		q := &Question{Resource: "dataset:x" + string(rune('a'+i)), Permission: "read", Subject: "user:x"}
		if c.find("dataset", q, uint64(i)) != nil {
			t.Errorf("expired entry %d survived the trim while live ones were dropped first", i)
		}
	}
}

func TestReach(t *testing.T) {
	r := safeBuildReach(testSchema, "h")
	if r.all {
		t.Fatal("the test schema was not read")
	}
	has := func(changed node, want ...node) {
		t.Helper()
		got := r.affected[changed]
		for _, w := range want {
			if !slices.Contains(got, w) {
				t.Errorf("a change of %v: affected %v, missing %v", changed, got, w)
			}
		}
	}
	hasNot := func(changed node, not ...node) {
		t.Helper()
		for _, n := range not {
			if slices.Contains(r.affected[changed], n) {
				t.Errorf("a change of %v affects %v; it cannot", changed, n)
			}
		}
	}
	dsRead, dsReader := node{"dataset", "read"}, node{"dataset", "reader"}
	docView, folderViewer := node{"doc", "view"}, node{"folder", "viewer"}
	has(node{"team", "member"}, node{"team", "member"}, dsReader, dsRead, folderViewer, docView)
	has(node{"dataset", "blocked"}, dsRead, node{"dataset", "blocked"})
	hasNot(node{"dataset", "blocked"}, dsReader, docView)
	has(node{"folder", "viewer"}, folderViewer, docView)
	hasNot(node{"folder", "viewer"}, dsRead)
	has(node{"doc", "parent"}, docView)
	has(node{"doc", "owner"}, docView, node{"doc", "owner"})
	hasNot(node{"doc", "owner"}, dsRead, folderViewer)
	if _, ok := r.affected[dsRead]; ok {
		t.Error("a permission is listed as a changed relation")
	}
	if !r.cacheable("dataset", "read") || !r.cacheable("dataset", "reader") || r.cacheable("dataset", "write") || r.cacheable("nope", "read") {
		t.Error("cacheable: want the schema's members only")
	}
	bad := safeBuildReach("definition {", "h2")
	if !bad.all || !bad.cacheable("anything", "at_all") {
		t.Errorf("an unreadable schema: all = %v; want every change to affect everything", bad.all)
	}
}
