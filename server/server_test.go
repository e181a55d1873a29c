package server

import (
	"context"
	"encoding/json"
	"github.com/trellis-authz/trellis/service"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trellis-authz/trellis/test/testnet"
)

// A node opened and closed by the package: the phases run, the metrics of
// every layer are served, and Close undoes what Open did (a second Open of
// the same data directory works).
func TestOpenServesAndCloses(t *testing.T) {
	dir := t.TempDir()
	schema := filepath.Join(dir, "schema.zed")
	if err := os.WriteFile(schema, []byte("definition user {}\ndefinition team { relation member: user | team#member }\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rels := filepath.Join(dir, "rels.txt")
	if err := os.WriteFile(rels, []byte("team:a#member@team:b#member\nteam:b#member@user:ana\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.DataDir, cfg.InsecureNoAuth, cfg.SchemaFile, cfg.RelationshipsFile, cfg.NoCache = filepath.Join(dir, "data"), true, schema, rels, true
	cfg.Log, cfg.Out = slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard
	for round := range 2 {
		cfg.HTTPAddr, cfg.RaftAddr = testnet.FreeAddr(t), testnet.FreeAddr(t)
		n, err := Open(context.Background(), cfg)
		if err != nil {
			t.Fatalf("round %d: Open: %v", round, err)
		}
		resp, err := http.Post(n.URL()+"/v1/check", "application/json",
			strings.NewReader(`{"resource":"team:a","permission":"member","subject":"user:ana","consistency":"fully_consistent"}`))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), `"result":"allowed"`) {
			t.Fatalf("round %d: check: %s", round, b)
		}
		resp, err = http.Get(n.URL() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		m, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, want := range []string{"trellis_group_index_pairs ", "trellis_group_index_answered_total", "trellis_check_results_total{result=\"allowed\"}", "trellis_http_requests_total", "trellis_raft_is_leader 1"} {
			if !strings.Contains(string(m), want) {
				t.Errorf("round %d: /metrics lacks %s", round, want)
			}
		}
		if err := n.Close(); err != nil {
			t.Fatalf("round %d: Close: %v", round, err)
		}
	}
}

// Two deployments with the same --cluster-id (the default) do not accept
// each other's tokens: tokens carry the cluster's random UUID.
func TestTokensTiedToTheDeployment(t *testing.T) {
	open := func() *Node {
		cfg := DefaultConfig()
		cfg.DataDir, cfg.InsecureNoAuth = t.TempDir(), true
		cfg.HTTPAddr, cfg.RaftAddr = testnet.FreeAddr(t), testnet.FreeAddr(t)
		cfg.Log, cfg.Out = slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard
		n, err := Open(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close() })
		if _, err := n.Consensus().WaitClusterUUID(context.Background()); err != nil {
			t.Fatal(err)
		}
		return n
	}
	a, b := open(), open()
	if a.Consensus().ClusterUUID() == b.Consensus().ClusterUUID() {
		t.Fatalf("two deployments drew the same cluster id %s", a.Consensus().ClusterUUID())
	}
	schema := `{"schema":"definition user {}\ndefinition doc { relation viewer: user }\n"}`
	tokenOf := func(n *Node) string {
		deadline := time.Now().Add(20 * time.Second)
		for {
			req, _ := http.NewRequest(http.MethodPut, n.URL()+"/v1/schema", strings.NewReader(schema))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var out struct {
				WrittenAt string `json:"written_at"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&out)
			resp.Body.Close()
			// The binding happens as the node learns the id; a token of a
			// node that is bound decodes on that node.
			if out.WrittenAt != "" && n.srv.Tokens().Encode(1) != service.NewTokens(n.cfg.ClusterID).Encode(1) {
				return out.WrittenAt
			}
			if time.Now().After(deadline) {
				t.Fatalf("node never bound its tokens to the cluster id")
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	tokA := tokenOf(a)
	tokenOf(b)
	body := `{"resource":"doc:1","permission":"viewer","subject":"user:ana","consistency":{"at_least_as_fresh":"` + tokA + `"}}`
	for name, n := range map[string]*Node{"its own node": a, "the other deployment": b} {
		resp, err := http.Post(n.URL()+"/v1/check", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		wantOK := n == a
		if wantOK != (resp.StatusCode == http.StatusOK) || !wantOK && !strings.Contains(string(got), "invalid_token") {
			t.Errorf("a's token on %s: got %d %s", name, resp.StatusCode, got)
		}
	}
}
