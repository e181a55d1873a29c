package consensus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/trellis-authz/trellis/storage"
)

// Node is one member of the Trellis raft cluster.
type Node struct {
	cfg Config
	log *slog.Logger
	// diskFullLogged is when a refused write last logged the full disk (unix ns).
	diskFullLogged atomic.Int64
	// diskFullHandoff is when a leader short of space last handed its
	// leadership on (unix ns).
	diskFullHandoff atomic.Int64
	raft            *raft.Raft
	fsm             *fsm
	trans           *raft.NetworkTransport
	bolt            logStore // the raft log and stable store
	store           StoreBackend

	notify chan bool
	done   chan struct{}
	ready  chan struct{} // closed once raft is set
	wg     sync.WaitGroup

	// readyTerm is the leader term in which a barrier has completed: from then
	// on the leader's commit index covers every earlier term's entries.
	mu        sync.Mutex
	readyTerm uint64

	closeOnce sync.Once
	closed    atomic.Bool
	closeErr  error
}

// logCacheEntries is how many of the newest raft log entries each node keeps
// in memory. Small writes arrive in batches (one per client in flight), so
// this covers the batch being replicated and applied. An import chunk is at
// most 2 MiB, so the cache holds at most 64 MiB during an import.
const logCacheEntries = 32

// Open starts a node: it opens the raft log in DataDir, binds the transport,
// bootstraps the cluster when asked and there is no state yet, and starts
// applying committed entries to the store.
func Open(cfg Config) (*Node, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if s, ok := cfg.Store.(*storage.Store); ok {
		cfg.Store = FromStorage(s)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("consensus config: %w", err)
	}
	log := cfg.Logger.With("node", cfg.NodeID)
	n := &Node{cfg: cfg, log: log, store: cfg.Store, notify: make(chan bool, 1), done: make(chan struct{}), ready: make(chan struct{})}

	a := &applier{store: cfg.Store, compile: cfg.Compile, audit: cfg.Audit, window: cfg.IdempotencyWindow, log: log}
	if c, ok := cfg.Store.(RelationshipCounter); ok {
		a.counter = c
	}
	scanner, _ := cfg.Store.(ExtraScanner)
	f, err := newFSM(a, cfg.Store, scanner, log, n.onFatal)
	if err != nil {
		return nil, fmt.Errorf("loading state from the store: %w", err)
	}
	n.fsm = f
	if cfg.MinFreeBytes > 0 {
		f.space.Store(&applySpace{free: func() (uint64, error) { return freeBytes(cfg.DataDir) }, min: cfg.MinFreeBytes / 2, stop: n.done, log: log})
	}

	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("DataDir: %w", err)
	}
	hl := hclogFor(log)
	kind, err := chooseLogStore(cfg.DataDir, cfg.LogStore)
	if err != nil {
		return nil, err
	}
	bolt, err := openLogStore(cfg.DataDir, kind, cfg.WALSegmentSize, hl)
	if err != nil {
		return nil, err
	}
	n.bolt = bolt
	snaps, err := raft.NewFileSnapshotStoreWithLogger(cfg.DataDir, cfg.SnapshotRetain, hl)
	if err != nil {
		bolt.Close()
		return nil, fmt.Errorf("opening snapshot store: %w", err)
	}
	trans, err := newTransport(cfg, hl)
	if err != nil {
		bolt.Close()
		return nil, fmt.Errorf("raft transport: %w", err)
	}
	n.trans = trans

	rc := raftConfig(cfg, hl)
	rc.NotifyCh = n.notify

	if cfg.Bootstrap {
		has, err := raft.HasExistingState(bolt, bolt, snaps)
		if err != nil {
			n.closeTransport()
			return nil, err
		}
		if !has {
			var servers []raft.Server
			peers := cfg.Peers
			if len(peers) == 0 {
				peers = []Peer{{ID: cfg.NodeID, RaftAddr: string(trans.LocalAddr()), APIAddr: cfg.APIAddr}}
			}
			for _, p := range peers {
				addr := p.RaftAddr
				if p.ID == cfg.NodeID {
					addr = string(trans.LocalAddr())
				}
				servers = append(servers, raft.Server{ID: raft.ServerID(p.ID), Address: raft.ServerAddress(addr), Suffrage: raft.Voter})
			}
			if err := raft.BootstrapCluster(rc, bolt, bolt, snaps, trans, raft.Configuration{Servers: servers}); err != nil {
				n.closeTransport()
				return nil, fmt.Errorf("bootstrapping: %w", err)
			}
		}
	}
	// The newest entries stay in memory: the leader replicates them right
	// after appending and every node applies them right after that, and
	// without the cache each of those reads the log file back (a pread per
	// entry on raft-wal).
	logs, err := raft.NewLogCache(logCacheEntries, bolt)
	if err != nil {
		n.closeTransport()
		return nil, fmt.Errorf("raft log cache: %w", err)
	}
	r, err := raft.NewRaft(rc, f, failingLogs{LogStore: logs, dir: cfg.DataDir}, failingStable{StableStore: bolt, dir: cfg.DataDir, log: log}, snaps, trans)
	if err != nil {
		n.closeTransport()
		return nil, fmt.Errorf("starting raft: %w", err)
	}
	n.raft = r
	close(n.ready)
	n.wg.Add(1)
	go n.watchLeadership()
	return n, nil
}

