package service

import (
	"context"
	"errors"
	"fmt"
	"github.com/trellis-authz/trellis/wire"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trellis-authz/trellis/schema"
	"github.com/trellis-authz/trellis/schema/compile"
)

// readView is what a read sees: a revision, the store at it, and the schema in
// force at it (nil when none was written yet).
type readView struct {
	rev    uint64
	snap   Snapshot
	schema *schema.Schema
	token  string
}

// Reads decides which revision a read runs at, for every service: it
// resolves a request's consistency to a revision, opens the snapshot there and
// the compiled schema in force at it.
type Reads struct {
	cfg    Config
	revs   Revisions
	snaps  Snapshots
	tokens Tokens
	// quantum is the revision minimize_latency reads use until its window ends.
	quantum atomic.Pointer[quantum]

	mu      sync.Mutex
	schemas map[string]*schema.Schema // compiled schemas by hash

	// loading is set while the node is writing the schema it was started
	// with: a read that finds none then is "not ready", not "no schema".
	loading atomic.Bool
}

// ExpectSchema tells the reads that a schema is on its way (the node was
// started with one): until a read sees it, finding none is ErrNotReady (503,
// retry) rather than ErrNoSchema (404, "write one first").
func (s *Reads) ExpectSchema() { s.loading.Store(true) }

// NewReads returns the read resolver over a node's revisions and store.
func NewReads(cfg Config, revs Revisions, snaps Snapshots) *Reads {
	return &Reads{cfg: cfg, revs: revs, snaps: snaps, tokens: NewTokens(cfg.ClusterID), schemas: map[string]*schema.Schema{}}
}

// Tokens returns the consistency-token codec.
func (s *Reads) Tokens() Tokens { return s.tokens }

// SetRevisions replaces the revision source (a cluster transport wraps it so
// that fully_consistent reads on a follower ask the leader for its read index).
func (s *Reads) SetRevisions(r Revisions) { s.revs = r }

// Revisions returns the revision source in use.
func (s *Reads) Revisions() Revisions { return s.revs }

// quantum is a revision and the time until which minimize_latency reads use it.
type quantum struct {
	rev   uint64
	until int64 // unix nanoseconds
}

// quantized returns the revision a minimize_latency read uses: the newest
// applied revision, sampled at most once per Config.Quantization, so that the
// reads of one window share a revision (and the engine's cache) while writes
// stream in. It never goes backwards and is never older than the window.
func (s *Reads) quantized(applied uint64) uint64 {
	if s.cfg.Quantization <= 0 {
		return applied
	}
	now := time.Now().UnixNano()
	if q := s.quantum.Load(); q != nil && now < q.until && q.rev <= applied {
		return q.rev
	}
	s.quantum.Store(&quantum{rev: applied, until: now + int64(s.cfg.Quantization)})
	return applied
}

// resolve picks the revision a read runs at, per its consistency, and opens
// the snapshot there.
func (s *Reads) resolve(ctx context.Context, c *wire.Consistency) (*readView, error) {
	return s.resolveRead(ctx, c, true)
}

// latest opens the newest applied state, never a quantized one: writes are
// validated against it, and health checks report it.
func (s *Reads) latest(ctx context.Context) (*readView, error) {
	return s.resolveRead(ctx, nil, false)
}

func (s *Reads) resolveRead(ctx context.Context, c *wire.Consistency, quantize bool) (*readView, error) {
	var cons wire.Consistency
	if c != nil {
		cons = *c
	}
	revs := s.revs
	var rev uint64
	switch cons.Mode {
	case "", wire.MinimizeLatency:
		rev = revs.AppliedRevision()
		if quantize {
			rev = s.quantized(rev)
		}
	case wire.AtLeastAsFresh:
		want, err := s.tokens.Decode(cons.Token)
		if err != nil {
			return nil, err
		}
		if err := s.waitFor(ctx, want); err != nil {
			return nil, err
		}
		rev = max(revs.AppliedRevision(), want)
		if quantize {
			rev = max(s.quantized(revs.AppliedRevision()), want)
		}
	case wire.AtExactSnapshot:
		want, err := s.tokens.Decode(cons.Token)
		if err != nil {
			return nil, err
		}
		if err := s.waitFor(ctx, want); err != nil {
			return nil, err
		}
		rev = want
	case wire.FullyConsistent:
		// Bounded by MaxWait too: streaming routes have no request deadline.
		rctx, cancel := context.WithTimeout(ctx, s.cfg.MaxWait)
		idx, err := revs.ReadIndex(rctx)
		cancel()
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				return nil, fail(ErrDeadlineExceeded, nil, "no read index before the request deadline or the wait bound (%v); the cluster may have no quorum", s.cfg.MaxWait)
			}
			return nil, err
		}
		if err := s.waitFor(ctx, idx); err != nil {
			return nil, err
		}
		// Every write at or below idx is now applied; the store's revision
		// (the last write) is the newest state, and idx itself may name a
		// non-write entry the store never holds as a revision.
		rev = revs.AppliedRevision()
	default:
		return nil, fail(ErrInvalidArgument, map[string]any{"field": "consistency"}, "unknown consistency mode %q", cons.Mode)
	}
	snap, err := s.snaps.Snapshot(rev)
	if err != nil && cons.Mode != wire.AtExactSnapshot && rev != revs.AppliedRevision() {
		// A quantized revision can fall below the GC horizon; these modes
		// may always read the newest state instead.
		rev = revs.AppliedRevision()
		snap, err = s.snaps.Snapshot(rev)
	}
	if err != nil {
		return nil, s.snapshotError(rev, err)
	}
	v := &readView{rev: rev, snap: snap, token: s.tokens.Encode(rev)}
	rec, found, err := snap.Schema()
	if err != nil {
		snap.Close()
		return nil, fmt.Errorf("reading the schema at revision %d: %w", rev, err)
	}
	if found {
		sch, err := s.compiled(rec.Text, rec.Hash)
		if err != nil {
			snap.Close()
			return nil, err
		}
		v.schema = sch
		s.loading.Store(false)
	} else if cons.Mode == wire.AtExactSnapshot && rev < revs.AppliedRevision() {
		snap.Close()
		return nil, fail(ErrNoSchema, map[string]any{"revision": rev},
			"no schema was stored yet at revision %d, the revision this at_exact_snapshot read names; read at a later token (one returned after the schema was written) or with minimize_latency", rev)
	} else if s.loading.Load() && cons.Mode != wire.AtExactSnapshot {
		snap.Close()
		return nil, fail(ErrNotReady, map[string]any{"retry_after_seconds": 1},
			"this node is still loading the schema it was started with; retry in a moment")
	}
	return v, nil
}

