package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"github.com/trellis-authz/trellis/alerts"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/trellis-authz/trellis/api"
	"github.com/trellis-authz/trellis/audit"
	"github.com/trellis-authz/trellis/consensus"
	"github.com/trellis-authz/trellis/engine"
	"github.com/trellis-authz/trellis/schema"
	"github.com/trellis-authz/trellis/schema/compile"
	"github.com/trellis-authz/trellis/service"
	"github.com/trellis-authz/trellis/spicedb"
	"github.com/trellis-authz/trellis/storage"
	"github.com/trellis-authz/trellis/tuple"
)

// Config is everything needed to run one Trellis node: the flags of
// `trellis serve`, also filled in by `trellis dev` for each of its nodes.
type Config struct {
	HTTPAddr          string
	GRPCAddr          string // SpiceDB's gRPC API ("" : off; the HTTP gateway is always on HTTPAddr)
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

	// PeerConnectTo is --peer-connect-to: "addr=via,...", each connection
	// to peer address addr (raft, or the host:port of an API URL) dialed at
	// via instead (a local sidecar, tunnel or proxy; TLS still checks addr's
	// host).
	PeerConnectTo string
	// PeerDial, when set, opens every connection this node makes to its
	// peers: raft, forwarded writes, read-index and status calls, --join
	// (nil: TCP with a 2 s timeout). Tests route it through a fault-injecting
	// proxy (test/faultnet).
	PeerDial PeerDialFunc

	GCWindow      uint64        // revisions kept for at_exact_snapshot reads
	BlockCacheMB  int64         // Badger block cache
	SnapshotEvery uint64        // raft log entries between snapshots
	TrailingLogs  uint64        // raft log entries kept after a snapshot
	Quantization  time.Duration // minimize_latency reads share a revision this long
	RaftTimeouts  time.Duration
	// NoCache turns the engine's check cache off (to measure cold checks).
	NoCache bool
	// Per-principal admission (api.Config): concurrent requests, and a rate
	// with its burst (0: off).
	MaxInFlightPerPrincipal int
	RatePerPrincipal        float64
	BurstPerPrincipal       int
	Decisions               DecisionConfig // --decision-log and friends
	// AlertBackoff bounds each alert delivery's retries; zero means
	// alerts.DefaultBackoff (tests shorten it).
	AlertBackoff alerts.Backoff
	// AlertAuditEvery is how often the leader proposes its audit root for
	// the nodes to compare while an audit rule exists; zero means 5 s.
	AlertAuditEvery time.Duration
	// TuneRaft, when set, adjusts the consensus config (tests: snapshot
	// thresholds).
	TuneRaft func(*consensus.Config)

	Log *slog.Logger
	Out io.Writer // where the one-time admin token is printed
}

// DefaultConfig returns the defaults of `trellis serve`.
func DefaultConfig() Config {
	return Config{
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

		MaxInFlightPerPrincipal: api.DefaultConfig().MaxInFlightPerPrincipal,
		BurstPerPrincipal:       api.DefaultConfig().BurstPerPrincipal,
		Decisions:               DefaultDecisionConfig(),
	}
}

// Node is a started node: store, audit log, raft, engine, services and the
// HTTP server, opened in that order by Open and closed in the reverse order
// by Close.
type Node struct {
	cfg    Config
	store  *storage.Store
	audit  *nodeAudit
	raft   *consensus.Node
	eng    *engine.Engine
	dec    *decisionRuntime // nil without a decision log
	alert  *alertRuntime    // decision alert watcher and this node's own dead letters
	svc    *service.Services
	srv    *api.Server
	http   *http.Server
	ln     net.Listener
	grpcLn net.Listener    // --grpc-addr, nil when off
	spice  *spicedb.Server // SpiceDB's API (gRPC and the HTTP gateway)
	tls    *tls.Config     // the API's TLS settings; nil serves plain HTTP
	log    *slog.Logger
	served chan error
	// closers undo the phases that succeeded, last first.
	closers []func() error
}

// URL is the base URL of the node's API, as this node listens on it.
func (n *Node) URL() string {
	scheme := "http"
	if n.tls != nil {
		scheme = "https"
	}
	return scheme + "://" + n.ln.Addr().String()
}

// Served reports the HTTP server's end: nil after Close, or why it stopped.
func (n *Node) Served() <-chan error { return n.served }