// raftConfig is raft's configuration for cfg.
func raftConfig(cfg Config, hl hclog.Logger) *raft.Config {
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.NodeID)
	rc.Logger = hl
	rc.HeartbeatTimeout = cfg.HeartbeatTimeout
	rc.ElectionTimeout = cfg.ElectionTimeout
	rc.LeaderLeaseTimeout = cfg.LeaderLeaseTimeout
	rc.CommitTimeout = cfg.CommitTimeout
	rc.SnapshotThreshold = cfg.SnapshotThreshold
	rc.SnapshotInterval = cfg.SnapshotInterval
	rc.TrailingLogs = cfg.TrailingLogs
	rc.NoLegacyTelemetry = true
	return rc
}

func (n *Node) closeTransport() {
	n.trans.Close()
	n.bolt.Close()
}

// onFatal is called (on the FSM goroutine) when the state machine halts: the
// node leaves leadership and stops taking part, without blocking the FSM.
func (n *Node) onFatal(err error) {
	go func() {
		<-n.ready // the FSM may halt while raft replays, before Open returns
		n.log.Error("shutting raft down after a fatal apply error", "error", err)
		n.raft.Shutdown().Error()
	}()
}

// watchLeadership runs leader duties when this node becomes leader: a barrier
// (so reads see every earlier term's entries), then recording API addresses.
func (n *Node) watchLeadership() {
	defer n.wg.Done()
	for {
		select {
		case <-n.done:
			return
		case leader := <-n.notify:
			if leader {
				n.becameLeader()
			}
		}
	}
}

func (n *Node) becameLeader() {
	ctx, cancel := context.WithTimeout(context.Background(), n.cfg.ApplyTimeout)
	err := n.barrier(ctx)
	cancel()
	if err != nil {
		n.log.Warn("leader barrier failed", "error", err)
		return
	}
	ctx, cancel = context.WithTimeout(context.Background(), n.cfg.ApplyTimeout)
	err = n.ensureClusterID(ctx)
	cancel()
	if err != nil {
		n.log.Warn("recording the cluster id", "error", err)
		return
	}
	// Record API addresses the FSM does not know yet: this node's, and those
	// of the configured peers that are still members.
	inConfig := map[string]bool{}
	if f := n.raft.GetConfiguration(); f.Error() == nil {
		for _, s := range f.Configuration().Servers {
			inConfig[string(s.ID)] = true
		}
	}
	peers := []Peer{{ID: n.cfg.NodeID, RaftAddr: string(n.trans.LocalAddr()), APIAddr: n.cfg.APIAddr}}
	for _, p := range n.cfg.Peers {
		if p.ID != n.cfg.NodeID && inConfig[p.ID] {
			peers = append(peers, p)
		}
	}
	for _, p := range peers {
		if p.APIAddr == "" {
			continue
		}
		if m, ok := n.fsm.member(p.ID); ok && m.APIAddr == p.APIAddr {
			continue
		}
		raftAddr := p.RaftAddr
		if p.ID == n.cfg.NodeID {
			raftAddr = string(n.trans.LocalAddr())
		}
		ctx, cancel := context.WithTimeout(context.Background(), n.cfg.ApplyTimeout)
		_, err := n.Write(ctx, &MemberCommand{ID: p.ID, RaftAddr: raftAddr, APIAddr: p.APIAddr})
		cancel()
		if err != nil {
			n.log.Warn("recording member API address", "member", p.ID, "error", err)
			return
		}
	}
}

func (n *Node) term() uint64 {
	t, _ := strconv.ParseUint(n.raft.Stats()["term"], 10, 64)
	return t
}

// Close shuts the node down gracefully: raft stops (without leaving the
// cluster), the transport and the raft log close. The store stays open; its
// owner closes it.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		n.closed.Store(true)
		close(n.done)
		err := n.raft.Shutdown().Error()
		n.wg.Wait()
		err = errors.Join(err, n.trans.Close(), n.bolt.Close())
		n.closeErr = err
	})
	return n.closeErr
}

