package client_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"github.com/trellis-authz/trellis/service"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/trellis-authz/trellis/api"
	"github.com/trellis-authz/trellis/audit"
	"github.com/trellis-authz/trellis/consensus"
	"github.com/trellis-authz/trellis/engine"
	"github.com/trellis-authz/trellis/schema"
	"github.com/trellis-authz/trellis/schema/compile"
	"github.com/trellis-authz/trellis/storage"
)

// testServer is a real single-node Trellis behind httptest.
type testServer struct {
	URL    string
	Admin  string // an admin bearer token
	Reader string // a reader bearer token
	srv    *api.Server
	pub    ed25519.PublicKey // the audit checkpoint key an auditor pins (startAuditServer)
	close  func()
}

func (s *testServer) Close() { s.close() }

// startServer starts Badger in a temp dir, a one-voter raft node on loopback,
// the engine and the API. It panics on failure (Examples have no *testing.T).
func startServer() *testServer { return startServerWith(false) }

// startAuditServer is startServer with the audit log wired into raft and the
// audit and watch routes registered, as `trellis serve` does.
func startAuditServer() *testServer { return startServerWith(true) }

func startServerWith(withAudit bool) *testServer {
	dir, err := os.MkdirTemp("", "trellis-client-test")
	must(err)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	sc := storage.DefaultConfig(filepath.Join(dir, "badger"))
	sc.SyncWrites = false
	sc.Logger = quiet
	st, err := storage.Open(sc)
	must(err)
	var (
		log    *audit.Log
		signer *audit.Signer
		pub    ed25519.PublicKey
	)
	if withAudit {
		log, err = audit.Open(consensus.AuditStore(st))
		must(err)
		var key ed25519.PrivateKey
		pub, key, err = ed25519.GenerateKey(rand.Reader)
		must(err)
		signer, err = audit.NewSigner("example-node", key)
		must(err)
	}
	cc := consensus.DefaultConfig()
	cc.NodeID = "n1"
	cc.DataDir = filepath.Join(dir, "raft")
	cc.RaftAddr = "127.0.0.1:0"
	cc.Bootstrap = true
	cc.Store = st
	if withAudit {
		cc.Audit = consensus.NewAuditLog(log)
	}
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
	// The decision log, as trellis serve --decision-log keeps it (in memory here).
	decisions, err := audit.NewDecisionLog(io.Discard, audit.DecisionHead{}, audit.DefaultDecisionConfig("n1"))
	must(err)
	svc, err := service.New(cfg.Config, service.Deps{
		Engine:    eng,
		Revisions: node,
		Snapshots: service.SnapshotsOf[*storage.Snapshot](st),
		Writer:    service.ConsensusWriter(node),
		Decisions: decisions,
	})
	if err != nil {
		panic(err)
	}
	srv, err := api.New(cfg, svc, api.NodeStatsFunc(node))
	must(err)
	api.RegisterDecisions(srv, service.NewDecisionRecords(decisions.Feed(), "n1"))
	if withAudit {
		api.RegisterAudit(srv, service.NewAudit(log, signer))
		api.RegisterWatch(srv, service.NewWatch(st, srv.Services().Reads))
	}
	hs := httptest.NewServer(srv.Handler())
	return &testServer{URL: hs.URL, Admin: admin, Reader: reader, srv: srv, pub: pub, close: func() {
		hs.CloseClientConnections() // watch streams stay open otherwise
		hs.Close()
		node.Close()
		st.Close()
		os.RemoveAll(dir)
	}}
}

func must(err error) {
	if err != nil {
		panic(fmt.Sprintf("starting the test server: %v", err))
	}
}

const exampleSchema = `definition user {}

definition team {
  relation member: user | team#member
}

definition dataset {
  relation reader: user | team#member
  relation blocked: user
  permission read = reader - blocked
}
`
