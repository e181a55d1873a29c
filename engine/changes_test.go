package engine_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/trellis-authz/trellis/engine"
	"github.com/trellis-authz/trellis/schema/compile"
	"github.com/trellis-authz/trellis/tuple"
)

// history is a sequence of revisions of one data set, as a store with a
// change hook would produce them: every change is recorded in the change
// index before its revision is read.
type history struct {
	changes *engine.Changes
	revs    [][]tuple.Relationship // revs[i] is the data at revision i+1
	record  bool                   // false: a broken store that never tells
}

func (h *history) at(rev int) []tuple.Relationship { return h.revs[rev-1] }
func (h *history) head() int                       { return len(h.revs) }

// apply adds rel when absent and removes it when present, at a new revision.
func (h *history) apply(rel tuple.Relationship) {
	cur := slices.Clone(h.revs[len(h.revs)-1])
	if i := slices.IndexFunc(cur, func(r tuple.Relationship) bool { return r.Key() == rel.Key() }); i >= 0 {
		cur = slices.Delete(cur, i, i+1)
	} else {
		cur = append(cur, rel)
	}
	h.revs = append(h.revs, cur)
	if h.record {
		h.changes.Record(uint64(h.head()), rel)
	}
}

// TestDifferentialAcrossWrites runs random schemas through a sequence of
// random writes with one engine whose cache outlives revisions (Changes), and
// compares every answer, at the newest revision and at older ones, with the
// reference evaluator on the data of that revision.
func TestDifferentialAcrossWrites(t *testing.T) {
	// Many slots: keys rarely share one, so every kind of key must be
	// recorded and read exactly. Few slots: sharing is the rule (with two,
	// every key shares both its slots with half of all keys).
	for _, slots := range []int{1 << 16, 64, 2} {
		t.Run(fmt.Sprintf("%d slots", slots), func(t *testing.T) {
			mismatches, checks, hits := runAcrossWrites(t, 120, true, slots)
			if mismatches > 0 {
				t.Fatalf("%d of %d answers differ from the reference", mismatches, checks)
			}
			if hits == 0 {
				t.Fatal("no cache hits: the test did not exercise reuse across revisions")
			}
			t.Logf("%d checks agreed across writes; %d cache hits", checks, hits)
		})
	}
}

// TestDifferentialAcrossWritesHasTeeth shows the comparison catches a store
// that does not report its changes: the cache then keeps stale results, and
// some answers must differ from the reference.
func TestDifferentialAcrossWritesHasTeeth(t *testing.T) {
	mismatches, checks, _ := runAcrossWrites(t, 120, false, 1<<16)
	if mismatches == 0 {
		t.Fatalf("all %d answers agreed although no change was recorded: the differential test cannot see stale cache entries", checks)
	}
	t.Logf("without change records, %d of %d answers were stale", mismatches, checks)
}

func runAcrossWrites(t *testing.T, cases int, record bool, slots int) (mismatches, checks int, hits uint64) {
	t.Helper()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(20261123, 11))
	for c := range cases {
		g := genCase(rng)
		s, errs := compile.CompileText(fmt.Sprintf("case%d.zed", c), g.schema)
		if errs.Err() != nil {
			t.Fatalf("case %d: generated schema does not compile: %v", c, errs)
		}
		h := &history{changes: engine.NewChanges(slots, 1), revs: [][]tuple.Relationship{g.rels}, record: record}
		e := newTestEngine(t, func(cfg *engine.Config) {
			cfg.Concurrency = 1 + c%4
			cfg.Changes = h.changes
		})
		ask := func(rev int, req engine.CheckRequest) {
			rels := h.at(rev)
			view := engine.View{Schema: s, Reader: newMemReader(rels), Revision: uint64(rev)}
			ref := &refEval{s: s, rels: rels, now: fixtureNow}
			want, werr := ref.check(req.Resource, req.Permission, req.Subject, req.Context, nil)
			got, err := e.Check(ctx, view, req)
			gotS := describe(got)
			switch {
			case errors.Is(err, engine.ErrCycle):
				gotS = "cycle"
			case errors.Is(err, engine.ErrDepthExceeded):
				return
			case err != nil || werr != nil:
				t.Fatalf("case %d rev %d: %s#%s@%s: engine error %v, reference error %v", c, rev, req.Resource, req.Permission, req.Subject, err, werr)
			}
			checks++
			if gotS != want.String() {
				mismatches++
				if record {
					t.Errorf("case %d rev %d: %s#%s@%s with %v: engine says %s, reference says %s\nschema:\n%s\nrelationships:\n%s",
						c, rev, req.Resource, req.Permission, req.Subject, req.Context, gotS, want, g.schema, joinRels(rels))
				}
			}
		}
		// A fixed set of questions, asked again and again, so results are
		// reused from the cache across revisions.
		var reqs []engine.CheckRequest
		for range 12 {
			reqs = append(reqs, g.request(rng))
		}
		for _, req := range reqs {
			ask(1, req)
		}
		for range 25 {
			h.apply(g.randRel(rng))
			if rng.IntN(15) == 0 && record {
				h.changes.RecordAll(uint64(h.head())) // as a schema write would
			}
			for range 6 {
				ask(h.head(), reqs[rng.IntN(len(reqs))])
			}
			ask(1+rng.IntN(h.head()), reqs[rng.IntN(len(reqs))]) // an older revision
		}
		hit, _ := e.CacheStats()
		hits += hit
	}
	return mismatches, checks, hits
}