// Consensus returns the node's raft node.
func (n *Node) Consensus() *consensus.Node { return n.raft }

// Store returns the node's store.
func (n *Node) Store() *storage.Store { return n.store }

// Engine returns the node's query engine.
func (n *Node) Engine() *engine.Engine { return n.eng }

// AuditLog returns the node's audit log.
func (n *Node) AuditLog() *audit.Log { return n.audit.log }

// DecisionLog returns the node's decision log, nil without one.
func (n *Node) DecisionLog() *audit.DecisionLog {
	if n.dec == nil {
		return nil
	}
	return n.dec.open.log
}

// AnchorDecisions anchors the decision chain's head now (when this node leads
// and it changed), as the periodic anchorer does; it reports whether it wrote
// an anchor.
func (n *Node) AnchorDecisions(ctx context.Context) (bool, error) {
	if n.dec == nil {
		return false, errors.New("this node has no decision log")
	}
	return n.dec.anchorer.anchorOnce(ctx)
}

// onClose registers the undo of a phase that succeeded.
func (n *Node) onClose(f func() error) { n.closers = append(n.closers, f) }

// Open starts a node: each phase a function, each undone by Close (or here,
// when a later phase fails). It returns once the API is listening; in a
// cluster the schema is written by whichever node is leader.
func Open(ctx context.Context, cfg Config) (_ *Node, err error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if cfg.Out == nil {
		cfg.Out = os.Stderr
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, log: cfg.Log, served: make(chan error, 1)}
	defer func() {
		if err != nil {
			n.Close()
		}
	}()
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	auth, err := authConfig(cfg)
	if err != nil {
		return nil, err
	}
	tlsCfg, raftTLS, peerClient, err := tlsConfigs(cfg)
	if err != nil {
		return nil, err
	}
	if err := n.listen(tlsCfg); err != nil {
		return nil, err
	}
	if err := n.listenGRPC(); err != nil {
		return nil, err
	}
	hadSchema, err := n.openStore()
	if err != nil {
		return nil, err
	}
	if err := n.openAudit(); err != nil {
		return nil, err
	}
	if err := n.openEngine(); err != nil {
		return nil, err
	}
	if err := n.openRaft(raftTLS); err != nil {
		return nil, err
	}
	if err := n.openDecisions(); err != nil {
		return nil, err
	}
	if err := n.openServices(auth, peerClient); err != nil {
		return nil, err
	}
	if err := n.openSpiceDB(tlsCfg); err != nil {
		return nil, err
	}
	n.serveHTTP(tlsCfg)
	if cfg.Join != "" {
		if err := n.join(ctx, peerClient, raftAdvertise(cfg), n.apiURL()); err != nil {
			return nil, err
		}
	}
	if err := n.loadFiles(ctx, hadSchema); err != nil {
		return nil, err
	}
	n.bindClusterID(ctx)
	cfg.Log.Info("trellis node serving", "node", cfg.NodeID, "api", n.URL(), "grpc", n.GRPCAddr(), "raft", cfg.RaftAddr, "data_dir", cfg.DataDir)
	return n, nil
}

// Close stops serving HTTP, stops the decision anchorer (anchoring its last
// head while raft still runs), then closes raft and the store: the reverse
// of Open's phases, written once.
func (n *Node) Close() error {
	var errs []error
	for i := len(n.closers) - 1; i >= 0; i-- {
		errs = append(errs, n.closers[i]())
	}
	n.closers = nil
	return errors.Join(errs...)
}

// tlsConfigs loads --tls-cert/--tls-key and derives the raft TLS settings and
// the node-to-node HTTP client.
func tlsConfigs(cfg Config) (httpTLS, raftTLS *tls.Config, peers *http.Client, err error) {
	if cfg.TLSCert != "" || cfg.TLSKey != "" {
		if cfg.TLSCert == "" || cfg.TLSKey == "" {
			return nil, nil, nil, errors.New("--tls-cert and --tls-key go together; give both")
		}
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("load TLS key pair: %w", err)
		}
		httpTLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	raftTLS, peers, err = clusterTLS(cfg, httpTLS)
	return httpTLS, raftTLS, peers, err
}

// listen opens the API's listener first, so a taken port fails before any
// data is touched.
func (n *Node) listen(tlsCfg *tls.Config) error {
	ln, err := net.Listen("tcp", n.cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on --http-addr %s: %w", n.cfg.HTTPAddr, err)
	}
	n.ln, n.tls = ln, tlsCfg
	n.onClose(func() error {
		if n.http == nil {
			return ln.Close()
		}
		return nil
	})
	return nil
}

