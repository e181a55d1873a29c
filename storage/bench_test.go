package storage_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/trellis-authz/trellis/storage"
	"github.com/trellis-authz/trellis/tuple"
)

// The benchmarks run on real Badger on disk with synchronous writes (the
// production setting). Run them with
//
//	go test ./storage -run '^$' -bench . -benchtime 1x       (bulk import once)
//	go test ./storage -run '^$' -bench 'Lookup|Subjects|Resources'

var (
	fixtureOnce  sync.Once
	fixtureStore *storage.Store
	fixtureDir   string
	fixtureErr   error
)

const (
	fixtureDatasets = 20000 // dataset:dN, 10 readers each
	fixtureUsers    = 20000 // user:uN
	bigObjectSubs   = 10000 // dataset:big has 10,000 readers
	heavyUserRes    = 1000  // user:heavy reads 1,000 datasets
)

func TestMain(m *testing.M) {
	code := m.Run()
	if fixtureStore != nil {
		fixtureStore.Close()
		os.RemoveAll(fixtureDir)
	}
	os.Exit(code)
}

func fixtureRel(i int) tuple.Relationship {
	return tuple.Relationship{
		Resource: tuple.ObjectRef{Type: "dataset", ID: fmt.Sprintf("d%d", i/10)},
		Relation: "reader",
		Subject:  tuple.SubjectRef{Type: "user", ID: fmt.Sprintf("u%d", (i*7919)%fixtureUsers)},
	}
}

// fixture is a store with 200,000 + 10,000 + 1,000 relationships, applied in
// batches of 10,000, then closed and reopened so reads hit SSTables.
func fixture(b *testing.B) *storage.Store {
	fixtureOnce.Do(func() {
		fixtureDir, fixtureErr = os.MkdirTemp("", "trellis-storage-bench-")
		if fixtureErr != nil {
			return
		}
		cfg := testConfig(fixtureDir)
		s, err := storage.Open(cfg)
		if err != nil {
			fixtureErr = err
			return
		}
		rev := uint64(0)
		var ups []tuple.Update
		flush := func() {
			rev++
			if _, err := s.Apply(rev, storage.Batch{Updates: ups}); err != nil && fixtureErr == nil {
				fixtureErr = err
			}
			ups = ups[:0]
		}
		for i := 0; i < fixtureDatasets*10; i++ {
			ups = append(ups, tuple.Update{Op: tuple.OpTouch, Relationship: fixtureRel(i)})
			if len(ups) == 10000 {
				flush()
			}
		}
		for i := 0; i < bigObjectSubs; i++ {
			ups = append(ups, tuple.Update{Op: tuple.OpTouch, Relationship: tuple.MustParse(fmt.Sprintf("dataset:big#reader@user:b%05d", i))})
		}
		flush()
		for i := 0; i < heavyUserRes; i++ {
			ups = append(ups, tuple.Update{Op: tuple.OpTouch, Relationship: tuple.MustParse(fmt.Sprintf("dataset:h%04d#reader@user:heavy", i))})
		}
		flush()
		if err := s.Close(); err != nil && fixtureErr == nil {
			fixtureErr = err
		}
		fixtureStore, err = storage.Open(cfg)
		if err != nil && fixtureErr == nil {
			fixtureErr = err
		}
	})
	if fixtureErr != nil {
		b.Fatal(fixtureErr)
	}
	return fixtureStore
}

// BenchmarkBulkApply imports 1,000,000 relationships as 100 batches of
// 10,000 (one op = the whole import) and reports relationships/s and disk
// bytes per relationship (allocated blocks, live and after a reopen). "sync"
// is the production setting (fsync per batch); "nosync" shows the fsync cost.
func BenchmarkBulkApply(b *testing.B) {
	for _, sync := range []bool{true, false} {
		name := "sync"
		if !sync {
			name = "nosync"
		}
		b.Run(name, func(b *testing.B) { benchBulkApply(b, sync) })
	}
}

func benchBulkApply(b *testing.B, sync bool) {
	const total, batch = 1_000_000, 10_000
	cfgFor := func(dir string) storage.Config {
		cfg := testConfig(dir)
		cfg.SyncWrites = sync
		return cfg
	}
	for n := 0; n < b.N; n++ {
		b.StopTimer()
		dir := b.TempDir()
		s, err := storage.Open(cfgFor(dir))
		if err != nil {
			b.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(1, uint64(n)))
		ups := make([]tuple.Update, batch)
		var elapsed time.Duration
		cpu0 := cpuTime()
		for rev := uint64(1); rev <= total/batch; rev++ {
			for i := range ups {
				k := int(rev-1)*batch + i
				ups[i] = tuple.Update{Op: tuple.OpTouch, Relationship: tuple.Relationship{
					Resource: tuple.ObjectRef{Type: "dataset", ID: fmt.Sprintf("ds%07d", rng.IntN(total/10))},
					Relation: "reader",
					Subject:  tuple.SubjectRef{Type: "user", ID: fmt.Sprintf("user%07d", k)},
				}}
			}
			b.StartTimer()
			start := time.Now()
			if _, err := s.Apply(rev, storage.Batch{Updates: ups}); err != nil {
				b.Fatal(err)
			}
			elapsed += time.Since(start)
			b.StopTimer()
		}
		cpu := cpuTime() - cpu0
		live, _ := s.DiskSize()
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		s, err = storage.Open(cfgFor(dir))
		if err != nil {
			b.Fatal(err)
		}
		closed, _ := s.DiskSize()
		s.Close()
		b.ReportMetric(float64(total)/elapsed.Seconds(), "rels/s")
		b.ReportMetric(float64(live)/total, "disk-B/rel")
		b.ReportMetric(float64(cpu.Microseconds())/total, "cpu-µs/rel")
		b.ReportMetric(float64(closed)/total, "disk-B/rel-after-reopen")
	}
}