// TestCacheAcrossRevisions shows what the change index buys: a cached result
// is reused after a write elsewhere (another document, another user of the
// same document), recomputed after a write to something it read, and never
// used at an older revision that a later change separates it from.
func TestCacheAcrossRevisions(t *testing.T) {
	ctx := context.Background()
	s, errs := compile.CompileText("t.zed", `
definition user {}
definition team {
  relation member: user
}
definition doc {
  relation viewer: user | team#member
  permission view = viewer
}`)
	if errs.Err() != nil {
		t.Fatal(errs)
	}
	rel := func(s string) tuple.Relationship {
		r, err := tuple.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	h := &history{changes: engine.NewChanges(0, 1), record: true, revs: [][]tuple.Relationship{{
		rel("doc:1#viewer@team:a#member"), rel("team:a#member@user:x"),
	}}}
	req := engine.CheckRequest{Resource: tuple.ObjectRef{Type: "doc", ID: "1"}, Permission: "view", Subject: tuple.SubjectRef{Type: "user", ID: "x"}}
	for _, tc := range []struct {
		name string
		with *engine.Changes
		// misses after the unrelated write: none when results outlive
		// revisions, some when they do not
		wantMoreMisses bool
	}{
		{"with a change index", h.changes, false},
		{"without", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &history{changes: h.changes, record: true, revs: h.revs[:1:1]}
			e := newTestEngine(t, func(cfg *engine.Config) { cfg.Changes = tc.with })
			check := func(rev int) engine.Result {
				t.Helper()
				got, err := e.Check(ctx, engine.View{Schema: s, Reader: newMemReader(h.at(rev)), Revision: uint64(rev)}, req)
				if err != nil {
					t.Fatal(err)
				}
				return got.Result
			}
			if got := check(1); got != engine.Allowed {
				t.Fatalf("rev 1: %v, want allowed", got)
			}
			_, misses1 := e.CacheStats()
			h.apply(rel("doc:2#viewer@user:y")) // rev 2: another document
			if got := check(2); got != engine.Allowed {
				t.Fatalf("rev 2: %v, want allowed", got)
			}
			_, misses2 := e.CacheStats()
			if (misses2 > misses1) != tc.wantMoreMisses {
				t.Errorf("cache misses went from %d to %d after an unrelated write; want more misses: %v", misses1, misses2, tc.wantMoreMisses)
			}
			h.apply(rel("doc:1#viewer@user:z")) // rev 3: another user on the same document
			if got := check(3); got != engine.Allowed {
				t.Fatalf("rev 3: %v, want allowed", got)
			}
			_, misses3 := e.CacheStats()
			if (misses3 > misses2) != tc.wantMoreMisses {
				t.Errorf("cache misses went from %d to %d after a grant to another user of the document; want more misses: %v", misses2, misses3, tc.wantMoreMisses)
			}
			h.apply(rel("team:a#member@user:x")) // rev 4: x leaves the team
			if got := check(4); got != engine.Denied {
				t.Fatalf("rev 4, after x left the team: %v, want denied", got)
			}
			if got := check(3); got != engine.Allowed {
				t.Fatalf("rev 3 again, after rev 4 was cached: %v, want allowed", got)
			}
			if got := check(4); got != engine.Denied {
				t.Fatalf("rev 4 again: %v, want denied", got)
			}
			h.apply(rel("doc:1#viewer@team:b#member")) // rev 5: a group on the document
			h.apply(rel("team:b#member@user:x"))       // rev 6: x joins it
			if got := check(6); got != engine.Allowed {
				t.Fatalf("rev 6, after x joined a group of the document: %v, want allowed", got)
			}
		})
	}
}
