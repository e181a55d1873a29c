package engine_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/trellis-authz/trellis/engine"
	"github.com/trellis-authz/trellis/schema/compile"
	"github.com/trellis-authz/trellis/storage"
	"github.com/trellis-authz/trellis/tuple"
)

// Benchmarks run against a real Badger store on disk (b.TempDir). Each
// reports ns/op, allocs/op, and p50-ns / p99-ns: the median and 99th
// percentile of single operations.

const benchSchema = `
definition user {}
definition team {
  relation member: user | team#member
}
definition document {
  relation reader: user | team#member
  relation banned: user
  permission view = reader - banned
}
`

// benchView writes rels into an on-disk Badger store at revision 1.
func benchView(b *testing.B, rels []tuple.Relationship) engine.View {
	b.Helper()
	s, errs := compile.CompileText("bench.zed", benchSchema)
	if errs.Err() != nil {
		b.Fatal(errs)
	}
	cfg := storage.DefaultConfig(b.TempDir())
	cfg.SyncWrites = false
	cfg.ValueLogGCInterval = 0
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := storage.Open(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	const perBatch = 5000 // the import endpoint's chunk
	rev := uint64(0)
	for i := 0; i < len(rels); i += perBatch {
		var batch storage.Batch
		for _, r := range rels[i:min(i+perBatch, len(rels))] {
			batch.Updates = append(batch.Updates, tuple.Update{Op: tuple.OpTouch, Relationship: r})
		}
		rev++
		if _, err := st.Apply(rev, batch); err != nil {
			b.Fatal(err)
		}
	}
	sn, err := st.Snapshot(rev)
	if err != nil {
		b.Fatal(err)
	}
	return engine.View{Schema: s, Reader: sn, Revision: rev}
}

func benchEngine(b *testing.B, cache bool) *engine.Engine {
	cfg := engine.DefaultConfig()
	if !cache {
		cfg.CacheEntries = 0
	}
	e, err := engine.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return e
}

// benchModes are the cache set-ups a check benchmark runs under. With a
// change index (how trellis serve runs) every iteration is a new revision, as
// if a write came between any two checks: "unrelated" writes touch nothing a
// check reads (results are reused across revisions), "related" ones rewrite
// the relationship the check finds (every check is recomputed, with
// tracking).
var benchModes = []string{"cache=false", "cache=true", "changes/unrelated-writes", "changes/related-writes"}

// benchSetup returns the engine for mode and a function giving the view for
// iteration i, recording the iteration's write first.
func benchSetup(b *testing.B, mode string, v engine.View, related func(i int) tuple.Relationship) (*engine.Engine, func(i int) engine.View) {
	switch mode {
	case "cache=false", "cache=true":
		return benchEngine(b, mode == "cache=true"), func(int) engine.View { return v }
	}
	cfg := engine.DefaultConfig()
	cfg.Changes = engine.NewChanges(0, v.Revision)
	e, err := engine.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return e, func(i int) engine.View {
		rev := v.Revision + uint64(i) + 1
		if mode == "changes/related-writes" {
			cfg.Changes.Record(rev, related(i))
		} else {
			cfg.Changes.Record(rev, rel("unrelated:x#rel@user:y"))
		}
		w := v
		w.Revision = rev
		return w
	}
}

// runTimed runs op b.N times and reports the median and p99 latency.
func runTimed(b *testing.B, op func(i int)) {
	b.Helper()
	lat := make([]time.Duration, 0, min(b.N, 1<<20))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		op(i)
		if len(lat) < cap(lat) {
			lat = append(lat, time.Since(start))
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
}

func rel(s string) tuple.Relationship { return tuple.MustParse(s) }

// BenchmarkCheckDirect: document:docN#view@user:uN where the user is a direct
// reader (one exact lookup for reader, one for banned). Target p50 ≤ 5 µs,
// ≤ 20 allocs.
func BenchmarkCheckDirect(b *testing.B) {
	var rels []tuple.Relationship
	for i := range 1000 {
		rels = append(rels, rel(fmt.Sprintf("document:doc%d#reader@user:u%d", i, i)))
	}
	v := benchView(b, rels)
	for _, mode := range benchModes {
		b.Run(mode, func(b *testing.B) {
			reqs := make([]engine.CheckRequest, 1000)
			for i := range reqs {
				reqs[i] = engine.CheckRequest{Resource: tuple.ObjectRef{Type: "document", ID: fmt.Sprintf("doc%d", i)}, Permission: "view", Subject: tuple.SubjectRef{Type: "user", ID: fmt.Sprintf("u%d", i)}}
			}
			e, view := benchSetup(b, mode, v, func(i int) tuple.Relationship {
				// The relationship the check finds: rewritten every time.
				return rel(fmt.Sprintf("document:doc%d#reader@user:u%d", i%len(reqs), i%len(reqs)))
			})
			ctx := context.Background()
			runTimed(b, func(i int) {
				r, err := e.Check(ctx, view(i), reqs[i%len(reqs)])
				if err != nil || r.Result != engine.Allowed {
					b.Fatalf("got %v %v", r.Result, err)
				}
			})
		})
	}
}

// BenchmarkCheckNested: 1,000 teams in 200 chains of 5 levels, each team with
// 3 users of its own; the user asked about is at the bottom of a chain.
// Target p50 ≤ 100 µs.
func BenchmarkCheckNested(b *testing.B) {
	const chains, levels = 200, 5
	var rels []tuple.Relationship
	for c := range chains {
		for l := range levels {
			team := fmt.Sprintf("team:c%d_%d", c, l)
			if l+1 < levels {
				rels = append(rels, rel(fmt.Sprintf("%s#member@team:c%d_%d#member", team, c, l+1)))
			}
			for u := range 3 {
				rels = append(rels, rel(fmt.Sprintf("%s#member@user:c%d_%d_%d", team, c, l, u)))
			}
		}
		rels = append(rels, rel(fmt.Sprintf("document:d%d#reader@team:c%d_0#member", c, c)))
	}
	v := benchView(b, rels)
	for _, mode := range benchModes {
		b.Run(mode, func(b *testing.B) {
			e, view := benchSetup(b, mode, v, func(i int) tuple.Relationship {
				// The membership the check ends at, at the bottom of the chain.
				c := i % chains
				return rel(fmt.Sprintf("team:c%d_%d#member@user:c%d_%d_2", c, levels-1, c, levels-1))
			})
			ctx := context.Background()
			runTimed(b, func(i int) {
				c := i % chains
				r, err := e.Check(ctx, view(i), engine.CheckRequest{Resource: tuple.ObjectRef{Type: "document", ID: fmt.Sprintf("d%d", c)}, Permission: "view",
					Subject: tuple.SubjectRef{Type: "user", ID: fmt.Sprintf("c%d_%d_2", c, levels-1)}})
				if err != nil || r.Result != engine.Allowed {
					b.Fatalf("got %v %v", r.Result, err)
				}
			})
		})
	}
}

// BenchmarkLookupResources10k: user:ana is in team:big, which reads 10,000
// documents. Target ≤ 100 ms per lookup.
func BenchmarkLookupResources10k(b *testing.B) {
	const n = 10_000
	rels := []tuple.Relationship{rel("team:big#member@user:ana")}
	for i := range n {
		rels = append(rels, rel(fmt.Sprintf("document:doc%05d#reader@team:big#member", i)))
	}
	v := benchView(b, rels)
	for _, cache := range []bool{false, true} {
		b.Run(fmt.Sprintf("cache=%v", cache), func(b *testing.B) {
			e := benchEngine(b, cache)
			ctx := context.Background()
			runTimed(b, func(int) {
				res, err := e.LookupResources(ctx, v, engine.LookupResourcesRequest{ResourceType: "document", Permission: "view", Subject: tuple.SubjectRef{Type: "user", ID: "ana"}})
				if err != nil || len(res.Resources) != n {
					b.Fatalf("got %d resources, err %v; want %d", len(res.Resources), err, n)
				}
			})
		})
	}
}
