package storagetest

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trellis-authz/trellis/storage"
	"github.com/trellis-authz/trellis/tuple"
)

// testConcurrentReaders moves a group of relationships from one generation
// to the next in every batch while readers check that each snapshot shows
// exactly one whole generation.
func testConcurrentReaders(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	const group, batches, readers = 20, 60, 2
	gen := func(g int) []tuple.Update {
		var ups []tuple.Update
		for i := 0; i < group; i++ {
			ups = append(ups, tuple.Update{Op: tuple.OpTouch, Relationship: rel(fmt.Sprintf("doc:shared#viewer@user:g%d_%d", g, i))})
			if g > 0 {
				ups = append(ups, tuple.Update{Op: tuple.OpDelete, Relationship: rel(fmt.Sprintf("doc:shared#viewer@user:g%d_%d", g-1, i))})
			}
		}
		return ups
	}
	mustApply(t, s, 1, storage.Batch{Updates: gen(0)})
	var total atomic.Int64
	done := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, readers)
	for r := 0; r < readers; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			checks := 0
			for {
				select {
				case <-done:
					if checks == 0 {
						errs <- errors.New("reader made no checks")
					}
					return
				default:
				}
				rev := s.AppliedRevision()
				sn, err := s.Snapshot(rev)
				if err != nil {
					errs <- err
					return
				}
				gens := map[string]int{}
				for rel, err := range sn.Subjects(ctx, tuple.ObjectRef{Type: "doc", ID: "shared"}, "viewer", "user") {
					if err != nil {
						errs <- err
						return
					}
					g, _, _ := cut(rel.Subject.ID, '_')
					gens[g]++
				}
				if len(gens) != 1 || gens[fmt.Sprintf("g%d", rev-1)] != group {
					errs <- fmt.Errorf("snapshot at %d saw generations %v, want exactly g%d with %d subjects", rev, gens, rev-1, group)
					return
				}
				checks++
				total.Add(1)
				sn.Close()
			}
		}()
	}
	for g := 1; g <= batches; g++ {
		// Let the readers make progress between batches, so reads overlap
		// writes however fast the store is.
		seen := total.Load()
		for wait := 0; total.Load() == seen && wait < 1000; wait++ {
			time.Sleep(time.Millisecond)
		}
		mustApply(t, s, uint64(g+1), storage.Batch{Updates: gen(g)})
	}
	close(done)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func cut(s string, c byte) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func testClosed(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	mustApply(t, s, 1, storage.Batch{Updates: touch("doc:a#viewer@user:ana")})
	sn, err := s.Snapshot(1)
	if err != nil {
		t.Fatal(err)
	}
	sn.Close()
	sn.Close()
	_, _, err = sn.Relationship(ctx, tuple.ObjectRef{Type: "doc", ID: "a"}, "viewer", tuple.SubjectRef{Type: "user", ID: "ana"})
	wantErr(t, "read after Snapshot.Close", err, storage.ErrClosed)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	_, err = s.Apply(2, storage.Batch{})
	wantErr(t, "Apply after Close", err, storage.ErrClosed)
	_, err = s.Snapshot(1)
	wantErr(t, "Snapshot after Close", err, storage.ErrClosed)
}

// testSharedSnapshot reads one snapshot from several goroutines at once (the
// engine fans out over one snapshot) while writes continue.
func testSharedSnapshot(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	var ups []tuple.Update
	for i := 0; i < 200; i++ {
		ups = append(ups, tuple.Update{Op: tuple.OpTouch, Relationship: rel(fmt.Sprintf("doc:d%d#viewer@user:u%d", i%10, i))})
	}
	mustApply(t, s, 1, storage.Batch{Updates: ups})
	sn := snap(t, s, 1)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				n := 0
				for _, err := range sn.Subjects(ctx, tuple.ObjectRef{Type: "doc", ID: fmt.Sprintf("d%d", i%10)}, "viewer", "") {
					if err != nil {
						errs <- err
						return
					}
					n++
				}
				if n != 20 {
					errs <- fmt.Errorf("Subjects: got %d, want 20", n)
					return
				}
				if _, ok, err := sn.Relationship(ctx, tuple.ObjectRef{Type: "doc", ID: "d3"}, "viewer", tuple.SubjectRef{Type: "user", ID: "u13"}); !ok || err != nil {
					errs <- fmt.Errorf("Relationship: got %v %v", ok, err)
					return
				}
			}
		}()
	}
	for rev := uint64(2); rev < 12; rev++ {
		mustApply(t, s, rev, storage.Batch{DeleteFilter: &storage.DeleteByFilter{Filter: tuple.Filter{ResourceType: "doc", ResourceID: fmt.Sprintf("d%d", rev-2)}}})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
