package driver

import (
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/trellis-authz/trellis/bench/workload"
)

// TestSmoke drives a real Trellis node for CI. It is skipped unless
// TRELLIS_BENCH_ENDPOINT names the node (e.g. http://127.0.0.1:8080):
//
//	TRELLIS_BENCH_ENDPOINT=http://127.0.0.1:8080 TRELLIS_TOKEN=... \
//	  go test ./bench/driver -run TestSmoke -v
//
// Without TRELLIS_BENCH_DIR it generates the tiny workload, loads it with
// Setup (PUT /v1/schema, POST /v1/relationships/import) and replays it; with
// TRELLIS_BENCH_DIR it replays that directory, which must already be loaded.
// It runs 10 s (TRELLIS_BENCH_DURATION overrides; 3 s with -short) with 8
// clients and a 20/s write mix, and fails on any error or wrong answer.
func TestSmoke(t *testing.T) {
	endpoint := os.Getenv("TRELLIS_BENCH_ENDPOINT")
	if endpoint == "" {
		t.Skip("set TRELLIS_BENCH_ENDPOINT to a running node to run the smoke benchmark")
	}
	token := os.Getenv("TRELLIS_TOKEN")
	ctx := context.Background()
	dir := os.Getenv("TRELLIS_BENCH_DIR")
	if dir == "" {
		dir = t.TempDir()
		cfg, err := workload.Preset("tiny")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := workload.GenerateDir(ctx, cfg, dir); err != nil {
			t.Fatal(err)
		}
		res, err := Setup(ctx, endpoint, token, dir)
		if err != nil {
			t.Fatalf("Setup: %v", err)
		}
		t.Logf("setup: %+v", res)
	}
	cfg := DefaultConfig()
	cfg.Endpoint, cfg.Token = endpoint, token
	cfg.Clients = 8
	cfg.Duration = 10 * time.Second
	if testing.Short() {
		cfg.Duration = 3 * time.Second
	}
	if d, err := time.ParseDuration(os.Getenv("TRELLIS_BENCH_DURATION")); err == nil && d > 0 {
		cfg.Duration = d
	}
	var err error
	if cfg.Queries, err = LoadQueries(dir + "/" + workload.QueriesFile); err != nil {
		t.Fatal(err)
	}
	if cfg.WritePool, err = LoadLines(dir + "/" + workload.WritesFile); err != nil {
		t.Fatal(err)
	}
	cfg.WriteRate = 20
	rep, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.MarshalIndent(rep, "", "  ")
	t.Logf("report:\n%s", b)
	if err := rep.Check(); err != nil {
		t.Error(err)
	}
	if rep.Writes == nil || rep.Writes.OK == 0 || len(rep.Writes.Errors) > 0 {
		t.Errorf("write mix: %+v; want some writes and no errors", rep.Writes)
	}
}
