package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/trellis-authz/trellis/server"
	"github.com/trellis-authz/trellis/wire"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/trellis-authz/trellis/api"
	"github.com/trellis-authz/trellis/consensus"
	"github.com/trellis-authz/trellis/test/testnet"
)

// clusterSchema is the schema every multi-node test runs against.
const clusterSchema = `definition user {}

definition doc {
	relation viewer: user
	relation banned: user
	permission view = viewer - banned
}
`

// testCluster is n real nodes started with startNode in this process: real
// Badger stores, raft over TCP on 127.0.0.1 and the HTTP API on real ports.
type testCluster struct {
	t      testing.TB
	mu     sync.Mutex
	opts   []server.Config
	nodes  []*server.Node // nil while a node is stopped
	urls   []string
	admin  string
	reader string
	client *http.Client
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t testing.TB) string { return testnet.FreeAddr(t) }

// newTestCluster starts n nodes with static peers and waits until every node
// serves the schema. tune adjusts each node's consensus config (may be nil).
func newTestCluster(t testing.TB, n int, tune func(*consensus.Config)) *testCluster {
	t.Helper()
	return newTestClusterWith(t, n, tune, nil, nil)
}

// newTestClusterWith is newTestCluster with each node's options edited by
// edit (may be nil) and the test's HTTP client given (nil: plain HTTP).
func newTestClusterWith(t testing.TB, n int, tune func(*consensus.Config), edit func(*server.Config), hc *http.Client) *testCluster {
	t.Helper()
	dir := t.TempDir()
	tokens, schemaFile, admin, reader := writeClusterFiles(t, dir)
	if hc == nil {
		hc = &http.Client{Timeout: 15 * time.Second}
	}
	// freeAddr's ports are free when picked, but another socket (an outgoing
	// connection of a test running in parallel) may take one before the node
	// binds it: then start over on new ports, a few times.
	for attempt := 1; ; attempt++ {
		c, err := startTestCluster(t, n, filepath.Join(dir, fmt.Sprint(attempt)), tokens, schemaFile, admin, reader, tune, edit, hc)
		if err == nil {
			t.Cleanup(c.closeAll)
			for i := range n {
				c.waitReady(i)
			}
			return c
		}
		if !strings.Contains(err.Error(), "address already in use") || attempt == 3 {
			t.Fatal(err)
		}
		t.Logf("attempt %d: %v; starting over on other ports", attempt, err)
	}
}

// writeClusterFiles writes, in dir, a token file with an admin and a reader
// token and a file of clusterSchema; it returns their paths and the tokens.
func writeClusterFiles(t testing.TB, dir string) (tokens, schemaFile, admin, reader string) {
	t.Helper()
	admin, adminHash := api.GenerateToken()
	reader, readerHash := api.GenerateToken()
	tokens = filepath.Join(dir, "tokens.yaml")
	if err := api.WriteTokenFile(tokens, []api.TokenEntry{
		{Principal: "admin", Role: api.RoleAdmin, SHA256: adminHash},
		{Principal: "reader", Role: api.RoleReader, SHA256: readerHash},
	}); err != nil {
		t.Fatal(err)
	}
	schemaFile = filepath.Join(dir, "schema.zed")
	if err := os.WriteFile(schemaFile, []byte(clusterSchema), 0o600); err != nil {
		t.Fatal(err)
	}
	return tokens, schemaFile, admin, reader
}

// startTestCluster starts n nodes on fresh ports under dir; on an error it
// closes whatever it started.
func startTestCluster(t testing.TB, n int, dir, tokens, schemaFile, admin, reader string, tune func(*consensus.Config), edit func(*server.Config), hc *http.Client) (*testCluster, error) {
	c := &testCluster{t: t, admin: admin, reader: reader, nodes: make([]*server.Node, n), client: hc}
	var peers []string
	for i := range n {
		o := server.DefaultConfig()
		o.NodeID = fmt.Sprintf("n%d", i+1)
		o.HTTPAddr = freeAddr(t)
		o.RaftAddr = freeAddr(t)
		o.DataDir = filepath.Join(dir, o.NodeID)
		o.TokenFile = tokens
		o.SchemaFile = schemaFile
		o.RaftTimeouts = 500 * time.Millisecond
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
		o.Out = io.Discard
		o.TuneRaft = tune
		if edit != nil {
			edit(&o)
		}
		scheme := "http://"
		if o.TLSCert != "" {
			scheme = "https://"
		}
		c.opts = append(c.opts, o)
		c.urls = append(c.urls, scheme+o.HTTPAddr)
		peers = append(peers, fmt.Sprintf("%s=%s=%s%s", o.NodeID, o.RaftAddr, scheme, o.HTTPAddr))
	}
	for i := range c.opts {
		c.opts[i].Peers = strings.Join(peers, ",")
	}
	// Start all at once: each start waits for a leader, which needs a quorum.
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { errs[i] = c.start(i) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			c.closeAll()
			return nil, fmt.Errorf("starting node %d: %w", i+1, err)
		}
	}
	return c, nil
}

