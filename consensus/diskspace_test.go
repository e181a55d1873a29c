package consensus

import (
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"testing"
	"time"
)

// TestWriteRefusedBelowFreeSpaceReserve: with a reserve no filesystem has,
// a write is refused with ErrDiskFull and nothing is proposed.
func TestWriteRefusedBelowFreeSpaceReserve(t *testing.T) {
	a := newTestNode(t, "a")
	a.open(true, nil)
	waitIsLeader(t, a.node)
	writeSchema(t, a.node, testSchema)
	// The first leader writes the cluster id asynchronously; let it land so
	// the revision check below sees only the refused write.
	if _, err := a.node.WaitClusterUUID(ctxT(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	a.node.cfg.MinFreeBytes = math.MaxUint64
	before := a.node.AppliedRevision()
	_, err := a.node.Write(ctxT(t, 5*time.Second), touch("dataset:d#reader@user:d"))
	if !errors.Is(err, ErrDiskFull) {
		t.Fatalf("write below the reserve: got %v, want ErrDiskFull", err)
	}
	if got := a.node.AppliedRevision(); got != before {
		t.Fatalf("applied revision moved from %d to %d: the refused write was proposed", before, got)
	}
	a.node.cfg.MinFreeBytes = 0
	if _, err := a.node.Write(ctxT(t, 5*time.Second), touch("dataset:d#reader@user:d")); err != nil {
		t.Fatalf("write with the check off: %v", err)
	}
}

// TestFollowerPausesWhileDiskShort: a follower whose disk is short of space
// stops applying committed entries instead of writing into its store (where
// a memory-mapped write on a full disk would kill it), while the leader and
// the other follower go on acknowledging writes; once space returns it
// applies everything it missed; and closing it while it waits does not hang.
func TestFollowerPausesWhileDiskShort(t *testing.T) {
	c := startCluster(t, 3, nil)
	l := c.leader()
	writeSchema(t, l.node, testSchema)
	var f *testNode
	for _, tn := range c.nodes {
		if tn != l {
			f = tn
			break
		}
	}
	var free atomic.Uint64 // what f's disk has free; the pause is below 100
	f.node.fsm.space.Store(&applySpace{free: func() (uint64, error) { return free.Load(), nil }, min: 100, stop: f.node.done, log: testLogger()})
	before := f.node.AppliedRevision()
	var last WriteResult
	for i := range 5 {
		last = c.write(touch(fmt.Sprintf("dataset:d%d#reader@user:u", i)))
	}
	time.Sleep(500 * time.Millisecond) // time enough to apply them, were it not paused
	if got := f.node.AppliedRevision(); got > before {
		t.Fatalf("the paused follower applied up to %d (from %d) while its disk was short", got, before)
	}
	if !f.node.fsm.space.Load().paused.Load() {
		t.Error("the follower does not report itself paused")
	}
	free.Store(1000)
	if err := f.node.WaitApplied(ctxT(t, 10*time.Second), last.Revision); err != nil {
		t.Fatalf("the follower did not catch up once space returned: %v (applied %d, want %d)", err, f.node.AppliedRevision(), last.Revision)
	}
	// Short again, with an entry waiting: Close returns.
	free.Store(0)
	f.node.fsm.space.Load().okUntil.Store(0)
	c.write(touch("dataset:late#reader@user:u"))
	done := make(chan error, 1)
	go func() { done <- f.node.Close() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second): // a deadline for a hang, not a performance bound
		t.Fatal("closing a follower paused for disk space hung")
	}
	f.node = nil
}

// TestLeaderShortOfSpaceHandsOff: a leader that refuses writes for want of
// space hands its leadership to another voter, so the cluster writes again
// through a node that has space.
func TestLeaderShortOfSpaceHandsOff(t *testing.T) {
	c := startCluster(t, 3, nil)
	l := c.leader()
	writeSchema(t, l.node, testSchema)
	l.node.cfg.MinFreeBytes = math.MaxUint64
	if _, err := l.node.Write(ctxT(t, 5*time.Second), touch("dataset:x#reader@user:u")); !errors.Is(err, ErrDiskFull) {
		t.Fatalf("write on the full leader: got %v, want ErrDiskFull", err)
	}
	deadline := time.Now().Add(15 * time.Second) // a deadline for a hang, not a performance bound
	for l.node.IsLeader() {
		if time.Now().After(deadline) {
			t.Fatal("the leader short of space still leads")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if nl := c.leader(); nl == l {
		t.Fatalf("%s leads again", l.id)
	}
	res := c.write(touch("dataset:x#reader@user:u"))
	if res.Revision == 0 {
		t.Fatal("no revision for the write on the new leader")
	}
}
