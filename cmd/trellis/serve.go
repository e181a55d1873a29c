package main

import (
	"context"
	"fmt"
	"github.com/trellis-authz/trellis/server"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// addNodeFlags binds the flags shared by serve (and documented in README).
func addNodeFlags(fs *pflag.FlagSet, o *server.Config) {
	fs.StringVar(&o.HTTPAddr, "http-addr", o.HTTPAddr, "host:port the REST API (and SpiceDB's HTTP gateway) listens on")
	fs.StringVar(&o.GRPCAddr, "grpc-addr", o.GRPCAddr, "host:port SpiceDB's gRPC API (authzed.api.v1) listens on, with the --tls-cert certificate when given (default: off)")
	fs.StringVar(&o.DataDir, "data-dir", o.DataDir, "directory for the store, the raft log and the token file")
	fs.StringVar(&o.SchemaFile, "schema", "", "schema file (*.zed) to write at start when it differs from the stored one")
	fs.StringVar(&o.RelationshipsFile, "relationships", "", "file of relationships, one per line, imported when the data directory is new")
	fs.StringVar(&o.TokenFile, "token-file", "", "bearer token file (YAML: principal, role, sha256); default DATA-DIR/tokens.yaml, created with one admin token on first start")
	fs.BoolVar(&o.InsecureNoAuth, "insecure-no-auth", false, "serve without authentication: every caller is admin (local play only)")
	fs.StringVar(&o.TLSCert, "tls-cert", "", "PEM certificate: serve HTTPS and encrypt raft traffic")
	fs.StringVar(&o.TLSKey, "tls-key", "", "PEM private key for --tls-cert")
	fs.StringVar(&o.TLSCA, "tls-ca", "", "PEM CA of the cluster's certificates: mutual TLS for raft, trusted for node-to-node HTTPS")
	fs.StringVar(&o.NodeID, "node-id", o.NodeID, "this node's stable, unique ID in the cluster")
	fs.StringVar(&o.RaftAddr, "raft-addr", o.RaftAddr, "host:port raft listens on")
	fs.StringVar(&o.AdvertiseAddr, "advertise-addr", "", "raft host:port other nodes dial (default --raft-addr)")
	fs.StringVar(&o.APIAdvertiseAddr, "api-advertise-addr", "", "URL other nodes use to reach this node's API (default http://--http-addr)")
	fs.StringVar(&o.Peers, "peers", "", "static cluster: every node's id=raftaddr=apiurl, comma separated, the same list on every node")
	fs.StringVar(&o.Join, "join", "", "API URL of a cluster member to join through (the leader adds this node as a voter)")
	fs.StringVar(&o.PeerConnectTo, "peer-connect-to", "", "reach peers at other addresses: peer-host:port=dial-host:port, comma separated; each raft or node-to-node HTTP connection to that peer address (as in --peers, the members' raft and API addresses) is dialed at the second one instead, e.g. a local sidecar, tunnel or proxy (TLS still checks the peer's host)")
	fs.StringVar(&o.JoinToken, "join-token", "", "admin token used by --join (default $TRELLIS_TOKEN)")
	fs.StringVar(&o.ClusterID, "cluster-id", o.ClusterID, "cluster name carried in consistency tokens; the same on every node")
	fs.Uint64Var(&o.GCWindow, "gc-window", o.GCWindow, "revisions of history kept for at_exact_snapshot reads and watch")
	fs.Int64Var(&o.BlockCacheMB, "block-cache-mb", o.BlockCacheMB, "Badger block cache in MiB (decompressed table blocks; the hot part of the data)")
	fs.Uint64Var(&o.SnapshotEvery, "raft-snapshot-threshold", o.SnapshotEvery, "raft log entries between snapshots (each snapshot streams the whole store)")
	fs.Uint64Var(&o.TrailingLogs, "raft-trailing-logs", o.TrailingLogs, "raft log entries kept after a snapshot, so slightly lagging followers catch up without one")
	fs.DurationVar(&o.Quantization, "quantization", o.Quantization, "minimize_latency reads share one revision (and cache entries) for this long; 0 reads the newest every time")
	fs.BoolVar(&o.NoCache, "no-cache", false, "turn the engine's check cache off: every check is evaluated in full (for measuring cold figures)")
	fs.IntVar(&o.MaxInFlightPerPrincipal, "max-inflight-per-principal", o.MaxInFlightPerPrincipal, "concurrent requests one principal (token) may have; 0: no bound (429 with Retry-After above it)")
	fs.Float64Var(&o.RatePerPrincipal, "rate-per-principal", o.RatePerPrincipal, "requests per second one principal may make; 0: no rate limit (429 with Retry-After above it)")
	fs.IntVar(&o.BurstPerPrincipal, "burst-per-principal", o.BurstPerPrincipal, "requests a principal may make at once above --rate-per-principal")
	addDecisionFlags(fs, &o.Decisions)
}

func newServeCommand() *cobra.Command {
	o := server.DefaultConfig()
	var logLevel, debugAddr, memLimit string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run a Trellis node (a single node by default; see --peers and --join for a cluster)",
		Long: `Run a Trellis node: the Badger store, raft (one voter unless --peers or --join
say otherwise) and the REST API.

On first start without --token-file or --insecure-no-auth, an admin token is
generated, printed once, and its hash kept in DATA-DIR/tokens.yaml.`,
		Example: `  trellis serve --insecure-no-auth --schema examples/ai-governance/schema.zed \
      --relationships examples/ai-governance/relationships.txt`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return usageError{fmt.Errorf("--log-level %q: use debug, info, warn or error", logLevel)}
			}
			o.Log = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
			o.Out = cmd.ErrOrStderr()
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if _, err := applyMemoryLimit(memLimit, o.Log); err != nil {
				return err
			}
			if debugAddr != "" {
				closeDebug, err := startDebugServer(debugAddr, o.Log)
				if err != nil {
					return fmt.Errorf("--debug-addr: %w", err)
				}
				defer closeDebug()
			}
			return serve(ctx, o)
		},
	}
	addNodeFlags(cmd.Flags(), &o)
	cmd.Flags().StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	cmd.Flags().StringVar(&memLimit, "memory-limit", "auto", "Go runtime soft memory limit: auto (75% of the cgroup's limit, if any, unless GOMEMLIMIT is set), off, or a size such as 1536MiB")
	cmd.Flags().StringVar(&debugAddr, "debug-addr", "", "serve Go's profiler (/debug/pprof/) on this operator-only address, e.g. 127.0.0.1:6060")
	return cmd
}

// serve runs one node until ctx ends or the HTTP server fails.
func serve(ctx context.Context, o server.Config) error {
	n, err := server.Open(ctx, o)
	if err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		o.Log.Info("shutting down")
	case err = <-n.Served():
	}
	if cerr := n.Close(); err == nil {
		err = cerr
	}
	return err
}
func addDecisionFlags(fs *pflag.FlagSet, o *server.DecisionConfig) {
	fs.StringVar(&o.File, "decision-log", o.File, "append-only file (created 0600) for this node's hash chain of check decisions; empty: no decision log")
	fs.Float64Var(&o.Sample, "decision-sample", o.Sample, "fraction of checks recorded in --decision-log, 0..1 (chosen by a keyed hash of the request id with a per-process secret, so callers cannot pick ids that escape it)")
	fs.DurationVar(&o.AnchorInterval, "decision-anchor-interval", o.AnchorInterval, "how often the decision chain's head is anchored in the replicated audit log (when it changed and this node leads)")
}
