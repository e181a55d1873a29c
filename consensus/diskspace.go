package consensus

import (
	"fmt"
	"time"
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
		return err
	}
	return nil
}

// diskFullLogEvery spaces the warnings of a node that refuses writes.
const diskFullLogEvery = 10 * time.Second
