package engine

import (
	"testing"
	"time"
)

// TestDigestContext: contexts that differ in a way a caveat can see get
// different digests, including those that JSON writes alike; equal ones get
// equal digests.
func TestDigestContext(t *testing.T) {
	distinct := []map[string]any{
		{},
		{"n": int64(1)},
		{"n": float64(1)},
		{"n": "1"},
		{"n": true},
		{"n": nil},
		{"n": []any{}},
		{"n": map[string]any{}},
		{"n": []any{"a", "b"}},
		{"n": []any{"ab"}},
		{"a": "bc"},
		{"ab": "c"},
		{"a": "", "b": ""},
		{"n": time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)},
		{"n": "2026-01-02T00:00:00Z"},
		{"n": 1},
	}
	seen := map[ctxDigest]int{}
	for i, c := range distinct {
		d := digestContext(c)
		if j, ok := seen[d]; ok {
			t.Errorf("contexts %d %v and %d %v: got the same digest, want different ones", j, distinct[j], i, c)
		}
		seen[d] = i
	}
	a := map[string]any{"x": int64(1), "y": []any{"p", map[string]any{"q": 2.5, "r": false}}}
	b := map[string]any{"y": []any{"p", map[string]any{"r": false, "q": 2.5}}, "x": int64(1)}
	if digestContext(a) != digestContext(b) {
		t.Error("equal contexts: got different digests, want the same")
	}
}

// TestDeepContextBypassesCache: a context nested too deep to digest (or one
// that holds itself) is used as given and its query is not cached.
func TestDeepContextBypassesCache(t *testing.T) {
	e, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	deep := map[string]any{}
	cur := deep
	for range maxContextNesting + 1 {
		next := map[string]any{}
		cur["k"] = next
		cur = next
	}
	self := map[string]any{}
	self["me"] = self
	for name, c := range map[string]map[string]any{"deep": deep, "self": self} {
		if q := e.newQuery(View{}, c, false); !q.uncached {
			t.Errorf("%s: got a cached query, want uncached", name)
		}
	}
	if q := e.newQuery(View{}, map[string]any{"n": 1.0}, false); q.uncached || q.reqCtx["n"] != int64(1) {
		t.Errorf("shallow: got uncached %v, n %T, want cached with int64", q.uncached, q.reqCtx["n"])
	}
}
