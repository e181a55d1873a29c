package storage

import (
	"context"
	"encoding/binary"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"
)

// changesChunk is how many change records one read transaction serves before
// Changes re-opens at the newest applied revision.
const changesChunk = 256

// Changes calls fn, in revision order, for every revision >= from that has a
// change record (every successful Apply writes one), up to the applied
// revision at the time the last chunk was read. meta is the batch's Meta.
//
// It fails with ErrSnapshotExpired when from is below the change-feed horizon,
// or when the feed is trimmed past the position being read while it reads (a
// slow consumer must restart from a fresh snapshot). An error from fn stops the
// walk and is returned.
func (s *Store) Changes(ctx context.Context, from uint64, fn func(rev uint64, changes []Change, meta []byte) error) error {
	if s.closed.Load() {
		return ErrClosed
	}
	if h := s.changeHorizon.Load(); from < h {
		return fmt.Errorf("%w: the change feed starts at revision %d, asked from %d", ErrSnapshotExpired, h, from)
	}
	next := from
	for {
		n, err := s.changesChunk(ctx, next, fn)
		if err != nil {
			return err
		}
		if n.count < changesChunk {
			return nil
		}
		next = n.next
	}
}

type chunkResult struct {
	count int
	next  uint64
}

func (s *Store) changesChunk(ctx context.Context, from uint64, fn func(uint64, []Change, []byte) error) (chunkResult, error) {
	if s.closed.Load() {
		return chunkResult{}, ErrClosed
	}
	gen := s.gen.Load()
	txn := s.db.NewTransactionAt(s.applied.Load(), false)
	defer txn.Discard()
	p := []byte(pfxChange)
	it := txn.NewIterator(badger.IteratorOptions{Prefix: p})
	defer it.Close()
	res := chunkResult{next: from}
	check := func() error {
		if s.gen.Load() != gen {
			return fmt.Errorf("%w: the store was restored while reading the change feed", ErrSnapshotExpired)
		}
		if h := s.changeHorizon.Load(); h > from {
			return fmt.Errorf("%w: the change feed was trimmed to revision %d while reading from %d", ErrSnapshotExpired, h, from)
		}
		return nil
	}
	for it.Seek(changeKey(from)); it.ValidForPrefix(p) && res.count < changesChunk; it.Next() {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		item := it.Item()
		rev := binary.BigEndian.Uint64(item.Key()[len(pfxChange):])
		var meta []byte
		var changes []Change
		err := item.Value(func(v []byte) error {
			var err error
			meta, changes, err = decodeChangeRecord(v)
			return err
		})
		if err != nil {
			return res, fmt.Errorf("storage: change record %d: %w", rev, err)
		}
		if err := check(); err != nil {
			return res, err
		}
		if err := fn(rev, changes, meta); err != nil {
			return res, err
		}
		res.count++
		res.next = rev + 1
	}
	return res, check()
}
