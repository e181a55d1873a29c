package storage

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/pb"
	"github.com/dgraph-io/ristretto/v2/z"
)

// Backup stream format (all integers uvarint unless noted):
//
//	magic "TRELLIS-BACKUP\x00"
//	format version (FormatVersion; version 1 is the byte 0x01, so backups
//	written before the field was named read as version 1)
//	revision
//	entries: len(key) > 0, key, userMeta byte, len(value), value
//	end: 0, entry count, CRC-32C (4 bytes, big-endian) of everything before it
//
// It holds the newest version at the revision of every live key: relationships
// (both indexes), change records, schema, extras and the store's metadata.
var backupMagic = []byte("TRELLIS-BACKUP\x00")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Backup writes the store as of the applied revision to w and returns that
// revision.
func (s *Store) Backup(w io.Writer) (uint64, error) {
	rev := s.applied.Load()
	return rev, s.BackupAt(w, rev)
}

// BackupAt writes the store as of rev to w. rev must be between the GC
// horizon and the applied revision, and must stay above the horizon until the
// backup ends (else ErrSnapshotExpired).
func (s *Store) BackupAt(w io.Writer, rev uint64) error {
	sn, err := s.Snapshot(rev)
	if err != nil {
		return err
	}
	defer sn.Close()
	bw := &backupWriter{w: bufio.NewWriterSize(w, 1<<20), crc: crc32.New(castagnoli)}
	bw.write(backupMagic)
	bw.uvarint(FormatVersion)
	bw.uvarint(rev)

	// Nothing is visible at revision 0 (and Badger cannot stream at it).
	if rev > 0 {
		if err := s.streamAt(rev, bw); err != nil {
			return err
		}
	}
	if err := sn.valid(); err != nil {
		return fmt.Errorf("storage: backup at revision %d: %w", rev, err)
	}
	bw.uvarint(0)
	bw.uvarint(bw.count)
	sum := bw.crc.Sum32()
	if bw.err == nil {
		_, bw.err = bw.w.Write(binary.BigEndian.AppendUint32(nil, sum))
	}
	if bw.err == nil {
		bw.err = bw.w.Flush()
	}
	if bw.err != nil {
		return fmt.Errorf("storage: backup at revision %d: write: %w", rev, bw.err)
	}
	return nil
}

// streamAt writes every live key at rev (newest version <= rev) to bw.
func (s *Store) streamAt(rev uint64, bw *backupWriter) error {
	stream := s.db.NewStreamAt(rev)
	stream.LogPrefix = "storage.Backup"
	stream.NumGo = 2
	stream.KeyToList = func(key []byte, itr *badger.Iterator) (*pb.KVList, error) {
		// The iterator is at the newest version <= rev; older ones are history.
		item := itr.Item()
		if !bytes.Equal(item.Key(), key) || item.IsDeletedOrExpired() {
			return nil, nil
		}
		v, err := item.ValueCopy(nil)
		if err != nil {
			return nil, err
		}
		kv := &pb.KV{Key: item.KeyCopy(nil), Value: v, UserMeta: []byte{item.UserMeta()}, Version: item.Version()}
		return &pb.KVList{Kv: []*pb.KV{kv}}, nil
	}
	stream.Send = func(buf *z.Buffer) error {
		list, err := badger.BufferToKVList(buf)
		if err != nil {
			return err
		}
		for _, kv := range list.Kv {
			if len(kv.Key) == 0 {
				continue
			}
			var um byte
			if len(kv.UserMeta) > 0 {
				um = kv.UserMeta[0]
			}
			bw.uvarint(uint64(len(kv.Key)))
			bw.write(kv.Key)
			bw.write([]byte{um})
			bw.uvarint(uint64(len(kv.Value)))
			bw.write(kv.Value)
			bw.count++
		}
		return bw.err
	}
	if err := stream.Orchestrate(context.Background()); err != nil {
		return fmt.Errorf("storage: backup at revision %d: %w", rev, err)
	}
	return nil
}

