package consensus

import (
	"errors"
	"math"
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
