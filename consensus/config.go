package consensus

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"
)

// Peer is a member of the initial cluster.
type Peer struct {
	ID       string
	RaftAddr string
	APIAddr  string
}

// StoreBackend is everything the node needs from the store: the applier's
// Store, snapshots, and (optionally, checked at Open) RelationshipCounter and
// ExtraScanner. Use FromStorage to adapt a *storage.Store.
type StoreBackend interface {
	Store
	Snapshotter
}

// Config configures a Node.
type Config struct {
	// NodeID is this node's raft server ID; stable across restarts.
	NodeID string
	// DataDir holds the raft log and stable store (raft-wal/ or raft.db) and snapshots/.
	DataDir string
	// RaftAddr is the address the raft transport binds, e.g. "127.0.0.1:7001"
	// (port 0 picks a free one).
	RaftAddr string
	// AdvertiseAddr is the raft address peers dial; empty means the bound
	// address (which then must not be unspecified, like 0.0.0.0).
	AdvertiseAddr string
	// APIAddr is this node's HTTP address, recorded in the cluster metadata so
	// followers know where to forward.
	APIAddr string
	// Bootstrap makes a node with no raft state create the cluster from Peers
	// (or itself alone when Peers is empty). Safe to leave on for restarts.
	Bootstrap bool
	// Peers is the initial voter set for Bootstrap, this node included.
	Peers []Peer
	// Store is the state machine's storage (required): a *storage.Store
	// (wrapped with FromStorage automatically) or another StoreBackend.
	Store StoreBackend
	// Compile compiles schema text (required).
	Compile SchemaCompiler
	// Audit, when set, appends audit entries inside each write.
	Audit AuditHook
	// IdempotencyWindow is how long (by leader-chosen time) a key is remembered.
	IdempotencyWindow time.Duration
	// SnapshotThreshold is how many new log entries trigger a snapshot;
	// SnapshotInterval how often raft checks; TrailingLogs how many entries
	// remain after a snapshot (for followers slightly behind).
	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
	TrailingLogs      uint64
	// LogStore is the raft log a new data directory gets: LogStoreWAL
	// (default) or LogStoreBolt. A directory that already holds a log keeps
	// its kind.
	LogStore string
	// WALSegmentSize is the size at which the WAL log store starts a new
	// segment file; 0 means raft-wal's default (64 MiB). The log is truncated
	// after a snapshot by deleting whole segments.
	WALSegmentSize int
	// SnapshotRetain is how many snapshots to keep on disk.
	SnapshotRetain int
	// Timeouts; the defaults suit a LAN, tests use shorter ones.
	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
	CommitTimeout      time.Duration
	// ApplyTimeout bounds how long Write waits to enqueue an entry when the
	// context has no deadline.
	ApplyTimeout time.Duration
	// TLS, when set, encrypts raft traffic (mutual TLS when it sets ClientCAs
	// and Certificates). The same config serves and dials.
	TLS *tls.Config
	// MinFreeBytes is the free space DataDir's filesystem must keep: below it
	// the leader refuses writes with ErrDiskFull (0 turns the check off). The
	// default, 256 MiB, covers the store's memory-mapped write-ahead files
	// (twice Badger's 64 MiB memtable) with room to spare.
	MinFreeBytes uint64
	// Dial, when set, opens the raft connections this node makes to its peers
	// (over which TLS runs when TLS is set); nil dials TCP directly. Tests
	// route raft traffic through a fault-injecting proxy with it
	// (test/faultnet).
	Dial func(address string, timeout time.Duration) (net.Conn, error)
	// Logger receives the node's and raft's logs.
	Logger *slog.Logger
}

