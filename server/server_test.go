package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
