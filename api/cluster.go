package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/trellis-authz/trellis/consensus"
)

// Cluster is what the API needs of the replication layer to serve as one node
// of several: leadership, membership and read indexes. consensus.Node
// satisfies it.
type Cluster interface {
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

// ClusterConfig configures EnableCluster.
type ClusterConfig struct {
	// NodeID is this node's raft ID (required).
	NodeID string
	// Node is the replication node (required).
	Node Cluster
	// Client makes node-to-node calls (forwarding, read indexes, status). Give
	// one trusting the cluster's CA when the nodes serve HTTPS.
	Client *http.Client
	// LeaderWait is how long a follower waits for a leader to become known
	// before answering 503 no_leader (an election takes a moment).
	LeaderWait time.Duration
	// StatusTimeout bounds each member's answer to GET /v1/cluster.
	StatusTimeout time.Duration
	// ReadIndexTimeout bounds a follower's call to the leader for a read
	// index; past it the read is 503 (the leader may be cut off from us).
	ReadIndexTimeout time.Duration
}

// DefaultClusterConfig returns the defaults; set NodeID and Node.
func DefaultClusterConfig() ClusterConfig {
	return ClusterConfig{LeaderWait: 3 * time.Second, StatusTimeout: time.Second, ReadIndexTimeout: 3 * time.Second}
}

// Validate checks the configuration.
func (c ClusterConfig) Validate() error {
	var errs []error
	if c.NodeID == "" {
		errs = append(errs, errors.New("ClusterConfig.NodeID is empty; set this node's raft ID"))
	}
	if c.Node == nil {
		errs = append(errs, errors.New("ClusterConfig.Node is nil; pass the consensus node"))
	}
	if c.LeaderWait < 0 || c.StatusTimeout <= 0 || c.ReadIndexTimeout <= 0 {
		errs = append(errs, fmt.Errorf("ClusterConfig: LeaderWait (%v) must be >= 0, StatusTimeout (%v) and ReadIndexTimeout (%v) > 0",
			c.LeaderWait, c.StatusTimeout, c.ReadIndexTimeout))
	}
	return errors.Join(errs...)
}

type clusterState struct {
	cfg    ClusterConfig
	id     string
	node   Cluster
	client *http.Client
}

// EnableCluster makes the server one node of a cluster: writes that reach a
// follower are forwarded to the leader, fully_consistent reads on a follower
// take the leader's read index, and the /v1/cluster endpoints are served.
// Call it once, before serving.
func (s *Server) EnableCluster(cfg ClusterConfig) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if s.cluster != nil {
		return errors.New("api: EnableCluster was already called")
	}
	client := cfg.Client
	if client == nil {
		client = &http.Client{Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     90 * time.Second,
		}}
	}
	s.cluster = &clusterState{cfg: cfg, id: cfg.NodeID, node: cfg.Node, client: client}
	s.deps.Revisions = clusterRevisions{Revisions: s.deps.Revisions, s: s}
	s.e.Use(s.clusterMiddleware)
	for _, r := range s.clusterRoutes() {
		s.Handle(r)
	}
	return nil
}

// NodeStatus is one node's view of itself (GET /v1/cluster/node).
type NodeStatus struct {
	ID              string `json:"id"`
	State           string `json:"state"`
	Leader          string `json:"leader,omitempty"`
	AppliedRevision uint64 `json:"applied_revision"`
	AppliedIndex    uint64 `json:"applied_index"`
}

// MemberStatus is one member in GET /v1/cluster.
type MemberStatus struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raft_addr"`
	APIAddr  string `json:"api_addr,omitempty"`
	Voter    bool   `json:"voter"`
	// Role is "leader" or "follower" as the raft configuration says;
	// State is what the member reports of itself.
	Role            string `json:"role"`
	Reachable       bool   `json:"reachable"`
	State           string `json:"state,omitempty"`
	AppliedRevision uint64 `json:"applied_revision,omitempty"`
	AppliedAt       string `json:"applied_at,omitempty"`
	Error           string `json:"error,omitempty"`
}

