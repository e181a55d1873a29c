package driver

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trellis-authz/trellis/api"
	"github.com/trellis-authz/trellis/bench/workload"
	"github.com/trellis-authz/trellis/server"
	"github.com/trellis-authz/trellis/test/testnet"
)

// grpcNode is a real node (server.Open: Badger on disk, raft, REST and
// SpiceDB's gRPC API on loopback) holding the tiny workload, loaded with
// Setup, and an admin token.
type grpcNode struct {
	node  *server.Node
	token string
	qs    []workload.Query
	pool  []string
}

func startGRPCNode(t *testing.T) *grpcNode {
	t.Helper()
	dir := t.TempDir()
	token, hash := api.GenerateToken()
	tokens := filepath.Join(dir, "tokens.yaml")
	if err := api.WriteTokenFile(tokens, []api.TokenEntry{{Principal: "bench-admin", Role: api.RoleAdmin, SHA256: hash}}); err != nil {
		t.Fatal(err)
	}
	cfg := server.DefaultConfig()
	cfg.DataDir, cfg.TokenFile = filepath.Join(dir, "data"), tokens
	cfg.HTTPAddr, cfg.RaftAddr, cfg.GRPCAddr = testnet.FreeAddr(t), testnet.FreeAddr(t), testnet.FreeAddr(t)
	cfg.Log, cfg.Out = slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := server.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close() })
	if _, err := n.Consensus().WaitClusterUUID(ctx); err != nil {
		t.Fatal(err)
	}
	wl := filepath.Join(dir, "workload")
	preset, err := workload.Preset("tiny")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := workload.GenerateDir(ctx, preset, wl); err != nil {
		t.Fatal(err)
	}
	if _, err := Setup(ctx, n.URL(), token, wl); err != nil {
		t.Fatalf("Setup: %v", err)
	}
	g := &grpcNode{node: n, token: token}
	if g.qs, err = LoadQueries(filepath.Join(wl, workload.QueriesFile)); err != nil {
		t.Fatal(err)
	}
	if g.pool, err = LoadLines(filepath.Join(wl, workload.WritesFile)); err != nil {
		t.Fatal(err)
	}
	return g
}

func (g *grpcNode) config(qs []workload.Query) Config {
	c := testConfig("http://127.0.0.1:1", qs) // the REST endpoint is unused: nothing listens there
	c.Transport, c.GRPCEndpoint, c.Token = TransportGRPC, g.node.GRPCAddr(), g.token
	return c
}

