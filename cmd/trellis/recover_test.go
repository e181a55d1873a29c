package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestRecoverRunbook follows docs/cluster.md "Recovering from a lost
// quorum": three nodes, all stopped and two of them lost for good; recover
// on the survivor makes it a one-voter cluster that has every acknowledged
// write and takes new ones; a node with a fresh data directory then joins.
func TestRecoverRunbook(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	c := newTestCluster(t, 3, nil)
	tok := c.mustWrite(1, "touch", "doc:before#viewer@user:ann")
	c.mustCheck(0, "doc:before", "view", "user:ann", fresh(tok), "allowed")
	for i := range 3 {
		c.stop(i)
	}

	root := &cobra.Command{Use: "trellis", SilenceErrors: true, SilenceUsage: true}
	root.AddCommand(newRecoverCommand())
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	if code := execute(root, []string{"recover"}); code != 2 {
		t.Fatalf("recover without flags: exit %d, want 2 (usage); output:\n%s", code, out.String())
	}
	if code := execute(root, []string{"recover", "--data-dir", t.TempDir(), "--node-id", "n1", "--raft-addr", c.opts[0].RaftAddr}); code != 1 || !strings.Contains(out.String(), "no raft directory") {
		t.Fatalf("recover of an empty directory: exit %d, want 1 naming the missing raft directory; output:\n%s", code, out.String())
	}
	out.Reset()
	args := []string{"recover", "--data-dir", c.opts[0].DataDir, "--node-id", "n1", "--raft-addr", c.opts[0].RaftAddr}
	if code := execute(root, args); code != 0 {
		t.Fatalf("recover: exit %d; output:\n%s", code, out.String())
	}
	if !strings.Contains(out.String(), "voter n1 at "+c.opts[0].RaftAddr) {
		t.Fatalf("recover output does not name the new configuration:\n%s", out.String())
	}

	// The survivor alone (its --peers still lists the lost nodes; a node
	// with raft state ignores it).
	if err := c.start(0); err != nil {
		t.Fatal(err)
	}
	c.waitReady(0)
	c.mustCheck(0, "doc:before", "view", "user:ann", fullyConsistent, "allowed")
	c.mustWrite(0, "touch", "doc:after#viewer@user:bob")
	ms, err := c.node(0).Consensus().Members()
	if err != nil || len(ms) != 1 || ms[0].ID != "n1" || !ms[0].Voter {
		t.Fatalf("after recover Members() = %+v, %v; want n1 alone, a voter", ms, err)
	}

	// A replacement with a fresh data directory joins through the survivor.
	o := &c.opts[1]
	o.DataDir = filepath.Join(t.TempDir(), "n2-fresh")
	o.Peers = ""
	o.Join = c.urls[0]
	o.JoinToken = c.admin
	if err := c.start(1); err != nil {
		t.Fatalf("joining a fresh n2: %v", err)
	}
	c.waitReady(1)
	c.mustCheck(1, "doc:after", "view", "user:bob", fullyConsistent, "allowed")
	ms, err = c.node(0).Consensus().Members()
	if err != nil || len(ms) != 2 || !ms[1].Voter {
		t.Fatalf("after the join Members() = %+v, %v; want n1 and n2, both voters", ms, err)
	}
}