// ClusterResponse is GET /v1/cluster.
type ClusterResponse struct {
	Node    string         `json:"node"`
	Leader  string         `json:"leader,omitempty"`
	Members []MemberStatus `json:"members"`
}

// AddMemberRequest is POST /v1/cluster/members.
type AddMemberRequest struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raft_addr"`
	APIAddr  string `json:"api_addr"`
}

// MembersResponse answers a membership change with the new member list.
type MembersResponse struct {
	Members []consensus.Member `json:"members"`
}

// ReadIndexResponse is GET /v1/cluster/read-index (node to node).
type ReadIndexResponse struct {
	Index  uint64 `json:"index"`
	Leader string `json:"leader"`
}

func (s *Server) clusterRoutes() []Route {
	return []Route{
		{Method: http.MethodGet, Path: "/v1/cluster", Summary: "Members, their roles, the leader and each member's applied revision (unreachable members are marked)", Role: RoleReader,
			Response: ClusterResponse{}, Handler: s.handleClusterStatus},
		{Method: http.MethodGet, Path: "/v1/cluster/node", Summary: "This node's own state and applied revision", Role: RoleReader,
			Response: NodeStatus{}, Handler: s.handleNodeStatus},
		{Method: http.MethodGet, Path: "/v1/cluster/read-index", Summary: "Leader only: a raft index a linearizable read must wait for (followers call it for fully_consistent reads)", Role: RoleReader,
			Response: ReadIndexResponse{}, Handler: s.handleReadIndex},
		{Method: http.MethodPost, Path: "/v1/cluster/members", Summary: "Add a voting member (runs on the leader; followers forward it)", Role: RoleAdmin,
			Request: AddMemberRequest{}, Response: MembersResponse{}, Handler: s.handleAddMember,
			Example: AddMemberRequest{ID: "n4", RaftAddr: "10.0.0.4:7000", APIAddr: "http://10.0.0.4:8080"}},
		{Method: http.MethodDelete, Path: "/v1/cluster/members/:id", Summary: "Remove a member (runs on the leader; followers forward it)", Role: RoleAdmin,
			Response: MembersResponse{}, Handler: s.handleRemoveMember},
	}
}

func (s *Server) nodeStatus() NodeStatus {
	n := s.cluster.node
	leader, _ := n.Leader()
	return NodeStatus{ID: s.cluster.id, State: n.State(), Leader: leader, AppliedRevision: n.AppliedRevision(), AppliedIndex: n.AppliedIndex()}
}

func (s *Server) handleNodeStatus(c echo.Context) error { return ok(c, s.nodeStatus()) }

func (s *Server) handleReadIndex(c echo.Context) error {
	idx, err := s.cluster.node.ReadIndex(c.Request().Context())
	if err != nil {
		if errors.Is(err, consensus.ErrNotLeader) {
			return s.noLeader(c, "this node (%s) is not the leader, or cannot confirm its leadership with a quorum: %v", s.cluster.id, err)
		}
		return err
	}
	return ok(c, ReadIndexResponse{Index: idx, Leader: s.cluster.id})
}

func (s *Server) handleClusterStatus(c echo.Context) error {
	ctx := c.Request().Context()
	members, err := s.cluster.node.Members()
	if err != nil {
		return err
	}
	leader, _ := s.cluster.node.Leader()
	out := ClusterResponse{Node: s.cluster.id, Leader: leader, Members: make([]MemberStatus, len(members))}
	auth := c.Request().Header.Get(echo.HeaderAuthorization)
	var wg sync.WaitGroup
	for i, m := range members {
		ms := MemberStatus{ID: m.ID, RaftAddr: m.RaftAddr, APIAddr: m.APIAddr, Voter: m.Voter, Role: "follower"}
		if m.Leader {
			ms.Role = "leader"
		}
		out.Members[i] = ms
		if m.ID == s.cluster.id {
			st := s.nodeStatus()
			out.Members[i].Reachable, out.Members[i].State, out.Members[i].AppliedRevision = true, st.State, st.AppliedRevision
			out.Members[i].AppliedAt = s.tokens.Encode(st.AppliedRevision)
			continue
		}
		if m.APIAddr == "" {
			out.Members[i].Error = "no API address is recorded for this member"
			continue
		}
		wg.Go(func() {
			st, err := s.probe(ctx, m.APIAddr, auth)
			if err != nil {
				out.Members[i].Error = err.Error()
				return
			}
			out.Members[i].Reachable, out.Members[i].State, out.Members[i].AppliedRevision = true, st.State, st.AppliedRevision
			out.Members[i].AppliedAt = s.tokens.Encode(st.AppliedRevision)
		})
	}
	wg.Wait()
	return ok(c, out)
}

