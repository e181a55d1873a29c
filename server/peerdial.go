package server

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"
)

// PeerDialFunc opens one connection this node makes to a peer, the way
// net.Dialer.DialContext does. addr is the peer's host:port as the cluster
// knows it (its raft address, or the host:port of its API URL).
type PeerDialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// peerDialTimeout bounds each peer dial of the default dialer.
const peerDialTimeout = 2 * time.Second

// ParseConnectTo reads --peer-connect-to: "addr=via,..." where both are
// host:port. The result maps each peer address to the address dialed instead.
func ParseConnectTo(s string) (map[string]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	out := map[string]string{}
	for i, part := range strings.Split(s, ",") {
		addr, via, ok := strings.Cut(strings.TrimSpace(part), "=")
		_, _, aerr := net.SplitHostPort(addr)
		_, _, verr := net.SplitHostPort(via)
		if !ok || aerr != nil || verr != nil {
			return nil, fmt.Errorf("--peer-connect-to entry %d %q: want peer-host:port=dial-host:port, e.g. 10.0.0.2:7000=127.0.0.1:17000", i+1, part)
		}
		if prev, dup := out[addr]; dup && prev != via {
			return nil, fmt.Errorf("--peer-connect-to names %s twice (%s and %s); give one address to dial for it", addr, prev, via)
		}
		out[addr] = via
	}
	return out, nil
}

// peerDialer returns how this node dials its peers, for raft and for
// node-to-node HTTP alike: Config.PeerDial (default: TCP with a 2 s timeout),
// with the --peer-connect-to rewrites applied before it. custom is false
// when neither is set, so raft keeps its own TCP transport.
func peerDialer(cfg Config) (dial PeerDialFunc, custom bool, err error) {
	via, err := ParseConnectTo(cfg.PeerConnectTo)
	if err != nil {
		return nil, false, err
	}
	base := cfg.PeerDial
	if base == nil {
		base = (&net.Dialer{Timeout: peerDialTimeout, KeepAlive: 30 * time.Second}).DialContext
	}
	if len(via) == 0 {
		return base, cfg.PeerDial != nil, nil
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if v, ok := via[addr]; ok {
			addr = v
		}
		return base(ctx, network, addr)
	}, true, nil
}

// raftDial adapts a peer dialer to raft's transport (consensus.Config.Dial).
func raftDial(dial PeerDialFunc) func(address string, timeout time.Duration) (net.Conn, error) {
	return func(address string, timeout time.Duration) (net.Conn, error) {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		return dial(ctx, "tcp", address)
	}
}
