//go:build slow

package main

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/trellis-authz/trellis/server"
	"github.com/trellis-authz/trellis/wire"
)

// TestDiskFullFollower: a follower whose data directory fills up (a small
// tmpfs) stays up while the other two go on acknowledging writes: it stops
// applying instead of writing into its memory-mapped store files, where a
// full filesystem kills the process with SIGBUS (here, this whole test
// process). Once space is freed it catches up, and every acknowledged
// write is there.
func TestDiskFullFollower(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs (mount -t tmpfs) for a follower's data directory")
	}
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=512m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs on %s: %v %s", mnt, err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", mnt).Run() })
	c := newTestClusterWith(t, 3, nil, func(o *server.Config) {
		if o.NodeID == "n3" {
			o.DataDir = filepath.Join(mnt, fmt.Sprintf("n3-%d", time.Now().UnixNano()))
		}
	}, nil)
	const small = 2 // n3, the node on the small disk
	for attempt := 0; c.leader() == small; attempt++ {
		if attempt == 5 {
			t.Fatal("n3 keeps winning the election; the test needs it to follow")
		}
		c.stop(small)
		time.Sleep(time.Second)
		if err := c.start(small); err != nil {
			t.Fatal(err)
		}
	}
	var acked []string
	var last string
	write := func(i int) {
		rel := fmt.Sprintf("doc:d%d#viewer@user:u%d", i, i)
		last = c.mustWrite(c.leader(), "touch", rel)
		acked = append(acked, rel)
	}
	for i := range 10 {
		write(i)
	}
	c.mustCheck(small, "doc:d9", "view", "user:u9", fresh(last), "allowed")

	filler := filepath.Join(mnt, "filler")
	fill(t, filler)
	for i := 10; i < 40; i++ {
		write(i) // the leader and the other follower make a quorum
	}
	time.Sleep(time.Second) // n3 has had time to receive them, and would have died applying them
	if c.node(small) == nil {
		t.Fatal("n3 is gone")
	}
	var h wire.HealthResponse
	if status, body := c.do(small, http.MethodGet, "/healthz", "", nil, &h); status != http.StatusOK {
		t.Fatalf("n3 /healthz on a full disk: %d %s", status, body)
	}
	// Reads it can answer from what it applied still answer.
	c.mustCheck(small, "doc:d9", "view", "user:u9", &wire.Consistency{Mode: wire.MinimizeLatency}, "allowed")

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	c.mustCheck(small, "doc:d39", "view", "user:u39", fresh(last), "allowed")
	for i := range acked {
		c.mustCheck(small, fmt.Sprintf("doc:d%d", i), "view", fmt.Sprintf("user:u%d", i), fresh(last), "allowed")
	}
	t.Logf("%d acknowledged writes, all on the follower once its disk had space again", len(acked))
}
