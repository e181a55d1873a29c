package storage

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Config configures a Store.
type Config struct {
	// Dir is the Badger directory. Required unless InMemory.
	Dir string
	// InMemory keeps everything in memory (tests); Dir must be empty.
	InMemory bool
	// SyncWrites fsyncs the value log before Apply returns. Required for
	// acknowledged durability: without it a power loss can drop acknowledged
	// batches (a process crash cannot, the OS still has the pages).
	SyncWrites bool
	// Clock judges relationship expiration when a Snapshot is opened. Defaults
	// to time.Now.
	Clock func() time.Time
	// GCWindow is how many revisions below the applied revision stay readable.
	// On each Apply the GC horizon moves up to applied-GCWindow. 0 disables the
	// automatic horizon (use SetGCHorizon).
	GCWindow uint64
	// ChangeHoldMax bounds a change-feed hold (Batch.ChangeFloor): records
	// more than this many revisions below the applied one are trimmed even
	// when held, so a consumer that never moves cannot fill the disk. 0 means
	// the default, 1,000,000 revisions (a few hundred bytes each).
	ChangeHoldMax uint64
	// MemTableSize bounds one memtable and therefore one transaction: Badger
	// refuses a transaction above 15% of it. 32 MiB admits ~4.8 MB of keys and
	// inline values per batch, so a batch of 10,000 relationships of ordinary
	// size (two ~100-byte keys each, plus the change record) fits. It is
	// also a speed setting: a smaller skiplist is walked with fewer cache
	// misses, and bulk apply measured 190,000-200,000 relationships/s at
	// 32 MiB against 161,000-168,000 at 64 MiB (bench/RESULTS.md).
	MemTableSize int64
	// BlockCacheSize caches decompressed SSTable blocks (Badger requires it
	// with compression). 256 MiB holds the hot part of ~2-3 million
	// relationships, which keeps exact lookups off the disk.
	BlockCacheSize int64
	// IndexCacheSize bounds memory for table indexes and bloom filters. 0 keeps
	// all of them in memory (fastest, grows with the data: about 1-2% of the
	// table bytes); a bound trades lookups for memory on big stores.
	IndexCacheSize int64
	// ValueLogGCInterval is how often value-log GC runs in the background; 0
	// disables it.
	ValueLogGCInterval time.Duration
	// Logger receives Badger's and the store's messages. Defaults to slog.Default().
	Logger *slog.Logger
}

// Limits checked by Validate.
const (
	minMemTableSize  = 4 << 20
	maxMemTableSize  = 1 << 30
	minBlockCache    = 1 << 20
	minVLogGCPeriod  = time.Second
	defaultGCWindow  = 10000
	defaultHoldMax   = 1_000_000
	defaultMemTable  = 32 << 20
	defaultBlockSize = 256 << 20
)

// DefaultConfig returns the recommended configuration for a store in dir:
// synchronous writes, a 10,000-revision GC window, a 32 MiB memtable, a
// 256 MiB block cache, unbounded index memory and value-log GC every 10 minutes.
func DefaultConfig(dir string) Config {
	return Config{
		Dir:                dir,
		SyncWrites:         true,
		Clock:              time.Now,
		GCWindow:           defaultGCWindow,
		MemTableSize:       defaultMemTable,
		BlockCacheSize:     defaultBlockSize,
		IndexCacheSize:     0,
		ValueLogGCInterval: 10 * time.Minute,
		Logger:             slog.Default(),
	}
}

// Validate checks the configuration and names the field and the limit that is
// broken.
func (c Config) Validate() error {
	var errs []error
	if c.InMemory && c.Dir != "" {
		errs = append(errs, fmt.Errorf("storage: Dir is %q but InMemory is set; leave Dir empty for an in-memory store", c.Dir))
	}
	if !c.InMemory && c.Dir == "" {
		errs = append(errs, errors.New("storage: Dir is empty; give a directory or set InMemory"))
	}
	if c.MemTableSize < minMemTableSize || c.MemTableSize > maxMemTableSize {
		errs = append(errs, fmt.Errorf("storage: MemTableSize is %d; it must be between %d (4 MiB) and %d (1 GiB)", c.MemTableSize, minMemTableSize, maxMemTableSize))
	}
	if c.BlockCacheSize < minBlockCache {
		errs = append(errs, fmt.Errorf("storage: BlockCacheSize is %d; it must be at least %d (1 MiB) because blocks are compressed", c.BlockCacheSize, minBlockCache))
	}
	if c.IndexCacheSize < 0 {
		errs = append(errs, fmt.Errorf("storage: IndexCacheSize is %d; use 0 (unbounded) or a positive byte count", c.IndexCacheSize))
	}
	if c.ValueLogGCInterval != 0 && c.ValueLogGCInterval < minVLogGCPeriod {
		errs = append(errs, fmt.Errorf("storage: ValueLogGCInterval is %v; use 0 (off) or at least %v", c.ValueLogGCInterval, minVLogGCPeriod))
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}
