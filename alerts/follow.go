package alerts

import (
	"context"
	"fmt"

	"github.com/trellis-authz/trellis/storage"
)

// Feed reads the change feed from a revision on, in order, as
// storage.(*Store).Changes does.
type Feed func(ctx context.Context, from uint64, fn func(rev uint64, changes []storage.Change, meta []byte) error) error

// Cursor is the last revision whose deliveries all succeeded. In the cluster
// it is to be replicated through raft (ADR 0012, proposed), so a new leader
// resumes where the old one had recorded.
type Cursor interface {
	Load(ctx context.Context) (uint64, error)
	Store(ctx context.Context, rev uint64) error
}

// Loop follows a feed from the cursor and delivers what the rules match.
type Loop struct {
	Sender *Sender
	Feed   Feed
	Cursor Cursor
	// Rules returns the rule set in force.
	Rules func(ctx context.Context) (RuleSet, error)
	// Describe fills in a revision's token, time, principal, reason and
	// audit link from its change record meta.
	Describe func(rev uint64, meta []byte) Revision
	// Failed records a delivery whose attempts ran out (a dead letter).
	Failed Failed

	pos uint64 // the last revision handled by this loop
}

// Reset forgets what this loop handled: the next Once starts from the
// cursor (call it when leadership is lost).
func (l *Loop) Reset() { l.pos = 0 }

// Once delivers every revision after the cursor (or after what this loop
// handled already) that the feed holds now, moving the cursor to each
// revision that had deliveries once all of them succeeded.
// On an error the cursor stays before the failed revision: the next Once
// (here or on a new leader) redelivers it, with the same delivery ids.
func (l *Loop) Once(ctx context.Context) error {
	rs, err := l.Rules(ctx)
	if err != nil {
		return fmt.Errorf("alert rules: %w", err)
	}
	cur, err := l.Cursor.Load(ctx)
	if err != nil {
		return fmt.Errorf("alert cursor: %w", err)
	}
	cur = max(cur, l.pos)
	return l.Feed(ctx, cur+1, func(rev uint64, changes []storage.Change, meta []byte) error {
		r := l.Describe(rev, meta)
		r.Revision, r.Changes = rev, changes
		n, err := l.Sender.Dispatch(ctx, rs, r, l.Failed)
		if err != nil {
			return err
		}
		if n > 0 {
			if err := l.Cursor.Store(ctx, rev); err != nil {
				return fmt.Errorf("alert cursor at %d: %w", rev, err)
			}
		}
		l.pos = rev
		return nil
	})
}
