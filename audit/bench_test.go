package audit

import (
	"bytes"
	"sync"
	"testing"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

const benchSize = 100_000

var bench100k = sync.OnceValues(func() (*Log, *memStore) {
	s := newMemStore()
	l, err := Open(s)
	if err != nil {
		panic(err)
	}
	for i := range benchSize {
		kvs, _, err := l.Append(testEntry(i))
		if err != nil {
			panic(err)
		}
		s.apply(kvs)
		l.Commit()
	}
	return l, s
})

// BenchmarkAppend measures Append + writing its key/values to an in-memory
// map + Commit, on a log that grows by b.N entries.
func BenchmarkAppend(b *testing.B) {
	s := newMemStore()
	l, err := Open(s)
	if err != nil {
		b.Fatal(err)
	}
	entries := make([]Entry, 1024)
	for i := range entries {
		entries[i] = testEntry(i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		e := entries[i%len(entries)]
		e.Revision = uint64(i)
		kvs, _, err := l.Append(e)
		if err != nil {
			b.Fatal(err)
		}
		s.apply(kvs)
		l.Commit()
	}
}

// BenchmarkAppendNoStore measures Append + Commit alone: encoding, leaf
// hash, frontier update and building the key/values (which are dropped).
func BenchmarkAppendNoStore(b *testing.B) {
	l, err := Open(newMemStore())
	if err != nil {
		b.Fatal(err)
	}
	e := testEntry(1)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, _, err := l.Append(e); err != nil {
			b.Fatal(err)
		}
		l.Commit()
	}
}

func BenchmarkInclusionProof100k(b *testing.B) {
	l, _ := bench100k()
	root := l.Root()
	b.ReportAllocs()
	b.ResetTimer()
	for i := uint64(0); b.Loop(); i++ {
		seq := (i * 7919) % benchSize
		if _, err := l.InclusionProof(seq, benchSize); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	p, _ := l.InclusionProof(4242, benchSize)
	leaf, _ := l.LeafHash(4242)
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, 4242, benchSize, leaf, p, root); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkConsistencyProof100k(b *testing.B) {
	l, _ := bench100k()
	b.ReportAllocs()
	b.ResetTimer()
	for i := uint64(1); b.Loop(); i++ {
		from := (i * 7919) % benchSize
		if _, err := l.ConsistencyProof(from, benchSize); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen100k(b *testing.B) {
	l, s := bench100k()
	b.ResetTimer()
	for b.Loop() {
		r, err := Open(s)
		if err != nil {
			b.Fatal(err)
		}
		if r.Size() != l.Size() {
			b.Fatal("size differs")
		}
	}
}

// BenchmarkVerify100k measures the offline verifier over a 100k-entry export.
func BenchmarkVerify100k(b *testing.B) {
	l, _ := bench100k()
	var buf bytes.Buffer
	if err := l.Export(&buf, benchSize); err != nil {
		b.Fatal(err)
	}
	signer := testSigner(b, "bench", 1)
	cp, _ := l.Checkpoint(signer)
	b.SetBytes(int64(buf.Len()))
	b.ResetTimer()
	for b.Loop() {
		if _, err := Verify(bytes.NewReader(buf.Bytes()), cp, signer.Public()); err != nil {
			b.Fatal(err)
		}
	}
}