type backupWriter struct {
	w     *bufio.Writer
	crc   hash.Hash32
	count uint64
	err   error
	tmp   [binary.MaxVarintLen64]byte
}

func (b *backupWriter) write(p []byte) {
	if b.err != nil {
		return
	}
	b.crc.Write(p)
	_, b.err = b.w.Write(p)
}

func (b *backupWriter) uvarint(v uint64) {
	n := binary.PutUvarint(b.tmp[:], v)
	b.write(b.tmp[:n])
}

// Restore replaces the store's contents with a backup: it drops everything,
// loads the backup at the backup's revision and makes that the applied
// revision and the GC horizon (history below it is not in a backup). Open
// snapshots fail with ErrSnapshotExpired from then on. If Restore fails or the
// process dies during it, the store is left empty (applied revision 0).
func (s *Store) Restore(r io.Reader) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return ErrClosed
	}
	s.gcMu.Lock()
	defer s.gcMu.Unlock()

	br := bufio.NewReaderSize(r, 1<<20)
	cr := &backupReader{r: br, crc: crc32.New(castagnoli)}
	magic := make([]byte, len(backupMagic))
	cr.full(magic)
	if cr.err != nil || !bytes.Equal(magic, backupMagic) {
		return fmt.Errorf("%w: restore: not a Trellis storage backup (bad header)", ErrCorrupt)
	}
	version := cr.uvarint()
	rev := cr.uvarint()
	if cr.err != nil {
		return fmt.Errorf("%w: restore: header: %v", ErrCorrupt, cr.err)
	}
	// Checked before anything is dropped: a refused backup changes nothing.
	if err := CheckFormatVersion(version, "restore: the backup"); err != nil {
		return err
	}

	s.restoring.Store(true)
	s.gen.Add(1)
	s.changed(rev, nil, true) // everything below rev is replaced
	defer func() {
		s.gen.Add(1)
		s.restoring.Store(false)
		s.notifyApplied()
	}()
	if !s.cfg.InMemory {
		if err := os.WriteFile(filepath.Join(s.cfg.Dir, restoreMarker), []byte("restore in progress\n"), 0o644); err != nil {
			return fmt.Errorf("storage: restore: write marker: %w", err)
		}
		if err := syncDir(s.cfg.Dir); err != nil {
			return err
		}
	}
	if err := s.db.DropAll(); err != nil {
		return fmt.Errorf("storage: restore: drop old contents: %w", err)
	}
	s.schema.Store(nil)
	s.applied.Store(0)
	s.horizon.Store(0)
	s.changeHorizon.Store(0)
	s.changeFloor.Store(0) // the restored feed starts at the restored revision; its holder sets a new floor
	s.db.SetDiscardTs(0)

	err := s.load(cr, rev)
	if err == nil {
		err = s.rebuildGroupIndex(max(rev, 1))
	}
	if err != nil {
		// Leave an empty store rather than a partial one.
		if derr := s.db.DropAll(); derr != nil {
			err = errors.Join(err, derr)
		}
		if !s.cfg.InMemory {
			if merr := removeMarker(s.cfg.Dir); merr != nil {
				err = errors.Join(err, merr)
			}
		}
		return err
	}
	if !s.cfg.InMemory {
		if err := removeMarker(s.cfg.Dir); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) load(cr *backupReader, rev uint64) error {
	wb := s.db.NewWriteBatchAt(rev)
	defer wb.Cancel()
	var changeHorizon uint64
	var n uint64
	for {
		klen := cr.uvarint()
		if cr.err != nil {
			return fmt.Errorf("%w: restore: entry %d: %v", ErrCorrupt, n, cr.err)
		}
		if klen == 0 {
			break
		}
		if klen > 1<<20 {
			return fmt.Errorf("%w: restore: entry %d: key length %d", ErrCorrupt, n, klen)
		}
		key := make([]byte, klen)
		cr.full(key)
		um := cr.byte()
		vlen := cr.uvarint()
		if cr.err == nil && vlen > 1<<30 {
			return fmt.Errorf("%w: restore: entry %d: value length %d", ErrCorrupt, n, vlen)
		}
		val := make([]byte, vlen)
		cr.full(val)
		if cr.err != nil {
			return fmt.Errorf("%w: restore: entry %d: %v", ErrCorrupt, n, cr.err)
		}
		n++
		if rev == 0 {
			return fmt.Errorf("%w: restore: a backup at revision 0 holds entries", ErrCorrupt)
		}
		switch {
		case bytes.Equal(key, keyApplied), bytes.Equal(key, keyHorizon), bytes.Equal(key, keyFormat):
			continue // rewritten below
		case isGroupIndexKey(key):
			continue // rebuilt after the load
		case bytes.Equal(key, keyChangeHorizon):
			if len(val) == 8 {
				changeHorizon = binary.BigEndian.Uint64(val)
			}
			continue
		}
		if err := wb.SetEntry(badger.NewEntry(key, val).WithMeta(um)); err != nil {
			return fmt.Errorf("storage: restore: %w", err)
		}
	}
	count := cr.uvarint()
	sum := cr.crc.Sum32()
	var tail [4]byte
	if _, err := io.ReadFull(cr.r, tail[:]); err != nil || cr.err != nil {
		return fmt.Errorf("%w: restore: truncated trailer", ErrCorrupt)
	}
	if count != n {
		return fmt.Errorf("%w: restore: trailer says %d entries, read %d", ErrCorrupt, count, n)
	}
	if got := binary.BigEndian.Uint32(tail[:]); got != sum {
		return fmt.Errorf("%w: restore: checksum %08x, computed %08x", ErrCorrupt, got, sum)
	}
	if rev == 0 {
		// An empty store; Badger cannot commit at timestamp 0.
		return s.writeFormat()
	}
	for _, kv := range []struct {
		k []byte
		v uint64
	}{{keyApplied, rev}, {keyHorizon, rev}, {keyChangeHorizon, changeHorizon}, {keyFormat, FormatVersion}} {
		if err := wb.Set(kv.k, be64(kv.v)); err != nil {
			return fmt.Errorf("storage: restore: %w", err)
		}
	}
	if err := wb.Flush(); err != nil {
		return fmt.Errorf("storage: restore: %w", err)
	}
	if s.cfg.SyncWrites && !s.cfg.InMemory {
		if err := s.db.Sync(); err != nil {
			return fmt.Errorf("storage: restore: sync: %w", err)
		}
	}
	s.changeHorizon.Store(changeHorizon)
	s.horizon.Store(rev)
	s.db.SetDiscardTs(rev)
	s.refreshSchemaCache(rev)
	s.refreshSuspensionCache(rev)
	s.applied.Store(rev)
	return nil
}

type backupReader struct {
	r   *bufio.Reader
	crc hash.Hash32
	err error
}

func (b *backupReader) full(p []byte) {
	if b.err != nil {
		return
	}
	if _, err := io.ReadFull(b.r, p); err != nil {
		b.err = err
		return
	}
	b.crc.Write(p)
}

func (b *backupReader) byte() byte {
	var p [1]byte
	b.full(p[:])
	return p[0]
}

func (b *backupReader) uvarint() uint64 {
	if b.err != nil {
		return 0
	}
	var v uint64
	var s uint
	for i := 0; i < binary.MaxVarintLen64; i++ {
		c, err := b.r.ReadByte()
		if err != nil {
			b.err = err
			return 0
		}
		b.crc.Write([]byte{c})
		if c < 0x80 {
			return v | uint64(c)<<s
		}
		v |= uint64(c&0x7f) << s
		s += 7
	}
	b.err = errors.New("uvarint overflow")
	return 0
}
