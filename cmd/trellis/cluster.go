package main

import (
	"fmt"
	"github.com/trellis-authz/trellis/wire"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

// newClusterCommand groups the cluster operations: status, join, remove.
func newClusterCommand() *cobra.Command {
	var f connFlags
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Show and change cluster membership (status, join, remove)",
		Long: `Show the members of a Trellis cluster and change its membership. Any node
answers; changes (admin token) are forwarded to the leader.`,
	}
	addConnFlags(cmd, &f)

	status := &cobra.Command{
		Use:   "status",
		Short: "List the members, their roles, the leader and each member's applied revision",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			st, err := c.Cluster(cmd.Context())
			if err != nil {
				return f.serverError(err)
			}
			if f.json {
				return printJSON(cmd.OutOrStdout(), st)
			}
			printClusterStatus(cmd.OutOrStdout(), st)
			return nil
		},
	}

	var in wire.AddMemberRequest
	join := &cobra.Command{
		Use:     "join --id ID --raft-addr HOST:PORT --api-addr URL",
		Short:   "Add a voting member (admin); start that node with `serve --join` or add it here first",
		Example: `  trellis cluster join --id n4 --raft-addr 10.0.0.4:7000 --api-addr http://10.0.0.4:8080`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if in.ID == "" || in.RaftAddr == "" || in.APIAddr == "" {
				return usageError{fmt.Errorf("give --id, --raft-addr and --api-addr of the node to add\n\n%s", cmd.UsageString())}
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			ms, err := c.AddMember(cmd.Context(), in)
			if err != nil {
				return f.serverError(err)
			}
			return printMembers(cmd.OutOrStdout(), f.json, ms)
		},
	}
	join.Flags().StringVar(&in.ID, "id", "", "the new node's --node-id")
	join.Flags().StringVar(&in.RaftAddr, "raft-addr", "", "the raft host:port the others dial (its --advertise-addr)")
	join.Flags().StringVar(&in.APIAddr, "api-addr", "", "the URL of its API (its --api-advertise-addr)")

	remove := &cobra.Command{
		Use:   "remove ID",
		Short: "Remove a member (admin); with one of three gone, the cluster tolerates no further failure",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			ms, err := c.RemoveMember(cmd.Context(), args[0])
			if err != nil {
				return f.serverError(err)
			}
			return printMembers(cmd.OutOrStdout(), f.json, ms)
		},
	}
	cmd.AddCommand(status, join, remove)
	return cmd
}

func printClusterStatus(w io.Writer, st *wire.ClusterResponse) {
	leader := st.Leader
	if leader == "" {
		leader = "(none known)"
	}
	fmt.Fprintf(w, "asked %s; leader %s\n\n", st.Node, leader)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tROLE\tSTATE\tAPPLIED\tAPI\tRAFT\t")
	for _, m := range st.Members {
		state, applied := m.State, fmt.Sprint(m.AppliedRevision)
		if !m.Reachable {
			state, applied = "unreachable", "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t\n", m.ID, m.Role, state, applied, m.APIAddr, m.RaftAddr)
	}
	tw.Flush()
	for _, m := range st.Members {
		if m.Error != "" {
			fmt.Fprintf(w, "\n%s: %s", m.ID, m.Error)
		}
	}
	fmt.Fprintln(w)
}

func printMembers(w io.Writer, asJSON bool, ms *wire.MembersResponse) error {
	if asJSON {
		return printJSON(w, ms)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tVOTER\tLEADER\tAPI\tRAFT\t")
	for _, m := range ms.Members {
		fmt.Fprintf(tw, "%s\t%v\t%v\t%s\t%s\t\n", m.ID, m.Voter, m.Leader, m.APIAddr, m.RaftAddr)
	}
	return tw.Flush()
}
