package storage_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trellis-authz/trellis/engine"
	"github.com/trellis-authz/trellis/storage"
	"github.com/trellis-authz/trellis/storage/storagetest"
	"github.com/trellis-authz/trellis/tuple"
)

var _ engine.Reader = (*storage.Snapshot)(nil)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func testConfig(dir string) storage.Config {
	cfg := storage.DefaultConfig(dir)
	cfg.GCWindow = 0
	cfg.ValueLogGCInterval = 0
	cfg.Logger = quietLogger()
	return cfg
}

func openAt(t *testing.T, cfg storage.Config) *storage.Store {
	t.Helper()
	s, err := storage.Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestConformance runs the conformance suite on real Badger on disk with
// synchronous writes.
func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, clock func() time.Time) *storage.Store {
		cfg := testConfig(t.TempDir())
		cfg.Clock = clock
		return openAt(t, cfg)
	})
}

// TestConformanceInMemory runs the suite on an in-memory Badger.
func TestConformanceInMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("short: the on-disk run covers the same behaviour")
	}
	storagetest.Run(t, func(t *testing.T, clock func() time.Time) *storage.Store {
		cfg := testConfig("")
		cfg.InMemory = true
		cfg.Clock = clock
		return openAt(t, cfg)
	})
}

func TestConfigValidate(t *testing.T) {
	ok := storage.DefaultConfig("/tmp/x")
	if err := ok.Validate(); err != nil {
		t.Fatalf("DefaultConfig: %v", err)
	}
	cases := []struct {
		name string
		mod  func(*storage.Config)
		want string
	}{
		{"no dir", func(c *storage.Config) { c.Dir = "" }, "Dir is empty"},
		{"dir and in-memory", func(c *storage.Config) { c.InMemory = true }, "InMemory"},
		{"small memtable", func(c *storage.Config) { c.MemTableSize = 1 << 20 }, "MemTableSize"},
		{"huge memtable", func(c *storage.Config) { c.MemTableSize = 2 << 30 }, "MemTableSize"},
		{"no block cache", func(c *storage.Config) { c.BlockCacheSize = 0 }, "BlockCacheSize"},
		{"negative index cache", func(c *storage.Config) { c.IndexCacheSize = -1 }, "IndexCacheSize"},
		{"fast vlog gc", func(c *storage.Config) { c.ValueLogGCInterval = time.Millisecond }, "ValueLogGCInterval"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := ok
			c.mod(&cfg)
			err := cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want an error naming %q", err, c.want)
			}
			if _, oerr := storage.Open(cfg); oerr == nil {
				t.Errorf("Open accepted an invalid config")
			}
		})
	}
}

