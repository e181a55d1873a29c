package consensus

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
)

// BenchmarkWrite measures the latency of one Write (propose, replicate,
// commit, apply to Badger with fsync on every node) on a single node and on a
// 3-node in-process cluster over loopback TCP, for one relationship and for a
// batch of 100. ns/op is the latency of one write; rels/s the throughput of
// sequential writes.
func BenchmarkWrite(b *testing.B) {
	for _, nodes := range []int{1, 3} {
		for _, batch := range []int{1, 100} {
			b.Run(fmt.Sprintf("nodes=%d/batch=%d", nodes, batch), func(b *testing.B) {
				// Production timeouts: the short test ones make leadership flap
				// under fsync load on a small machine.
				prod := func(cfg *Config) {
					d := DefaultConfig()
					cfg.HeartbeatTimeout, cfg.ElectionTimeout = d.HeartbeatTimeout, d.ElectionTimeout
					cfg.LeaderLeaseTimeout, cfg.CommitTimeout = d.LeaderLeaseTimeout, d.CommitTimeout
				}
				var l *Node
				if nodes == 1 {
					tn := newTestNode(b, "n1")
					tn.sync = true
					tn.tune = prod
					tn.open(true, nil)
					waitIsLeader(b, tn.node)
					l = tn.node
				} else {
					c := startCluster(b, nodes, prod, func(tn *testNode) { tn.sync = true })
					l = c.leader().node
				}
				if _, err := l.Write(context.Background(), &SchemaCommand{Text: testSchema}); err != nil {
					b.Fatal(err)
				}
				i := 0
				b.ResetTimer()
				for b.Loop() {
					w := &WriteCommand{}
					for j := range batch {
						w.Updates = append(w.Updates, touch(fmt.Sprintf("dataset:d%d#reader@user:u%d", i, j)).Updates...)
					}
					i++
					if _, err := l.Write(context.Background(), w); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "rels/s")
			})
		}
	}
}

// BenchmarkWriteParallel runs 16 concurrent single-relationship writers
// against the leader of a 3-node cluster: raft batches concurrent entries
// into one log append and one replication round, so throughput rises well
// above the sequential figure.
func BenchmarkWriteParallel(b *testing.B) {
	prod := func(cfg *Config) {
		d := DefaultConfig()
		cfg.HeartbeatTimeout, cfg.ElectionTimeout = d.HeartbeatTimeout, d.ElectionTimeout
		cfg.LeaderLeaseTimeout, cfg.CommitTimeout = d.LeaderLeaseTimeout, d.CommitTimeout
	}
	c := startCluster(b, 3, prod, func(tn *testNode) { tn.sync = true })
	l := c.leader().node
	if _, err := l.Write(context.Background(), &SchemaCommand{Text: testSchema}); err != nil {
		b.Fatal(err)
	}
	var seq atomic.Int64
	b.SetParallelism(8) // 8 x GOMAXPROCS(2) = 16 writers
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := seq.Add(1)
			if _, err := l.Write(context.Background(), touch(fmt.Sprintf("dataset:p%d#reader@user:u", i))); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "writes/s")
}
