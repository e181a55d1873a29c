package service

import (
	"context"
	"errors"
	"net"
	"net/url"
	"strings"
	"sync"

	"github.com/trellis-authz/trellis/consensus"
	"github.com/trellis-authz/trellis/wire"
)

// Node is what the cluster service needs of the replication layer:
// leadership, membership and read indexes. consensus.Node satisfies it.
type Node interface {
	IsLeader() bool
	Leader() (id, raftAddr string)
	LeaderAPIAddr() string
	State() string
	AppliedRevision() uint64
	AppliedIndex() uint64
	ReadIndex(ctx context.Context) (uint64, error)
	Members() ([]consensus.Member, error)
	AddMember(ctx context.Context, p consensus.Peer) error
	RemoveServer(ctx context.Context, id string) error
}

// Cluster answers about the cluster's members and changes its membership.
type Cluster struct {
	id     string
	node   Node
	tokens Tokens
}

// NewCluster returns the cluster service of node id.
func NewCluster(id string, node Node, tokens Tokens) *Cluster {
	return &Cluster{id: id, node: node, tokens: tokens}
}

// ID is this node's raft ID.
func (c *Cluster) ID() string { return c.id }

// Node returns the replication node.
func (c *Cluster) Node() Node { return c.node }

// NodeStatus is this node's view of itself.
func (c *Cluster) NodeStatus() wire.NodeStatus {
	leader, _ := c.node.Leader()
	return wire.NodeStatus{ID: c.id, State: c.node.State(), Leader: leader, AppliedRevision: c.node.AppliedRevision(), AppliedIndex: c.node.AppliedIndex()}
}

// Status lists the members with what each reports of itself; probe asks one
// member (by its API address) for its NodeStatus, and is called for every
// other member concurrently.
func (c *Cluster) Status(ctx context.Context, probe func(ctx context.Context, apiAddr string) (wire.NodeStatus, error)) (wire.ClusterResponse, error) {
	members, err := c.node.Members()
	if err != nil {
		return wire.ClusterResponse{}, err
	}
	leader, _ := c.node.Leader()
	out := wire.ClusterResponse{Node: c.id, Leader: leader, Members: make([]wire.MemberStatus, len(members))}
	reached := func(i int, st wire.NodeStatus) {
		out.Members[i].Reachable, out.Members[i].State, out.Members[i].AppliedRevision = true, st.State, st.AppliedRevision
		out.Members[i].AppliedAt = c.tokens.Encode(st.AppliedRevision)
	}
	var wg sync.WaitGroup
	for i, m := range members {
		out.Members[i] = wire.MemberStatus{ID: m.ID, RaftAddr: m.RaftAddr, APIAddr: m.APIAddr, Voter: m.Voter, Role: "follower"}
		if m.Leader {
			out.Members[i].Role = "leader"
		}
		switch {
		case m.ID == c.id:
			reached(i, c.NodeStatus())
		case m.APIAddr == "":
			out.Members[i].Error = "no API address is recorded for this member"
		default:
			wg.Go(func() {
				st, err := probe(ctx, m.APIAddr)
				if err != nil {
					out.Members[i].Error = err.Error()
					return
				}
				reached(i, st)
			})
		}
	}
	wg.Wait()
	return out, nil
}

// Members lists the raft configuration.
func (c *Cluster) Members() (wire.MembersResponse, error) {
	ms, err := c.node.Members()
	if err != nil {
		return wire.MembersResponse{}, err
	}
	out := wire.MembersResponse{Members: make([]wire.Member, len(ms))}
	for i, m := range ms {
		out.Members[i] = wire.Member{ID: m.ID, RaftAddr: m.RaftAddr, APIAddr: m.APIAddr, Voter: m.Voter, Leader: m.Leader}
	}
	return out, nil
}

// AddMember adds a member and returns the new member list.
func (c *Cluster) AddMember(ctx context.Context, in wire.AddMemberRequest) (wire.MembersResponse, error) {
	if in.ID == "" || len(in.ID) > 128 || strings.ContainsAny(in.ID, " \t\n/=,") {
		return wire.MembersResponse{}, argErr("id", "id %q must be 1-128 characters without spaces, '/', '=' or ','; it is the node's --node-id", in.ID)
	}
	if _, _, err := net.SplitHostPort(in.RaftAddr); err != nil || in.RaftAddr == "" {
		return wire.MembersResponse{}, argErr("raft_addr", "raft_addr %q must be host:port (the node's --advertise-addr or --raft-addr)", in.RaftAddr)
	}
	if u, err := url.Parse(in.APIAddr); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return wire.MembersResponse{}, argErr("api_addr", "api_addr %q must be an http:// or https:// URL (the node's --api-advertise-addr)", in.APIAddr)
	}
	if err := c.node.AddMember(ctx, consensus.Peer{ID: in.ID, RaftAddr: in.RaftAddr, APIAddr: in.APIAddr}); err != nil {
		return wire.MembersResponse{}, membershipError(err)
	}
	return c.Members()
}

// RemoveMember removes member id and returns the new member list.
func (c *Cluster) RemoveMember(ctx context.Context, id string) (wire.MembersResponse, error) {
	members, err := c.node.Members()
	if err != nil {
		return wire.MembersResponse{}, err
	}
	found := false
	for _, m := range members {
		found = found || m.ID == id
	}
	if !found {
		return wire.MembersResponse{}, fail(ErrNotFound, map[string]any{"id": id}, "no member %q; GET /v1/cluster lists the members", id)
	}
	if err := c.node.RemoveServer(ctx, id); err != nil {
		return wire.MembersResponse{}, membershipError(err)
	}
	return c.Members()
}

func membershipError(err error) error {
	if errors.Is(err, consensus.ErrNotLeader) {
		return fail(ErrUnavailable, map[string]any{"retryable": true}, "leadership changed during the membership change: %v; retry", err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fail(ErrDeadlineExceeded, nil, "the membership change did not commit before the request deadline; check GET /v1/cluster and retry")
	}
	return err
}
