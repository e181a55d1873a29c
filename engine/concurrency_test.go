package engine_test

import (
	"context"
	"iter"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trellis-authz/trellis/engine"
	"github.com/trellis-authz/trellis/tuple"
)

// blockingReader blocks Subjects of one relation until the caller's context
// is cancelled, and counts the cancellations it saw.
type blockingReader struct {
	*memReader
	relation  string
	entered   chan struct{} // closed when the blocking read starts
	once      sync.Once
	cancelled atomic.Int32
}

// Relationship delays reads of other relations until the blocking read has
// started, so the test knows the slow branch is under way when the fast one
// decides.
func (b *blockingReader) Relationship(ctx context.Context, res tuple.ObjectRef, rel string, sub tuple.SubjectRef) (tuple.Relationship, bool, error) {
	if rel != b.relation {
		select {
		case <-b.entered:
		case <-time.After(time.Minute):
		}
	}
	return b.memReader.Relationship(ctx, res, rel, sub)
}

func (b *blockingReader) Subjects(ctx context.Context, res tuple.ObjectRef, rel, subjectType string) iter.Seq2[tuple.Relationship, error] {
	if rel != b.relation {
		return b.memReader.Subjects(ctx, res, rel, subjectType)
	}
	return func(yield func(tuple.Relationship, error) bool) {
		b.once.Do(func() { close(b.entered) })
		select {
		case <-ctx.Done():
			b.cancelled.Add(1)
			yield(tuple.Relationship{}, ctx.Err())
		case <-time.After(time.Minute):
			yield(tuple.Relationship{}, context.DeadlineExceeded)
		}
	}
}

// TestDecisiveBranchCancelsSiblings: in view = slow + fast, the slow branch
// blocks until cancelled; the fast one allows. The check must answer allowed
// (branches run concurrently) and the slow branch must see its context
// cancelled (a decisive branch cancels its siblings).
func TestDecisiveBranchCancelsSiblings(t *testing.T) {
	v := testView(t, `
definition user {}
definition team {
  relation member: user
}
definition document {
  relation slow: team#member
  relation fast: user
  permission view = slow + fast
}`, "document:d#fast@user:ana", "document:d#slow@team:t#member")
	br := &blockingReader{memReader: v.Reader.(*memReader), relation: "slow", entered: make(chan struct{})}
	v.Reader = br
	e := newTestEngine(t, func(c *engine.Config) { c.Concurrency, c.ParallelBranches = 4, 2 })
	done := make(chan engine.CheckResult, 1)
	go func() {
		r, err := e.Check(context.Background(), v, engine.CheckRequest{Resource: tuple.ObjectRef{Type: "document", ID: "d"}, Permission: "view", Subject: tuple.SubjectRef{Type: "user", ID: "ana"}})
		if err != nil {
			t.Errorf("check: %v", err)
		}
		done <- r
	}()
	select {
	case r := <-done:
		if r.Result != engine.Allowed {
			t.Errorf("got %s, want allowed", r.Result)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("check did not return: the slow branch was not cancelled")
	}
	if n := br.cancelled.Load(); n != 1 {
		t.Errorf("slow branch saw %d cancellations, want 1", n)
	}
}
