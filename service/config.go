package service

import (
	"fmt"
	"time"
)

// Config holds the limits and timings that decide what a request may ask,
// the same for every transport.
type Config struct {
	// MaxUpdatesPerWrite bounds the updates (and preconditions) of one write.
	MaxUpdatesPerWrite int
	// MaxRelationshipLen bounds one relationship string, in bytes.
	MaxRelationshipLen int
	// MaxContextBytes bounds a caveat context (request or relationship), in
	// bytes of JSON.
	MaxContextBytes int
	// MaxBulkItems bounds the items of one bulk check.
	MaxBulkItems int
	// MaxPageSize bounds the limit of a read or lookup page; it is also the
	// default page size.
	MaxPageSize int
	// ImportBatchSize is how many relationships go into one raft command on
	// import (at most 10,000; a chunk is also cut at about 2 MiB so long
	// relationships stay within one store transaction). Since the next chunk
	// is parsed while one commits, 5,000 imports ~5% faster than 1,000
	// (bench/RESULTS.md): fewer raft round trips in which the store waits.
	ImportBatchSize int
	// WriteTimeout bounds the commit of one import chunk.
	WriteTimeout time.Duration
	// MaxWait bounds how long a request waits for this node to apply a
	// revision it asked for (at_least_as_fresh, at_exact_snapshot,
	// fully_consistent), also on streams without a request deadline.
	MaxWait time.Duration
	// Quantization is how long minimize_latency reads keep using one revision
	// before moving to the newest applied one. Reads in one window share a
	// revision, and so the engine's cache, even under a stream of writes; the
	// price is that such a read may be this much older than the newest write.
	// Reads with a token (at_least_as_fresh) are never older than their token.
	// 0 reads the newest revision every time.
	Quantization time.Duration
	// ClusterID tags consistency tokens.
	ClusterID string
}

// DefaultConfig returns production limits.
func DefaultConfig() Config {
	return Config{
		MaxUpdatesPerWrite: 1000,
		MaxRelationshipLen: 8192,
		MaxContextBytes:    4096,
		MaxBulkItems:       1000,
		MaxPageSize:        1000,
		ImportBatchSize:    5000,
		WriteTimeout:       10 * time.Second,
		MaxWait:            30 * time.Second,
		Quantization:       100 * time.Millisecond,
		ClusterID:          "trellis",
	}
}

// Validate checks every field and names the first that is wrong.
func (c Config) Validate() error {
	switch {
	case c.MaxUpdatesPerWrite < 1 || c.MaxUpdatesPerWrite > 100000:
		return fmt.Errorf("service config: MaxUpdatesPerWrite is %d; it must be between 1 and 100000", c.MaxUpdatesPerWrite)
	case c.MaxRelationshipLen < 64:
		return fmt.Errorf("service config: MaxRelationshipLen is %d; it must be at least 64", c.MaxRelationshipLen)
	case c.MaxContextBytes < 2:
		return fmt.Errorf("service config: MaxContextBytes is %d; it must be at least 2", c.MaxContextBytes)
	case c.MaxBulkItems < 1:
		return fmt.Errorf("service config: MaxBulkItems is %d; it must be at least 1", c.MaxBulkItems)
	case c.MaxPageSize < 1:
		return fmt.Errorf("service config: MaxPageSize is %d; it must be at least 1", c.MaxPageSize)
	case c.ImportBatchSize < 1 || c.ImportBatchSize > 10_000:
		return fmt.Errorf("service config: ImportBatchSize is %d; it must be between 1 and 10000", c.ImportBatchSize)
	case c.WriteTimeout <= 0:
		return fmt.Errorf("service config: WriteTimeout is %v; it must be positive", c.WriteTimeout)
	case c.MaxWait <= 0:
		return fmt.Errorf("service config: MaxWait is %v; it must be positive", c.MaxWait)
	case c.Quantization < 0 || c.Quantization > time.Minute:
		return fmt.Errorf("service config: Quantization is %v; it must be between 0 (off) and 1m", c.Quantization)
	case c.ClusterID == "":
		return fmt.Errorf("service config: ClusterID is empty; every node of a cluster must share one")
	}
	return nil
}
