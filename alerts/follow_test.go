package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/trellis-authz/trellis/storage"
	"github.com/trellis-authz/trellis/tuple"
)

// memFeed is a change feed of fixed revisions 1..n whose records below
// horizon were trimmed.
type memFeed struct {
	revs    [][]storage.Change
	horizon uint64
}

func (f *memFeed) read(ctx context.Context, from uint64, fn func(uint64, []storage.Change, []byte) error) error {
	if from < f.horizon {
		return fmt.Errorf("%w: the change feed starts at revision %d, asked from %d", storage.ErrSnapshotExpired, f.horizon, from)
	}
	for rev := from; rev <= uint64(len(f.revs)); rev++ {
		if err := fn(rev, f.revs[rev-1], nil); err != nil {
			return err
		}
	}
	return nil
}

// memCursor fails its next Store when failNext is set: the leader died
// after delivering and before the cursor was recorded.
type memCursor struct {
	mu       sync.Mutex
	rev      uint64
	stores   int
	failNext bool
}

func (c *memCursor) Load(context.Context) (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rev, nil
}
func (c *memCursor) Store(_ context.Context, rev uint64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failNext {
		c.failNext = false
		return errors.New("leader lost")
	}
	c.rev = rev
	c.stores++
	return nil
}

func grant(rel string) storage.Change {
	r, err := tuple.Parse(rel)
	if err != nil {
		panic(err)
	}
	return storage.Change{Op: tuple.OpTouch, Relationship: r}
}

func newLoop(feed *memFeed, cur *memCursor, rs RuleSet) *Loop {
	return &Loop{Sender: &Sender{Stats: &Stats{}}, Feed: feed.read, Cursor: cur,
		Rules:    func(context.Context) (RuleSet, error) { return rs, nil },
		Describe: func(uint64, []byte) Revision { return Revision{Token: "t"} },
		Horizon:  func() uint64 { return feed.horizon }}
}

func TestLoopResumesFromCursorSameIDs(t *testing.T) {
	rcv := newReceiver(t)
	feed := &memFeed{revs: [][]storage.Change{
		{grant("dataset:a#reader@user:x")},
		{grant("dataset:a#emergency_reader@user:ana")},
		{grant("dataset:b#emergency_reader@user:bo")},
	}}
	cur := &memCursor{failNext: true}
	l := newLoop(feed, cur, breakGlassRules(rcv.srv.URL))
	// Revisions 2 and 3 are delivered in one batch, recording the cursor
	// fails: the next Once sends both again.
	if err := l.Once(context.Background()); err == nil {
		t.Fatal("Once hid the cursor failure")
	}
	if cur.rev != 0 || len(rcv.deliveries()) != 2 {
		t.Fatalf("cursor %d, %d deliveries after a failed cursor; want 0, 2", cur.rev, len(rcv.deliveries()))
	}
	if err := l.Once(context.Background()); err != nil {
		t.Fatal(err)
	}
	if cur.rev != 3 || cur.stores != 1 {
		t.Fatalf("cursor at %d after %d stores, want 3 after 1", cur.rev, cur.stores)
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
	b2, b3 := DeliveryID("break-glass", 2, 0), DeliveryID("break-glass", 3, 0)
	want := []string{b2, b3, b2, b3, b3, b3}
	got := rcv.deliveries()
	if len(got) != len(want) {
		t.Fatalf("%d deliveries, want %d", len(got), len(want))
	}
	for i, d := range got {
		if d.id != want[i] {
			t.Errorf("delivery %d id %s, want %s", i, d.id, want[i])
		}
	}
}

// countingReceiver accepts everything and keeps the order of what it got;
// while gate is set, it holds every request until the gate is closed.
type countingReceiver struct {
	srv  *httptest.Server
	mu   sync.Mutex
	revs []uint64
	ids  map[string]int
	kind []string
	gate chan struct{}
}

func newCountingReceiver(t *testing.T, gate chan struct{}) *countingReceiver {
	r := &countingReceiver{ids: map[string]int{}, gate: gate}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if r.gate != nil {
			<-r.gate
		}
		var p Payload
		body, _ := io.ReadAll(req.Body)
		if err := json.Unmarshal(body, &p); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.revs = append(r.revs, p.Event.Revision)
		r.kind = append(r.kind, p.Event.Kind)
		r.ids[req.Header.Get("Trellis-Delivery")]++
		r.mu.Unlock()
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *countingReceiver) got() (revs []uint64, ids map[string]int, kinds []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]uint64(nil), r.revs...), r.ids, append([]string(nil), r.kind...)
}

