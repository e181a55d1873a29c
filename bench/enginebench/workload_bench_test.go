package enginebench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/trellis-authz/trellis/bench/driver"
	"github.com/trellis-authz/trellis/bench/workload"
	"github.com/trellis-authz/trellis/engine"
	"github.com/trellis-authz/trellis/schema/compile"
	"github.com/trellis-authz/trellis/storage"
	"github.com/trellis-authz/trellis/tuple"
)

// importChunk is the batch size of the import: the import endpoint's chunk.
const importChunk = 5000

func benchDir(b *testing.B) string {
	dir := os.Getenv("TRELLIS_BENCH_DIR")
	if dir == "" {
		b.Skip("TRELLIS_BENCH_DIR is not set: point it at a directory written by trellis-bench gen --format text")
	}
	return dir
}

func openStore(b *testing.B, dir string, now time.Time) *storage.Store {
	cfg := storage.DefaultConfig(dir)
	cfg.ValueLogGCInterval = 0
	cfg.Clock = func() time.Time { return now }
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := storage.Open(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return st
}

// BenchmarkWorkload imports the workload (reporting relationships/s, the
// index's pairs and its size against the relationships'), then asks every
// check of the query file once per mode, cache off, and reports ns per check,
// p50/p99 and wrong answers (any is a failure).
// loaded is a workload imported into a real store, read at its last revision.
type loaded struct {
	v   engine.View
	qs  []workload.Query
	now time.Time
}

// loadWorkload imports TRELLIS_BENCH_DIR's workload into a fresh store and
// logs the import rate and the index size.
func loadWorkload(b *testing.B) loaded {
	dir := benchDir(b)
	text, err := os.ReadFile(filepath.Join(dir, workload.SchemaFile))
	if err != nil {
		b.Fatal(err)
	}
	sch, errs := compile.CompileText("schema.zed", string(text))
	if errs.Err() != nil {
		b.Fatal(errs)
	}
	lines, err := driver.LoadLines(filepath.Join(dir, "relationships.txt"))
	if err != nil {
		b.Fatal(err)
	}
	qs, err := driver.LoadQueries(filepath.Join(dir, workload.QueriesFile))
	if err != nil {
		b.Fatal(err)
	}
	now := workload.DefaultReferenceTime.Add(time.Hour)
	sdir := b.TempDir()
	st := openStore(b, sdir, now)
	start := time.Now()
	rev := uint64(0)
	for i := 0; i < len(lines); i += importChunk {
		var batch storage.Batch
		for _, l := range lines[i:min(i+importChunk, len(lines))] {
			r, err := tuple.Parse(l)
			if err != nil {
				b.Fatal(err)
			}
			batch.Updates = append(batch.Updates, tuple.Update{Op: tuple.OpTouch, Relationship: r})
		}
		rev++
		if _, err := st.Apply(rev, batch); err != nil {
			b.Fatal(err)
		}
	}
	took := time.Since(start)
	gs := st.GroupIndexStats()
	var idx, rels uint64
	if os.Getenv("TRELLIS_BENCH_MEMTABLE") == "" {
		st.Close() // flush the memtables, so the size estimates see everything
		st = openStore(b, sdir, now)
		idx, rels = st.GroupIndexSize()
	}
	b.Cleanup(func() { st.Close() })
	b.Logf("import: %d relationships in %s = %.0f/s (sync writes, chunks of %d); index: %d pairs, %s updating it; size: index %d B, relationships %d B (%.3f×)",
		len(lines), took.Round(time.Millisecond), float64(len(lines))/took.Seconds(), importChunk, gs.Pairs, gs.UpdateTime.Round(time.Millisecond), idx, rels, float64(idx)/float64(max(rels, 1)))

	sn, err := st.Snapshot(rev)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(sn.Close)
	return loaded{v: engine.View{Schema: sch, Reader: sn, Revision: rev}, qs: qs, now: now}
}

func BenchmarkWorkload(b *testing.B) {
	w := loadWorkload(b)
	v, qs, now := w.v, w.qs, w.now
	var checks []workload.Query
	for _, q := range qs {
		if !q.IsLookup() {
			checks = append(checks, q)
		}
	}
	for _, mode := range []string{"index", "walk"} {
		b.Run(mode, func(b *testing.B) {
			cfg := engine.DefaultConfig()
			cfg.CacheEntries = 0
			cfg.Clock = func() time.Time { return now }
			cfg.NoGroupIndex = mode == "walk"
			e, err := engine.New(cfg)
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			lat := make([]time.Duration, 0, len(checks))
			wrong := 0
			rd := &counted{Snapshot: v.Reader.(*storage.Snapshot)}
			v := v
			v.Reader = rd
			cpu0 := cpuTime()
			b.ResetTimer()
			for range b.N {
				lat = lat[:0]
				for _, q := range checks {
					req, err := checkRequest(q)
					if err != nil {
						b.Fatal(err)
					}
					t0 := time.Now()
					r, err := e.Check(ctx, v, req)
					lat = append(lat, time.Since(t0))
					if err != nil {
						b.Fatalf("%+v: %v", q, err)
					}
					if r.Result.String() != q.Expect {
						wrong++
					}
				}
			}
			b.StopTimer()
			reportLatencies(b, lat, "ns/check")
			rd.report(b, b.N*len(checks), "check")
			b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N*len(checks)), "cpu-ns/check")
			a, f := e.GroupIndexStats()
			b.ReportMetric(float64(a)/float64(b.N), "index-answers/op")
			b.ReportMetric(float64(f)/float64(b.N), "index-fallbacks/op")
			if wrong > 0 {
				b.Fatalf("%d answers differ from the workload's expected answers", wrong)
			}
		})
	}
}

func checkRequest(q workload.Query) (engine.CheckRequest, error) {
	res, err := tuple.ParseObject(q.Resource)
	if err != nil {
		return engine.CheckRequest{}, fmt.Errorf("resource %q: %w", q.Resource, err)
	}
	subj, err := tuple.ParseSubject(q.Subject)
	if err != nil {
		return engine.CheckRequest{}, fmt.Errorf("subject %q: %w", q.Subject, err)
	}
	return engine.CheckRequest{Resource: res, Permission: q.Permission, Subject: subj, Context: q.Context}, nil
}

// reportLatencies reports the mean (as unit, e.g. "ns/check"), p50 and p99
// of the latencies of one benchmark run.
func reportLatencies(b *testing.B, lat []time.Duration, unit string) {
	slices.Sort(lat)
	var sum time.Duration
	for _, l := range lat {
		sum += l
	}
	b.ReportMetric(float64(sum.Nanoseconds())/float64(len(lat)), unit)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
}
