package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/trellis-authz/trellis/consensus"
	"github.com/trellis-authz/trellis/storage"
)

// newRecoverCommand is `trellis recover`: an offline rewrite of a node's
// raft configuration after a quorum loss (docs/cluster.md, "Recovering from
// a lost quorum").
func newRecoverCommand() *cobra.Command {
	var (
		dataDir, nodeID, raftAddr, peers, clusterID string
	)
	cmd := &cobra.Command{
		Use:   "recover --data-dir DIR --node-id ID --raft-addr HOST:PORT [--peers id=raftaddr=apiurl,...]",
		Short: "Offline: make a stopped node's data directory the start of a new cluster after a quorum loss",
		Long: `recover rewrites the raft configuration stored in a stopped node's data
directory, for when most voters are gone for good and the cluster has no
quorum. By default the new configuration is this node alone (one voter at
--raft-addr); --peers gives a whole voter set instead (run recover with the
same --peers on each of those nodes).

Every entry in this node's local raft log counts as committed afterwards, so
run it on the surviving member with the highest applied index (trellis
cluster status shows it, or each node's /v1/cluster/node). Then start the
node with serve as before; give other nodes fresh data directories and join
them.`,
		Example: `  trellis recover --data-dir /var/lib/trellis --node-id n1 --raft-addr 10.0.0.1:7000`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if nodeID == "" || (raftAddr == "" && peers == "") {
				return usageError{fmt.Errorf("give --node-id and --raft-addr (or --peers)\n\n%s", cmd.UsageString())}
			}
			voters, err := parsePeers(peers)
			if err != nil {
				return usageError{err}
			}
			if raftAddr == "" {
				for _, p := range voters {
					if p.ID == nodeID {
						raftAddr = p.RaftAddr
					}
				}
				if raftAddr == "" {
					return usageError{fmt.Errorf("--peers does not list --node-id %s; give --raft-addr", nodeID)}
				}
			}
			return recoverDataDir(dataDir, nodeID, raftAddr, clusterID, voters, cmd.ErrOrStderr())
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", "./trellis-data", "the stopped node's --data-dir")
	cmd.Flags().StringVar(&nodeID, "node-id", "", "the node's --node-id")
	cmd.Flags().StringVar(&raftAddr, "raft-addr", "", "the raft address the others will dial (its --advertise-addr, or --raft-addr)")
	cmd.Flags().StringVar(&peers, "peers", "", "the new voter set, id=raftaddr=apiurl,... (default: this node alone)")
	cmd.Flags().StringVar(&clusterID, "cluster-id", defaultNodeOptions().ClusterID, "the node's --cluster-id (names its audit key)")
	return cmd
}

// recoverDataDir opens the node's store and raft state under dataDir (laid
// out as startNode lays it out) and forces the voter set.
func recoverDataDir(dataDir, nodeID, raftAddr, clusterID string, voters []consensus.Peer, out io.Writer) error {
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
