package enginebench

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trellis-authz/trellis/bench/workload"
	"github.com/trellis-authz/trellis/engine"
)

// BenchmarkWorkloadParallel replays the workload's checks from 32
// goroutines, as 32 clients of a server would, with the cache off and on
// (the server's configuration: a change index, 100,000 entries), to show
// what the cache costs or saves under concurrency on this workload. Every
// answer is compared with the workload's expected one.
func BenchmarkWorkloadParallel(b *testing.B) {
	w := loadWorkload(b)
	var checks []workload.Query
	for _, q := range w.qs {
		if !q.IsLookup() {
			checks = append(checks, q)
		}
	}
	for _, mode := range []string{"cache-off", "cache-on"} {
		b.Run(mode, func(b *testing.B) {
			cfg := engine.DefaultConfig()
			cfg.Clock = func() time.Time { return w.now }
			if mode == "cache-off" {
				cfg.CacheEntries = 0
			} else {
				cfg.Changes = engine.NewChanges(0, w.v.Revision)
			}
			e, err := engine.New(cfg)
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			var wrong atomic.Int64
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				var next atomic.Int64
				var wg sync.WaitGroup
				for range 32 {
					wg.Go(func() {
						for {
							i := int(next.Add(1)) - 1
							if i >= len(checks) {
								return
							}
							req, err := checkRequest(checks[i])
							if err != nil {
								b.Error(err)
								return
							}
							r, err := e.Check(ctx, w.v, req)
							if err != nil || r.Result.String() != checks[i].Expect {
								wrong.Add(1)
							}
						}
					})
				}
				wg.Wait()
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N*len(checks))/time.Since(start).Seconds(), "checks/s")
			hits, misses := e.CacheStats()
			if hits+misses > 0 {
				b.ReportMetric(float64(hits)/float64(hits+misses), "hit-ratio")
			}
			if n := wrong.Load(); n > 0 {
				b.Fatalf("%d answers differ from the workload's expected answers", n)
			}
		})
	}
}
