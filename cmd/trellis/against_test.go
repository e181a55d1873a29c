package main

import (
	"context"
	"github.com/trellis-authz/trellis/service"
	"github.com/trellis-authz/trellis/wire"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trellis-authz/trellis/api"
	"github.com/trellis-authz/trellis/client"
	"github.com/trellis-authz/trellis/consensus"
	"github.com/trellis-authz/trellis/engine"
	"github.com/trellis-authz/trellis/schema"
	"github.com/trellis-authz/trellis/schema/compile"
	"github.com/trellis-authz/trellis/storage"
	"github.com/trellis-authz/trellis/validation"
)

// startServer starts a real single-node Trellis (Badger in a temp dir, a
// one-voter raft node on loopback, the engine, the API behind httptest) and
// returns its URL with an admin and a reader token.
func startServer(t *testing.T) (url, admin, reader string) {
	t.Helper()
	dir := t.TempDir()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	sc := storage.DefaultConfig(filepath.Join(dir, "badger"))
	sc.SyncWrites = false
	sc.Logger = quiet
	st, err := storage.Open(sc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cc := consensus.DefaultConfig()
	cc.NodeID = "n1"
	cc.DataDir = filepath.Join(dir, "raft")
	cc.RaftAddr = "127.0.0.1:0"
	cc.Bootstrap = true
	cc.Store = st
	cc.Compile = func(text string) (*schema.Schema, error) {
		s, errs := compile.CompileText("schema.zed", text)
		return s, errs.Err()
	}
	cc.HeartbeatTimeout = 200 * time.Millisecond
	cc.ElectionTimeout = 200 * time.Millisecond
	cc.LeaderLeaseTimeout = 100 * time.Millisecond
	cc.CommitTimeout = 5 * time.Millisecond
	cc.Logger = quiet
	node, err := consensus.Open(cc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { node.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := node.WaitForLeader(ctx); err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	admin, adminHash := api.GenerateToken()
	reader, readerHash := api.GenerateToken()
	cfg := api.DefaultConfig()
	cfg.ClusterID = "validate-test"
	cfg.Logger = quiet
	cfg.Auth = api.AuthConfig{Mode: api.AuthTokens, Tokens: []api.TokenEntry{
		{Principal: "admin", Role: api.RoleAdmin, SHA256: adminHash},
		{Principal: "reader", Role: api.RoleReader, SHA256: readerHash},
	}}
	svc, err := service.New(cfg.Config, service.Deps{
		Engine:    eng,
		Revisions: node,
		Snapshots: service.SnapshotsOf[*storage.Snapshot](st),
		Writer:    service.ConsensusWriter(node),
	})
	if err != nil {
		panic(err)
	}
	srv, err := api.New(cfg, svc, api.NodeStatsFunc(node))
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return hs.URL, admin, reader
}

// TestValidateAgainstServer loads the example into a real server, runs the
// example policy against it, then deletes one relationship on the server
// and sees the policy fail there.
func TestValidateAgainstServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a raft node; skipped with -short")
	}
	url, admin, reader := startServer(t)
	ctx := context.Background()
	c := client.New(url, client.WithToken(admin), client.WithTimeout(10*time.Second))
	schemaText, err := os.ReadFile(filepath.Join(exampleDir, "schema.zed"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.WriteSchema(ctx, wire.WriteSchemaRequest{Schema: string(schemaText)}); err != nil {
		t.Fatal(err)
	}
	txt, err := os.ReadFile(filepath.Join(exampleDir, "relationships.txt"))
	if err != nil {
		t.Fatal(err)
	}
	rels, err := validation.ParseRelationships("relationships.txt", string(txt))
	if err != nil {
		t.Fatal(err)
	}
	var updates []wire.Update
	for _, r := range rels {
		updates = append(updates, wire.Update{Op: "touch", Relationship: r.Rel.String()})
	}
	if _, err := c.WriteRelationships(ctx, wire.WriteRelationshipsRequest{Updates: updates}); err != nil {
		t.Fatal(err)
	}

	policy := filepath.Join(exampleDir, "policy.yaml")
	code, out, errOut := run(t, "validate", "--against", url, "--token", reader, policy)
	if code != 0 {
		t.Fatalf("got exit %d, want 0:\n%s%s", code, out, errOut)
	}

	const unblock = "dataset:claims#blocked@user:ben"
	if _, err := c.WriteRelationships(ctx, wire.WriteRelationshipsRequest{Updates: []wire.Update{{Op: "delete", Relationship: unblock}}}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TRELLIS_TOKEN", reader)
	code, out, _ = run(t, "validate", "--against", url, policy)
	if code != 1 {
		t.Fatalf("after deleting %s: got exit %d, want 1:\n%s", unblock, code, out)
	}
	for _, want := range []string{"assertFalse dataset:claims#read@user:ben\n    expected: denied\n    got:      allowed", "+ [user:ben] is <team:ml#member>"} {
		if !strings.Contains(out, want) {
			t.Errorf("got\n%s\nwant it to contain %q", out, want)
		}
	}

	// A server that refuses the token: the run fails, it is not malformed.
	code, _, errOut = run(t, "validate", "--against", url, "--token", "wrong", policy)
	if code != 1 || errOut == "" {
		t.Errorf("bad token: got exit %d, %q; want 1 and the server's error", code, errOut)
	}
}
