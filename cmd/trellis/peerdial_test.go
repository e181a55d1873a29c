package main

import (
	"context"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/trellis-authz/trellis/server"
	"github.com/trellis-authz/trellis/test/faultnet"
)

// TestPeerDialCarriesRaftAndForwarding runs three nodes whose every peer
// connection goes through server.Config.PeerDial, here a faultnet proxy per
// link: raft elects a leader over it, and a write sent to a follower is
// forwarded to the leader's API through the follower's proxy for that
// address (faultnet refuses any address it was not told of, so nothing
// bypasses it).
func TestPeerDialCarriesRaftAndForwarding(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three nodes")
	}
	fnet := faultnet.New(1)
	t.Cleanup(fnet.Close)
	var mu sync.Mutex
	dialed := map[string][]string{} // node -> addresses it dialed
	c := newTestClusterWith(t, 3, nil, func(o *server.Config) {
		fnet.Add(o.NodeID, o.RaftAddr)
		fnet.Add(o.NodeID, o.HTTPAddr)
		id, dial := o.NodeID, fnet.DialContext(o.NodeID)
		o.PeerDial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			mu.Lock()
			dialed[id] = append(dialed[id], addr)
			mu.Unlock()
			return dial(ctx, network, addr)
		}
	}, nil)
	l := c.leader()
	f := c.followers()[0]
	c.mustWrite(f, "touch", "doc:pd#viewer@user:a")
	c.mustCheck(l, "doc:pd", "view", "user:a", fullyConsistent, "allowed")

	mu.Lock()
	defer mu.Unlock()
	from := c.opts[f].NodeID
	if !slices.Contains(dialed[from], c.opts[l].HTTPAddr) {
		t.Errorf("%s forwarded a write to the leader %s but never dialed its API %s through PeerDial; it dialed %v",
			from, c.opts[l].NodeID, c.opts[l].HTTPAddr, dialed[from])
	}
	// The leader replicates to each follower: it dialed their raft addresses.
	lead := c.opts[l].NodeID
	for i, o := range c.opts {
		if i != l && !slices.Contains(dialed[lead], o.RaftAddr) {
			t.Errorf("the leader %s never dialed %s's raft address %s through PeerDial; it dialed %s",
				lead, o.NodeID, o.RaftAddr, strings.Join(dialed[lead], " "))
		}
	}
}