// apiURL is the URL other nodes reach this node's API at.
func (n *Node) apiURL() string {
	if n.cfg.APIAdvertiseAddr != "" {
		return n.cfg.APIAdvertiseAddr
	}
	scheme := "http"
	if n.tls != nil {
		scheme = "https"
	}
	return scheme + "://" + n.ln.Addr().String()
}

// openStore opens the Badger store; it reports whether a schema was stored.
func (n *Node) openStore() (hadSchema bool, err error) {
	sc := storage.DefaultConfig(filepath.Join(n.cfg.DataDir, "store"))
	sc.GCWindow = n.cfg.GCWindow
	sc.BlockCacheSize = n.cfg.BlockCacheMB << 20
	// The raft log (fsync per append) is the durable record of every
	// acknowledged write; after a crash, raft restores its latest snapshot when
	// the store is behind it and replays the log above the store's applied
	// index. So the store need not fsync each batch too (docs/adr/0003).
	sc.SyncWrites = false
	sc.Logger = n.log.With("component", "storage")
	store, err := storage.Open(sc)
	if err != nil {
		return false, fmt.Errorf("open store in %s: %w", sc.Dir, err)
	}
	n.store = store
	n.onClose(store.Close)
	_, _, hadSchema, err = store.Schema()
	return hadSchema, err
}

// openAudit opens the audit log kept in the store and the signing key.
func (n *Node) openAudit() error {
	aud, err := openNodeAudit(n.store, n.cfg.DataDir, n.cfg.ClusterID, n.cfg.NodeID)
	n.audit = aud
	return err
}

// openEngine builds the query engine. Its cache keeps results across writes
// that cannot affect them; the store tells it what each revision changed,
// from the log replay at open on.
func (n *Node) openEngine() error {
	ecfg := engine.DefaultConfig()
	ecfg.Changes = engine.NewChanges(0, n.store.AppliedRevision())
	if n.cfg.NoCache {
		ecfg.CacheEntries = 0 // every check evaluated in full (cold figures)
	}
	eng, err := engine.New(ecfg)
	if err != nil {
		return err
	}
	n.eng = eng
	n.store.SetChangeHook(engineChangeHook(ecfg.Changes))
	return nil
}

// openRaft starts the consensus node over the store.
func (n *Node) openRaft(raftTLS *tls.Config) error {
	o := n.cfg
	peers, err := ParsePeers(o.Peers)
	if err != nil {
		return err
	}
	cc := consensus.DefaultConfig()
	cc.NodeID = o.NodeID
	cc.DataDir = filepath.Join(o.DataDir, "raft")
	cc.RaftAddr = o.RaftAddr
	cc.SnapshotThreshold = o.SnapshotEvery
	cc.TrailingLogs = o.TrailingLogs
	cc.AdvertiseAddr = o.AdvertiseAddr
	cc.APIAddr = n.apiURL()
	cc.Peers = peers
	cc.Bootstrap = o.Join == ""
	cc.Store = n.store
	cc.Compile = compileSchema
	cc.TLS = raftTLS
	cc.Logger = n.log.With("component", "raft")
	cc.Audit = n.audit.hook
	dial, custom, err := peerDialer(o)
	if err != nil {
		return err
	}
	if custom {
		cc.Dial = raftDial(dial)
	}
	if o.RaftTimeouts > 0 {
		cc.HeartbeatTimeout = o.RaftTimeouts
		cc.ElectionTimeout = o.RaftTimeouts
		cc.LeaderLeaseTimeout = o.RaftTimeouts / 2
	}
	if o.TuneRaft != nil {
		o.TuneRaft(&cc)
	}
	node, err := consensus.Open(cc)
	if err != nil {
		return err
	}
	n.raft = node
	n.onClose(node.Close)
	return nil
}

// openDecisions opens the decision log and starts its anchorer, when one is
// configured. Its Close runs after HTTP stopped and before raft closes.
func (n *Node) openDecisions() error {
	if n.cfg.Decisions.File == "" {
		return nil
	}
	d, err := openDecisionLog(n.cfg.Decisions, n.cfg.NodeID)
	if err != nil {
		return err
	}
	n.dec = startDecisions(d, n.raft, n.cfg)
	n.onClose(n.dec.Close)
	return nil
}