// Write proposes a command and waits until it is applied. Only the leader
// accepts writes: elsewhere it returns ErrNotLeader (see Leader). The node sets
// the command's Time. A rejected command returns an error wrapping a sentinel
// of this package, of storage or of schema; ErrLeadershipLost or a context
// error mean the outcome is unknown (retry with the same idempotency key).
func (n *Node) Write(ctx context.Context, c Command) (WriteResult, error) {
	wait, err := n.Submit(ctx, c)
	if err != nil {
		return WriteResult{}, err
	}
	return wait()
}

// Submit proposes a command like Write but returns once raft has taken it,
// before it is committed; wait then blocks until it is applied (bounded by
// ctx) and answers as Write does. Commands submitted one after another are
// applied in that order, so a caller can keep several in flight and still
// know their order. An error from Submit means nothing was proposed.
func (n *Node) Submit(ctx context.Context, c Command) (wait func() (WriteResult, error), err error) {
	if n.closed.Load() {
		return nil, ErrClosed
	}
	if err := Validate(c); err != nil {
		return nil, err
	}
	if n.raft.State() != raft.Leader {
		return nil, n.notLeader()
	}
	if err := n.checkFreeSpace(c); err != nil {
		return nil, err
	}
	c.Header().Time = time.Now().UTC()
	data, err := Encode(c)
	if err != nil {
		return nil, err
	}
	timeout := n.cfg.ApplyTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
		if timeout <= 0 {
			return nil, ctx.Err()
		}
	}
	// Apply hands the entry to raft's queue (in call order) and returns.
	fut := n.raft.Apply(data, timeout)
	return func() (WriteResult, error) {
		errc := make(chan error, 1)
		go func() { errc <- fut.Error() }()
		var err error
		select {
		case err = <-errc:
		case <-ctx.Done():
			return WriteResult{}, fmt.Errorf("write outcome unknown (retry with the same idempotency key): %w", ctx.Err())
		}
		if err != nil {
			return WriteResult{}, n.translate(err)
		}
		switch resp := fut.Response().(type) {
		case WriteResult:
			return resp, nil
		case error:
			return WriteResult{}, resp
		case nil:
			return WriteResult{}, nil
		default:
			return WriteResult{}, fmt.Errorf("unexpected apply response %T", resp)
		}
	}, nil
}

func (n *Node) translate(err error) error {
	switch {
	case errors.Is(err, raft.ErrNotLeader):
		return n.notLeader()
	case errors.Is(err, raft.ErrLeadershipLost), errors.Is(err, raft.ErrLeadershipTransferInProgress):
		return fmt.Errorf("%w: %w", ErrLeadershipLost, err)
	case errors.Is(err, raft.ErrRaftShutdown):
		return fmt.Errorf("%w: %w", ErrClosed, err)
	case errors.Is(err, raft.ErrEnqueueTimeout):
		return fmt.Errorf("write not enqueued in time (the leader is overloaded); retry: %w", err)
	}
	return err
}

func (n *Node) notLeader() error {
	id, addr := n.Leader()
	if id == "" {
		return fmt.Errorf("%w: %w", ErrNotLeader, ErrNoLeader)
	}
	return fmt.Errorf("%w: the leader is %s at %s", ErrNotLeader, id, addr)
}

// AppliedRevision is the revision readers may use: the store's last applied
// write.
func (n *Node) AppliedRevision() uint64 { return n.store.AppliedRevision() }

// AppliedIndex is the last raft log index this node's state machine applied
// (writes and non-writes alike); it is at least AppliedRevision.
func (n *Node) AppliedIndex() uint64 { return n.fsm.applied.Load() }

// CommitIndex is the newest raft log index this node knows to be committed
// (at or above AppliedIndex).
func (n *Node) CommitIndex() uint64 { return n.raft.CommitIndex() }

