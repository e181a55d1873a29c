//go:build slow

// Package e2e runs the workload against a real single-node Trellis stack
// (Badger on disk, raft on loopback, the engine, the API over HTTP) and checks
// that the engine agrees with the generator's expected answers. It is behind
// the build tag "slow" because it wires packages owned elsewhere:
//
//	go test -tags slow ./bench/e2e -v                       # tiny preset, acyclic and cyclic
//	E2E_PRESET=default go test -tags slow ./bench/e2e -v    # ~100k relationships, ~30 s
package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/trellis-authz/trellis/service"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/trellis-authz/trellis/api"
	"github.com/trellis-authz/trellis/bench/driver"
	"github.com/trellis-authz/trellis/bench/workload"
	"github.com/trellis-authz/trellis/consensus"
	"github.com/trellis-authz/trellis/engine"
	"github.com/trellis-authz/trellis/schema"
	"github.com/trellis-authz/trellis/schema/compile"
	"github.com/trellis-authz/trellis/storage"
)

func compileForNode(text string) (*schema.Schema, error) {
	s, errs := compile.CompileText("schema.zed", text)
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return s, nil
}

func TestE2E(t *testing.T) {
	for _, cyclic := range []bool{false, true} {
		t.Run(fmt.Sprintf("cyclic=%v", cyclic), func(t *testing.T) { runE2E(t, cyclic) })
	}
}

func runE2E(t *testing.T, cyclic bool) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir := t.TempDir()
	sc := storage.DefaultConfig(filepath.Join(dir, "badger"))
	sc.SyncWrites = false
	sc.Logger = log
	st, err := storage.Open(sc)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cc := consensus.DefaultConfig()
	cc.NodeID = "n1"
	cc.DataDir = filepath.Join(dir, "raft")
	cc.RaftAddr = "127.0.0.1:0"
	cc.Bootstrap = true
	cc.Store = st
	cc.Compile = compileForNode
	cc.Logger = log
	cc.HeartbeatTimeout = 200 * time.Millisecond
	cc.ElectionTimeout = 200 * time.Millisecond
	cc.LeaderLeaseTimeout = 100 * time.Millisecond
	node, err := consensus.Open(cc)
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := node.WaitForLeader(ctx); err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	stats := api.NodeStatsFunc(node)
	deps := service.Deps{Engine: eng, Revisions: node, Snapshots: service.SnapshotsOf[*storage.Snapshot](st),
		Writer: service.ConsensusWriter(node)}
	cfg := api.DefaultConfig()
	cfg.ClusterID = "bench"
	cfg.Logger = log
	cfg.Auth = api.AuthConfig{Mode: api.AuthInsecureNoAuth}
	svc, err := service.New(cfg.Config, deps)
	if err != nil {
		panic(err)
	}
	srv, err := api.New(cfg, svc, stats)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()

	preset := os.Getenv("E2E_PRESET")
	if preset == "" {
		preset = "tiny"
	}
	wc, _ := workload.Preset(preset)
	wc.Cyclic = cyclic
	wdir := filepath.Join(dir, "wl")
	if _, err := workload.GenerateDir(context.Background(), wc, wdir); err != nil {
		t.Fatal(err)
	}
	res, err := driver.Setup(context.Background(), hs.URL, "", wdir)
	if err != nil {
		t.Fatalf("setup: %v", err)
	}
	t.Logf("setup %+v", res)
	dc := driver.DefaultConfig()
	dc.Endpoint = hs.URL
	dc.Clients = 4
	dc.Queries, _ = driver.LoadQueries(filepath.Join(wdir, workload.QueriesFile))
	// No request cap: the run lasts Duration, so the write mix (20/s) has
	// time for its writes however fast the checks are answered.
	dc.Duration = 3 * time.Second
	dc.WritePool, _ = driver.LoadLines(filepath.Join(wdir, workload.WritesFile))
	dc.WriteRate = 20
	rep, err := driver.Run(context.Background(), dc)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.MarshalIndent(rep, "", "  ")
	t.Logf("%s", b)
	if rep.Mismatches != 0 || rep.Answered == 0 {
		t.Errorf("%d answered, %d mismatches: %+v", rep.Answered, rep.Mismatches, rep.MismatchExamples)
	}
	for kind, n := range rep.Errors {
		// The engine reports depth_exceeded for some denied checks through
		// team cycles (as SpiceDB does); anything else is a failure.
		if cyclic && kind == "http_400:depth_exceeded" {
			t.Logf("cyclic teams: %d checks answered depth_exceeded (expected %s)", n, "denied")
			continue
		}
		t.Errorf("%d errors of kind %s: %+v", n, kind, rep.ErrorExamples)
	}
	if rep.Writes == nil || rep.Writes.OK == 0 || len(rep.Writes.Errors) > 0 {
		t.Errorf("write mix: %+v", rep.Writes)
	}
}