// start (re)starts node i with its options.
func (c *testCluster) start(i int) error {
	r, err := server.Open(context.Background(), c.opts[i])
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.nodes[i] = r
	c.mu.Unlock()
	return nil
}

// stop closes node i (its data directory stays).
func (c *testCluster) stop(i int) {
	c.mu.Lock()
	r := c.nodes[i]
	c.nodes[i] = nil
	c.mu.Unlock()
	if r != nil {
		if err := r.Close(); err != nil {
			c.t.Logf("closing node %d: %v", i+1, err)
		}
	}
}

func (c *testCluster) closeAll() {
	for i := range c.nodes {
		c.stop(i)
	}
}

func (c *testCluster) node(i int) *server.Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[i]
}

// leader waits for a running node that is the leader and returns its index.
func (c *testCluster) leader() int {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for i := range c.nodes {
			if r := c.node(i); r != nil && r.Consensus().IsLeader() {
				return i
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.t.Fatal("no leader among the running nodes after 30s")
	return -1
}

// followers returns the indexes of running nodes that are not the leader.
func (c *testCluster) followers() []int {
	l := c.leader()
	var out []int
	for i := range c.nodes {
		if i != l && c.node(i) != nil {
			out = append(out, i)
		}
	}
	return out
}

// waitReady waits until node i answers /readyz with 200.
func (c *testCluster) waitReady(i int) {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		resp, err := c.client.Get(c.urls[i] + "/readyz")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = string(b)
		} else {
			last = err.Error()
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatalf("node %d not ready after 30s: %s", i+1, last)
}

// do sends a JSON request to node i and returns the status and body; out, when
// not nil, receives a 200 answer.
func (c *testCluster) do(i int, method, path, token string, body any, out any) (int, string) {
	c.t.Helper()
	status, b, err := httpJSON(c.client, c.urls[i], method, path, token, body, out, nil)
	if err != nil {
		return 0, err.Error()
	}
	return status, b
}

// httpJSON is one JSON call; header adds request headers.
func httpJSON(cl *http.Client, base, method, path, token string, body any, out any, header http.Header) (int, string, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, "", err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := cl.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, string(b), err
	}
	if out != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, string(b), fmt.Errorf("decoding %s: %w", b, err)
		}
	}
	return resp.StatusCode, string(b), nil
}

// write touches (or deletes) one relationship through node i.
func (c *testCluster) write(i int, op, rel, key string) (token string, status int, body string) {
	c.t.Helper()
	var out wire.WriteResponse
	req := wire.WriteRelationshipsRequest{Updates: []wire.Update{{Op: op, Relationship: rel}}, IdempotencyKey: key}
	status, body = c.do(i, http.MethodPost, "/v1/relationships/write", c.admin, req, &out)
	return out.WrittenAt, status, body
}

// retryable reports a status a client retries: no answer, or a 503 (no
// leader during an election, outcome unknown).
func retryable(status int) bool { return status == 0 || status == http.StatusServiceUnavailable }

// mustWrite writes and fails the test unless the answer is 200. Like a
// careful client, it retries 503s for up to 10 s with one idempotency key.
func (c *testCluster) mustWrite(i int, op, rel string) string {
	c.t.Helper()
	key := uuid.NewString()
	deadline := time.Now().Add(10 * time.Second)
	for {
		tok, status, body := c.write(i, op, rel, key)
		if status == http.StatusOK {
			return tok
		}
		if !retryable(status) || time.Now().After(deadline) {
			c.t.Fatalf("write %s %s through node %d: got %d %s, want 200", op, rel, i+1, status, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// check runs a check on node i with the given consistency.
func (c *testCluster) check(i int, resource, perm, subject string, cons *wire.Consistency) (string, int, string) {
	c.t.Helper()
	var out wire.CheckResponse
	status, body := c.do(i, http.MethodPost, "/v1/check", c.reader,
		wire.CheckRequest{Resource: resource, Permission: perm, Subject: subject, Consistency: cons}, &out)
	return out.Result, status, body
}

// mustCheck fails the test unless the check answers 200 with want.
func (c *testCluster) mustCheck(i int, resource, perm, subject string, cons *wire.Consistency, want string) {
	c.t.Helper()
	got, status, body := c.check(i, resource, perm, subject, cons)
	for deadline := time.Now().Add(10 * time.Second); retryable(status) && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		got, status, body = c.check(i, resource, perm, subject, cons)
	}
	if status != http.StatusOK || got != want {
		c.t.Fatalf("check %s#%s@%s on node %d (%v): got %d %q (%s), want 200 %q", resource, perm, subject, i+1, cons, status, got, body, want)
	}
}

func fresh(token string) *wire.Consistency {
	return &wire.Consistency{Mode: wire.AtLeastAsFresh, Token: token}
}

var fullyConsistent = &wire.Consistency{Mode: wire.FullyConsistent}
var minimizeLatency = &wire.Consistency{Mode: wire.MinimizeLatency}
