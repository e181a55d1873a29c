package consensus

import (
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/trellis-authz/trellis/test/testnet"
)

type cluster struct {
	t     testing.TB
	nodes []*testNode
	peers []Peer
}

func freeAddr(t testing.TB) string { return testnet.FreeAddr(t) }

func startCluster(t testing.TB, size int, tune func(*Config), opts ...func(*testNode)) *cluster {
	t.Helper()
	c := &cluster{t: t}
	for i := range size {
		tn := newTestNode(t, fmt.Sprintf("n%d", i+1))
		tn.addr = freeAddr(t)
		tn.tune = tune
		for _, o := range opts {
			o(tn)
		}
		c.nodes = append(c.nodes, tn)
		c.peers = append(c.peers, Peer{ID: tn.id, RaftAddr: tn.addr, APIAddr: "http://" + tn.id + ".test:8080"})
	}
	for _, tn := range c.nodes {
		tn.open(true, c.peers)
	}
	return c
}

// leader waits for one running node to lead and returns it.
func (c *cluster) leader() *testNode {
	c.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		for _, tn := range c.nodes {
			if tn.node != nil && tn.node.IsLeader() {
				return tn
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.t.Fatal("no leader elected")
	return nil
}

func (c *cluster) running() []*testNode {
	var out []*testNode
	for _, tn := range c.nodes {
		if tn.node != nil {
			out = append(out, tn)
		}
	}
	return out
}

// write writes through whichever node leads, retrying with the same
// idempotency key when leadership moves (the outcome is then unknown).
func (c *cluster) write(cmd Command) WriteResult {
	c.t.Helper()
	if cmd.Header().IdempotencyKey == "" {
		cmd.Header().IdempotencyKey = uuid.NewString()
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		l := c.leader()
		res, err := l.node.Write(ctxT(c.t, 10*time.Second), cmd)
		if err == nil {
			return res
		}
		if !errors.Is(err, ErrLeadershipLost) && !errors.Is(err, ErrNotLeader) || time.Now().After(deadline) {
			c.t.Fatalf("write via %s: %v", l.id, err)
		}
		c.t.Logf("retrying after %v", err)
	}
}

func TestClusterReplicationFailoverRejoin(t *testing.T) {
	c := startCluster(t, 3, nil)
	l := c.leader()
	c.write(&SchemaCommand{Text: testSchema})

	var acked []string
	var last uint64
	write := func(_ *Node, r string) {
		t.Helper()
		res := c.write(touch(r))
		acked = append(acked, r)
		last = res.Revision
	}
	for i := range 5 {
		write(l.node, fmt.Sprintf("dataset:d%d#reader@user:u%d", i, i))
	}
	// Applied on all three.
	for _, tn := range c.nodes {
		if err := tn.node.WaitApplied(ctxT(t, 10*time.Second), last); err != nil {
			t.Fatalf("%s WaitApplied(%d): %v", tn.id, last, err)
		}
		for _, r := range acked {
			if !has(t, tn.store, r) {
				t.Fatalf("%s lacks %s", tn.id, r)
			}
		}
	}
	// A follower refuses writes and names the leader, and knows its API address.
	for _, tn := range c.nodes {
		if tn == l {
			continue
		}
		_, err := tn.node.Write(ctxT(t, 5*time.Second), touch("dataset:x#reader@user:x"))
		if !errors.Is(err, ErrNotLeader) {
			t.Fatalf("follower write: got %v, want ErrNotLeader", err)
		}
		if _, err := tn.node.ReadIndex(ctxT(t, 5*time.Second)); !errors.Is(err, ErrNotLeader) {
			t.Fatalf("follower ReadIndex: got %v, want ErrNotLeader", err)
		}
		if id, _ := tn.node.Leader(); id != l.id {
			t.Fatalf("follower names leader %q, want %q", id, l.id)
		}
	}
	members, err := l.node.Members()
	if err != nil || len(members) != 3 {
		t.Fatalf("Members: %v, %v; want 3", members, err)
	}

	// Kill the leader (no leave): a new leader is elected, nothing acked is lost.
	old := l
	old.close()
	nl := c.leader()
	if nl == old {
		t.Fatal("closed node still leads")
	}
	if err := nl.node.WaitApplied(ctxT(t, 10*time.Second), last); err != nil {
		t.Fatal(err)
	}
	for _, r := range acked {
		if !has(t, nl.store, r) {
			t.Fatalf("new leader %s lost acknowledged %s", nl.id, r)
		}
	}
	for i := range 3 {
		write(nl.node, fmt.Sprintf("dataset:e%d#reader@user:v%d", i, i))
	}
	idx, err := nl.node.ReadIndex(ctxT(t, 10*time.Second))
	if err != nil || idx < last {
		t.Fatalf("ReadIndex on new leader: %d, %v; want >= %d", idx, err, last)
	}

	// The old leader restarts, rejoins and catches up.
	old.open(true, c.peers)
	if err := old.node.WaitApplied(ctxT(t, 15*time.Second), last); err != nil {
		t.Fatalf("restarted node WaitApplied(%d): %v", last, err)
	}
	for _, r := range acked {
		if !has(t, old.store, r) {
			t.Fatalf("restarted %s lacks %s", old.id, r)
		}
	}
	if old.node.IsLeader() {
		// Possible only after a new election; either way it must agree.
		t.Logf("restarted node became leader again")
	}
	if got := old.node.LeaderAPIAddr(); got == "" {
		t.Fatal("restarted node does not know the leader's API address")
	}
}

func TestClusterSnapshotCatchUp(t *testing.T) {
	for _, kind := range []string{LogStoreWAL, LogStoreBolt} {
		t.Run(kind, func(t *testing.T) { testSnapshotCatchUp(t, kind) })
	}
}

func testSnapshotCatchUp(t *testing.T, kind string) {
	c := startCluster(t, 3, func(cfg *Config) {
		cfg.SnapshotThreshold = 8
		cfg.TrailingLogs = 2
		cfg.LogStore = kind
		// Small segments, so truncation after the snapshot removes the
		// entries the lagging node needs (the WAL drops whole segments).
		cfg.WALSegmentSize = 1024
	})
	l := c.leader()
	c.write(&SchemaCommand{Text: testSchema})
	var lagging *testNode
	for _, tn := range c.nodes {
		if tn != l {
			lagging = tn
			break
		}
	}
	lagging.close()

	var last uint64
	for i := range 30 {
		last = c.write(touch(fmt.Sprintf("dataset:s%d#reader@user:u%d", i, i))).Revision
	}
	l = c.leader()
	if err := l.node.Snapshot(); err != nil {
		t.Fatalf("leader snapshot: %v", err)
	}
	first, err := l.node.bolt.FirstIndex()
	if err != nil {
		t.Fatal(err)
	}
	if first <= 3 {
		t.Fatalf("leader log still starts at %d; compaction did not happen", first)
	}

	lagging.open(true, c.peers)
	if err := lagging.node.WaitApplied(ctxT(t, 20*time.Second), last); err != nil {
		t.Fatalf("lagging node WaitApplied(%d): %v", last, err)
	}
	restores, _ := strconv.Atoi(lagging.node.Stats()["fsm_restores"])
	if restores < 1 {
		t.Fatalf("lagging node caught up without restoring a snapshot (restores %d); the test did not exercise the snapshot path", restores)
	}
	for i := range 30 {
		if r := fmt.Sprintf("dataset:s%d#reader@user:u%d", i, i); !has(t, lagging.store, r) {
			t.Fatalf("after snapshot restore %s lacks %s", lagging.id, r)
		}
	}
	// The restored node applies new writes on top.
	res := c.write(touch("dataset:after#reader@user:z"))
	if err := lagging.node.WaitApplied(ctxT(t, 10*time.Second), res.Revision); err != nil {
		t.Fatal(err)
	}
	if !has(t, lagging.store, "dataset:after#reader@user:z") {
		t.Fatal("restored node did not apply the next write")
	}
	// And it still knows the schema (reloaded after restore): a schema-invalid
	// write is refused cluster-wide, which only works if every replica agrees.
	if _, err := c.leader().node.Write(ctxT(t, 10*time.Second), touch("nothing:x#reader@user:z")); !errors.Is(err, ErrSchemaViolation) {
		t.Fatalf("got %v, want ErrSchemaViolation", err)
	}
}

func TestReadIndexFailsWithoutQuorum(t *testing.T) {
	c := startCluster(t, 3, nil)
	l := c.leader()
	c.write(&SchemaCommand{Text: testSchema})
	// Leadership moves on request.
	if err := l.node.LeadershipTransfer(); err != nil {
		t.Fatalf("LeadershipTransfer: %v", err)
	}
	if nl := c.leader(); nl == l {
		t.Fatalf("%s still leads after LeadershipTransfer", l.id)
	}
	res := c.write(touch("dataset:q#reader@user:q"))
	l = c.leader()
	idx, err := l.node.ReadIndex(ctxT(t, 10*time.Second))
	if err != nil {
		t.Fatalf("ReadIndex with quorum: %v", err)
	}
	if idx < res.Revision {
		t.Fatalf("ReadIndex %d below the acknowledged write %d", idx, res.Revision)
	}
	if err := l.node.WaitApplied(ctxT(t, 10*time.Second), idx); err != nil {
		t.Fatalf("WaitApplied(read index %d): %v", idx, err)
	}
	for _, tn := range c.nodes {
		if tn != l {
			tn.close()
		}
	}
	start := time.Now()
	_, err = l.node.ReadIndex(ctxT(t, 5*time.Second))
	if err == nil {
		t.Fatal("ReadIndex on a leader without quorum returned an index; it must fail instead of serving a possibly stale read")
	}
	t.Logf("ReadIndex without quorum failed after %v: %v", time.Since(start).Round(time.Millisecond), err)
}
