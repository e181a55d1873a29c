package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"github.com/trellis-authz/trellis/service"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/trellis-authz/trellis/api"
	"github.com/trellis-authz/trellis/consensus"
	"github.com/trellis-authz/trellis/engine"
	"github.com/trellis-authz/trellis/schema"
	"github.com/trellis-authz/trellis/schema/compile"
	"github.com/trellis-authz/trellis/storage"
	"github.com/trellis-authz/trellis/tuple"
)

// nodeOptions is everything needed to run one Trellis node: the flags of
// `trellis serve`, also filled in by `trellis dev` for each of its nodes.
type nodeOptions struct {
	HTTPAddr          string
	DataDir           string
	SchemaFile        string
	RelationshipsFile string
	TokenFile         string
	InsecureNoAuth    bool
	TLSCert, TLSKey   string
	TLSCA             string // CA of the cluster's certificates: mutual TLS for raft, trusted for node-to-node HTTP

	NodeID           string
	RaftAddr         string
	AdvertiseAddr    string // raft address others dial; defaults to RaftAddr
	APIAdvertiseAddr string // URL others use to reach this node's API
	Peers            string // id=raftaddr=apiurl,...
	Join             string // API URL of a member to join through
	JoinToken        string // admin token for --join (default $TRELLIS_TOKEN)
	ClusterID        string

	GCWindow      uint64        // revisions kept for at_exact_snapshot reads
	BlockCacheMB  int64         // Badger block cache
	SnapshotEvery uint64        // raft log entries between snapshots
	TrailingLogs  uint64        // raft log entries kept after a snapshot
	Quantization  time.Duration // minimize_latency reads share a revision this long
	RaftTimeouts  time.Duration
	Decisions     decisionOptions // --decision-log and friends
	// tuneRaft, when set, adjusts the consensus config (tests: snapshot
	// thresholds).
	tuneRaft func(*consensus.Config)

	Log *slog.Logger
	Out io.Writer // where the one-time admin token is printed
}

func defaultNodeOptions() nodeOptions {
	return nodeOptions{
		HTTPAddr:      "127.0.0.1:8080",
		DataDir:       "./trellis-data",
		NodeID:        "n1",
		RaftAddr:      "127.0.0.1:7000",
		ClusterID:     "trellis",
		GCWindow:      storage.DefaultConfig("").GCWindow,
		BlockCacheMB:  storage.DefaultConfig("").BlockCacheSize >> 20,
		SnapshotEvery: consensus.DefaultConfig().SnapshotThreshold,
		TrailingLogs:  consensus.DefaultConfig().TrailingLogs,
		Quantization:  api.DefaultConfig().Quantization,
		Decisions:     defaultDecisionOptions(),
	}
}

// runningNode is a started node: store, raft, engine and HTTP server.
type runningNode struct {
	opts   nodeOptions
	store  *storage.Store
	node   *consensus.Node
	srv    *api.Server
	eng    *engine.Engine
	http   *http.Server
	ln     net.Listener
	log    *slog.Logger
	served chan error
	dec    *decisionRuntime // nil without --decision-log
}

// URL is the base URL of the node's API.
func (r *runningNode) URL() string {
	scheme := "http"
	if r.opts.TLSCert != "" {
		scheme = "https"
	}
	return scheme + "://" + r.ln.Addr().String()
}

func compileSchema(text string) (*schema.Schema, error) {
	s, errs := compile.CompileText("schema.zed", text)
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return s, nil
}

// parsePeers reads "id=raftaddr=apiurl,..." (the API URL may be omitted).
func parsePeers(s string) ([]consensus.Peer, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var peers []consensus.Peer
	for i, part := range strings.Split(s, ",") {
		f := strings.Split(strings.TrimSpace(part), "=")
		if len(f) < 2 || len(f) > 3 || f[0] == "" || f[1] == "" {
			return nil, fmt.Errorf("--peers entry %d %q: want id=raftaddr=apiurl, e.g. n1=10.0.0.1:7000=http://10.0.0.1:8080", i+1, part)
		}
		p := consensus.Peer{ID: f[0], RaftAddr: f[1]}
		if len(f) == 3 {
			p.APIAddr = f[2]
		}
		peers = append(peers, p)
	}
	return peers, nil
}

