package client

import (
	"context"
	"github.com/trellis-authz/trellis/wire"
	"net/http"
	"net/url"
)

// Cluster returns the members, their roles, the leader and each member's
// applied revision, as the node asked sees them (GET /v1/cluster).
func (c *Client) Cluster(ctx context.Context) (*wire.ClusterResponse, error) {
	var out wire.ClusterResponse
	if err := c.do(ctx, http.MethodGet, "/v1/cluster", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// NodeStatus returns the asked node's own state (GET /v1/cluster/node).
func (c *Client) NodeStatus(ctx context.Context) (*wire.NodeStatus, error) {
	var out wire.NodeStatus
	if err := c.do(ctx, http.MethodGet, "/v1/cluster/node", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// AddMember adds a voting member (admin; a follower forwards it to the
// leader) and returns the new member list.
func (c *Client) AddMember(ctx context.Context, req wire.AddMemberRequest) (*wire.MembersResponse, error) {
	var out wire.MembersResponse
	if err := c.do(ctx, http.MethodPost, "/v1/cluster/members", req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RemoveMember removes a member (admin) and returns the remaining ones.
func (c *Client) RemoveMember(ctx context.Context, id string) (*wire.MembersResponse, error) {
	var out wire.MembersResponse
	if err := c.do(ctx, http.MethodDelete, "/v1/cluster/members/"+url.PathEscape(id), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
