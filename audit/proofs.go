package audit

import (
	"bytes"
	"fmt"

	"github.com/transparency-dev/merkle/proof"
)

// InclusionProof returns the RFC 6962 inclusion proof of entry seq in the
// tree of the first size entries (size <= Size()). Verify it with
// proof.VerifyInclusion(rfc6962.DefaultHasher, seq, size, leafHash, p, root).
//
// Every node a proof needs is the root of a perfect subtree, which Append
// persisted when it completed, so a proof costs O(log size) store reads.
func (l *Log) InclusionProof(seq, size uint64) ([][]byte, error) {
	if cur := l.Size(); size > cur || seq >= size {
		return nil, fmt.Errorf("%w: inclusion of %d in size %d, log size %d", ErrBadRange, seq, size, cur)
	}
	nodes, err := proof.Inclusion(seq, size)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadRange, err)
	}
	return l.rehash(nodes)
}

// ConsistencyProof returns the RFC 6962 consistency proof between the trees
// of the first from and the first to entries (from <= to <= Size()). Verify it
// with proof.VerifyConsistency(rfc6962.DefaultHasher, from, to, p, root1, root2).
func (l *Log) ConsistencyProof(from, to uint64) ([][]byte, error) {
	if cur := l.Size(); from > to || to > cur {
		return nil, fmt.Errorf("%w: consistency %d..%d, log size %d", ErrBadRange, from, to, cur)
	}
	nodes, err := proof.Consistency(from, to)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadRange, err)
	}
	return l.rehash(nodes)
}

// RootAt returns the root hash of the tree of the first size entries
// (size <= Size()), from the persisted subtree hashes.
func (l *Log) RootAt(size uint64) ([]byte, error) {
	l.mu.Lock()
	cur := l.committed.size()
	var root []byte
	if size == cur {
		root = bytes.Clone(l.committed.rootHash())
	}
	l.mu.Unlock()
	switch {
	case size > cur:
		return nil, fmt.Errorf("%w: root at size %d, log size %d", ErrBadRange, size, cur)
	case root != nil:
		return root, nil
	}
	st, err := l.rangeAt(size)
	if err != nil {
		return nil, err
	}
	return rootOf(st)
}

func (l *Log) rehash(nodes proof.Nodes) ([][]byte, error) {
	hashes := make([][]byte, len(nodes.IDs))
	for i, id := range nodes.IDs {
		h, err := l.node(id)
		if err != nil {
			return nil, err
		}
		hashes[i] = h
	}
	return nodes.Rehash(hashes, hasher.HashChildren)
}
