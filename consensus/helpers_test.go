package consensus

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/trellis-authz/trellis/schema"
	"github.com/trellis-authz/trellis/schema/compile"
	"github.com/trellis-authz/trellis/storage"
	"github.com/trellis-authz/trellis/tuple"
)

const testSchema = `definition user {}

definition team {
	relation member: user
}

definition dataset {
	relation reader: user | team#member
	relation owner: user
	permission read = reader + owner
}
`

func compileSchema(text string) (*schema.Schema, error) {
	s, errs := compile.CompileText("schema.zed", text)
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return s, nil
}

func testLogger() *slog.Logger {
	if os.Getenv("CONSENSUS_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
}

// countingAudit is an AuditHook that counts committed entries: it proves which
// commands really applied (replays and idempotent retries do not append).
type countingAudit struct {
	mu      sync.Mutex
	entries []AuditRecord
}

func (c *countingAudit) Append(rec AuditRecord, changes []storage.Change) ([]storage.KV, func(), error) {
	return nil, func() {
		c.mu.Lock()
		c.entries = append(c.entries, rec)
		c.mu.Unlock()
	}, nil
}

func (c *countingAudit) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// testNode is a node with its own store, reopenable from the same dirs.
type testNode struct {
	t     testing.TB
	id    string
	dir   string
	addr  string // raft address once bound
	store *storage.Store
	node  *Node
	audit *countingAudit
	tune  func(*Config)
	sync  bool // fsync the store (benchmarks)
}

func newTestNode(t testing.TB, id string) *testNode {
	return &testNode{t: t, id: id, dir: t.TempDir()}
}

func (tn *testNode) config(bootstrap bool, peers []Peer) Config {
	cfg := DefaultConfig()
	cfg.NodeID = tn.id
	cfg.DataDir = filepath.Join(tn.dir, "raft")
	cfg.RaftAddr = "127.0.0.1:0"
	if tn.addr != "" {
		cfg.RaftAddr = tn.addr // keep the address across restarts
	}
	cfg.APIAddr = "http://" + tn.id + ".test:8080"
	cfg.Bootstrap = bootstrap
	cfg.Peers = peers
	cfg.Store = tn.store
	cfg.Compile = compileSchema
	cfg.Audit = tn.audit
	cfg.HeartbeatTimeout = 200 * time.Millisecond
	cfg.ElectionTimeout = 200 * time.Millisecond
	cfg.LeaderLeaseTimeout = 100 * time.Millisecond
	cfg.CommitTimeout = 5 * time.Millisecond
	cfg.SnapshotInterval = 50 * time.Millisecond
	cfg.Logger = testLogger()
	if tn.tune != nil {
		tn.tune(&cfg)
	}
	return cfg
}

// open opens the store and the node (bootstrapping a one-node cluster when
// peers is nil and bootstrap is set).
func (tn *testNode) open(bootstrap bool, peers []Peer) {
	tn.t.Helper()
	sc := storage.DefaultConfig(filepath.Join(tn.dir, "badger"))
	sc.SyncWrites = tn.sync
	sc.Logger = testLogger()
	st, err := storage.Open(sc)
	if err != nil {
		tn.t.Fatalf("storage.Open: %v", err)
	}
	tn.store = st
	tn.audit = &countingAudit{}
	n, err := Open(tn.config(bootstrap, peers))
	if err != nil {
		st.Close()
		tn.t.Fatalf("Open(%s): %v", tn.id, err)
	}
	tn.node = n
	tn.addr = string(n.trans.LocalAddr())
	tn.t.Cleanup(tn.close)
}

func (tn *testNode) close() {
	if tn.node != nil {
		if err := tn.node.Close(); err != nil {
			tn.t.Errorf("closing node %s: %v", tn.id, err)
		}
		tn.node = nil
	}
	if tn.store != nil {
		if err := tn.store.Close(); err != nil {
			tn.t.Errorf("closing store %s: %v", tn.id, err)
		}
		tn.store = nil
	}
}

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func waitLeader(t *testing.T, n *Node) {
	t.Helper()
	if err := n.WaitForLeader(ctxT(t, 10*time.Second)); err != nil {
		t.Fatalf("WaitForLeader: %v", err)
	}
}

// waitIsLeader waits until n itself leads.
func waitIsLeader(t testing.TB, n *Node) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !n.IsLeader() {
		if time.Now().After(deadline) {
			t.Fatalf("node never became leader (state %s)", n.State())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func rel(s string) tuple.Relationship { return tuple.MustParse(s) }

func touch(rels ...string) *WriteCommand {
	c := &WriteCommand{Meta: Meta{Principal: "test", Reason: "test"}}
	for _, r := range rels {
		c.Updates = append(c.Updates, tuple.Update{Op: tuple.OpTouch, Relationship: rel(r)})
	}
	return c
}

// has reports whether r exists in the store at its applied revision.
func has(t *testing.T, st *storage.Store, r string) bool {
	t.Helper()
	x := rel(r)
	sn, err := st.Snapshot(st.AppliedRevision())
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	defer sn.Close()
	_, ok, err := sn.Relationship(context.Background(), x.Resource, x.Relation, x.Subject)
	if err != nil {
		t.Fatalf("Relationship: %v", err)
	}
	return ok
}

func hasAt(t *testing.T, st *storage.Store, rev uint64, r string) bool {
	t.Helper()
	x := rel(r)
	sn, err := st.Snapshot(rev)
	if err != nil {
		t.Fatalf("Snapshot(%d): %v", rev, err)
	}
	defer sn.Close()
	_, ok, err := sn.Relationship(context.Background(), x.Resource, x.Relation, x.Subject)
	if err != nil {
		t.Fatalf("Relationship: %v", err)
	}
	return ok
}
