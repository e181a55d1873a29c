package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/trellis-authz/trellis/consensus"
	"github.com/trellis-authz/trellis/wire"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/trellis-authz/trellis/api"
)

// clusterTLS completes the TLS settings for a cluster: with --tls-ca, raft
// uses mutual TLS (both sides present certificates signed by the CA) and
// node-to-node HTTP trusts the CA. It returns the raft TLS config (nil when
// TLS is off) and the HTTP client nodes use to call each other, which dials
// with Config.PeerDial and --peer-connect-to (peerDialer).
func clusterTLS(o Config, base *tls.Config) (*tls.Config, *http.Client, error) {
	dial, _, err := peerDialer(o)
	if err != nil {
		return nil, nil, err
	}
	tr := &http.Transport{
		DialContext:         dial,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
	}
	client := &http.Client{Transport: tr}
	if base == nil {
		if o.TLSCA != "" {
			return nil, nil, errors.New("--tls-ca needs --tls-cert and --tls-key")
		}
		return nil, client, nil
	}
	raftTLS := base.Clone()
	if o.TLSCA != "" {
		pem, err := os.ReadFile(o.TLSCA)
		if err != nil {
			return nil, nil, fmt.Errorf("--tls-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, nil, fmt.Errorf("--tls-ca %s holds no PEM certificate", o.TLSCA)
		}
		raftTLS.RootCAs = pool
		raftTLS.ClientCAs = pool
		raftTLS.ClientAuth = tls.RequireAndVerifyClientCert
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	} else {
		tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	return raftTLS, client, nil
}

// enableCluster turns on forwarding, follower reads and the /v1/cluster
// endpoints.
func (n *Node) enableCluster(client *http.Client) error {
	cfg := api.DefaultClusterConfig()
	cfg.NodeID = n.cfg.NodeID
	cfg.Node = n.raft
	cfg.Client = client
	return n.srv.EnableCluster(cfg)
}

// join asks the member at --join to add this node as a voter: POST
// /v1/cluster/members, which a follower forwards to the leader. The admin
// token is $TRELLIS_TOKEN (or --join-token). It retries until the member
// answers or ctx ends, and does nothing when this node is already a member.
func (n *Node) join(ctx context.Context, client *http.Client, raftAddr, apiURL string) error {
	o := n.cfg
	if ms, err := n.raft.Members(); err == nil {
		for _, m := range ms {
			if m.ID == o.NodeID {
				n.log.Info("already a cluster member; not joining again", "node", o.NodeID)
				return nil
			}
		}
	}
	token := o.JoinToken
	if token == "" {
		token = os.Getenv("TRELLIS_TOKEN")
	}
	body, _ := json.Marshal(wire.AddMemberRequest{ID: o.NodeID, RaftAddr: raftAddr, APIAddr: apiURL})
	url := strings.TrimRight(o.Join, "/") + "/v1/cluster/members"
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	var last error
	for attempt := 1; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return fmt.Errorf("--join %q: %w", o.Join, err)
		}
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err == nil {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
			resp.Body.Close()
			switch {
			case resp.StatusCode == http.StatusOK:
				n.log.Info("joined the cluster", "through", o.Join, "node", o.NodeID, "attempts", attempt)
				return nil
			case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
				return fmt.Errorf("--join %s refused this node: %s %s (set TRELLIS_TOKEN or --join-token to an admin token of the cluster)", o.Join, resp.Status, strings.TrimSpace(string(b)))
			case resp.StatusCode == http.StatusBadRequest:
				return fmt.Errorf("--join %s rejected the request: %s", o.Join, strings.TrimSpace(string(b)))
			}
			last = fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(b)))
		} else {
			last = err
		}
		n.log.Warn("join attempt failed; retrying", "through", o.Join, "attempt", attempt, "error", last)
		select {
		case <-ctx.Done():
			return fmt.Errorf("--join %s: gave up after %d attempts: %w", o.Join, attempt, last)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// raftAdvertise is the raft address other nodes dial.
func raftAdvertise(o Config) string {
	if o.AdvertiseAddr != "" {
		return o.AdvertiseAddr
	}
	return o.RaftAddr
}

// ParsePeers reads "id=raftaddr=apiurl,..." (the API URL may be omitted).
func ParsePeers(s string) ([]consensus.Peer, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var peers []consensus.Peer
	for i, part := range strings.Split(s, ",") {
		f := strings.Split(strings.TrimSpace(part), "=")
		if len(f) < 2 || len(f) > 3 || f[0] == "" || f[1] == "" {
			return nil, fmt.Errorf("--peers entry %d %q: want id=raftaddr=apiurl, e.g. n1=10.0.0.1:7000=http://10.0.0.1:8080", i+1, part)
		}
		p := consensus.Peer{ID: f[0], RaftAddr: f[1]}
		if len(f) == 3 {
			p.APIAddr = f[2]
		}
		peers = append(peers, p)
	}
	return peers, nil
}
