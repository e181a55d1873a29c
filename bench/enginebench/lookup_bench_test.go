package enginebench

import (
	"context"
	"testing"
	"time"

	"github.com/trellis-authz/trellis/bench/workload"
	"github.com/trellis-authz/trellis/engine"
	"github.com/trellis-authz/trellis/storage"
	"github.com/trellis-authz/trellis/tuple"
)

// BenchmarkWorkloadLookups runs the workload's LookupResources queries cold
// (no cache) against the real store, index and walk, and checks every
// answer against the workload's expected resources.
func BenchmarkWorkloadLookups(b *testing.B) {
	w := loadWorkload(b)
	var lookups []workload.Query
	for _, q := range w.qs {
		if q.IsLookup() {
			lookups = append(lookups, q)
		}
	}
	if len(lookups) == 0 {
		b.Skip("the workload has no lookups")
	}
	for _, mode := range []string{"index", "walk"} {
		b.Run(mode, func(b *testing.B) {
			cfg := engine.DefaultConfig()
			cfg.CacheEntries = 0
			cfg.Clock = func() time.Time { return w.now }
			cfg.NoGroupIndex = mode == "walk"
			e, err := engine.New(cfg)
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			lat := make([]time.Duration, 0, len(lookups))
			wrong, results := 0, 0
			rd := &counted{Snapshot: w.v.Reader.(*storage.Snapshot)}
			v := w.v
			v.Reader = rd
			cpu0 := cpuTime()
			b.ResetTimer()
			for range b.N {
				lat = lat[:0]
				for _, q := range lookups {
					subj, err := tuple.ParseSubject(q.Subject)
					if err != nil {
						b.Fatal(err)
					}
					t0 := time.Now()
					r, err := e.LookupResources(ctx, v, engine.LookupResourcesRequest{ResourceType: q.ResourceType, Permission: q.Permission, Subject: subj, Context: q.Context})
					lat = append(lat, time.Since(t0))
					if err != nil {
						b.Fatalf("%+v: %v", q, err)
					}
					results += len(r.Resources)
					if !sameResources(r.Resources, q.ExpectResources) {
						wrong++
					}
				}
			}
			b.StopTimer()
			reportLatencies(b, lat, "ns/lookup")
			rd.report(b, b.N*len(lookups), "lookup")
			b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N*len(lookups)), "cpu-ns/lookup")
			b.ReportMetric(float64(results)/float64(b.N*len(lookups)), "results/lookup")
			if wrong > 0 {
				b.Fatalf("%d of %d lookups differ from the workload's expected resources", wrong, len(lookups)*b.N)
			}
		})
	}
}

// sameResources compares a lookup's answer with the expected items (IDs
// and results, in any order).
func sameResources(got []engine.LookupResource, want []workload.LookupItem) bool {
	if len(got) != len(want) {
		return false
	}
	m := make(map[string]string, len(want))
	for _, w := range want {
		m[w.ID] = w.Result
	}
	for _, g := range got {
		if r, ok := m[g.ID]; !ok || r != g.Result.String() {
			return false
		}
	}
	return true
}
