package service

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// revisions is a revision source whose applied revision stays put.
type revisions struct {
	applied, commit, readIndex uint64
	readErr                    error
	waits                      atomic.Int32
}

func (r *revisions) AppliedRevision() uint64 { return r.applied }
func (r *revisions) CommitIndex() uint64     { return r.commit }
func (r *revisions) WaitApplied(ctx context.Context, rev uint64) error {
	r.waits.Add(1)
	<-ctx.Done()
	return ctx.Err()
}
func (r *revisions) ReadIndex(ctx context.Context) (uint64, error) { return r.readIndex, r.readErr }

func TestWaitForOnlyWaitsForCommittedRevisions(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxWait = 50 * time.Millisecond
	cases := []struct {
		name      string
		revs      *revisions
		rev       uint64
		kind      error
		wantWaits int32
	}{
		{"applied", &revisions{applied: 10, commit: 10}, 9, nil, 0},
		{"committed here, not applied: a bounded wait", &revisions{applied: 10, commit: 12}, 12, ErrDeadlineExceeded, 1},
		{"committed at the leader: a bounded wait", &revisions{applied: 10, commit: 10, readIndex: 15}, 14, ErrDeadlineExceeded, 1},
		{"never committed: refused at once", &revisions{applied: 10, commit: 10, readIndex: 10}, 1000, ErrTokenFromFuture, 0},
		{"no leader to ask", &revisions{applied: 10, commit: 10, readErr: ErrNoLeader}, 1000, ErrNoLeader, 0},
	}
	for _, c := range cases {
		r := NewReads(cfg, c.revs, nil)
		err := r.waitFor(context.Background(), c.rev)
		if c.kind == nil && err != nil || c.kind != nil && !errors.Is(err, c.kind) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.kind)
		}
		if got := c.revs.waits.Load(); got != c.wantWaits {
			t.Errorf("%s: waited %d times, want %d", c.name, got, c.wantWaits)
		}
	}
}
