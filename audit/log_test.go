package audit

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

// memStore is an in-memory Store: a map holding the latest committed values.
type memStore struct {
	mu   sync.Mutex
	m    map[string][]byte
	gets int
}

func newMemStore() *memStore { return &memStore{m: map[string][]byte{}} }

func (s *memStore) Get(key []byte) ([]byte, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gets++
	v, ok := s.m[string(key)]
	return v, ok, nil
}

// apply writes kvs as one committed transaction.
func (s *memStore) apply(kvs []KV) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, kv := range kvs {
		s.m[string(kv.Key)] = bytes.Clone(kv.Value)
	}
}

func (s *memStore) clone() *memStore {
	return &memStore{m: maps.Clone(s.m)}
}

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 123456789, time.UTC)

// testEntry returns a deterministic entry that differs for each i.
func testEntry(i int) Entry {
	kinds := []string{KindWrite, KindDelete, KindImport, KindSchema}
	changes := []string{fmt.Sprintf("touch doc:%d#viewer@user:u%d", i, i%7)}
	return Entry{
		Revision:       uint64(i + 1),
		Time:           t0.Add(time.Duration(i) * time.Millisecond),
		Kind:           kinds[i%len(kinds)],
		Principal:      fmt.Sprintf("user:p%d", i%3),
		Reason:         fmt.Sprintf("ticket %d", i),
		RequestID:      fmt.Sprintf("req-%d", i),
		IdempotencyKey: fmt.Sprintf("idem-%d", i),
		ChangeCount:    len(changes),
		ChangeDigest:   DigestChanges(changes),
	}
}

// appendCommit appends e and commits it to s.
func appendCommit(t testing.TB, l *Log, s *memStore, e Entry) uint64 {
	t.Helper()
	kvs, seq, err := l.Append(e)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	s.apply(kvs)
	l.Commit()
	return seq
}

func newTestLog(t testing.TB, n int) (*Log, *memStore) {
	t.Helper()
	s := newMemStore()
	l, err := Open(s)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	for i := range n {
		if seq := appendCommit(t, l, s, testEntry(i)); seq != uint64(i) {
			t.Fatalf("Append %d: got seq %d, want %d", i, seq, i)
		}
	}
	return l, s
}

// refRoot computes the RFC 6962 root of leaf hashes by the definition
// (MTH of RFC 6962 section 2.1), independently of the compact range.
func refRoot(leaves [][]byte) []byte {
	h := rfc6962.DefaultHasher
	switch n := len(leaves); n {
	case 0:
		return h.EmptyRoot()
	case 1:
		return leaves[0]
	default:
		k := 1
		for k*2 < n {
			k *= 2
		}
		return h.HashChildren(refRoot(leaves[:k]), refRoot(leaves[k:]))
	}
}

func TestRootMatchesReference(t *testing.T) {
	s := newMemStore()
	l, err := Open(s)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := l.Root(), sha256.New().Sum(nil); !bytes.Equal(got, want) {
		t.Fatalf("empty root: got %x, want %x", got, want)
	}
	var leaves [][]byte
	for i := range 70 {
		e := testEntry(i)
		e.Seq = uint64(i)
		raw, err := e.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(append([]byte{0}, raw...))
		leaves = append(leaves, sum[:])
		appendCommit(t, l, s, testEntry(i))
		if got, want := l.Root(), refRoot(leaves); !bytes.Equal(got, want) {
			t.Fatalf("size %d: got root %x, want %x", i+1, got, want)
		}
		if got := l.Size(); got != uint64(i+1) {
			t.Fatalf("got size %d, want %d", got, i+1)
		}
	}
}

func TestReplicasAgreeAndReopen(t *testing.T) {
	a, sa := newTestLog(t, 37)
	b, _ := newTestLog(t, 37)
	if !bytes.Equal(a.Root(), b.Root()) {
		t.Fatalf("replicas disagree: %x vs %x", a.Root(), b.Root())
	}
	sc := sa.clone()
	c, err := Open(sc)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	if c.Size() != a.Size() || !bytes.Equal(c.Root(), a.Root()) {
		t.Fatalf("reopen: got size %d root %x, want %d %x", c.Size(), c.Root(), a.Size(), a.Root())
	}
	// The reopened log keeps appending to the same tree.
	appendCommit(t, a, sa, testEntry(37))
	appendCommit(t, c, sc, testEntry(37))
	if !bytes.Equal(a.Root(), c.Root()) {
		t.Fatalf("after append: reopened root %x, original %x", c.Root(), a.Root())
	}
	// Entries read back equal what went in.
	for i := range 38 {
		got, err := c.Entry(uint64(i))
		if err != nil {
			t.Fatal(err)
		}
		want := testEntry(i)
		want.Seq = uint64(i)
		if !entriesEqual(got, want) {
			t.Fatalf("entry %d: got %+v, want %+v", i, got, want)
		}
	}
}

