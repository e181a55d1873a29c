package consensus

import (
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
)

// checkFreeSpace refuses a proposal when DataDir's filesystem has less than
// Config.MinFreeBytes free. The store memory-maps its write-ahead files and a
// write into a mapped page of a full filesystem kills the process (SIGBUS);
// refusing new writes on the leader while space remains keeps the node up,
// and nothing refused was acknowledged.
func (n *Node) checkFreeSpace(c Command) error {
	if n.cfg.MinFreeBytes == 0 || c.Type() == TypeNoop {
		return nil
	}
	free, err := freeBytes(n.cfg.DataDir)
	if err != nil {
		return fmt.Errorf("%w: measuring free space in %s: %w", ErrDiskFull, n.cfg.DataDir, err)
	}
	if free < n.cfg.MinFreeBytes {
		err := fmt.Errorf("%w: %s has %d MiB free, below the %d MiB reserve (MinFreeBytes); free space or grow the volume, then retry",
			ErrDiskFull, n.cfg.DataDir, free>>20, n.cfg.MinFreeBytes>>20)
		// Tell the operator, at most every diskFullLogEvery: the callers get
		// 507 disk_full, but it is the operator who must act.
		now := time.Now().UnixNano()
		if last := n.diskFullLogged.Load(); now-last >= int64(diskFullLogEvery) && n.diskFullLogged.CompareAndSwap(last, now) {
			n.log.Warn("refusing writes: the data directory is short of free space", "error", err)
		}
		n.handOffForSpace(now)
		return err
	}
	return nil
}

// diskFullLogEvery spaces the warnings of a node that refuses writes.
const diskFullLogEvery = 10 * time.Second

// diskFullHandoffEvery spaces the leadership hand-offs of a leader short of
// space, so that a cluster whose disks are all full does not pass the
// leadership round for ever.
const diskFullHandoffEvery = 30 * time.Second

// handOffForSpace hands the leadership of a leader that refuses writes for
// want of space to another voter (at most every diskFullHandoffEvery), so
// that the cluster writes again if another node has space: the refused
// write is answered ErrDiskFull and its retry goes to the new leader.
func (n *Node) handOffForSpace(now int64) {
	last := n.diskFullHandoff.Load()
	if now-last < int64(diskFullHandoffEvery) || !n.diskFullHandoff.CompareAndSwap(last, now) {
		return
	}
	voters := 0
	if f := n.raft.GetConfiguration(); f.Error() == nil {
		for _, s := range f.Configuration().Servers {
			if s.Suffrage == raft.Voter {
				voters++
			}
		}
	}
	if voters < 2 || !n.IsLeader() {
		return
	}
	n.log.Warn("handing the leadership to another voter: this node cannot accept writes for want of disk space")
	go func() {
		if err := n.raft.LeadershipTransfer().Error(); err != nil {
			n.log.Warn("leadership hand-off for disk space failed", "error", err)
		}
	}()
}

// applySpace pauses the state machine while the data directory is short of
// space: below min, applying a committed entry writes into the store's
// memory-mapped write-ahead files and could kill the process (SIGBUS).
// This guards every node, followers included, which cannot refuse what the
// leader committed: a follower whose disk fills stops applying (its raft
// log append fails on its own, and the leader retries), stays up and
// answers reads from what it applied, and catches up once space is freed.
// The leader refuses new writes at Config.MinFreeBytes first; the pause
// starts at half of it.
type applySpace struct {
	free    func() (uint64, error)
	min     uint64
	stop    <-chan struct{} // closed when the node shuts down
	log     *slog.Logger
	okUntil atomic.Int64 // unix ns until which the last measurement stands
	paused  atomic.Bool
}

// Intervals of the pause: a measurement that found enough space stands for
// spaceRecheck (a statfs per applied entry would cost more than it saves);
// while short, space is measured every spacePoll.
const (
	spaceRecheck = 100 * time.Millisecond
	spacePoll    = 200 * time.Millisecond
)

// wait returns true once there is space to apply (at once, usually), or
// false when the node shuts down while paused. A filesystem whose free
// space cannot be measured does not pause the node.
func (s *applySpace) wait() bool {
	if s == nil || s.min == 0 || time.Now().UnixNano() < s.okUntil.Load() {
		return true
	}
	var warned time.Time
	for {
		free, err := s.free()
		if err != nil || free >= s.min {
			if s.paused.Swap(false) {
				s.log.Warn("resuming the state machine: free space returned", "free_mib", free>>20)
			}
			s.okUntil.Store(time.Now().Add(spaceRecheck).UnixNano())
			return true
		}
		if time.Since(warned) >= diskFullLogEvery {
			s.log.Error("pausing the state machine: the data directory is short of free space; committed entries wait here (nothing is lost) and are applied once space is freed",
				"free_mib", free>>20, "pause_below_mib", s.min>>20)
			warned = time.Now()
			s.paused.Store(true)
		}
		select {
		case <-s.stop:
			return false
		case <-time.After(spacePoll):
		}
	}
}