// TestLoopBatchesCursorWrites: a backlog of thousands of matching
// revisions is delivered once each, in order, with one cursor write per
// batch, not per revision (one replicated write per revision was what let
// the loop fall behind the change feed under load).
func TestLoopBatchesCursorWrites(t *testing.T) {
	const n = 5000
	rcv := newCountingReceiver(t, nil)
	feed := &memFeed{}
	for i := range n {
		feed.revs = append(feed.revs, []storage.Change{grant(fmt.Sprintf("dataset:d%d#emergency_reader@user:u%d", i, i))})
	}
	cur := &memCursor{}
	l := newLoop(feed, cur, breakGlassRules(rcv.srv.URL))
	for range 3 { // each Once handles a bounded number of batches
		if err := l.Once(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	revs, ids, _ := rcv.got()
	if len(revs) != n || len(ids) != n {
		t.Fatalf("%d deliveries with %d distinct ids, want %d of each", len(revs), len(ids), n)
	}
	for i, r := range revs {
		if r != uint64(i+1) {
			t.Fatalf("delivery %d is of revision %d, want %d: one webhook's deliveries must keep revision order", i, r, i+1)
		}
	}
	if cur.rev != n {
		t.Errorf("cursor at %d, want %d", cur.rev, n)
	}
	if maxStores := n/batchDeliveries + 2; cur.stores > maxStores {
		t.Errorf("%d cursor writes for %d revisions, want at most %d (one per batch)", cur.stores, n, maxStores)
	}
}

// TestLoopWebhooksDeliverIndependently: a webhook that holds its requests
// does not hold up another webhook's deliveries of the same batch.
func TestLoopWebhooksDeliverIndependently(t *testing.T) {
	gate := make(chan struct{})
	slow := newCountingReceiver(t, gate)
	fast := newCountingReceiver(t, nil)
	rs := RuleSet{Rules: []Rule{
		{Name: "slow", Match: Match{ResourceType: "dataset", Relation: "emergency_reader"}, Webhook: Webhook{URL: slow.srv.URL, Secret: "a"}},
		{Name: "fast", Match: Match{ResourceType: "dataset", Relation: "emergency_reader"}, Webhook: Webhook{URL: fast.srv.URL, Secret: "b"}},
	}}
	feed := &memFeed{revs: [][]storage.Change{
		{grant("dataset:a#emergency_reader@user:ana")},
		{grant("dataset:b#emergency_reader@user:bo")},
	}}
	cur := &memCursor{}
	l := newLoop(feed, cur, rs)
	done := make(chan error, 1)
	go func() { done <- l.Once(context.Background()) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if revs, _, _ := fast.got(); len(revs) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the fast webhook got nothing while the slow one held its first request")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if cur.rev != 0 {
		t.Errorf("cursor moved to %d while a delivery of the batch was still out", cur.rev)
	}
	close(gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if revs, _, _ := slow.got(); len(revs) != 2 || revs[0] != 1 || revs[1] != 2 {
		t.Errorf("slow webhook got revisions %v, want [1 2]", revs)
	}
	if cur.rev != 2 {
		t.Errorf("cursor at %d, want 2", cur.rev)
	}
}

// TestLoopReportsGap: when the feed was trimmed past the cursor (the
// hold's bound passed, or a snapshot was installed), every rule that
// follows the feed is told which revisions were lost, and the loop goes on
// from the horizon instead of failing forever.
func TestLoopReportsGap(t *testing.T) {
	rcv := newCountingReceiver(t, nil)
	feed := &memFeed{horizon: 4}
	for i := range 6 {
		feed.revs = append(feed.revs, []storage.Change{grant(fmt.Sprintf("dataset:d%d#emergency_reader@user:u", i))})
	}
	cur := &memCursor{}
	l := newLoop(feed, cur, breakGlassRules(rcv.srv.URL))
	if err := l.Once(context.Background()); err != nil {
		t.Fatal(err)
	}
	revs, _, kinds := rcv.got()
	// breakGlassRules has two relationship rules on one webhook: two gap
	// events, then revisions 4, 5, 6.
	wantKinds := []string{KindGap, KindGap, KindRelationship, KindRelationship, KindRelationship}
	if fmt.Sprint(kinds) != fmt.Sprint(wantKinds) {
		t.Fatalf("event kinds %v, want %v", kinds, wantKinds)
	}
	if fmt.Sprint(revs[2:]) != "[4 5 6]" {
		t.Errorf("revisions after the gap %v, want [4 5 6]", revs[2:])
	}
	if got := l.Sender.Stats.Skipped.Load(); got != 3 {
		t.Errorf("Stats.Skipped = %d, want 3 (revisions 1-3)", got)
	}
	if cur.rev != 6 {
		t.Errorf("cursor at %d, want 6", cur.rev)
	}
}