func entriesEqual(a, b Entry) bool {
	return a.Seq == b.Seq && a.Revision == b.Revision && a.Time.Equal(b.Time) && a.Kind == b.Kind &&
		a.Principal == b.Principal && a.Reason == b.Reason && a.RequestID == b.RequestID &&
		a.IdempotencyKey == b.IdempotencyKey && a.ChangeCount == b.ChangeCount &&
		bytes.Equal(a.ChangeDigest, b.ChangeDigest)
}

func TestAbortedAppend(t *testing.T) {
	l, s := newTestLog(t, 10)
	root, size := l.Root(), l.Size()
	snapshot := s.clone()

	// Staged entries are invisible and Abort drops them.
	for i := range 3 {
		if _, _, err := l.Append(testEntry(10 + i)); err != nil {
			t.Fatal(err)
		}
	}
	if got := l.Size(); got != size {
		t.Fatalf("while staged: got size %d, want %d", got, size)
	}
	l.Abort()
	if got := l.Root(); !bytes.Equal(got, root) || l.Size() != size {
		t.Fatalf("after Abort: got size %d root %x, want %d %x", l.Size(), got, size, root)
	}
	if !maps.EqualFunc(s.m, snapshot.m, bytes.Equal) {
		t.Fatal("Append wrote to the store")
	}
	// The next append takes the aborted one's place.
	kvs, seq, err := l.Append(testEntry(10))
	if err != nil {
		t.Fatal(err)
	}
	if seq != 10 {
		t.Fatalf("after Abort: got seq %d, want 10", seq)
	}

	// Sync without the transaction having committed also drops staged entries.
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(l.Root(), root) {
		t.Fatal("Sync with an uncommitted transaction changed the root")
	}
	// Sync after the transaction committed promotes them.
	kvs, _, err = l.Append(testEntry(10))
	if err != nil {
		t.Fatal(err)
	}
	s.apply(kvs)
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	want, _ := newTestLog(t, 11)
	if l.Size() != 11 || !bytes.Equal(l.Root(), want.Root()) {
		t.Fatalf("Sync after commit: got size %d root %x, want 11 %x", l.Size(), l.Root(), want.Root())
	}
}

func TestMultipleStagedAppendsOneTransaction(t *testing.T) {
	l, s := newTestLog(t, 5)
	var all []KV
	for i := 5; i < 9; i++ {
		kvs, seq, err := l.Append(testEntry(i))
		if err != nil {
			t.Fatal(err)
		}
		if seq != uint64(i) {
			t.Fatalf("got seq %d, want %d", seq, i)
		}
		all = append(all, kvs...)
	}
	s.apply(all)
	l.Commit()
	want, _ := newTestLog(t, 9)
	if !bytes.Equal(l.Root(), want.Root()) {
		t.Fatalf("got root %x, want %x", l.Root(), want.Root())
	}
	r, err := Open(s)
	if err != nil {
		t.Fatal(err)
	}
	if r.Size() != 9 || !bytes.Equal(r.Root(), want.Root()) {
		t.Fatalf("reopen: got size %d root %x, want 9 %x", r.Size(), r.Root(), want.Root())
	}
}

func TestAppendRejectsBadEntries(t *testing.T) {
	l, _ := newTestLog(t, 3)
	tests := []struct {
		name   string
		mutate func(*Entry)
	}{
		{"unknown kind", func(e *Entry) { e.Kind = "wrote" }},
		{"zero time", func(e *Entry) { e.Time = time.Time{} }},
		{"negative count", func(e *Entry) { e.ChangeCount = -1 }},
		{"bad utf8", func(e *Entry) { e.Reason = "\xff" }},
		{"long reason", func(e *Entry) { e.Reason = string(make([]byte, MaxFieldLen+1)) }},
		{"revision goes back", func(e *Entry) { e.Revision = 1 }},
		{"long digest", func(e *Entry) { e.ChangeDigest = make([]byte, MaxDigestLen+1) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := testEntry(3)
			tc.mutate(&e)
			_, _, err := l.Append(e)
			if !errors.Is(err, ErrInvalidEntry) {
				t.Fatalf("got error %v, want ErrInvalidEntry", err)
			}
			if l.Size() != 3 {
				t.Fatalf("got size %d, want 3", l.Size())
			}
		})
	}
}