// authConfig decides how callers authenticate. With no token file and no
// --insecure-no-auth, a token file in the data directory is used, created on
// first start with one admin token that is printed once.
func authConfig(o nodeOptions) (api.AuthConfig, error) {
	if o.InsecureNoAuth {
		if o.TokenFile != "" {
			return api.AuthConfig{}, errors.New("--insecure-no-auth and --token-file exclude each other; drop one")
		}
		return api.AuthConfig{Mode: api.AuthInsecureNoAuth}, nil
	}
	path := o.TokenFile
	if path == "" {
		path = filepath.Join(o.DataDir, "tokens.yaml")
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			tok, hash := api.GenerateToken()
			entries := []api.TokenEntry{{Principal: "admin", Role: api.RoleAdmin, SHA256: hash}}
			if err := api.WriteTokenFile(path, entries); err != nil {
				return api.AuthConfig{}, fmt.Errorf("create token file: %w", err)
			}
			fmt.Fprintf(o.Out, "\nGenerated an admin token; it is shown only this once (its hash is in %s):\n\n    %s\n\nUse it as: Authorization: Bearer <token>, or export TRELLIS_TOKEN=<token> for the CLI.\n\n", path, tok)
		}
	}
	entries, err := api.LoadTokenFile(path)
	if err != nil {
		return api.AuthConfig{}, err
	}
	return api.AuthConfig{Mode: api.AuthTokens, Tokens: entries}, nil
}

