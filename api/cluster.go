package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/trellis-authz/trellis/service"
	"github.com/trellis-authz/trellis/wire"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/trellis-authz/trellis/consensus"
)

// Cluster is what the API needs of the replication layer to serve as one node
// of several. consensus.Node satisfies it.
type Cluster = service.Node

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
	svc    *service.Cluster
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
	s.cluster = &clusterState{cfg: cfg, id: cfg.NodeID, node: cfg.Node, svc: service.NewCluster(cfg.NodeID, cfg.Node, s.tokens), client: client}
	s.svc.Reads.SetRevisions(clusterRevisions{Revisions: s.svc.Reads.Revisions(), s: s})
	s.e.Use(s.clusterMiddleware)
	for _, r := range s.clusterRoutes() {
		s.Handle(r)
	}
	return nil
}

func (s *Server) clusterRoutes() []Route {
	return []Route{
		{Method: http.MethodGet, Path: "/v1/cluster", Summary: "Members, their roles, the leader and each member's applied revision (unreachable members are marked)", Role: RoleReader,
			Response: wire.ClusterResponse{}, Handler: s.handleClusterStatus},
		{Method: http.MethodGet, Path: "/v1/cluster/node", Summary: "This node's own state and applied revision", Role: RoleReader,
			Response: wire.NodeStatus{}, Handler: s.handleNodeStatus},
		{Method: http.MethodGet, Path: "/v1/cluster/read-index", Summary: "Leader only: a raft index a linearizable read must wait for (followers call it for fully_consistent reads)", Role: RoleReader,
			Response: wire.ReadIndexResponse{}, Handler: s.handleReadIndex},
		{Method: http.MethodPost, Path: "/v1/cluster/members", Summary: "Add a member: it joins as a non-voter and becomes a voter once it has caught up (runs on the leader; followers forward it)", Role: RoleAdmin,
			Request: wire.AddMemberRequest{}, Response: wire.MembersResponse{}, Handler: handle(s, s.handleAddMember),
			Example: wire.AddMemberRequest{ID: "n4", RaftAddr: "10.0.0.4:7000", APIAddr: "http://10.0.0.4:8080"}},
		{Method: http.MethodDelete, Path: "/v1/cluster/members/:id", Summary: "Remove a member (runs on the leader; followers forward it)", Role: RoleAdmin,
			Response: wire.MembersResponse{}, Handler: s.handleRemoveMember},
	}
}

func (s *Server) handleNodeStatus(c echo.Context) error { return ok(c, s.cluster.svc.NodeStatus()) }

func (s *Server) handleReadIndex(c echo.Context) error {
	idx, err := s.cluster.node.ReadIndex(c.Request().Context())
	if err != nil {
		if errors.Is(err, consensus.ErrNotLeader) {
			return s.noLeader(c, "this node (%s) is not the leader, or cannot confirm its leadership with a quorum: %v", s.cluster.id, err)
		}
		return err
	}
	return ok(c, wire.ReadIndexResponse{Index: idx, Leader: s.cluster.id})
}

func (s *Server) handleClusterStatus(c echo.Context) error {
	auth := c.Request().Header.Get(echo.HeaderAuthorization)
	return answer(c)(s.cluster.svc.Status(c.Request().Context(), func(ctx context.Context, apiAddr string) (wire.NodeStatus, error) {
		return s.probe(ctx, apiAddr, auth)
	}))
}

// probe asks one member for its status, briefly.
func (s *Server) probe(ctx context.Context, apiAddr, auth string) (wire.NodeStatus, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cluster.cfg.StatusTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(apiAddr, "/")+"/v1/cluster/node", nil)
	if err != nil {
		return wire.NodeStatus{}, err
	}
	if auth != "" {
		req.Header.Set(echo.HeaderAuthorization, auth)
	}
	resp, err := s.cluster.client.Do(req)
	if err != nil {
		return wire.NodeStatus{}, fmt.Errorf("unreachable: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		return wire.NodeStatus{}, fmt.Errorf("answered %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	var st wire.NodeStatus
	if err := json.Unmarshal(b, &st); err != nil {
		return wire.NodeStatus{}, fmt.Errorf("answered a status that is not JSON: %v", err)
	}
	return st, nil
}

func (s *Server) handleAddMember(c echo.Context, in wire.AddMemberRequest) (wire.MembersResponse, error) {
	out, err := s.cluster.svc.AddMember(c.Request().Context(), in)
	if err == nil {
		s.log.Info("member added", "id", in.ID, "raft_addr", in.RaftAddr, "api_addr", in.APIAddr, "by", principalOf(c).Name)
	}
	return out, err
}

func (s *Server) handleRemoveMember(c echo.Context) error {
	id := c.Param("id")
	out, err := s.cluster.svc.RemoveMember(c.Request().Context(), id)
	if err != nil {
		return err
	}
	s.log.Info("member removed", "id", id, "by", principalOf(c).Name)
	return ok(c, out)
}