func TestAllProofs(t *testing.T) {
	const n = 40
	l, _ := newTestLog(t, n)
	h := rfc6962.DefaultHasher
	roots := make([][]byte, n+1)
	for size := uint64(0); size <= n; size++ {
		r, err := l.RootAt(size)
		if err != nil {
			t.Fatal(err)
		}
		roots[size] = r
	}
	if !bytes.Equal(roots[n], l.Root()) {
		t.Fatalf("RootAt(%d) %x != Root %x", n, roots[n], l.Root())
	}
	for size := uint64(1); size <= n; size++ {
		for seq := range size {
			p, err := l.InclusionProof(seq, size)
			if err != nil {
				t.Fatalf("InclusionProof(%d, %d): %v", seq, size, err)
			}
			leaf, err := l.LeafHash(seq)
			if err != nil {
				t.Fatal(err)
			}
			if err := proof.VerifyInclusion(h, seq, size, leaf, p, roots[size]); err != nil {
				t.Fatalf("inclusion (%d, %d): %v", seq, size, err)
			}
			// A proof for another leaf must not verify.
			other, _ := l.LeafHash((seq + 1) % size)
			if size > 1 && proof.VerifyInclusion(h, seq, size, other, p, roots[size]) == nil {
				t.Fatalf("inclusion (%d, %d) verified for the wrong leaf", seq, size)
			}
		}
	}
	for m := uint64(0); m <= n; m++ {
		for k := m; k <= n; k++ {
			p, err := l.ConsistencyProof(m, k)
			if err != nil {
				t.Fatalf("ConsistencyProof(%d, %d): %v", m, k, err)
			}
			if err := proof.VerifyConsistency(h, m, k, p, roots[m], roots[k]); err != nil {
				t.Fatalf("consistency (%d, %d): %v", m, k, err)
			}
			if m > 0 && m < k && proof.VerifyConsistency(h, m, k, p, roots[m-1], roots[k]) == nil {
				t.Fatalf("consistency (%d, %d) verified against the wrong old root", m, k)
			}
		}
	}
	// Out of range.
	for _, c := range [][2]uint64{{0, n + 1}, {n, n}, {5, 3}} {
		if _, err := l.InclusionProof(c[0], c[1]); !errors.Is(err, ErrBadRange) {
			t.Errorf("InclusionProof(%d, %d): got %v, want ErrBadRange", c[0], c[1], err)
		}
	}
	if _, err := l.ConsistencyProof(5, 3); !errors.Is(err, ErrBadRange) {
		t.Errorf("ConsistencyProof(5, 3): got %v, want ErrBadRange", err)
	}
	if _, err := l.ConsistencyProof(3, n+1); !errors.Is(err, ErrBadRange) {
		t.Errorf("ConsistencyProof(3, %d): got %v, want ErrBadRange", n+1, err)
	}
}

func TestEntriesFilter(t *testing.T) {
	l, _ := newTestLog(t, 30)
	tests := []struct {
		name     string
		from     uint64
		limit    int
		filter   Filter
		wantSeqs []uint64
		wantNext uint64
	}{
		{"page", 3, 4, Filter{}, []uint64{3, 4, 5, 6}, 7},
		{"kind", 0, 3, Filter{Kind: KindDelete}, []uint64{1, 5, 9}, 10},
		{"principal and kind", 0, 100, Filter{Kind: KindWrite, Principal: "user:p0"}, []uint64{0, 12, 24}, 30},
		{"request", 0, 10, Filter{RequestID: "req-17"}, []uint64{17}, 30},
		{"time", 0, 10, Filter{Since: t0.Add(28 * time.Millisecond)}, []uint64{28, 29}, 30},
		{"until", 0, 10, Filter{Until: t0.Add(2 * time.Millisecond)}, []uint64{0, 1}, 30},
		{"past end", 40, 10, Filter{}, nil, 40},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, next, err := l.Entries(tc.from, tc.limit, tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			var seqs []uint64
			for _, e := range got {
				seqs = append(seqs, e.Seq)
			}
			if fmt.Sprint(seqs) != fmt.Sprint(tc.wantSeqs) || next != tc.wantNext {
				t.Fatalf("got %v next %d, want %v next %d", seqs, next, tc.wantSeqs, tc.wantNext)
			}
		})
	}
	if _, err := l.Entry(30); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Entry(30): got %v, want ErrNotFound", err)
	}
}

