package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/trellis-authz/trellis/alerts"
	"github.com/trellis-authz/trellis/engine"
	"github.com/trellis-authz/trellis/schema/compile"
)

// TestWatchAgreesWithExplain: on random schemas and relationships (nested
// subject sets, arrows, exclusions, intersections, caveats, wildcards,
// expirations), what a watched check reports it went through equals what
// alerts.OnDecidingPath reads off the same check's explain trace, for
// relation, caveat and relation-with-caveat specs — with the cache on, the
// cache filled by unwatched checks first, and in CheckBulk.
func TestWatchAgreesWithExplain(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(20261206, 3))
	specs := []engine.WatchSpec{
		{Through: "rel_a"}, {Through: "rel_b"}, {Through: "rel_c"}, {Caveat: "cav_a"},
		{Through: "rel_a", Caveat: "cav_a"}, {Through: "rel_b", Caveat: "cav_a"},
	}
	w, err := engine.NewWatch(specs)
	if err != nil {
		t.Fatal(err)
	}
	compared, hits := 0, 0
	for c := range 200 {
		g := genCase(rng)
		s, errs := compile.CompileText(fmt.Sprintf("case%d.zed", c), g.schema)
		if errs.Err() != nil {
			t.Fatalf("case %d: %v", c, errs)
		}
		view := engine.View{Schema: s, Reader: newMemReader(g.rels), Revision: uint64(c + 1)}
		explainer := newTestEngine(t, func(cfg *engine.Config) { cfg.Concurrency, cfg.CacheEntries = 1, 0 })
		watcher := newTestEngine(t, func(cfg *engine.Config) { cfg.Concurrency = 1 })
		var reqs []engine.CheckRequest
		var wants []uint64
		for range 25 {
			req := g.request(rng)
			ex := req
			ex.Explain = true
			tr, err := explainer.Check(ctx, view, ex)
			if errors.Is(err, engine.ErrCycle) || errors.Is(err, engine.ErrDepthExceeded) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			var want uint64
			for i, sp := range specs {
				if alerts.OnDecidingPath(tr.Trace, sp.Through, sp.Caveat) {
					want |= 1 << i
				}
			}
			if _, err := watcher.Check(ctx, view, req); err != nil { // fills the cache without via bits
				t.Fatal(err)
			}
			wreq := req
			wreq.Watch = w
			for pass := range 2 { // the second pass reads its own cached sub-problems
				got, err := watcher.Check(ctx, view, wreq)
				if err != nil {
					t.Fatal(err)
				}
				if got.Watched != want {
					b, _ := json.MarshalIndent(tr.Trace, "", " ")
					t.Log("explain trace:\n" + string(b))
					t.Fatalf("case %d pass %d: %s#%s@%s ctx %v (%s): watched %06b, explain trace says %06b\nschema:\n%s\nrelationships:\n%s",
						c, pass, req.Resource, req.Permission, req.Subject, req.Context, got.Result, got.Watched, want, g.schema, joinRels(g.rels))
				}
			}
			if want != 0 {
				hits++
			}
			compared++
			reqs = append(reqs, wreq)
			wants = append(wants, want)
		}
		for i, b := range watcher.CheckBulk(ctx, view, reqs) {
			if b.Err != nil || b.Result.Watched != wants[i] {
				t.Fatalf("case %d: bulk item %d: watched %06b (err %v), want %06b", c, i, b.Result.Watched, b.Err, wants[i])
			}
		}
	}
	t.Logf("%d checks compared, %d went through a watched relation or caveat", compared, hits)
	if hits < compared/10 {
		t.Errorf("only %d of %d checks went through a watched spec: the comparison says little", hits, compared)
	}
}

func TestNewWatchBadInput(t *testing.T) {
	if _, err := engine.NewWatch([]engine.WatchSpec{{}}); err == nil {
		t.Error("a spec naming nothing was accepted")
	}
	many := make([]engine.WatchSpec, engine.MaxWatchSpecs+1)
	for i := range many {
		many[i] = engine.WatchSpec{Through: fmt.Sprint("r", i)}
	}
	if _, err := engine.NewWatch(many); err == nil {
		t.Errorf("%d specs accepted; at most %d fit", len(many), engine.MaxWatchSpecs)
	}
}