// BenchmarkExactLookup looks up existing relationships at random in a warm
// 211,000-relationship store, and reports the p50 and p99 of individually
// timed lookups besides ns/op.
func BenchmarkExactLookup(b *testing.B) {
	s := fixture(b)
	sn, err := s.Snapshot(s.AppliedRevision())
	if err != nil {
		b.Fatal(err)
	}
	defer sn.Close()
	ctx := context.Background()
	const keys = 4096
	rels := make([]tuple.Relationship, keys)
	rng := rand.New(rand.NewPCG(7, 7))
	for i := range rels {
		rels[i] = fixtureRel(rng.IntN(fixtureDatasets * 10))
	}
	for _, r := range rels { // warm the caches
		if _, ok, err := sn.Relationship(ctx, r.Resource, r.Relation, r.Subject); !ok || err != nil {
			b.Fatalf("warm-up: %s missing (%v)", r, err)
		}
	}
	samples := make([]time.Duration, 0, min(b.N, 1_000_000))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := &rels[i%keys]
		t0 := time.Now()
		_, ok, err := sn.Relationship(ctx, r.Resource, r.Relation, r.Subject)
		d := time.Since(t0)
		if !ok || err != nil {
			b.Fatalf("%s missing (%v)", r, err)
		}
		if len(samples) < cap(samples) {
			samples = append(samples, d)
		}
	}
	b.StopTimer()
	slices.Sort(samples)
	b.ReportMetric(float64(samples[len(samples)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(samples[len(samples)*99/100].Nanoseconds()), "p99-ns")
}

// BenchmarkExactLookupMiss looks up absent relationships (the common case for
// exclusions and most of a Check's fan-out).
func BenchmarkExactLookupMiss(b *testing.B) {
	s := fixture(b)
	sn, _ := s.Snapshot(s.AppliedRevision())
	ctx := context.Background()
	obj := tuple.ObjectRef{Type: "dataset", ID: "d123"}
	subs := make([]tuple.SubjectRef, 1024)
	for i := range subs {
		subs[i] = tuple.SubjectRef{Type: "user", ID: fmt.Sprintf("nobody%d", i)}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, ok, _ := sn.Relationship(ctx, obj, "reader", subs[i%len(subs)]); ok {
			b.Fatal("found an absent relationship")
		}
	}
}

// BenchmarkSubjects10k iterates the 10,000 subjects of one object.
func BenchmarkSubjects10k(b *testing.B) {
	s := fixture(b)
	sn, _ := s.Snapshot(s.AppliedRevision())
	ctx := context.Background()
	obj := tuple.ObjectRef{Type: "dataset", ID: "big"}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n := 0
		for _, err := range sn.Subjects(ctx, obj, "reader", "user") {
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != bigObjectSubs {
			b.Fatalf("got %d subjects, want %d", n, bigObjectSubs)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/bigObjectSubs, "ns/subject")
}

// BenchmarkResources reverse-looks-up the datasets a user reads: a typical
// user (about 10) and a heavy one (1,000).
func BenchmarkResources(b *testing.B) {
	s := fixture(b)
	sn, _ := s.Snapshot(s.AppliedRevision())
	ctx := context.Background()
	for _, c := range []struct {
		name string
		sub  func(i int) tuple.SubjectRef
		min  int
	}{
		{"typical", func(i int) tuple.SubjectRef {
			return tuple.SubjectRef{Type: "user", ID: fmt.Sprintf("u%d", i%fixtureUsers)}
		}, 1},
		{"heavy1000", func(int) tuple.SubjectRef { return tuple.SubjectRef{Type: "user", ID: "heavy"} }, heavyUserRes},
	} {
		b.Run(c.name, func(b *testing.B) {
			subs := make([]tuple.SubjectRef, 1024)
			for i := range subs {
				subs[i] = c.sub(i * 13)
			}
			b.ReportAllocs()
			b.ResetTimer()
			total := 0
			for i := 0; i < b.N; i++ {
				n := 0
				for _, err := range sn.Resources(ctx, subs[i%len(subs)], "dataset", "reader") {
					if err != nil {
						b.Fatal(err)
					}
					n++
				}
				if n < c.min {
					b.Fatalf("got %d resources, want at least %d", n, c.min)
				}
				total += n
			}
			b.ReportMetric(float64(total)/float64(b.N), "resources/op")
		})
	}
}

// cpuTime is the process's user+system CPU time (all goroutines, including
// Badger's background compaction), a figure that does not depend on how busy
// the shared machine is.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
