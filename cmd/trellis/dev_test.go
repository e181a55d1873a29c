package main

import (
	"bytes"
	"fmt"
	"github.com/trellis-authz/trellis/wire"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// freeRun finds n consecutive free loopback ports and returns the first.
func freeRun(t *testing.T, n int) int {
	t.Helper()
	for base := 21000 + (int(t.Name()[0])%50)*100; base < 60000; base += 37 {
		ok := true
		for i := range n {
			ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", base+i))
			if err != nil {
				ok = false
				break
			}
			ln.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatal("no run of free ports")
	return 0
}

func TestDevOptionsRejectBadFlags(t *testing.T) {
	good := devOptions{Nodes: 3, Dir: t.TempDir(), Host: "127.0.0.1", HTTPPort: 8181, RaftPort: 7181, GRPCPort: 50051, LogLevel: "warn"}
	tests := []struct {
		name string
		edit func(*devOptions)
		want string
	}{
		{"zero nodes", func(o *devOptions) { o.Nodes = 0 }, "--nodes 0"},
		{"too many nodes", func(o *devOptions) { o.Nodes = 8 }, "--nodes 8"},
		{"not loopback", func(o *devOptions) { o.Host = "0.0.0.0" }, "loopback"},
		{"overlapping ports", func(o *devOptions) { o.RaftPort = 8182 }, "overlap"},
		{"port out of range", func(o *devOptions) { o.HTTPPort = 65534 }, "65535"},
		{"gRPC ports overlap raft", func(o *devOptions) { o.GRPCPort = 7183 }, "--raft-port 7181 and --grpc-port 7183 overlap"},
		{"gRPC port out of range", func(o *devOptions) { o.GRPCPort = 65534 }, "--grpc-port 65534"},
		{"missing schema", func(o *devOptions) { o.SchemaFile = "nope.zed" }, "--schema nope.zed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := good
			tc.edit(&o)
			_, err := devNodeOptions(o, slog.New(slog.DiscardHandler), io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
	opts, err := devNodeOptions(good, slog.New(slog.DiscardHandler), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(opts) != 3 || opts[2].HTTPAddr != "127.0.0.1:8183" || opts[2].RaftAddr != "127.0.0.1:7183" || opts[2].GRPCAddr != "127.0.0.1:50053" || opts[0].Peers != opts[2].Peers {
		t.Fatalf("got %+v, want 3 nodes on consecutive ports with one peer list", opts)
	}
}

// TestDevCluster starts `trellis dev --nodes 3` with the example schema and
// relationships and checks an example permission on every node.
func TestDevCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three nodes; skipped with -short")
	}
	examples := filepath.Join("..", "..", "examples", "ai-governance")
	base := freeRun(t, 9)
	o := devOptions{Nodes: 3, Dir: t.TempDir(), Host: "127.0.0.1", HTTPPort: base, RaftPort: base + 3, GRPCPort: base + 6, LogLevel: "error",
		SchemaFile: filepath.Join(examples, "schema.zed"), RelationshipsFile: filepath.Join(examples, "relationships.txt")}
	var out bytes.Buffer
	nodes, err := startDev(t.Context(), o, &out, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeNodes(nodes) })
	text := out.String()
	tok := ""
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(line, "export TRELLIS_TOKEN="); ok {
			tok = v
		}
	}
	if tok == "" {
		t.Fatalf("no admin token printed:\n%s", text)
	}
	cl := &http.Client{}
	for i, n := range nodes {
		if !strings.Contains(text, n.URL()) {
			t.Errorf("output does not list node %d's URL %s:\n%s", i+1, n.URL(), text)
		}
		var res wire.CheckResponse
		status, body, err := httpJSON(cl, n.URL(), http.MethodPost, "/v1/check", tok,
			wire.CheckRequest{Resource: "organization:acme", Permission: "administer", Subject: "user:olivia",
				Consistency: &wire.Consistency{Mode: wire.FullyConsistent}}, &res, nil)
		if err != nil || status != http.StatusOK || res.Result != "allowed" {
			t.Errorf("example check on node %d: got %d %s %v, want allowed", i+1, status, body, err)
		}
	}
	checkDevGRPC(t, nodes, tok)
}