// TestGRPCTransport replays the tiny workload over SpiceDB's gRPC API on a
// real node and checks every answer against the generator's.
func TestGRPCTransport(t *testing.T) {
	g := startGRPCNode(t)
	biggest := 0
	for _, q := range g.qs {
		biggest = max(biggest, len(q.ExpectResources))
	}
	if biggest < 2 {
		t.Fatalf("the tiny workload's largest lookup has %d results; want at least 2 to page", biggest)
	}

	for _, tc := range []struct {
		name        string
		consistency string
		lookupLimit int
		conns       int
	}{
		{"none sent, one connection", "", 1000, 1},
		{"minimize_latency, lookups paged by 1", "minimize_latency", 1, 1},
		{"fully_consistent, 3 connections, paged by 2", "fully_consistent", 2, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := g.config(g.qs)
			cfg.Consistency, cfg.LookupLimit, cfg.GRPCConns = tc.consistency, tc.lookupLimit, tc.conns
			cfg.MaxRequests = int64(2 * len(g.qs))
			rep := run(t, cfg)
			if rep.Queries != cfg.MaxRequests || rep.Answered != cfg.MaxRequests {
				t.Errorf("got %d queries, %d answered, want %d of each", rep.Queries, rep.Answered, cfg.MaxRequests)
			}
			if rep.Mismatches != 0 || rep.ErrorCount != 0 {
				t.Errorf("got %d mismatches (first: %+v) and errors %v (first: %+v), want none", rep.Mismatches, first(rep.MismatchExamples), rep.Errors, first(rep.ErrorExamples))
			}
			if rep.Latency.Count != rep.Answered || rep.Latency.P50 <= 0 || rep.Latency.P50 > rep.Latency.Max {
				t.Errorf("latency %+v: want count %d and 0 < p50 <= max", rep.Latency, rep.Answered)
			}
			checkClasses(t, rep, g.qs, 2)
			if rep.Config.Transport != TransportGRPC {
				t.Errorf("report's transport %q, want %q", rep.Config.Transport, TransportGRPC)
			}
		})
	}

	t.Run("wrong answers are counted", func(t *testing.T) {
		qs := append([]workload.Query(nil), g.qs...)
		flipped := map[string]int64{}
		for i := range qs {
			q := &qs[i]
			switch {
			case q.Class == workload.ClassDatasetRead:
				q.Expect = map[string]string{"allowed": "denied", "denied": "allowed", "conditional": "allowed"}[q.Expect]
				flipped[q.Class]++
			case q.IsLookup() && len(q.ExpectResources) > 0:
				q.ExpectResources = q.ExpectResources[1:]
				flipped[q.Class]++
			}
		}
		cfg := g.config(qs)
		cfg.MaxRequests = int64(len(qs))
		rep := run(t, cfg)
		var want int64
		for class, n := range flipped {
			want += n
			if got := rep.Classes[class].Mismatches; got != n {
				t.Errorf("class %s: got %d mismatches, want %d", class, got, n)
			}
		}
		if want == 0 || rep.Mismatches != want || len(rep.MismatchExamples) == 0 {
			t.Errorf("got %d mismatches (%d examples), want %d", rep.Mismatches, len(rep.MismatchExamples), want)
		}
		if rep.ErrorCount != 0 {
			t.Errorf("errors %v: want none", rep.Errors)
		}
	})

	t.Run("errors are counted by kind", func(t *testing.T) {
		cfg := g.config(g.qs)
		cfg.Token = "not-a-token"
		cfg.MaxRequests = 10
		rep := run(t, cfg)
		if got := rep.Errors["grpc_Unauthenticated:unauthenticated"]; got != 10 || rep.Answered != 0 {
			t.Errorf("wrong token: got %d answered, errors %v; want 10 grpc_Unauthenticated:unauthenticated", rep.Answered, rep.Errors)
		}
		if err := rep.Check(); !errors.Is(err, ErrRunCheck) {
			t.Errorf("Check: got %v, want ErrRunCheck", err)
		}
		cfg = g.config(g.qs)
		cfg.GRPCEndpoint = testnet.FreeAddr(t) // nobody listens
		cfg.MaxRequests = 10
		if rep := run(t, cfg); rep.Errors["transport"] != 10 {
			t.Errorf("nobody listening: got errors %v, want 10 transport", rep.Errors)
		}
	})

	t.Run("write mix", func(t *testing.T) {
		cfg := g.config(g.qs)
		cfg.Clients = 2
		cfg.Duration = time.Second
		cfg.WriteRate = 50
		cfg.WritePool = g.pool[:5]
		rep := run(t, cfg)
		w := rep.Writes
		if w == nil {
			t.Fatal("no write report")
		}
		if w.OK == 0 || w.OK != w.Attempted || len(w.Errors) != 0 {
			t.Errorf("writes: %d ok of %d, errors %v; want some, all ok", w.OK, w.Attempted, w.Errors)
		}
		if rep.Answered == 0 || rep.Mismatches != 0 || rep.ErrorCount != 0 {
			t.Errorf("reads during writes: %d answered, %d mismatches, errors %v; want some, none, none", rep.Answered, rep.Mismatches, rep.Errors)
		}
	})
}

func TestGRPCBadWritePool(t *testing.T) {
	qs, _ := tinyWorkload(t)
	cfg := testConfig("http://127.0.0.1:1", qs)
	cfg.Transport, cfg.GRPCEndpoint = TransportGRPC, "127.0.0.1:1"
	cfg.WriteRate, cfg.WritePool = 1, []string{"dataset:d#reader@user:u", "not a relationship"}
	_, err := Run(context.Background(), cfg)
	if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "write pool line 2") {
		t.Errorf("got %v, want ErrInvalidConfig naming write pool line 2", err)
	}
}

// checkClasses compares the report's per-class answers with the query
// file's expectations, each query answered times times.
func checkClasses(t *testing.T, rep Report, qs []workload.Query, times int64) {
	t.Helper()
	want := map[string]*ClassReport{}
	for _, q := range qs {
		c := want[q.Class]
		if c == nil {
			c = &ClassReport{}
			want[q.Class] = c
		}
		c.Queries += times
		switch q.Expect {
		case "allowed":
			c.Allowed += times
		case "conditional":
			c.Conditional += times
		default:
			c.Denied += times
		}
	}
	for class, w := range want {
		g := rep.Classes[class]
		if g == nil {
			t.Errorf("class %s: missing from the report", class)
			continue
		}
		if g.Queries != w.Queries || g.Allowed != w.Allowed || g.Denied != w.Denied || g.Conditional != w.Conditional {
			t.Errorf("class %s: got %d queries %d/%d/%d allowed/denied/conditional, want %d %d/%d/%d",
				class, g.Queries, g.Allowed, g.Denied, g.Conditional, w.Queries, w.Allowed, w.Denied, w.Conditional)
		}
		if g.AllowedShare != g.ExpectedAllowedShare {
			t.Errorf("class %s: allowed share %g, expected share %g; want equal for a correct server", class, g.AllowedShare, g.ExpectedAllowedShare)
		}
	}
}

// first returns the first example or none, for short failure messages.
func first(ms []Mismatch) []Mismatch { return ms[:min(1, len(ms))] }
