package main

import (
	"fmt"
	"github.com/trellis-authz/trellis/wire"
	"net/http"
	"sync/atomic"
	"testing"
)

// Cluster benchmarks: three real nodes in this process (Badger on disk with
// fsync, raft over loopback TCP, HTTP). Run with
//
//	go test ./cmd/trellis -run '^$' -bench 'BenchmarkCluster' -benchtime 2s
//
// ns/op of a sequential benchmark is the latency of one request; of a
// parallel one (8 clients per core) it is 1/throughput.

func benchWrite(b *testing.B, c *testCluster, node, batch int, parallel bool) {
	var seq atomic.Int64
	one := func() {
		k := seq.Add(1)
		ups := make([]wire.Update, batch)
		for i := range ups {
			ups[i] = wire.Update{Op: "touch", Relationship: fmt.Sprintf("doc:b%d#viewer@user:u%d", k, i)}
		}
		status, body := c.do(node, http.MethodPost, "/v1/relationships/write", c.admin, wire.WriteRelationshipsRequest{Updates: ups}, nil)
		if status != http.StatusOK {
			b.Errorf("write: %d %s", status, body)
		}
	}
	b.ResetTimer()
	if parallel {
		b.SetParallelism(8)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				one()
			}
		})
	} else {
		for b.Loop() {
			one()
		}
	}
	b.ReportMetric(float64(batch)*float64(b.N)/b.Elapsed().Seconds(), "rels/s")
}

func BenchmarkClusterWrite(b *testing.B) {
	c := newTestCluster(b, 3, nil)
	l := c.leader()
	f := c.followers()[0]
	b.Run("leader/1rel/latency", func(b *testing.B) { benchWrite(b, c, l, 1, false) })
	b.Run("follower/1rel/latency", func(b *testing.B) { benchWrite(b, c, f, 1, false) })
	b.Run("leader/1rel/parallel", func(b *testing.B) { benchWrite(b, c, l, 1, true) })
	b.Run("follower/1rel/parallel", func(b *testing.B) { benchWrite(b, c, f, 1, true) })
	b.Run("leader/100rels/latency", func(b *testing.B) { benchWrite(b, c, l, 100, false) })
	b.Run("leader/100rels/parallel", func(b *testing.B) { benchWrite(b, c, l, 100, true) })
}

func BenchmarkClusterCheck(b *testing.B) {
	c := newTestCluster(b, 3, nil)
	l := c.leader()
	f := c.followers()[0]
	tok := c.mustWrite(l, "touch", "doc:bench#viewer@user:ana")
	for _, tc := range []struct {
		name string
		node int
		cons *wire.Consistency
	}{
		{"leader/minimize_latency", l, minimizeLatency},
		{"follower/minimize_latency", f, minimizeLatency},
		{"follower/at_least_as_fresh", f, fresh(tok)},
		{"leader/fully_consistent", l, fullyConsistent},
		{"follower/fully_consistent", f, fullyConsistent},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetParallelism(8)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					got, status, body := c.check(tc.node, "doc:bench", "view", "user:ana", tc.cons)
					if status != http.StatusOK || got != "allowed" {
						b.Errorf("check: %d %s", status, body)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "checks/s")
		})
	}
}