// DefaultConfig returns a Config with production defaults; fill in NodeID,
// DataDir, RaftAddr, Store and Compile.
func DefaultConfig() Config {
	return Config{
		IdempotencyWindow:  24 * time.Hour,
		SnapshotThreshold:  8192,
		SnapshotInterval:   2 * time.Minute,
		TrailingLogs:       10240,
		LogStore:           LogStoreWAL,
		SnapshotRetain:     2,
		HeartbeatTimeout:   1000 * time.Millisecond,
		ElectionTimeout:    1000 * time.Millisecond,
		LeaderLeaseTimeout: 500 * time.Millisecond,
		CommitTimeout:      50 * time.Millisecond,
		ApplyTimeout:       10 * time.Second,
		MinFreeBytes:       256 << 20,
	}
}

// Validate checks the configuration, naming the field and the rule.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.NodeID == "" {
		bad("NodeID is empty; give each node a stable, unique ID")
	}
	if c.DataDir == "" {
		bad("DataDir is empty; raft needs a directory for its log and snapshots")
	}
	if c.LogStore != "" && c.LogStore != LogStoreWAL && c.LogStore != LogStoreBolt {
		bad("LogStore %q is unknown; use %q or %q", c.LogStore, LogStoreWAL, LogStoreBolt)
	}
	if c.RaftAddr == "" {
		bad("RaftAddr is empty; give a host:port to bind, e.g. 127.0.0.1:7001")
	} else if _, _, err := net.SplitHostPort(c.RaftAddr); err != nil {
		bad("RaftAddr %q is not host:port: %v", c.RaftAddr, err)
	}
	if c.AdvertiseAddr != "" {
		if _, _, err := net.SplitHostPort(c.AdvertiseAddr); err != nil {
			bad("AdvertiseAddr %q is not host:port: %v", c.AdvertiseAddr, err)
		}
	}
	if c.Store == nil {
		bad("Store is nil; pass the opened store (consensus.FromStorage(store))")
	}
	if c.Compile == nil {
		bad("Compile is nil; pass the schema compiler")
	}
	if c.IdempotencyWindow <= 0 {
		bad("IdempotencyWindow %v must be positive (default 24h)", c.IdempotencyWindow)
	}
	if c.SnapshotThreshold == 0 {
		bad("SnapshotThreshold must be at least 1")
	}
	if c.SnapshotInterval < 5*time.Millisecond {
		bad("SnapshotInterval %v is below 5ms", c.SnapshotInterval)
	}
	if c.SnapshotRetain < 1 {
		bad("SnapshotRetain %d must be at least 1", c.SnapshotRetain)
	}
	if c.HeartbeatTimeout < 5*time.Millisecond {
		bad("HeartbeatTimeout %v is below 5ms", c.HeartbeatTimeout)
	}
	if c.ElectionTimeout < c.HeartbeatTimeout {
		bad("ElectionTimeout %v must be at least HeartbeatTimeout %v", c.ElectionTimeout, c.HeartbeatTimeout)
	}
	if c.LeaderLeaseTimeout < 5*time.Millisecond || c.LeaderLeaseTimeout > c.HeartbeatTimeout {
		bad("LeaderLeaseTimeout %v must be between 5ms and HeartbeatTimeout %v", c.LeaderLeaseTimeout, c.HeartbeatTimeout)
	}
	if c.CommitTimeout <= 0 {
		bad("CommitTimeout %v must be positive", c.CommitTimeout)
	}
	if c.ApplyTimeout <= 0 {
		bad("ApplyTimeout %v must be positive", c.ApplyTimeout)
	}
	seen := map[string]bool{}
	self := len(c.Peers) == 0
	for i, p := range c.Peers {
		if p.ID == "" || p.RaftAddr == "" {
			bad("Peers[%d] needs ID and RaftAddr", i)
		}
		if seen[p.ID] {
			bad("Peers[%d]: ID %q listed twice", i, p.ID)
		}
		seen[p.ID] = true
		if p.ID == c.NodeID {
			self = true
		}
	}
	if c.Bootstrap && !self {
		bad("Peers does not include this node (NodeID %q); list every initial voter, this one included", c.NodeID)
	}
	return errors.Join(errs...)
}
