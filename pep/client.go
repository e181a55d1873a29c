package pep

import (
	"context"
	"errors"
	"hash/maphash"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/trellis-authz/trellis/wire"
)

// Question is what a service asks: may Subject have Permission on Resource,
// given Context (the caveat parameters the service knows).
type Question struct {
	Resource   string         // "dataset:claims"
	Permission string         // "read"
	Subject    string         // "user:ana", "team:ml#member"
	Context    map[string]any // caveat context; nil when none
}

// Decision is the answer. Allowed is true only for an allowed answer from
// Trellis (or a cached one); everything else — denied, conditional, an error
// — is a denial.
type Decision struct {
	Allowed bool
	// Conditional is set when Trellis could not decide without more
	// context; Missing names the caveat parameters it lacked. The decision
	// is a denial. Missing is shared with the cache: do not modify it.
	Conditional bool
	Missing     []string
	// DecisionID identifies the check in Trellis's decision log (it is the
	// request id the PEP sent). A cached decision carries the id of the
	// check whose answer it reuses.
	DecisionID string
	// CheckedAt is the token of the revision the answer was computed at.
	CheckedAt string
	// Cached is set when the answer came from the local cache.
	Cached bool
}

// Errors of Decide. Every error comes with a denial.
var (
	// ErrInvalidQuestion: the question is malformed; nothing was asked.
	ErrInvalidQuestion = errors.New("invalid question")
	// ErrTimeout: Trellis did not answer within Config.Timeout.
	ErrTimeout = errors.New("trellis did not answer within the decision timeout")
	// ErrBadResponse: Trellis answered something the PEP cannot read.
	ErrBadResponse = errors.New("unreadable answer from trellis")
	// ErrClosed: the client was closed.
	ErrClosed = errors.New("pep client is closed")
)

// Client decides questions against one Trellis node, with a local cache
// kept correct by the node's watch stream. It is safe for concurrent use.
type Client struct {
	cfg     Config
	base    string // URL without a trailing slash
	auth    string // "Bearer ..." or ""
	http    *http.Client
	ownHTTP bool
	prop    propagation.TextMapPropagator
	tracer  trace.Tracer
	log     *slog.Logger
	m       *metrics
	keys    hasher
	epoch   time.Time // monotonic origin of entry deadlines

	cache *cache // nil when CacheSize is 0
	// The watch state Decide reads; see doc.go for how they keep the cache
	// correct. floor is the revision below which a fresh answer is not
	// cached (raised before an event's evictions); seen is the revision
	// whose evictions are done (raised after); schemaFloor is the read_at
	// of the schema in force; target is the revision a resumed stream must
	// pass before older entries are served again (0: caught up).
	floor, seen, schemaFloor, target atomic.Uint64
	seenToken                        atomic.Pointer[string]
	// fresh is the newest token the watch goroutine knows (an event's, or a
	// reconnect's fully consistent read): uncached checks ask for at least
	// it, so that they see every change the PEP may already know of.
	fresh atomic.Pointer[revToken]
	tag   atomic.Pointer[[4]byte]
	// serveUntil is the monotonic time until which the cache may answer:
	// zero while the watch is down, pushed forward by each schema read.
	serveUntil atomic.Int64
	reach      atomic.Pointer[reach]

	stateMu sync.Mutex // orders changes of the live state
	live    bool
	poke    chan struct{}      // asks the schema loop for an early read
	stop    context.CancelFunc // ends the watch and schema loops
	wg      sync.WaitGroup
	closed  atomic.Bool
}

// New returns a client for cfg and, when the cache is on, starts its watch.
// It does not wait for Trellis: until the watch is up, every decision asks
// Trellis (and is a denial when it cannot be asked).
func New(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, base: strings.TrimRight(cfg.URL, "/"), http: cfg.HTTPClient, prop: cfg.Propagator,
		log: cfg.Log, keys: hasher{maphash.MakeSeed()}, epoch: time.Now(), poke: make(chan struct{}, 1)}
	if cfg.Token != "" {
		c.auth = "Bearer " + cfg.Token
	}
	if c.http == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 256
		c.http, c.ownHTTP = &http.Client{Transport: t}, true
	}
	if c.prop == nil {
		c.prop = propagation.TraceContext{}
	}
	tp := cfg.TracerProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	c.tracer = tp.Tracer("github.com/trellis-authz/trellis/pep")
	if c.log == nil {
		c.log = slog.Default()
	}
	if cfg.CacheSize > 0 {
		c.cache = newCache(cfg.CacheSize)
	}
	m, err := newMetrics(cfg.Registerer, func() float64 {
		if c.cache == nil {
			return 0
		}
		return float64(c.cache.size.Load())
	})
	if err != nil {
		return nil, err
	}
	c.m = m
	ctx, stop := context.WithCancel(context.Background())
	c.stop = stop
	if c.cache != nil {
		c.wg.Add(2)
		go c.watchLoop(ctx)
		go c.schemaLoop(ctx)
	}
	return c, nil
}

// Close stops the watch and releases the client's connections and metrics.
// Decisions after Close are denials with ErrClosed.
func (c *Client) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	c.stop()
	c.wg.Wait()
	if c.ownHTTP {
		c.http.CloseIdleConnections()
	}
	c.m.unregister(c.cfg.Registerer)
	return nil
}

