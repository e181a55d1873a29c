package spicedb_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	authzed "github.com/authzed/authzed-go/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/trellis-authz/trellis/server"
	"github.com/trellis-authz/trellis/test/testnet"
	"github.com/trellis-authz/trellis/test/testnode"
)

// testNode is a real node (Badger on disk, raft, HTTP and gRPC on
// loopback) with three tokens, and authzed-go clients for each role.
type testNode struct {
	node                  *server.Node
	url                   string
	admin, writer, reader string // bearer tokens
}

// startNode opens a node with the schema text loaded.
func startNode(t *testing.T, schemaText string) *testNode {
	t.Helper()
	return startNodeWith(t, schemaText, nil)
}

// startNodeWith is startNode with the node's configuration edited first.
func startNodeWith(t *testing.T, schemaText string, edit func(*server.Config)) *testNode {
	t.Helper()
	cfg := testnode.Config(t, schemaText)
	toks := testnode.WithTokens(t, &cfg)
	cfg.GRPCAddr = testnet.FreeAddr(t)
	tn := &testNode{admin: toks.Admin, writer: toks.Writer, reader: toks.Reader}
	if edit != nil {
		edit(&cfg)
	}
	if schemaText != "" {
		tn.node = testnode.Open(t, cfg) // waits for the cluster id and /readyz
	} else {
		tn.node = openWithoutSchema(t, cfg)
	}
	tn.url = tn.node.URL()
	return tn
}

// openWithoutSchema opens a node that has no schema yet (so never ready)
// and waits for its cluster id.
func openWithoutSchema(t *testing.T, cfg server.Config) *server.Node {
	t.Helper()
	n, err := server.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := n.Consensus().WaitClusterUUID(ctx); err != nil {
		t.Fatal(err)
	}
	return n
}

// bearer is per-RPC credentials over a plain connection (as SpiceDB's
// grpcutil.WithInsecureBearerToken).
type bearer string

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}
func (bearer) RequireTransportSecurity() bool { return false }

// client is an authzed-go client of the node's gRPC API with a token.
func (tn *testNode) client(t *testing.T, token string) *authzed.Client {
	t.Helper()
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if token != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(bearer(token)))
	}
	c, err := authzed.NewClient(tn.node.GRPCAddr(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// waitReady polls /readyz until the node has a leader and a schema.
func waitReady(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s/readyz did not answer 200 within 15 s", url)
}

// rest sends a Trellis REST request and decodes the answer into out (when
// not nil); it returns the status.
func (tn *testNode) rest(t *testing.T, token, method, path string, body, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, tn.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode
}