// probe asks one member for its status, briefly.
func (s *Server) probe(ctx context.Context, apiAddr, auth string) (NodeStatus, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cluster.cfg.StatusTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(apiAddr, "/")+"/v1/cluster/node", nil)
	if err != nil {
		return NodeStatus{}, err
	}
	if auth != "" {
		req.Header.Set(echo.HeaderAuthorization, auth)
	}
	resp, err := s.cluster.client.Do(req)
	if err != nil {
		return NodeStatus{}, fmt.Errorf("unreachable: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		return NodeStatus{}, fmt.Errorf("answered %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	var st NodeStatus
	if err := json.Unmarshal(b, &st); err != nil {
		return NodeStatus{}, fmt.Errorf("answered a status that is not JSON: %v", err)
	}
	return st, nil
}

func (s *Server) handleAddMember(c echo.Context) error {
	var in AddMemberRequest
	if err := s.decode(c, &in); err != nil {
		return err
	}
	if in.ID == "" || len(in.ID) > 128 || strings.ContainsAny(in.ID, " \t\n/=,") {
		return argErr("id", "id %q must be 1-128 characters without spaces, '/', '=' or ','; it is the node's --node-id", in.ID)
	}
	if _, _, err := net.SplitHostPort(in.RaftAddr); err != nil || in.RaftAddr == "" {
		return argErr("raft_addr", "raft_addr %q must be host:port (the node's --advertise-addr or --raft-addr)", in.RaftAddr)
	}
	if u, err := url.Parse(in.APIAddr); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return argErr("api_addr", "api_addr %q must be an http:// or https:// URL (the node's --api-advertise-addr)", in.APIAddr)
	}
	ctx := c.Request().Context()
	if err := s.cluster.node.AddMember(ctx, consensus.Peer{ID: in.ID, RaftAddr: in.RaftAddr, APIAddr: in.APIAddr}); err != nil {
		return s.membershipError(err)
	}
	s.log.Info("member added", "id", in.ID, "raft_addr", in.RaftAddr, "api_addr", in.APIAddr, "by", principalOf(c).Name)
	return s.members(c)
}

func (s *Server) handleRemoveMember(c echo.Context) error {
	id := c.Param("id")
	members, err := s.cluster.node.Members()
	if err != nil {
		return err
	}
	found := false
	for _, m := range members {
		found = found || m.ID == id
	}
	if !found {
		return fail(ErrNotFound, map[string]any{"id": id}, "no member %q; GET /v1/cluster lists the members", id)
	}
	if err := s.cluster.node.RemoveServer(c.Request().Context(), id); err != nil {
		return s.membershipError(err)
	}
	s.log.Info("member removed", "id", id, "by", principalOf(c).Name)
	return s.members(c)
}

func (s *Server) members(c echo.Context) error {
	ms, err := s.cluster.node.Members()
	if err != nil {
		return err
	}
	return ok(c, MembersResponse{Members: ms})
}

func (s *Server) membershipError(err error) error {
	if errors.Is(err, consensus.ErrNotLeader) {
		return fail(ErrUnavailable, map[string]any{"retryable": true}, "leadership changed during the membership change: %v; retry", err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fail(ErrDeadlineExceeded, nil, "the membership change did not commit before the request deadline; check GET /v1/cluster and retry")
	}
	return err
}
