package client_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/trellis-authz/trellis/api"
	"github.com/trellis-authz/trellis/audit"
	"github.com/trellis-authz/trellis/client"
	"github.com/trellis-authz/trellis/consensus"
	"github.com/trellis-authz/trellis/engine"
	"github.com/trellis-authz/trellis/schema"
	"github.com/trellis-authz/trellis/schema/compile"
	"github.com/trellis-authz/trellis/storage"
)

// auditServer is startServer with the audit log wired into raft and the
// audit and watch routes registered, as `trellis serve` does.
type auditServer struct {
	*testServer
	pub ed25519.PublicKey // the checkpoint key an auditor pins
}

func startAuditServer() *auditServer {
	dir, err := os.MkdirTemp("", "trellis-client-audit")
	must(err)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	sc := storage.DefaultConfig(filepath.Join(dir, "badger"))
	sc.SyncWrites = false
	sc.Logger = quiet
	st, err := storage.Open(sc)
	must(err)
	log, err := audit.Open(consensus.AuditStore(st))
	must(err)
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	must(err)
	signer, err := audit.NewSigner("example-node", key)
	must(err)
	cc := consensus.DefaultConfig()
	cc.NodeID = "n1"
	cc.DataDir = filepath.Join(dir, "raft")
	cc.RaftAddr = "127.0.0.1:0"
	cc.Bootstrap = true
	cc.Store = st
	cc.Audit = consensus.NewAuditLog(log)
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
	must(err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	must(node.WaitForLeader(ctx))
	eng, err := engine.New(engine.DefaultConfig())
	must(err)
	admin, adminHash := api.GenerateToken()
	reader, readerHash := api.GenerateToken()
	cfg := api.DefaultConfig()
	cfg.ClusterID = "client-test"
	cfg.Logger = quiet
	cfg.Auth = api.AuthConfig{Mode: api.AuthTokens, Tokens: []api.TokenEntry{
		{Principal: "admin", Role: api.RoleAdmin, SHA256: adminHash},
		{Principal: "reader", Role: api.RoleReader, SHA256: readerHash},
	}}
	srv, err := api.New(cfg, api.Deps{
		Engine:    eng,
		Revisions: node,
		Snapshots: api.SnapshotsOf[*storage.Snapshot](st),
		Writer:    api.ConsensusWriter(node),
		Stats:     api.NodeStatsFunc(node),
	})
	must(err)
	api.RegisterAudit(srv, log, signer)
	api.RegisterWatch(srv, st)
	hs := httptest.NewServer(srv.Handler())
	return &auditServer{testServer: &testServer{URL: hs.URL, Admin: admin, Reader: reader, srv: srv, close: func() {
		hs.CloseClientConnections()
		hs.Close()
		node.Close()
		st.Close()
		os.RemoveAll(dir)
	}}, pub: pub}
}

// A watcher that resumes from its last token sees every later change once.
func ExampleClient_Watch() {
	srv := startAuditServer()
	defer srv.Close()
	ctx := context.Background()
	c := client.New(srv.URL, client.WithToken(srv.Admin))
	s, err := c.WriteSchema(ctx, api.WriteSchemaRequest{Schema: exampleSchema})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, rel := range []string{"dataset:a#reader@user:ana", "dataset:b#reader@user:ben", "team:ml#member@user:cy"} {
		if _, err := c.WriteRelationships(ctx, api.WriteRelationshipsRequest{Updates: []api.Update{{Op: "touch", Relationship: rel}}}); err != nil {
			fmt.Println(err)
			return
		}
	}
	// Read one dataset change, disconnect, resume from the last token.
	w, err := c.Watch(ctx, client.WatchOptions{Since: s.WrittenAt, Types: []string{"dataset"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	ev, _ := w.Next()
	fmt.Println(ev.Changes[0].Op, ev.Changes[0].Relationship)
	w.Close()
	w, err = c.Watch(ctx, client.WatchOptions{Since: w.LastID(), Types: []string{"dataset"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer w.Close()
	ev, _ = w.Next()
	fmt.Println(ev.Changes[0].Op, ev.Changes[0].Relationship)
	// Output:
	// touch dataset:a#reader@user:ana
	// touch dataset:b#reader@user:ben
}

// An auditor checks a checkpoint's signature with the pinned key, then that
// an older checkpoint is a prefix of it.
func ExampleClient_AuditConsistencyProof() {
	srv := startAuditServer()
	defer srv.Close()
	ctx := context.Background()
	c := client.New(srv.URL, client.WithToken(srv.Admin))
	if _, err := c.WriteSchema(ctx, api.WriteSchemaRequest{Schema: exampleSchema, Reason: "initial schema"}); err != nil {
		fmt.Println(err)
		return
	}
	old, err := c.AuditCheckpoint(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := c.WriteRelationships(ctx, api.WriteRelationshipsRequest{
		Updates: []api.Update{{Op: "touch", Relationship: "dataset:a#reader@user:ana"}}, Reason: "JIRA-7"}); err != nil {
		fmt.Println(err)
		return
	}
	cur, err := c.AuditCheckpoint(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("signature:", cur.Checkpoint.Verify(srv.pub))
	p, err := c.AuditConsistencyProof(ctx, old.Checkpoint.Size, cur.Checkpoint.Size)
	if err != nil {
		fmt.Println(err)
		return
	}
	err = proof.VerifyConsistency(rfc6962.DefaultHasher, old.Checkpoint.Size, cur.Checkpoint.Size, p.Proof, old.Checkpoint.Root, cur.Checkpoint.Root)
	fmt.Printf("size %d -> %d consistent: %v\n", old.Checkpoint.Size, cur.Checkpoint.Size, err == nil)
	page, err := c.AuditEntries(ctx, client.AuditEntriesRequest{Kind: audit.KindWrite})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(page.Entries[0].Principal, page.Entries[0].Reason, page.Entries[0].ChangeCount)
	// Output:
	// signature: <nil>
	// size 1 -> 2 consistent: true
	// admin JIRA-7 1
}
