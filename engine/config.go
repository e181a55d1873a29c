package engine

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Config tunes an Engine.
type Config struct {
	// MaxDepth bounds the number of nested steps (relation to relation, arrow to
	// target) one check may take; deeper checks fail with ErrDepthExceeded.
	MaxDepth int
	// Concurrency bounds the goroutines one check (or one CheckBulk call) may
	// run for its branches at a time. 1 evaluates every branch in line.
	Concurrency int
	// ParallelBranches is the fewest branches (operands of a union or
	// intersection, subject sets of a relation, targets of an arrow) that are
	// run in goroutines; fewer run in line. 0 means DefaultParallelBranches;
	// otherwise at least 2.
	ParallelBranches int
	// CacheEntries bounds the number of sub-problem results kept between
	// queries; 0 disables the cache.
	CacheEntries int
	// Clock tells the time at which expirations are judged; nil means time.Now.
	Clock func() time.Time
	// Changes, when set, tells which relationship sets changed at which
	// revision, so cached results outlive the revision they were computed at
	// (see Changes). The store must record every change in it before the
	// revision becomes readable. Nil: cached results are per revision.
	Changes *Changes
	// NoGroupIndex makes checks walk nested groups even when the Reader
	// offers a nested-group index (GroupIndex): for comparisons and tests.
	NoGroupIndex bool
}

// Limits on Config fields.
const (
	maxMaxDepth    = 10_000
	maxConcurrency = 4096
)

// DefaultConfig returns the configuration a server starts with.
func DefaultConfig() Config {
	return Config{MaxDepth: 50, Concurrency: 8, ParallelBranches: DefaultParallelBranches, CacheEntries: 100_000, Clock: time.Now}
}

// Validate reports the first field that is out of range.
func (c Config) Validate() error {
	if c.MaxDepth < 1 || c.MaxDepth > maxMaxDepth {
		return fmt.Errorf("engine config: MaxDepth is %d; it must be between 1 and %d", c.MaxDepth, maxMaxDepth)
	}
	if c.Concurrency < 1 || c.Concurrency > maxConcurrency {
		return fmt.Errorf("engine config: Concurrency is %d; it must be between 1 and %d", c.Concurrency, maxConcurrency)
	}
	if c.ParallelBranches < 0 || c.ParallelBranches == 1 {
		return fmt.Errorf("engine config: ParallelBranches is %d; it must be 0 (DefaultParallelBranches, %d) or 2 or more", c.ParallelBranches, DefaultParallelBranches)
	}
	if c.CacheEntries < 0 {
		return fmt.Errorf("engine config: CacheEntries is %d; it must be 0 (no cache) or more", c.CacheEntries)
	}
	return nil
}

// Engine answers Check, Expand and Lookup queries against a View. It is safe
// for concurrent use; the only state it keeps between queries is the cache.
type Engine struct {
	cfg          Config
	clock        func() time.Time
	cache        *cache // nil when disabled
	changes      *Changes
	graphs       graphCache
	hits, misses atomic.Uint64
	// The nested-group index: answers and fallbacks, and which relations
	// of the schema in use it may deny (see closedRelations).
	idxAnswered, idxFallbacks atomic.Uint64
	// subjRelReads, ancReads count the queries that read all of their
	// subject's relationships, and all of its groups (subjectreads.go).
	subjRelReads, ancReads atomic.Uint64
	// arrowsDenied counts arrows denied without a read (impossible.go).
	arrowsDenied atomic.Uint64
	// setsAnswered counts relations whose subject sets were answered
	// from the subject's groups (setsFromGroups).
	setsAnswered atomic.Uint64
	closedMu     sync.Mutex
	closed       *closedRelations
	// suspDenials counts answers denied by a suspension (suspend.go).
	suspDenials atomic.Uint64
}

// New returns an engine with the given configuration.
func New(cfg Config) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.ParallelBranches == 0 {
		cfg.ParallelBranches = DefaultParallelBranches
	}
	e := &Engine{cfg: cfg, clock: cfg.Clock, changes: cfg.Changes}
	if e.clock == nil {
		e.clock = time.Now
	}
	if cfg.CacheEntries > 0 {
		e.cache = newCache(cfg.CacheEntries)
	}
	return e, nil
}

// CacheStats returns the number of sub-problem cache hits and misses so far.
func (e *Engine) CacheStats() (hits, misses uint64) {
	return e.hits.Load(), e.misses.Load()
}