// WaitApplied blocks until this node has applied every log entry up to index
// (a revision, or an index from ReadIndex), or ctx ends.
func (n *Node) WaitApplied(ctx context.Context, index uint64) error {
	if n.fsm.applied.Load() >= index {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-n.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	err := n.fsm.waitApplied(ctx, index)
	if err != nil && n.closed.Load() {
		return fmt.Errorf("%w: %w", ErrClosed, err)
	}
	return err
}

// ReadIndex returns an index that a linearizable read must wait for (with
// WaitApplied) before reading at AppliedRevision. Only the leader answers; it
// confirms with a quorum that it still leads. Elsewhere ErrNotLeader.
func (n *Node) ReadIndex(ctx context.Context) (uint64, error) {
	if n.closed.Load() {
		return 0, ErrClosed
	}
	if n.raft.State() != raft.Leader {
		return 0, n.notLeader()
	}
	n.mu.Lock()
	ready := n.readyTerm >= n.term()
	n.mu.Unlock()
	if !ready {
		if err := n.barrier(ctx); err != nil {
			return 0, readIndexError(err)
		}
	}
	index := n.raft.CommitIndex()
	if err := n.await(ctx, n.raft.VerifyLeader()); err != nil {
		return 0, readIndexError(err)
	}
	return index, nil
}

// readIndexError says why no read index was given: leadership could not be
// confirmed (ErrNotLeader, so the caller asks the current leader) or the
// context ended.
func readIndexError(err error) error {
	if errors.Is(err, ErrLeadershipLost) {
		return fmt.Errorf("%w: leadership could not be confirmed with a quorum; ask the current leader", ErrNotLeader)
	}
	return err
}

// barrier commits and applies a noop command in the current term. Afterwards
// the leader's commit index covers every earlier term's entries, and every
// later entry is one the state machine sees (commands and configurations; we
// never use raft's own Barrier, whose entries the FSM does not see), so
// WaitApplied on any later commit index terminates.
func (n *Node) barrier(ctx context.Context) error {
	term := n.term()
	if _, err := n.Write(ctx, &NoopCommand{}); err != nil {
		return err
	}
	n.mu.Lock()
	if term > n.readyTerm {
		n.readyTerm = term
	}
	n.mu.Unlock()
	return nil
}

func (n *Node) await(ctx context.Context, f raft.Future) error {
	errc := make(chan error, 1)
	go func() { errc <- f.Error() }()
	select {
	case err := <-errc:
		if err != nil {
			return n.translate(err)
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// IsLeader reports whether this node is the leader.
func (n *Node) IsLeader() bool { return n.raft.State() == raft.Leader }

// Leader returns the leader's ID and raft address, empty when unknown.
func (n *Node) Leader() (id, raftAddr string) {
	addr, sid := n.raft.LeaderWithID()
	return string(sid), string(addr)
}

// LeaderAPIAddr returns the leader's API address, empty when unknown.
func (n *Node) LeaderAPIAddr() string {
	id, _ := n.Leader()
	if id == "" {
		return ""
	}
	m, _ := n.fsm.member(id)
	return m.APIAddr
}

// State is the raft state: Follower, Candidate, Leader or Shutdown; "Halted"
// after a fatal apply error.
func (n *Node) State() string {
	if n.fsm.halted.Load() != nil {
		return "Halted"
	}
	return n.raft.State().String()
}

// Members lists the raft configuration with the API addresses the cluster
// metadata holds, sorted by ID.
func (n *Node) Members() ([]Member, error) {
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, n.translate(err)
	}
	leaderID, _ := n.Leader()
	var out []Member
	for _, s := range f.Configuration().Servers {
		m, _ := n.fsm.member(string(s.ID))
		out = append(out, Member{ID: string(s.ID), RaftAddr: string(s.Address), APIAddr: m.APIAddr,
			Voter: s.Suffrage == raft.Voter, Leader: string(s.ID) == leaderID})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// LeadershipTransfer hands leadership to another voter and waits for it.
func (n *Node) LeadershipTransfer() error {
	return n.translate(n.raft.LeadershipTransfer().Error())
}

// WaitForLeader blocks until the cluster has a known leader, or ctx ends.
func (n *Node) WaitForLeader(ctx context.Context) error {
	obs := make(chan raft.Observation, 4)
	o := raft.NewObserver(obs, false, func(o *raft.Observation) bool {
		_, ok := o.Data.(raft.LeaderObservation)
		return ok
	})
	n.raft.RegisterObserver(o)
	defer n.raft.DeregisterObserver(o)
	for {
		if id, _ := n.Leader(); id != "" {
			return nil
		}
		select {
		case <-obs:
		case <-time.After(50 * time.Millisecond): // observations can be dropped
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", ErrNoLeader, ctx.Err())
		}
	}
}

// Stats returns raft's statistics plus this node's applied revision and index
// and snapshot counters.
func (n *Node) Stats() map[string]string {
	s := n.raft.Stats()
	s["applied_revision"] = strconv.FormatUint(n.AppliedRevision(), 10)
	s["fsm_applied_index"] = strconv.FormatUint(n.AppliedIndex(), 10)
	s["fsm_restores"] = strconv.FormatUint(n.fsm.restores.Load(), 10)
	s["fsm_restores_skipped"] = strconv.FormatUint(n.fsm.restoreSkips.Load(), 10)
	s["fsm_snapshots"] = strconv.FormatUint(n.fsm.snapshotsMade.Load(), 10)
	s["node_state"] = n.State()
	return s
}

// Snapshot asks raft to take a snapshot now (for tests and operators).
func (n *Node) Snapshot() error {
	return n.raft.Snapshot().Error()
}
