package wire

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

// Member is one server of the raft configuration.
type Member struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raft_addr"`
	APIAddr  string `json:"api_addr,omitempty"`
	Voter    bool   `json:"voter"`
	Leader   bool   `json:"leader"`
}

// MembersResponse answers a membership change with the new member list.
type MembersResponse struct {
	Members []Member `json:"members"`
}

// ReadIndexResponse is GET /v1/cluster/read-index (node to node).
type ReadIndexResponse struct {
	Index  uint64 `json:"index"`
	Leader string `json:"leader"`
}
