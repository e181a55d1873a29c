package alerts

import (
	"context"
	"errors"
	"testing"

	"github.com/trellis-authz/trellis/storage"
	"github.com/trellis-authz/trellis/tuple"
)

// memFeed is a change feed of fixed revisions 1..n.
type memFeed [][]storage.Change

func (f memFeed) read(ctx context.Context, from uint64, fn func(uint64, []storage.Change, []byte) error) error {
	for rev := from; rev <= uint64(len(f)); rev++ {
		if err := fn(rev, f[rev-1], nil); err != nil {
			return err
		}
	}
	return nil
}

// memCursor fails its next Store when failNext is set: the leader died
// after delivering and before the cursor was recorded.
type memCursor struct {
	rev      uint64
	failNext bool
}

func (c *memCursor) Load(context.Context) (uint64, error) { return c.rev, nil }
func (c *memCursor) Store(_ context.Context, rev uint64) error {
	if c.failNext {
		c.failNext = false
		return errors.New("leader lost")
	}
	c.rev = rev
	return nil
}

func grant(rel string) storage.Change {
	r, err := tuple.Parse(rel)
	if err != nil {
		panic(err)
	}
	return storage.Change{Op: tuple.OpTouch, Relationship: r}
}

func TestLoopResumesFromCursorSameIDs(t *testing.T) {
	rcv := newReceiver(t)
	feed := memFeed{
		{grant("dataset:a#reader@user:x")},
		{grant("dataset:a#emergency_reader@user:ana")},
		{grant("dataset:b#emergency_reader@user:bo")},
	}
	cur := &memCursor{failNext: true}
	l := &Loop{Sender: &Sender{}, Feed: feed.read, Cursor: cur,
		Rules:    func(context.Context) (RuleSet, error) { return breakGlassRules(rcv.srv.URL), nil },
		Describe: func(uint64, []byte) Revision { return Revision{Token: "t"} }}
	// Revision 2 is delivered, recording it fails: the next Once sends it again.
	if err := l.Once(context.Background()); err == nil {
		t.Fatal("Once hid the cursor failure")
	}
	if cur.rev != 0 || len(rcv.deliveries()) != 1 {
		t.Fatalf("cursor %d, %d deliveries after a failed cursor", cur.rev, len(rcv.deliveries()))
	}
	if err := l.Once(context.Background()); err != nil {
		t.Fatal(err)
	}
	if cur.rev != 3 {
		t.Fatalf("cursor at %d, want 3", cur.rev)
	}
	// Revision 3 delivered, then its cursor lost: the resumed loop sends it
	// again with the same id.
	cur.rev, cur.failNext = 2, true
	l.Reset()
	if err := l.Once(context.Background()); err == nil {
		t.Fatal("Once hid the cursor failure")
	}
	if err := l.Once(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := rcv.deliveries()
	want := []string{DeliveryID("break-glass", 2, 0), DeliveryID("break-glass", 2, 0), DeliveryID("break-glass", 3, 0), DeliveryID("break-glass", 3, 0), DeliveryID("break-glass", 3, 0)}
	if len(got) != len(want) {
		t.Fatalf("%d deliveries, want %d", len(got), len(want))
	}
	for i, d := range got {
		if d.id != want[i] {
			t.Errorf("delivery %d id %s, want %s", i, d.id, want[i])
		}
	}
}
