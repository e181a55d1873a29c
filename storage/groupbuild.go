package storage

import (
	"encoding/binary"
	"errors"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"
)

// ensureGroupIndex rebuilds the index at Open when the store has none yet.
func (s *Store) ensureGroupIndex() error {
	txn := s.db.NewTransactionAt(math64, false)
	item, err := txn.Get(keyGroupIndex)
	if err == nil {
		err = item.Value(func(v []byte) error {
			if len(v) != 8 {
				return fmt.Errorf("the marker holds %d bytes, not 8", len(v))
			}
			s.gidxFrom.Store(binary.BigEndian.Uint64(v))
			return nil
		})
	}
	txn.Discard()
	switch {
	case err == nil:
		return s.countGroupPairs()
	case !errors.Is(err, badger.ErrKeyNotFound):
		return fmt.Errorf("storage: read the nested-group index marker: %w", err)
	}
	return s.rebuildGroupIndex(max(s.applied.Load(), 1))
}

const math64 = ^uint64(0)

func (s *Store) countGroupPairs() error {
	txn := s.db.NewTransactionAt(math64, false)
	defer txn.Discard()
	p := []byte(pfxGroupDown)
	it := txn.NewIterator(badger.IteratorOptions{Prefix: p})
	defer it.Close()
	var n int64
	for it.Seek(p); it.ValidForPrefix(p); it.Next() {
		n++
	}
	s.gidx.pairs.Store(n)
	return nil
}

// rebuildGroupIndex builds the index from every subject-set relationship
// stored at rev and writes it, with the marker, at rev. Nothing may read or
// write the store meanwhile (Open, Restore).
func (s *Store) rebuildGroupIndex(rev uint64) error {
	txn := s.db.NewTransactionAt(rev, false)
	defer txn.Discard()
	edges := map[node]map[node]bool{}
	p := []byte(pfxForward)
	it := txn.NewIterator(badger.IteratorOptions{Prefix: p})
	for it.Seek(p); it.ValidForPrefix(p); it.Next() {
		item := it.Item()
		r, err := parseForwardKey(item.Key())
		if err != nil {
			it.Close()
			return err
		}
		if r.Subject.Relation == "" {
			continue
		}
		if item.UserMeta() != 0 {
			if err := item.Value(func(v []byte) error { return decodeValue(v, &r) }); err != nil {
				it.Close()
				return err
			}
		}
		parent, child, clean, ok := edgeOf(&r)
		if !ok {
			continue
		}
		if edges[parent] == nil {
			edges[parent] = map[node]bool{}
		}
		edges[parent][child] = clean
	}
	it.Close()
	wb := s.db.NewWriteBatchAt(rev)
	defer wb.Cancel()
	var pairs int64
	get := func(n node) (map[node]bool, error) { return edges[n], nil }
	used := map[node]counts{}
	for a, kids := range edges {
		for c, clean := range kids {
			n := used[c]
			n.holders++
			used[c] = n
			n = used[a]
			n.kids++
			used[a] = n
			if err := wb.Set(pairKey(pfxGroupEdge, a, c), flag(clean)); err != nil {
				return fmt.Errorf("storage: rebuild the nested-group index: %w", err)
			}
		}
	}
	for n, c := range used {
		if err := wb.Set(usedKey(n), c.encode()); err != nil {
			return fmt.Errorf("storage: rebuild the nested-group index: %w", err)
		}
	}
	for a := range edges {
		if used[a].holders == 0 {
			continue // nothing holds a: no closure
		}
		down, _ := closure(a, get)
		for d, clean := range down {
			pairs++
			if err := wb.Set(pairKey(pfxGroupDown, a, d), flag(clean)); err != nil {
				return fmt.Errorf("storage: rebuild the nested-group index: %w", err)
			}
			if err := wb.Set(pairKey(pfxGroupUp, d, a), flag(clean)); err != nil {
				return fmt.Errorf("storage: rebuild the nested-group index: %w", err)
			}
		}
	}
	if err := wb.Set(keyGroupIndex, be64(rev)); err != nil {
		return fmt.Errorf("storage: rebuild the nested-group index: %w", err)
	}
	if err := wb.Flush(); err != nil {
		return fmt.Errorf("storage: rebuild the nested-group index: %w", err)
	}
	s.gidx.pairs.Store(pairs)
	s.gidx.rebuilds.Add(1)
	s.gidxFrom.Store(rev)
	return nil
}