func TestOpenDetectsCorruption(t *testing.T) {
	_, s := newTestLog(t, 9)
	e := testEntry(8)
	e.Seq = 8
	e.Reason = "edited"
	raw, err := e.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	s.m[string(entryKey(8))] = raw
	if _, err := Open(s); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("got %v, want ErrCorrupt", err)
	}
}

func TestProofStoreReads(t *testing.T) {
	// Proofs read O(log n) stored nodes, not every leaf.
	l, s := newTestLog(t, 1000)
	s.gets = 0
	if _, err := l.InclusionProof(123, 1000); err != nil {
		t.Fatal(err)
	}
	// At most one node per level on the path plus the nodes of the ephemeral
	// right border: 2*ceil(log2(1000)) = 20.
	if s.gets > 20 {
		t.Fatalf("inclusion proof in 1000 entries read %d keys, want <= 20", s.gets)
	}
}

func TestConcurrentReaders(t *testing.T) {
	l, s := newTestLog(t, 1)
	signer := testSigner(t, "trellis-test", 1)
	done := make(chan struct{})
	var wg sync.WaitGroup
	for r := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				cp, err := l.Checkpoint(signer)
				if err != nil {
					t.Error(err)
					return
				}
				seq := uint64(i+r) % cp.Size
				p, err := l.InclusionProof(seq, cp.Size)
				if err != nil {
					t.Error(err)
					return
				}
				leaf, _ := l.LeafHash(seq)
				if err := proof.VerifyInclusion(rfc6962.DefaultHasher, seq, cp.Size, leaf, p, cp.Root); err != nil {
					t.Errorf("inclusion (%d, %d) against a concurrent checkpoint: %v", seq, cp.Size, err)
					return
				}
			}
		}()
	}
	for i := 1; i < 300; i++ {
		if i%7 == 0 {
			// A failed batch: staged, never written, aborted.
			if _, _, err := l.Append(testEntry(i)); err != nil {
				t.Fatal(err)
			}
			l.Abort()
		}
		kvs, _, err := l.Append(testEntry(i))
		if err != nil {
			t.Fatal(err)
		}
		s.apply(kvs)
		l.Commit()
	}
	close(done)
	wg.Wait()
}

func TestSyncReloadsWhenStoreMovedOn(t *testing.T) {
	// Another writer (here: a second Log over the same store, as after a
	// snapshot restore replaced the store) advanced the stored log.
	a, s := newTestLog(t, 4)
	b, err := Open(s)
	if err != nil {
		t.Fatal(err)
	}
	for i := 4; i < 9; i++ {
		appendCommit(t, b, s, testEntry(i))
	}
	if a.Size() != 4 {
		t.Fatalf("before Sync: got size %d, want 4", a.Size())
	}
	if err := a.Sync(); err != nil {
		t.Fatal(err)
	}
	if a.Size() != 9 || !bytes.Equal(a.Root(), b.Root()) || a.LastRevision() != 9 {
		t.Fatalf("after Sync: got size %d root %x rev %d, want 9 %x 9", a.Size(), a.Root(), a.LastRevision(), b.Root())
	}
}

func TestConfig(t *testing.T) {
	tests := []struct {
		origin string
		ok     bool
	}{
		{"trellis.example.com/audit", true},
		{"", false},
		{"two\nlines", false},
		{string(make([]byte, 300)), false},
	}
	for _, tc := range tests {
		err := Config{Origin: tc.origin}.Validate()
		if (err == nil) != tc.ok {
			t.Errorf("origin %q: got error %v, want ok=%v", tc.origin, err, tc.ok)
		}
	}
	l, err := OpenWithConfig(newMemStore(), Config{Origin: "trellis.example.com/audit"})
	if err != nil {
		t.Fatal(err)
	}
	cp, _ := l.Checkpoint(testSigner(t, "k", 1))
	if !strings.HasPrefix(cp.String(), "trellis.example.com/audit\n0\n") {
		t.Fatalf("got checkpoint\n%s\nwant it to start with the origin and size 0", cp)
	}
	if _, err := OpenWithConfig(newMemStore(), Config{}); err == nil {
		t.Fatal("empty origin accepted")
	}
}