// openServices builds the services and the REST transport over them.
func (n *Node) openServices(auth api.AuthConfig, peerClient *http.Client) error {
	reg := prometheus.NewRegistry()
	deps := service.Deps{
		Engine:    n.eng,
		Revisions: n.raft,
		Snapshots: service.SnapshotsOf[*storage.Snapshot](n.store),
		Writer:    service.ConsensusWriter(n.raft),
		Extras:    n.store,
		Registry:  reg,
		Logger:    n.log.With("component", "service"),
	}
	n.alert = newAlertRuntime()
	deps.DecisionAlerts, deps.LocalAlertLetters = n.alert.watch, n.alert.local.list
	deps.AlertRulesStored = n.alert.reload(n)
	if n.dec != nil {
		deps.Decisions = n.dec.open.log
	}
	ac := api.DefaultConfig()
	ac.ClusterID = n.cfg.ClusterID
	ac.Quantization = n.cfg.Quantization
	ac.WriteTimeout = ac.RequestTimeout
	ac.MaxInFlightPerPrincipal = n.cfg.MaxInFlightPerPrincipal
	ac.RatePerPrincipal, ac.BurstPerPrincipal = n.cfg.RatePerPrincipal, n.cfg.BurstPerPrincipal
	ac.Auth = auth
	ac.Logger = n.log.With("component", "api")
	ac.Registry = reg
	svc, err := service.New(ac.Config, deps)
	if err != nil {
		return err
	}
	if err := registerAlertMetrics(reg, n.alert); err != nil {
		return err
	}
	if err := registerIndexMetrics(reg, n.store, n.eng); err != nil {
		return err
	}
	srv, err := api.New(ac, svc, api.NodeStatsFunc(n.raft))
	if err != nil {
		return err
	}
	api.RegisterAudit(srv, service.NewAudit(n.audit.log, n.audit.signer))
	api.RegisterWatch(srv, service.NewWatch(n.store, svc.Reads))
	api.RegisterDecisions(srv, service.NewDecisionRecords(n.decisionFeed(), n.cfg.NodeID))
	if n.cfg.SchemaFile != "" {
		svc.Reads.ExpectSchema()
	}
	n.svc, n.srv = svc, srv
	n.startAlerts()
	return n.enableCluster(peerClient)
}

// serveHTTP starts serving the API on the listener.
func (n *Node) serveHTTP(tlsCfg *tls.Config) {
	n.http = &http.Server{Handler: n.srv.Handler(), TLSConfig: tlsCfg, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		var err error
		if tlsCfg != nil {
			err = n.http.ServeTLS(n.ln, "", "")
		} else {
			err = n.http.Serve(n.ln)
		}
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		n.served <- err
	}()
	n.onClose(func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return n.http.Shutdown(ctx)
	})
}

// bindClusterID ties consistency tokens to the cluster's random UUID, which
// its first leader writes through raft: at once when this node knows it,
// else as soon as it learns it (a new cluster's first election, a joining
// node catching up).
func (n *Node) bindClusterID(ctx context.Context) {
	tokens := n.srv.Tokens()
	if id := n.raft.ClusterUUID(); id != "" {
		tokens.Bind(id)
		return
	}
	// A node that knows a leader learns the id within moments: wait for it
	// (briefly), so that Open does not return while tokens are still in
	// their unbound form, which every token-taking caller would see refused
	// once the id lands.
	if _, leader := n.raft.Leader(); leader != "" {
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		id, err := n.raft.WaitClusterUUID(wctx)
		cancel()
		if err == nil {
			tokens.Bind(id)
			return
		}
	}
	wctx, cancel := context.WithCancel(context.Background())
	n.onClose(func() error { cancel(); return nil })
	go func() {
		if id, err := n.raft.WaitClusterUUID(wctx); err == nil {
			tokens.Bind(id)
			n.log.Info("consistency tokens bound to the cluster id", "cluster_uuid", id)
		}
	}()
}

func compileSchema(text string) (*schema.Schema, error) {
	s, errs := compile.CompileText("schema.zed", text)
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return s, nil
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

// Config returns the configuration the node was opened with.
func (n *Node) Config() Config { return n.cfg }

// Tokens returns the node's consistency-token codec.
func (n *Node) Tokens() service.Tokens { return n.srv.Tokens() }
