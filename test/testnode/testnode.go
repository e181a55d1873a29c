package testnode

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/trellis-authz/trellis/api"
	"github.com/trellis-authz/trellis/server"
	"github.com/trellis-authz/trellis/test/testnet"
)

// Config returns the config of a one-node cluster for t: data in a
// temporary directory, free loopback addresses, logs discarded, and
// schemaText (when not "") written to a file the node loads at start.
func Config(t testing.TB, schemaText string) server.Config {
	t.Helper()
	dir := t.TempDir()
	cfg := server.DefaultConfig()
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.HTTPAddr, cfg.RaftAddr = testnet.FreeAddr(t), testnet.FreeAddr(t)
	if schemaText != "" {
		cfg.SchemaFile = filepath.Join(dir, "schema.zed")
		if err := os.WriteFile(cfg.SchemaFile, []byte(schemaText), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg.Log, cfg.Out = slog.New(slog.DiscardHandler), io.Discard
	return cfg
}

// Open opens a node with cfg, closes it when the test ends, and returns
// once it has a cluster id and answers /readyz with 200 (it has a leader and
// its schema). server.Open itself returns once the schema and relationships
// files are written.
func Open(t testing.TB, cfg server.Config) *server.Node {
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
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if resp, err := http.Get(n.URL() + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return n
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s/readyz did not answer 200 within 15 s", n.URL())
		}
	}
}

// Tokens are bearer tokens of the three roles.
type Tokens struct{ Admin, Writer, Reader string }

// WithTokens writes a token file with one principal per role ("admin-1",
// "writer-1", "reader-1") into a temporary directory, points cfg at it and
// returns the tokens.
func WithTokens(t testing.TB, cfg *server.Config) Tokens {
	t.Helper()
	var toks Tokens
	var entries []api.TokenEntry
	for _, e := range []struct {
		role api.Role
		tok  *string
	}{{api.RoleAdmin, &toks.Admin}, {api.RoleWriter, &toks.Writer}, {api.RoleReader, &toks.Reader}} {
		tok, hash := api.GenerateToken()
		*e.tok = tok
		entries = append(entries, api.TokenEntry{Principal: string(e.role) + "-1", Role: e.role, SHA256: hash})
	}
	cfg.TokenFile = filepath.Join(t.TempDir(), "tokens.yaml")
	if err := api.WriteTokenFile(cfg.TokenFile, entries); err != nil {
		t.Fatal(err)
	}
	return toks
}
