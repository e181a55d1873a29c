package pep

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/trellis-authz/trellis/pep/internal/peptest"
	"github.com/trellis-authz/trellis/wire"
)

// The retrieval filter's cost: listing the allowed set against checking the
// candidates, for allowed sets of 10 to 10,000 documents and 10 to 1,000
// candidates, on a real node in this process. Figures and the command are in
// bench/RESULTS.md ("Retrieval filter"); nothing here asserts a speed.

// benchDocs documents, in folders of ten; user uA views A/10 folders, so
// it may read A documents.
const benchDocs = 10_000

var benchAllowed = []int{10, 100, 1000, 10_000}

func filterBenchNode(b *testing.B) (*peptest.Node, *Client) {
	tn := startNode(b, filterSchema)
	var ups []wire.Update
	flush := func() {
		tn.Write(b, ups...)
		ups = ups[:0]
	}
	for i := range benchDocs {
		ups = append(ups, touch(fmt.Sprintf("document:d%05d#folder@folder:f%04d", i, i/10)))
		if len(ups) == 1000 {
			flush()
		}
	}
	for _, a := range benchAllowed {
		for f := range a / 10 {
			ups = append(ups, touch(fmt.Sprintf("folder:f%04d#viewer@user:u%d", f, a)))
			if len(ups) == 1000 {
				flush()
			}
		}
	}
	if len(ups) > 0 {
		flush()
	}
	cfg := testConfig(tn.URL, tn.Reader)
	cfg.CacheSize = 0
	return tn, newClient(b, cfg)
}

// benchCandidates returns n distinct document ids drawn at random.
func benchCandidates(n int) []string {
	r := rand.New(rand.NewPCG(1, uint64(n)))
	out := make([]string, 0, n)
	for _, i := range r.Perm(benchDocs)[:n] {
		out = append(out, fmt.Sprintf("d%05d", i))
	}
	return out
}

// BenchmarkFilter runs Apply for every allowed-set size and candidate
// count with each strategy forced and with the rule:
//
//   - check_bulk: Budget -1, every candidate checked;
//   - probe: the first lookup page decides, every time (ProbeMin 1, no
//     estimates), which is listing when the set fits in the candidates;
//   - rule-cold: the default config, without an estimate (a new Filter
//     each time: the first request of a subject);
//   - rule-warm: the default config, one Filter (its estimate from the
//     first request steers the others).
func BenchmarkFilter(b *testing.B) {
	_, c := filterBenchNode(b)
	ctx := context.Background()
	modes := []struct {
		name string
		edit func(*FilterConfig)
		cold bool
	}{
		{"check_bulk", func(c *FilterConfig) { c.Budget = -1 }, false},
		{"probe", func(c *FilterConfig) { c.ProbeMin, c.Estimates = 1, 0 }, false},
		{"rule-cold", nil, true},
		{"rule-warm", nil, false},
	}
	for _, n := range []int{10, 100, 1000} {
		cands := benchCandidates(n)
		for _, a := range benchAllowed {
			req := FilterRequest{Subject: "user:u" + strconv.Itoa(a), ResourceType: "document", Permission: "read", Candidates: cands}
			for _, mode := range modes {
				b.Run("allowed="+strconv.Itoa(a)+"/candidates="+strconv.Itoa(n)+"/"+mode.name, func(b *testing.B) {
					f := newFilter(b, c, mode.edit)
					var got FilterResult
					for b.Loop() {
						if mode.cold {
							f = newFilter(b, c, mode.edit)
						}
						var err error
						if got, err = f.Apply(ctx, req); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(len(got.RequestIDs)), "requests")
					if got.Strategy == FilterByLookup {
						b.ReportMetric(1, "listed")
					}
				})
			}
		}
	}
}
