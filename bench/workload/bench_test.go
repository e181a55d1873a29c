package workload

import (
	"context"
	"io"
	"testing"
)

// BenchmarkGenerateOrg measures generating one organization of the default
// preset (relationships written to io.Discard, 100 queries per class).
func BenchmarkGenerateOrg(b *testing.B) {
	cfg := DefaultConfig()
	cfg.Orgs = 1
	cfg.QueriesPerClass = 100
	var rels int64
	for b.Loop() {
		s, err := Generate(context.Background(), cfg, Outputs{Relationships: io.Discard, Queries: io.Discard, Writes: io.Discard})
		if err != nil {
			b.Fatal(err)
		}
		rels = s.Relationships
	}
	b.ReportMetric(float64(rels)*float64(b.N)/b.Elapsed().Seconds(), "rels/s")
}
