package api

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// TestOpenAPIGolden pins the OpenAPI document, so that a change to a request or
// response type shows in review as a diff of testdata/openapi.golden.json.
// Regenerate with: go test ./api -run TestOpenAPIGolden -update
func TestOpenAPIGolden(t *testing.T) {
	cfg := DefaultConfig()
	cfg.ClusterID = "golden"
	cfg.Auth = AuthConfig{Mode: AuthInsecureNoAuth}
	srv, err := newTestServer(cfg, testDeps{Engine: &fakeEngine{}, Revisions: &fakeRevisions{}, Snapshots: fakeSnapshots{}, Writer: fakeWriter{}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.MarshalIndent(srv.OpenAPI(), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", "openapi.golden.json")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("the OpenAPI document changed; review the diff and run go test ./api -run TestOpenAPIGolden -update")
	}
}