// waitFor waits until this node has applied rev, bounded by ctx and by
// Config.MaxWait (streaming routes have no request deadline).
func (s *Reads) waitFor(ctx context.Context, rev uint64) error {
	revs := s.revs
	if revs.AppliedRevision() >= rev {
		return nil
	}
	// Waiting is only for a revision the cluster has committed: a forged or
	// foreign token naming one it has not is answered at once, so it cannot
	// hold a request slot for the wait bound.
	if err := s.committed(ctx, rev); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.MaxWait)
	defer cancel()
	if err := revs.WaitApplied(ctx, rev); err != nil {
		if errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
			return fail(ErrDeadlineExceeded, map[string]any{"wanted_revision": rev, "applied_revision": revs.AppliedRevision()},
				"this node had not applied revision %d by the request deadline or the wait bound (%v; it is at %d); retry, or ask another node", rev, s.cfg.MaxWait, revs.AppliedRevision())
		}
		return err
	}
	return nil
}

// CommitIndexer is a revision source that knows its raft commit index
// (consensus.Node): a revision at or below it is committed.
type CommitIndexer interface {
	CommitIndex() uint64
}

// commitCheckTimeout bounds asking the leader whether a revision is committed.
const commitCheckTimeout = 3 * time.Second

// committed returns nil when rev is a revision the cluster has committed (so
// this node will apply it soon), ErrTokenFromFuture when it is not, and an
// error when no leader can say.
func (s *Reads) committed(ctx context.Context, rev uint64) error {
	if ci, ok := s.revs.(CommitIndexer); ok && ci.CommitIndex() >= rev {
		return nil
	}
	rctx, cancel := context.WithTimeout(ctx, min(s.cfg.MaxWait, commitCheckTimeout))
	idx, err := s.revs.ReadIndex(rctx)
	cancel()
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fail(ErrUnavailable, map[string]any{"wanted_revision": rev},
				"revision %d is ahead of this node and no leader confirmed it in %v; retry", rev, commitCheckTimeout)
		}
		return err
	}
	if idx < rev {
		return fail(ErrTokenFromFuture, map[string]any{"wanted_revision": rev, "committed_revision": idx},
			"the token names revision %d, but the cluster has committed only up to %d; pass a token this cluster returned (written_at, checked_at, read_at)", rev, idx)
	}
	return nil
}
func (s *Reads) snapshotError(rev uint64, err error) error {
	if isSnapshotExpired(err) {
		return fail(ErrSnapshotExpired, map[string]any{"revision": rev},
			"revision %d is older than this node keeps (below the garbage-collection horizon); read at a newer token or with minimize_latency", rev)
	}
	return fmt.Errorf("opening a snapshot at revision %d: %w", rev, err)
}

// compiled returns the compiled form of stored schema text, caching by hash.
func (s *Reads) compiled(text, hash string) (*schema.Schema, error) {
	s.mu.Lock()
	sch, ok := s.schemas[hash]
	s.mu.Unlock()
	if ok {
		return sch, nil
	}
	sch, errs := compile.CompileText("stored.zed", text)
	if err := errs.Err(); err != nil || sch == nil {
		return nil, fmt.Errorf("the stored schema (hash %s) does not compile: %v", hash, err)
	}
	s.mu.Lock()
	if len(s.schemas) > 64 {
		clear(s.schemas)
	}
	s.schemas[hash] = sch
	s.mu.Unlock()
	return sch, nil
}

// latestSchema returns the schema at this node's applied revision, for
// validating writes; ErrNoSchema when none is stored.
func (s *Reads) latestSchema(ctx context.Context) (*readView, error) {
	v, err := s.latest(ctx)
	if err != nil {
		return nil, err
	}
	if v.schema == nil {
		v.snap.Close()
		return nil, fail(ErrNoSchema, nil, "no schema is stored yet; PUT /v1/schema first")
	}
	return v, nil
}
