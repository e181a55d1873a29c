package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/trellis-authz/trellis/server"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/trellis-authz/trellis/api"
)

// devOptions are the flags of `trellis dev`.
type devOptions struct {
	Nodes             int
	Dir               string
	Host              string
	HTTPPort          int
	RaftPort          int
	GRPCPort          int // SpiceDB's gRPC API of node 1; 0: off
	SchemaFile        string
	RelationshipsFile string
	InsecureNoAuth    bool
	LogLevel          string
}

func newDevCommand() *cobra.Command {
	o := devOptions{Nodes: 3, Dir: "./trellis-dev", Host: "127.0.0.1", HTTPPort: 8181, RaftPort: 7181, GRPCPort: 50051,
		SchemaFile: "examples/ai-governance/schema.zed", RelationshipsFile: "examples/ai-governance/relationships.txt", LogLevel: "warn"}
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run a local cluster (3 nodes by default) in this one process, for trying Trellis without Docker",
		Long: `Run a local Trellis cluster in one process: each node has its own API port,
raft port and data directory under --dir, and the nodes find each other with a
static peer list. The example schema and relationships are loaded on first
start. Stop with Ctrl-C; run again to restart on the same data, or delete --dir
to start over.

The nodes share one token file (DIR/tokens.yaml); on first start it is created
with one admin token, printed once.`,
		Example: `  trellis dev --nodes 3
  trellis dev --nodes 3 --insecure-no-auth --http-port 9001 --raft-port 9101 --grpc-port 9201`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			nodes, err := startDev(ctx, o, cmd.OutOrStdout(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			<-ctx.Done()
			fmt.Fprintln(cmd.ErrOrStderr(), "stopping the local cluster")
			return closeNodes(nodes)
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Nodes, "nodes", o.Nodes, "how many nodes (1 to 7; 3 tolerates one failure)")
	f.StringVar(&o.Dir, "dir", o.Dir, "directory for the nodes' data (DIR/n1, DIR/n2, ...) and the shared token file")
	f.StringVar(&o.Host, "host", o.Host, "loopback address the nodes listen on")
	f.IntVar(&o.HTTPPort, "http-port", o.HTTPPort, "API port of node 1; node i listens on this port + i-1")
	f.IntVar(&o.RaftPort, "raft-port", o.RaftPort, "raft port of node 1; node i listens on this port + i-1")
	f.IntVar(&o.GRPCPort, "grpc-port", o.GRPCPort, "SpiceDB gRPC API port of node 1 (zed, authzed clients); node i listens on this port + i-1; 0: off")
	f.StringVar(&o.SchemaFile, "schema", o.SchemaFile, "schema file loaded at start (\"\" for none)")
	f.StringVar(&o.RelationshipsFile, "relationships", o.RelationshipsFile, "relationships loaded into a new cluster (\"\" for none)")
	f.BoolVar(&o.InsecureNoAuth, "insecure-no-auth", false, "no tokens: every caller is admin")
	f.StringVar(&o.LogLevel, "log-level", o.LogLevel, "debug, info, warn or error")
	return cmd
}

// devNodeOptions derives each node's options from the dev flags.
func devNodeOptions(o devOptions, log *slog.Logger, out io.Writer) ([]server.Config, error) {
	if o.Nodes < 1 || o.Nodes > 7 {
		return nil, usageError{fmt.Errorf("--nodes %d: use 1 to 7", o.Nodes)}
	}
	if ip := net.ParseIP(o.Host); ip == nil || !ip.IsLoopback() {
		return nil, usageError{fmt.Errorf("--host %q: use a loopback address such as 127.0.0.1 (the dev cluster is for this machine only)", o.Host)}
	}
	type portFlag struct {
		name string
		port int
	}
	ports := []portFlag{{"--http-port", o.HTTPPort}, {"--raft-port", o.RaftPort}}
	if o.GRPCPort != 0 {
		ports = append(ports, portFlag{"--grpc-port", o.GRPCPort})
	}
	for i, p := range ports {
		if p.port < 1 || p.port+o.Nodes-1 > 65535 {
			return nil, usageError{fmt.Errorf("%s %d: the ports %d..%d must lie in 1..65535", p.name, p.port, p.port, p.port+o.Nodes-1)}
		}
		for _, q := range ports[:i] {
			if p.port < q.port+o.Nodes && q.port < p.port+o.Nodes {
				return nil, usageError{fmt.Errorf("%s %d and %s %d overlap for %d nodes; move one", q.name, q.port, p.name, p.port, o.Nodes)}
			}
		}
	}
	for _, f := range []struct{ flag, path string }{{"--schema", o.SchemaFile}, {"--relationships", o.RelationshipsFile}} {
		if f.path == "" {
			continue
		}
		if _, err := os.Stat(f.path); err != nil {
			return nil, usageError{fmt.Errorf("%s %s: %v (run from the repository root for the examples, or pass another file, or \"\")", f.flag, f.path, err)}
		}
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, err
	}
	tokens := ""
	if !o.InsecureNoAuth {
		tokens = filepath.Join(o.Dir, "tokens.yaml")
		if _, err := os.Stat(tokens); errors.Is(err, os.ErrNotExist) {
			tok, hash := api.GenerateToken()
			if err := api.WriteTokenFile(tokens, []api.TokenEntry{{Principal: "admin", Role: api.RoleAdmin, SHA256: hash}}); err != nil {
				return nil, err
			}
			fmt.Fprintf(out, "Generated an admin token for the dev cluster; it is shown only this once (its hash is in %s):\n\n    %s\n\nexport TRELLIS_TOKEN=%s\n\n", tokens, tok, tok)
		}
	}
	var peers []string
	var opts []server.Config
	for i := range o.Nodes {
		n := server.DefaultConfig()
		n.NodeID = "n" + strconv.Itoa(i+1)
		n.HTTPAddr = net.JoinHostPort(o.Host, strconv.Itoa(o.HTTPPort+i))
		n.RaftAddr = net.JoinHostPort(o.Host, strconv.Itoa(o.RaftPort+i))
		if o.GRPCPort != 0 {
			n.GRPCAddr = net.JoinHostPort(o.Host, strconv.Itoa(o.GRPCPort+i))
		}
		n.DataDir = filepath.Join(o.Dir, n.NodeID)
		n.SchemaFile = o.SchemaFile
		n.RelationshipsFile = o.RelationshipsFile
		n.TokenFile = tokens
		n.InsecureNoAuth = o.InsecureNoAuth
		n.Log = log.With("node", n.NodeID)
		n.Out = out
		opts = append(opts, n)
		peers = append(peers, fmt.Sprintf("%s=%s=http://%s", n.NodeID, n.RaftAddr, n.HTTPAddr))
	}
	for i := range opts {
		opts[i].Peers = strings.Join(peers, ",")
	}
	return opts, nil
}

// startDev starts every node of a dev cluster at once (each start waits for a
// leader, which needs a quorum) and prints their URLs.
func startDev(ctx context.Context, o devOptions, out, errOut io.Writer) ([]*server.Node, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.LogLevel)); err != nil {
		return nil, usageError{fmt.Errorf("--log-level %q: use debug, info, warn or error", o.LogLevel)}
	}
	log := slog.New(slog.NewTextHandler(errOut, &slog.HandlerOptions{Level: level}))
	opts, err := devNodeOptions(o, log, out)
	if err != nil {
		return nil, err
	}
	nodes := make([]*server.Node, len(opts))
	errs := make([]error, len(opts))
	var wg sync.WaitGroup
	for i := range opts {
		wg.Go(func() {
			nodes[i], errs[i] = server.Open(ctx, opts[i])
			if errs[i] != nil {
				errs[i] = fmt.Errorf("node %s: %w", opts[i].NodeID, errs[i])
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		var started []*server.Node
		for _, n := range nodes {
			if n != nil {
				started = append(started, n)
			}
		}
		return nil, errors.Join(err, closeNodes(started))
	}
	fmt.Fprintf(out, "Trellis dev cluster: %d nodes, data in %s\n", len(nodes), o.Dir)
	for _, n := range nodes {
		role := "follower"
		if n.Consensus().IsLeader() {
			role = "leader"
		}
		grpcAddr := ""
		if a := n.GRPCAddr(); a != "" {
			grpcAddr = ", SpiceDB gRPC " + a
		}
		fmt.Fprintf(out, "  %s  %s  (raft %s%s, %s)\n", n.Config().NodeID, n.URL(), n.Config().RaftAddr, grpcAddr, role)
	}
	fmt.Fprintf(out, "Any node takes writes (followers forward them to the leader). Try:\n  trellis cluster status --endpoint %s\nCtrl-C stops the cluster.\n", nodes[0].URL())
	return nodes, nil
}

// closeNodes closes every node, reporting all failures.
func closeNodes(nodes []*server.Node) error {
	var wg sync.WaitGroup
	errs := make([]error, len(nodes))
	for i, n := range nodes {
		wg.Go(func() { errs[i] = n.Close() })
	}
	wg.Wait()
	return errors.Join(errs...)
}
