package consensus

import (
	"errors"
	"fmt"
	"os"

	"github.com/hashicorp/raft"
	"github.com/trellis-authz/trellis/storage"
)

// Recover rewrites a stopped node's raft state so that it restarts with
// voters as its whole configuration: the recovery from a quorum loss (most
// voters gone for good). voters empty means this node alone, at its
// AdvertiseAddr (else RaftAddr). The node must not be running.
//
// It uses raft.RecoverCluster: the local state (the newest snapshot and every
// entry in the local log) is applied to cfg.Store, a snapshot carrying the new
// configuration is written and the log is truncated. Every entry in this
// node's log counts as committed from then on, including entries the old
// quorum never committed; run it on the member with the newest log (the
// highest applied index) and start the others afresh (a clean data directory,
// then join).
func Recover(cfg Config, voters []Peer) error {
	if s, ok := cfg.Store.(*storage.Store); ok {
		cfg.Store = FromStorage(s)
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("consensus config: %w", err)
	}
	if cfg.Logger == nil {
		return errors.New("consensus config: Logger is nil")
	}
	if len(voters) == 0 {
		addr := cfg.AdvertiseAddr
		if addr == "" {
			addr = cfg.RaftAddr
		}
		voters = []Peer{{ID: cfg.NodeID, RaftAddr: addr}}
	}
	var servers []raft.Server
	seen := map[string]bool{}
	for i, p := range voters {
		if p.ID == "" || p.RaftAddr == "" {
			return fmt.Errorf("voter %d needs an ID and a raft address", i+1)
		}
		if seen[p.ID] || seen[p.RaftAddr] {
			return fmt.Errorf("voter %d (%s=%s): ID or raft address listed twice", i+1, p.ID, p.RaftAddr)
		}
		seen[p.ID], seen[p.RaftAddr] = true, true
		servers = append(servers, raft.Server{ID: raft.ServerID(p.ID), Address: raft.ServerAddress(p.RaftAddr), Suffrage: raft.Voter})
	}
	if _, err := os.Stat(cfg.DataDir); err != nil {
		return fmt.Errorf("DataDir %s: %w (is this the node's raft directory?)", cfg.DataDir, err)
	}
	log := cfg.Logger.With("node", cfg.NodeID)
	a := &applier{store: cfg.Store, compile: cfg.Compile, audit: cfg.Audit, window: cfg.IdempotencyWindow, log: log}
	if c, ok := cfg.Store.(RelationshipCounter); ok {
		a.counter = c
	}
	scanner, _ := cfg.Store.(ExtraScanner)
	f, err := newFSM(a, cfg.Store, scanner, log, func(error) {})
	if err != nil {
		return fmt.Errorf("loading state from the store: %w", err)
	}
	hl := hclogFor(log)
	kind, err := chooseLogStore(cfg.DataDir, cfg.LogStore)
	if err != nil {
		return err
	}
	logs, err := openLogStore(cfg.DataDir, kind, cfg.WALSegmentSize, hl)
	if err != nil {
		return err
	}
	defer logs.Close()
	snaps, err := raft.NewFileSnapshotStoreWithLogger(cfg.DataDir, cfg.SnapshotRetain, hl)
	if err != nil {
		return fmt.Errorf("opening snapshot store: %w", err)
	}
	has, err := raft.HasExistingState(logs, logs, snaps)
	if err != nil {
		return err
	}
	if !has {
		return fmt.Errorf("%s holds no raft state: nothing to recover", cfg.DataDir)
	}
	_, trans := raft.NewInmemTransport("")
	if err := raft.RecoverCluster(raftConfig(cfg, hl), f, logs, logs, snaps, trans, raft.Configuration{Servers: servers}); err != nil {
		return fmt.Errorf("recovering the raft configuration: %w", err)
	}
	if p := f.halted.Load(); p != nil {
		return fmt.Errorf("applying the local log during recovery: %w", *p)
	}
	return nil
}