// startNode opens the store, starts raft, loads the schema and relationships
// files and starts serving HTTP. It returns once the API is listening; in a
// cluster the schema is written by whichever node is leader.
func startNode(ctx context.Context, o nodeOptions) (_ *runningNode, err error) {
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if o.Out == nil {
		o.Out = os.Stderr
	}
	if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	auth, err := authConfig(o)
	if err != nil {
		return nil, err
	}
	peers, err := parsePeers(o.Peers)
	if err != nil {
		return nil, err
	}
	var tlsCfg *tls.Config
	if o.TLSCert != "" || o.TLSKey != "" {
		if o.TLSCert == "" || o.TLSKey == "" {
			return nil, errors.New("--tls-cert and --tls-key go together; give both")
		}
		cert, err := tls.LoadX509KeyPair(o.TLSCert, o.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("load TLS key pair: %w", err)
		}
		tlsCfg = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}

	raftTLS, peerClient, err := clusterTLS(o, tlsCfg)
	if err != nil {
		return nil, err
	}

	ln, err := net.Listen("tcp", o.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("listen on --http-addr %s: %w", o.HTTPAddr, err)
	}
	defer func() {
		if err != nil {
			ln.Close()
		}
	}()
	apiURL := o.APIAdvertiseAddr
	if apiURL == "" {
		scheme := "http"
		if tlsCfg != nil {
			scheme = "https"
		}
		apiURL = scheme + "://" + ln.Addr().String()
	}

	sc := storage.DefaultConfig(filepath.Join(o.DataDir, "store"))
	sc.GCWindow = o.GCWindow
	sc.BlockCacheSize = o.BlockCacheMB << 20
	// The raft log (bbolt, fsync per append) is the durable record of every
	// acknowledged write; after a crash, raft restores its latest snapshot when
	// the store is behind it and replays the log above the store's applied
	// index. So the store need not fsync each batch too (docs/adr/0003).
	sc.SyncWrites = false
	sc.Logger = o.Log.With("component", "storage")
	store, err := storage.Open(sc)
	if err != nil {
		return nil, fmt.Errorf("open store in %s: %w", sc.Dir, err)
	}
	defer func() {
		if err != nil {
			store.Close()
		}
	}()
	_, _, hadSchema, err := store.Schema()
	if err != nil {
		return nil, err
	}

	aud, err := openNodeAudit(store, o.DataDir, o.ClusterID, o.NodeID)
	if err != nil {
		return nil, err
	}

	cc := consensus.DefaultConfig()
	cc.NodeID = o.NodeID
	cc.DataDir = filepath.Join(o.DataDir, "raft")
	cc.RaftAddr = o.RaftAddr
	cc.SnapshotThreshold = o.SnapshotEvery
	cc.TrailingLogs = o.TrailingLogs
	cc.AdvertiseAddr = o.AdvertiseAddr
	cc.APIAddr = apiURL
	cc.Peers = peers
	cc.Bootstrap = o.Join == ""
	cc.Store = store
	cc.Compile = compileSchema
	cc.TLS = raftTLS
	cc.Logger = o.Log.With("component", "raft")
	cc.Audit = aud.hook
	if o.RaftTimeouts > 0 {
		cc.HeartbeatTimeout = o.RaftTimeouts
		cc.ElectionTimeout = o.RaftTimeouts
		cc.LeaderLeaseTimeout = o.RaftTimeouts / 2
	}
	if o.tuneRaft != nil {
		o.tuneRaft(&cc)
	}
	// The engine's cache keeps results across writes that cannot affect them;
	// the store tells it what each revision changed, from the log replay at
	// open on.
	ecfg := engine.DefaultConfig()
	ecfg.Changes = engine.NewChanges(0, store.AppliedRevision())
	eng, err := engine.New(ecfg)
	if err != nil {
		return nil, err
	}
	store.SetChangeHook(engineChangeHook(ecfg.Changes))
	node, err := consensus.Open(cc)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			node.Close()
		}
	}()

	reg := prometheus.NewRegistry()
	deps := service.Deps{
		Engine:    eng,
		Revisions: node,
		Snapshots: service.SnapshotsOf[*storage.Snapshot](store),
		Writer:    service.ConsensusWriter(node),
		Registry:  reg,
		Logger:    o.Log.With("component", "service"),
	}
	var dec *decisionRuntime
	if o.Decisions.File != "" {
		var d *nodeDecisions
		if d, err = openDecisionLog(o.Decisions, o.NodeID); err != nil {
			return nil, err
		}
		deps.Decisions = d.log
		dec = startDecisions(d, node, o)
		defer func() {
			if err != nil {
				dec.Close()
			}
		}()
	}
	ac := api.DefaultConfig()
	ac.ClusterID = o.ClusterID
	ac.Quantization = o.Quantization
	ac.WriteTimeout = ac.RequestTimeout
	ac.Auth = auth
	ac.Logger = o.Log.With("component", "api")
	ac.Registry = reg
	svc, err := service.New(ac.Config, deps)
	if err != nil {
		return nil, err
	}
	srv, err := api.New(ac, svc, api.NodeStatsFunc(node))
	if err != nil {
		return nil, err
	}
	api.RegisterAudit(srv, service.NewAudit(aud.log, aud.signer))
	api.RegisterWatch(srv, service.NewWatch(store, srv.Tokens()))
	r := &runningNode{opts: o, store: store, node: node, srv: srv, eng: eng, ln: ln, log: o.Log, served: make(chan error, 1), dec: dec}
	if err := r.enableCluster(peerClient); err != nil {
		return nil, err
	}
	r.http = &http.Server{Handler: srv.Handler(), TLSConfig: tlsCfg, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		var err error
		if tlsCfg != nil {
			err = r.http.ServeTLS(ln, "", "")
		} else {
			err = r.http.Serve(ln)
		}
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		r.served <- err
	}()

	if o.Join != "" {
		if err := r.join(ctx, peerClient, raftAdvertise(o), apiURL); err != nil {
			r.Close()
			return nil, err
		}
	}
	if err := r.loadFiles(ctx, hadSchema); err != nil {
		r.Close()
		return nil, err
	}
	o.Log.Info("trellis node serving", "node", o.NodeID, "api", r.URL(), "raft", o.RaftAddr, "data_dir", o.DataDir)
	return r, nil
}