// TestReopen checks that everything survives a close and reopen, and that the
// automatic GC window moves the horizon.
func TestReopen(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.GCWindow = 3
	s, err := storage.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for rev := uint64(1); rev <= 10; rev++ {
		b := storage.Batch{Updates: []tuple.Update{{Op: tuple.OpTouch, Relationship: tuple.MustParse(fmt.Sprintf("doc:d%d#viewer@user:ana", rev))}}}
		if rev == 4 {
			b.Schema = &storage.SchemaRecord{Text: "definition user {}"}
		}
		if _, err := s.Apply(rev, b); err != nil {
			t.Fatal(err)
		}
	}
	if got := s.GCHorizon(); got != 7 {
		t.Errorf("GCHorizon with window 3 at 10: got %d, want 7", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, cfg)
	if got := s.AppliedRevision(); got != 10 {
		t.Errorf("applied after reopen: got %d, want 10", got)
	}
	if got := s.GCHorizon(); got != 7 {
		t.Errorf("horizon after reopen: got %d, want 7", got)
	}
	if _, err := s.Snapshot(6); !errors.Is(err, storage.ErrSnapshotExpired) {
		t.Errorf("Snapshot(6) after reopen: got %v, want ErrSnapshotExpired", err)
	}
	sn, err := s.Snapshot(7)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := sn.Count(context.Background(), tuple.Filter{ResourceType: "doc"}); n != 7 {
		t.Errorf("Count at 7: got %d, want 7", n)
	}
	if rec, rev, ok, _ := s.Schema(); !ok || rev != 4 || rec.Text != "definition user {}" {
		t.Errorf("schema after reopen: got %+v %d %v", rec, rev, ok)
	}
}

// TestInterruptedRestore: a store that finds the restore marker on Open was
// interrupted mid-restore and comes up empty instead of half-loaded.
func TestInterruptedRestore(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	s, err := storage.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Apply(3, storage.Batch{Updates: []tuple.Update{{Op: tuple.OpTouch, Relationship: tuple.MustParse("doc:a#viewer@user:ana")}}}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := os.WriteFile(dir+"/TRELLIS-RESTORING", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, cfg)
	if got := s.AppliedRevision(); got != 0 {
		t.Fatalf("applied after an interrupted restore: got %d, want 0", got)
	}
	if _, err := os.Stat(dir + "/TRELLIS-RESTORING"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("marker still present: %v", err)
	}
}

const crashEnv = "TRELLIS_STORAGE_CRASH_CHILD"

// TestCrashDuringApply re-executes the test binary as a child that applies
// batches and prints each revision after Apply returns; the parent kills it
// with SIGKILL mid-stream, reopens the store, and checks that every
// acknowledged batch is there and no batch is partly there.
func TestCrashDuringApply(t *testing.T) {
	if dir := os.Getenv(crashEnv); dir != "" {
		crashChild(dir)
		return
	}
	const perBatch = 50
	for round := 0; round < 2; round++ {
		dir := t.TempDir()
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashDuringApply$", "-test.v=false")
		cmd.Env = append(os.Environ(), crashEnv+"="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var acked uint64
		sc := bufio.NewScanner(out)
		killAt := uint64(40 + 37*round)
		for sc.Scan() {
			line := sc.Text()
			rev, ok := strings.CutPrefix(line, "ack ")
			if !ok {
				continue
			}
			n, err := strconv.ParseUint(rev, 10, 64)
			if err != nil {
				t.Fatalf("child printed %q", line)
			}
			acked = n
			if acked >= killAt {
				if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				break
			}
		}
		go io.Copy(io.Discard, out)
		werr := cmd.Wait()
		if acked < killAt {
			t.Fatalf("child stopped after %d acknowledgements (%v); want at least %d", acked, werr, killAt)
		}
		var ee *exec.ExitError
		if !errors.As(werr, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("child did not die of SIGKILL: %v", werr)
		}

		cfg := testConfig(dir)
		s := openAt(t, cfg)
		applied := s.AppliedRevision()
		if applied < acked {
			t.Fatalf("round %d: applied %d after reopen, but %d was acknowledged", round, applied, acked)
		}
		sn, err := s.Snapshot(applied)
		if err != nil {
			t.Fatal(err)
		}
		perRev := map[uint64]int{}
		for r, err := range sn.ReadAll(context.Background(), tuple.Filter{ResourceType: "doc"}) {
			if err != nil {
				t.Fatal(err)
			}
			rev, _ := strconv.ParseUint(strings.TrimPrefix(r.Resource.ID, "b"), 10, 64)
			perRev[rev]++
		}
		for rev := uint64(1); rev <= applied; rev++ {
			if perRev[rev] != perBatch {
				t.Errorf("round %d: batch %d has %d of %d relationships (applied %d, acknowledged %d)", round, rev, perRev[rev], perBatch, applied, acked)
			}
		}
		for rev, n := range perRev {
			if rev > applied {
				t.Errorf("round %d: batch %d above the applied revision %d left %d relationships", round, rev, applied, n)
			}
		}
		// Reverse index agrees.
		n := 0
		for _, err := range sn.ReadAll(context.Background(), tuple.Filter{Subject: &tuple.SubjectFilter{Type: "user"}}) {
			if err != nil {
				t.Fatal(err)
			}
			n++
		}
		if n != int(applied)*perBatch {
			t.Errorf("round %d: reverse index has %d entries, want %d", round, n, int(applied)*perBatch)
		}
		t.Logf("round %d: killed after ack %d; reopened at %d", round, acked, applied)
	}
}

func crashChild(dir string) {
	cfg := testConfig(dir)
	s, err := storage.Open(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	for rev := uint64(1); ; rev++ {
		var ups []tuple.Update
		for i := 0; i < 50; i++ {
			ups = append(ups, tuple.Update{Op: tuple.OpCreate, Relationship: tuple.MustParse(fmt.Sprintf("doc:b%d#viewer@user:u%d_%d", rev, rev, i))})
		}
		if _, err := s.Apply(rev, storage.Batch{Updates: ups, Meta: []byte("crash")}); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(2)
		}
		fmt.Fprintf(os.Stdout, "ack %d\n", rev)
	}
}
