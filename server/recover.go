package server

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/trellis-authz/trellis/consensus"
	"github.com/trellis-authz/trellis/storage"
)

// Recover opens a stopped node's store and raft state under dataDir (laid
// out as Open lays it out) and forces the voter set to voters (this node
// alone when empty), for `trellis recover` after a quorum loss.
func Recover(dataDir, nodeID, raftAddr, clusterID string, voters []consensus.Peer, out io.Writer) error {
	raftDir := filepath.Join(dataDir, "raft")
	if _, err := os.Stat(raftDir); err != nil {
		return fmt.Errorf("--data-dir %s has no raft directory (%w); is it a node's data directory?", dataDir, err)
	}
	log := slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelWarn}))
	sc := storage.DefaultConfig(filepath.Join(dataDir, "store"))
	sc.Logger = log.With("component", "storage")
	store, err := storage.Open(sc)
	if err != nil {
		return fmt.Errorf("open store in %s (is the node still running?): %w", sc.Dir, err)
	}
	defer store.Close()
	aud, err := openNodeAudit(store, dataDir, clusterID, nodeID)
	if err != nil {
		return err
	}
	cc := consensus.DefaultConfig()
	cc.NodeID = nodeID
	cc.DataDir = raftDir
	cc.RaftAddr = raftAddr
	cc.Store = store
	cc.Compile = compileSchema
	cc.Audit = aud.hook
	cc.Logger = log.With("component", "raft")
	if err := consensus.Recover(cc, voters); err != nil {
		return err
	}
	if len(voters) == 0 {
		voters = []consensus.Peer{{ID: nodeID, RaftAddr: raftAddr}}
	}
	fmt.Fprintf(out, "recovered %s at revision %d; its raft configuration is now:\n", dataDir, store.AppliedRevision())
	for _, p := range voters {
		fmt.Fprintf(out, "  voter %s at %s\n", p.ID, p.RaftAddr)
	}
	fmt.Fprintln(out, "start it with serve as before; give the other nodes fresh data directories and join them.")
	return nil
}
