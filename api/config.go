package api

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Config is the API server's configuration.
type Config struct {
	// MaxBodyBytes bounds a request body (413 above it). Import streams its
	// body and is bounded by MaxImportBytes instead.
	MaxBodyBytes int64
	// MaxImportBytes bounds an import body; 0 means no bound.
	MaxImportBytes int64
	// MaxUpdatesPerWrite bounds the updates (and preconditions) of one write.
	MaxUpdatesPerWrite int
	// MaxRelationshipLen bounds one relationship string, in bytes.
	MaxRelationshipLen int
	// MaxContextBytes bounds a caveat context (request or relationship), in bytes of JSON.
	MaxContextBytes int
	// MaxBulkItems bounds the items of one bulk check.
	MaxBulkItems int
	// MaxPageSize bounds the limit of a read or lookup page; it is also the
	// default page size.
	MaxPageSize int
	// ImportBatchSize is how many relationships go into one raft command on
	// import (at most 10,000; a chunk is also cut at about 4 MiB so long
	// relationships stay within one store transaction). Since the next chunk
	// is parsed while one commits, 5,000 imports ~5% faster than 1,000
	// (bench/RESULTS.md): fewer raft round trips in which the store waits.
	ImportBatchSize int
	// MaxInFlight bounds concurrent requests (429 above it); 0 means no bound.
	// Long-lived streams (routes with NoTimeout: watch, export, import, audit
	// export) do not count against it; MaxStreams bounds them.
	MaxInFlight int
	// MaxStreams bounds concurrent long-lived streams (429 above it), in a
	// pool of their own so streams cannot starve checks; 0 means no bound.
	MaxStreams int
	// RequestTimeout is every request's deadline (504 when it passes).
	RequestTimeout time.Duration
	// MaxWait bounds how long a request waits for this node to apply a
	// revision it asked for (at_least_as_fresh, at_exact_snapshot), also on
	// streaming routes that have no RequestTimeout (504 when it passes).
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
	// Auth says who may call what.
	Auth AuthConfig
	// Logger receives one line per request; nil means slog.Default().
	Logger *slog.Logger
	// Registry receives the API's metrics; nil means a new private registry
	// (served at /metrics either way).
	Registry *prometheus.Registry
}

// DefaultConfig returns a config with production limits. Auth is left empty:
// callers must choose tokens or explicitly insecure-no-auth.
func DefaultConfig() Config {
	return Config{
		MaxBodyBytes:       4 << 20,
		MaxImportBytes:     0,
		MaxUpdatesPerWrite: 1000,
		MaxRelationshipLen: 8192,
		MaxContextBytes:    4096,
		MaxBulkItems:       1000,
		MaxPageSize:        1000,
		ImportBatchSize:    5000,
		MaxInFlight:        1024,
		MaxStreams:         256,
		RequestTimeout:     10 * time.Second,
		MaxWait:            30 * time.Second,
		Quantization:       100 * time.Millisecond,
		ClusterID:          "trellis",
	}
}

// Validate checks every field and names the first that is wrong.
func (c Config) Validate() error {
	switch {
	case c.MaxBodyBytes < 1024:
		return fmt.Errorf("api config: MaxBodyBytes is %d; it must be at least 1024", c.MaxBodyBytes)
	case c.MaxImportBytes < 0:
		return fmt.Errorf("api config: MaxImportBytes is %d; it must be 0 (no bound) or positive", c.MaxImportBytes)
	case c.MaxUpdatesPerWrite < 1 || c.MaxUpdatesPerWrite > 100000:
		return fmt.Errorf("api config: MaxUpdatesPerWrite is %d; it must be between 1 and 100000", c.MaxUpdatesPerWrite)
	case c.MaxRelationshipLen < 64:
		return fmt.Errorf("api config: MaxRelationshipLen is %d; it must be at least 64", c.MaxRelationshipLen)
	case c.MaxContextBytes < 2:
		return fmt.Errorf("api config: MaxContextBytes is %d; it must be at least 2", c.MaxContextBytes)
	case c.MaxBulkItems < 1:
		return fmt.Errorf("api config: MaxBulkItems is %d; it must be at least 1", c.MaxBulkItems)
	case c.MaxPageSize < 1:
		return fmt.Errorf("api config: MaxPageSize is %d; it must be at least 1", c.MaxPageSize)
	case c.ImportBatchSize < 1 || c.ImportBatchSize > 10_000:
		return fmt.Errorf("api config: ImportBatchSize is %d; it must be between 1 and 10000", c.ImportBatchSize)
	case c.MaxInFlight < 0:
		return fmt.Errorf("api config: MaxInFlight is %d; it must be 0 (no bound) or positive", c.MaxInFlight)
	case c.MaxStreams < 0:
		return fmt.Errorf("api config: MaxStreams is %d; it must be 0 (no bound) or positive", c.MaxStreams)
	case c.RequestTimeout <= 0:
		return fmt.Errorf("api config: RequestTimeout is %v; it must be positive", c.RequestTimeout)
	case c.MaxWait <= 0:
		return fmt.Errorf("api config: MaxWait is %v; it must be positive", c.MaxWait)
	case c.Quantization < 0 || c.Quantization > time.Minute:
		return fmt.Errorf("api config: Quantization is %v; it must be between 0 (off) and 1m", c.Quantization)
	case c.ClusterID == "":
		return fmt.Errorf("api config: ClusterID is empty; every node of a cluster must share one")
	}
	return c.Auth.Validate()
}