// Live reports whether the cache may answer now: the watch is open, the
// schema was read recently, and the client is not closed. A service can use
// it in its readiness check; decisions are correct (asked of Trellis) either
// way.
func (c *Client) Live() bool {
	return c.cache != nil && !c.closed.Load() && c.now() < c.serveUntil.Load()
}

func (c *Client) now() int64 { return int64(time.Since(c.epoch)) }

// Decide answers a question. Any error comes with a denial (Allowed false):
// the PEP fails closed. A conditional answer is a denial that names the
// missing context in Decision.Missing.
func (c *Client) Decide(ctx context.Context, q Question) (Decision, error) {
	start := c.now()
	if c.closed.Load() {
		c.m.failed.Inc()
		return Decision{DecisionID: newID()}, ErrClosed
	}
	if d, ok := c.fromCache(ctx, &q, start); ok {
		c.m.hits.Inc()
		c.m.result(&d, nil)
		c.m.cachedLatency.Observe(float64(c.now()-start) / 1e9)
		return d, nil
	}
	d, err := c.ask(ctx, &q)
	if err != nil {
		d = Decision{DecisionID: d.DecisionID}
	}
	c.m.result(&d, err)
	c.m.remoteLatency.Observe(float64(c.now()-start) / 1e9)
	return d, err
}

// fromCache returns the cached answer for q when one may be served. It
// allocates nothing.
func (c *Client) fromCache(ctx context.Context, q *Question, now int64) (Decision, bool) {
	if c.cache == nil {
		c.m.missOff.Inc()
		return Decision{}, false
	}
	if now >= c.serveUntil.Load() {
		c.m.missNotLive.Inc()
		return Decision{}, false
	}
	if t := freshness(ctx); t != nil && !c.hasSeen(t) {
		c.m.missFresher.Inc()
		return Decision{}, false
	}
	typ, _, ok := strings.Cut(q.Resource, ":")
	if !ok {
		c.m.missOff.Inc()
		return Decision{}, false
	}
	k, ok := c.keys.key(q)
	if !ok {
		c.m.missOff.Inc()
		return Decision{}, false
	}
	e := c.cache.find(typ, q, k)
	if e == nil {
		c.m.missAbsent.Inc()
		return Decision{}, false
	}
	if now >= e.deadline || e.rev < c.target.Load() {
		c.m.missStale.Inc()
		return Decision{}, false
	}
	return e.dec, true
}

// hasSeen says whether the cache has applied every change up to t's
// revision.
func (c *Client) hasSeen(t *revToken) bool {
	tag := c.tag.Load()
	return t.ok && tag != nil && *tag == t.tag && t.rev <= c.seen.Load()
}

// raiseFresh records t as the newest token known, if it is. Only the watch
// goroutine calls it.
func (c *Client) raiseFresh(t revToken) {
	if cur := c.fresh.Load(); cur == nil || cur.tag != t.tag || t.rev > cur.rev {
		c.fresh.Store(&t)
	}
}

// consistency returns what an uncached check asks for: at least the
// caller's token and the newest one the PEP knows; while the watch is down
// (the PEP cannot know what changed), fully_consistent.
func (c *Client) consistency(caller *revToken) *wire.Consistency {
	if c.cache != nil && !c.Live() {
		return &wire.Consistency{Mode: wire.FullyConsistent}
	}
	f := c.fresh.Load()
	switch {
	case caller != nil && (f == nil || !caller.ok || caller.tag != f.tag || caller.rev >= f.rev):
		return &wire.Consistency{Mode: wire.AtLeastAsFresh, Token: caller.token}
	case f != nil:
		return &wire.Consistency{Mode: wire.AtLeastAsFresh, Token: f.token}
	}
	return nil
}

// remember caches an answer checked at revision rev, unless a change the
// watch has already applied may be newer than it (see doc.go).
func (c *Client) remember(q *Question, ans Decision, tok revToken, expires time.Time) {
	if c.cache == nil || !tok.ok {
		return
	}
	if tag := c.tag.Load(); tag == nil || *tag != tok.tag {
		return
	}
	r := c.reach.Load()
	typ, _, _ := strings.Cut(q.Resource, ":")
	if r == nil || !r.cacheable(typ, q.Permission) {
		return
	}
	k, ok := c.keys.key(q)
	if !ok {
		return
	}
	now := c.now()
	deadline := now + int64(c.cfg.MaxStaleness)
	if !expires.IsZero() {
		deadline = min(deadline, now+int64(time.Until(expires)))
	}
	ans.Cached = true
	e := &entry{resource: q.Resource, permission: q.Permission, subject: q.Subject, ctx: canonContext(q.Context),
		rev: tok.rev, deadline: deadline, dec: ans}
	inserted := c.cache.put(typ, k, e, func() bool {
		tag := c.tag.Load()
		return tag != nil && *tag == tok.tag && tok.rev >= c.floor.Load() && tok.rev >= c.schemaFloor.Load() && c.reach.Load() == r
	})
	if inserted && c.cache.size.Load() > c.cache.max {
		c.m.evictCapacity.Add(float64(c.cache.trim(c.now())))
	}
}