// loadFiles writes --schema when it differs from the stored one and imports
// --relationships into a data directory that had no schema before this start.
// Only the leader writes; in a cluster the others receive it through raft.
func (r *runningNode) loadFiles(ctx context.Context, hadSchema bool) error {
	o := r.opts
	if o.SchemaFile == "" && o.RelationshipsFile == "" {
		return nil
	}
	var text string
	if o.SchemaFile != "" {
		b, err := os.ReadFile(o.SchemaFile)
		if err != nil {
			return fmt.Errorf("--schema: %w", err)
		}
		text = string(b)
		if _, errs := compile.CompileText(o.SchemaFile, text); errs.Err() != nil {
			return fmt.Errorf("--schema %s has errors:\n%w", o.SchemaFile, errs.Err())
		}
	}
	var rels []tuple.Relationship
	if o.RelationshipsFile != "" {
		var err error
		if rels, err = readRelationshipsFile(o.RelationshipsFile); err != nil {
			return err
		}
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := r.node.WaitForLeader(wctx); err != nil {
		return fmt.Errorf("waiting for a raft leader to load --schema/--relationships: %w", err)
	}
	if !r.node.IsLeader() {
		r.log.Info("not the leader; the leader loads --schema and --relationships")
		return nil
	}
	meta := consensus.Meta{Principal: "trellis-serve", Reason: "loaded at start from " + o.SchemaFile, Time: time.Now().UTC()}
	if text != "" {
		rec, _, ok, err := r.store.Schema()
		if err != nil {
			return err
		}
		if !ok || rec.Text != text {
			if _, err := r.node.Write(wctx, &consensus.SchemaCommand{Meta: meta, Text: text}); err != nil {
				return fmt.Errorf("write --schema %s: %w", o.SchemaFile, err)
			}
			r.log.Info("schema loaded", "file", o.SchemaFile)
		}
	}
	if len(rels) > 0 && !hadSchema {
		meta.Reason = "loaded at start from " + o.RelationshipsFile
		for start := 0; start < len(rels); start += 1000 {
			end := min(start+1000, len(rels))
			meta.Time = time.Now().UTC()
			if _, err := r.node.Write(wctx, &consensus.ImportCommand{Meta: meta, Relationships: rels[start:end]}); err != nil {
				return fmt.Errorf("import --relationships %s (lines %d..%d): %w", o.RelationshipsFile, start+1, end, err)
			}
		}
		r.log.Info("relationships loaded", "file", o.RelationshipsFile, "count", len(rels))
	} else if len(rels) > 0 {
		r.log.Info("data directory already initialized; --relationships not loaded again", "file", o.RelationshipsFile)
	}
	return nil
}

// readRelationshipsFile reads one relationship per line; blank lines and lines
// starting with // are skipped. Errors name the line.
func readRelationshipsFile(path string) ([]tuple.Relationship, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rels []tuple.Relationship
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "//") || strings.HasPrefix(line, "#") {
			continue
		}
		rel, err := tuple.Parse(line)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, i+1, err)
		}
		rels = append(rels, rel)
	}
	return rels, nil
}

// Close stops serving and closes raft and the store, in that order.
func (r *runningNode) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	errs := []error{r.http.Shutdown(ctx)}
	if r.dec != nil {
		errs = append(errs, r.dec.Close())
	}
	errs = append(errs, r.node.Close(), r.store.Close())
	return errors.Join(errs...)
}

// engineChangeHook feeds a store's changes to an engine's change index.
func engineChangeHook(c *engine.Changes) storage.ChangeHook {
	return func(rev uint64, changes []storage.Change, all bool) {
		if all {
			c.RecordAll(rev)
		}
		c.RecordRevision(rev, len(changes), func(i int) tuple.Relationship { return changes[i].Relationship })
	}
}
