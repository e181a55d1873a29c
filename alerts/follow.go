package alerts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/trellis-authz/trellis/storage"
)

// Feed reads the change feed from a revision on, in order, as
// storage.(*Store).Changes does.
type Feed func(ctx context.Context, from uint64, fn func(rev uint64, changes []storage.Change, meta []byte) error) error

// Cursor is the last revision whose deliveries all succeeded. In the cluster
// it is replicated through raft (ADR 0012), so a new leader resumes where
// the old one had recorded, and the change feed is held from it on
// (storage.Batch.ChangeFloor).
type Cursor interface {
	Load(ctx context.Context) (uint64, error)
	Store(ctx context.Context, rev uint64) error
}

// Bounds of one Once: it reads at most batchRevisions revisions and plans
// at most batchDeliveries deliveries before it sends them and records the
// cursor; it records the cursor after a batch without deliveries only when
// the batch moved it by cursorStride or more (so a new leader need not read
// what held nothing, and the feed's hold moves on).
const (
	batchRevisions  = 4096
	batchDeliveries = 1024
	cursorStride    = 1024
	maxBatches      = 8 // per Once, so the node's poll loop also gets its turn
)

var errBatchFull = errors.New("alert batch full")

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
	// Horizon returns the first revision the feed still holds; when the
	// cursor has fallen below it (the hold's bound was passed, or the store
	// was restored from a snapshot), the loop reports the gap to every rule
	// that follows the feed and goes on from the horizon. Nil: the feed's
	// error is returned instead.
	Horizon func() uint64
	// Log receives the gap report (nil: slog.Default()).
	Log *slog.Logger

	pos uint64 // the last revision handled by this loop
}

// Reset forgets what this loop handled: the next Once starts from the
// cursor (call it when leadership is lost).
func (l *Loop) Reset() { l.pos = 0 }

// planned is one delivery of a batch.
type planned struct {
	rule Rule
	id   string
	p    Payload
}

// Once delivers the revisions after the cursor (or after what this loop
// handled already) that the feed holds now, a batch at a time: it plans
// every delivery of up to batchRevisions revisions, posts them, each
// webhook's in order and the webhooks at once, and when all of them were
// accepted or dead-lettered records the cursor at the batch's last
// revision — one replicated write per batch, not per revision. On an error
// the cursor stays before the batch: the next Once (here or on a new
// leader) sends it again, with the same delivery ids.
func (l *Loop) Once(ctx context.Context) error {
	rs, err := l.Rules(ctx)
	if err != nil {
		return fmt.Errorf("alert rules: %w", err)
	}
	if !rs.FollowsFeed() {
		return nil
	}
	cur, err := l.Cursor.Load(ctx)
	if err != nil {
		return fmt.Errorf("alert cursor: %w", err)
	}
	from := max(cur, l.pos) + 1
	for range maxBatches {
		last, n, full, err := l.batch(ctx, rs, from)
		switch {
		case errors.Is(err, storage.ErrSnapshotExpired) && l.Horizon != nil:
			if h := l.Horizon(); h > from {
				if err := l.gap(ctx, rs, from, h-1); err != nil {
					return err
				}
				from = h
				continue
			}
			return err
		case err != nil:
			return err
		case last < from:
			return nil // nothing new
		}
		if n > 0 || last-cur >= cursorStride {
			if err := l.Cursor.Store(ctx, last); err != nil {
				return fmt.Errorf("alert cursor at %d: %w", last, err)
			}
			cur = last
		}
		l.pos, from = last, last+1
		if !full {
			return nil // caught up
		}
	}
	return nil // the next Once goes on
}

// batch plans and sends the deliveries of the revisions from on, up to the
// batch bounds, and returns the last revision read, the deliveries made and
// whether a bound stopped it (more may follow).
func (l *Loop) batch(ctx context.Context, rs RuleSet, from uint64) (last uint64, n int, full bool, err error) {
	last = from - 1
	var plan []planned
	err = l.Feed(ctx, from, func(rev uint64, changes []storage.Change, meta []byte) error {
		r := l.Describe(rev, meta)
		r.Revision, r.Changes = rev, changes
		plan = planRevision(rs, r, plan)
		last = rev
		if len(plan) >= batchDeliveries || rev-from+1 >= batchRevisions {
			return errBatchFull
		}
		return nil
	})
	full = errors.Is(err, errBatchFull)
	if err != nil && !full {
		return 0, 0, false, err
	}
	return last, len(plan), full, l.Sender.sendAll(ctx, plan, l.Failed)
}

// gap tells every rule that follows the feed that revisions from..to were
// trimmed before their alerts were delivered: what they held is lost, and
// the people the rules alert must know it.
func (l *Loop) gap(ctx context.Context, rs RuleSet, from, to uint64) error {
	log := l.Log
	if log == nil {
		log = slog.Default()
	}
	log.Error("alert revisions were trimmed from the change feed before their alerts were delivered; their alerts are lost (the feed is held from the cursor for at most storage.Config.ChangeHoldMax revisions)",
		"from", from, "to", to)
	if l.Sender.Stats != nil {
		l.Sender.Stats.Skipped.Add(to - from + 1)
	}
	var plan []planned
	for _, rule := range rs.Rules {
		if k := rule.Kind(); k != KindRelationship && k != KindSchema {
			continue
		}
		ev := Event{Kind: KindGap, Gap: &GapEvent{From: from, To: to}, Time: l.Sender.now()}
		plan = append(plan, planned{rule, DeliveryID(rule.Name+"\x00gap", from, 0), Payload{Rule: rule.Name, Event: ev}})
	}
	if err := l.Sender.sendAll(ctx, plan, l.Failed); err != nil {
		return err
	}
	if err := l.Cursor.Store(ctx, to); err != nil {
		return fmt.Errorf("alert cursor at %d: %w", to, err)
	}
	l.pos = to
	return nil
}

// sendAll sends plan: each webhook's deliveries in plan order, the webhooks
// at once. It returns the first error that stopped a webhook's queue (the
// context ended, or failed could not record a letter).
func (s *Sender) sendAll(ctx context.Context, plan []planned, failed Failed) error {
	if len(plan) == 0 {
		return nil
	}
	queues := map[string][]planned{}
	var order []string
	for _, d := range plan {
		u := d.rule.Webhook.URL
		if _, ok := queues[u]; !ok {
			order = append(order, u)
		}
		queues[u] = append(queues[u], d)
	}
	errs := make([]error, len(order))
	var wg sync.WaitGroup
	for i, u := range order {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, d := range queues[u] {
				if err := s.Send(ctx, d.rule, d.id, d.p, failed); err != nil {
					errs[i] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
