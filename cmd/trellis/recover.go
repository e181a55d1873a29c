package main

import (
	"fmt"
	"github.com/trellis-authz/trellis/server"

	"github.com/spf13/cobra"
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
			voters, err := server.ParsePeers(peers)
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
			return server.Recover(dataDir, nodeID, raftAddr, clusterID, voters, cmd.ErrOrStderr())
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", "./trellis-data", "the stopped node's --data-dir")
	cmd.Flags().StringVar(&nodeID, "node-id", "", "the node's --node-id")
	cmd.Flags().StringVar(&raftAddr, "raft-addr", "", "the raft address the others will dial (its --advertise-addr, or --raft-addr)")
	cmd.Flags().StringVar(&peers, "peers", "", "the new voter set, id=raftaddr=apiurl,... (default: this node alone)")
	cmd.Flags().StringVar(&clusterID, "cluster-id", server.DefaultConfig().ClusterID, "the node's --cluster-id (names its audit key)")
	return cmd
}
