package storage_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/trellis-authz/trellis/storage"
	"github.com/trellis-authz/trellis/tuple"
)

// BenchmarkGroupEdgeWrite: the cost of one Apply that adds (even
// iterations, add-ns) or removes (odd, delete-ns) one subgroup edge,
// nested-group index included. "under-600": team:g holds 100 subgroups of 5 users each (600
// transitive members) and sits under a chain of 5 ancestors; the edge puts a
// new 3-user team under team:g. "subtree-600": the edge puts team:g itself
// (with its 600 members) under the lowest ancestor, so 6 × 101 pairs change.
func BenchmarkGroupEdgeWrite(b *testing.B) {
	for _, sync := range []bool{false, true} {
		for _, shape := range []string{"under-600", "subtree-600"} {
			b.Run(fmt.Sprintf("%s/sync=%v", shape, sync), func(b *testing.B) {
				cfg := testConfig(b.TempDir())
				cfg.SyncWrites = sync
				s, err := storage.Open(cfg)
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				var ups []tuple.Update
				add := func(f string, args ...any) {
					ups = append(ups, tuple.Update{Op: tuple.OpTouch, Relationship: tuple.MustParse(fmt.Sprintf(f, args...))})
				}
				for i := range 100 {
					if shape == "under-600" {
						add("team:g#member@team:s%d#member", i)
					}
					for u := range 5 {
						add("team:s%d#member@user:s%d_%d", i, i, u)
					}
				}
				if shape == "subtree-600" {
					for i := range 100 {
						add("team:g#member@team:s%d#member", i)
					}
				}
				for a := range 5 {
					add("team:a%d#member@team:a%d#member", a, a+1)
				}
				add("team:a5#member@team:g#member")
				for u := range 3 {
					add("team:n#member@user:n%d", u)
				}
				if _, err := s.Apply(1, storage.Batch{Updates: ups}); err != nil {
					b.Fatal(err)
				}
				edge := tuple.MustParse("team:g#member@team:n#member")
				if shape == "subtree-600" {
					// Take team:g out first; the benchmark puts it back and out again.
					edge = tuple.MustParse("team:a5#member@team:g#member")
					if _, err := s.Apply(2, storage.Batch{Updates: []tuple.Update{{Op: tuple.OpDelete, Relationship: edge}}}); err != nil {
						b.Fatal(err)
					}
				}
				rev := s.AppliedRevision()
				before := s.GroupIndexStats()
				var took [2]time.Duration
				b.ReportAllocs()
				b.ResetTimer()
				for i := range b.N {
					op := tuple.OpTouch
					if i%2 == 1 {
						op = tuple.OpDelete
					}
					rev++
					t0 := time.Now()
					if _, err := s.Apply(rev, storage.Batch{Updates: []tuple.Update{{Op: op, Relationship: edge}}}); err != nil {
						b.Fatal(err)
					}
					took[i%2] += time.Since(t0)
				}
				b.StopTimer()
				b.ReportMetric(float64(took[0].Nanoseconds())/float64((b.N+1)/2), "add-ns")
				b.ReportMetric(float64(took[1].Nanoseconds())/float64(max(b.N/2, 1)), "delete-ns")
				after := s.GroupIndexStats()
				b.ReportMetric(float64(after.PairsWritten-before.PairsWritten)/float64(b.N), "index-keys/op")
				b.ReportMetric(float64((after.UpdateTime-before.UpdateTime)/time.Duration(b.N)), "index-ns/op")
			})
		}
	}
}
