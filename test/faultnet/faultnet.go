package faultnet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Rule is what happens to bytes on one directed pair of nodes.
type Rule struct {
	Blocked bool
	Delay   time.Duration // added before each forwarded chunk
	Drop    float64       // probability that a chunk resets the connection instead
}

type pair struct{ from, to string }

// linkKey names one proxy: the connections node from opens to one address.
type linkKey struct{ from, addr string }

// Net is a set of nodes and the proxies between them.
type Net struct {
	mu      sync.Mutex
	changed chan struct{}     // closed and replaced on every rule change
	nodes   map[string]bool   // registered names
	owners  map[string]string // real address -> node name
	rules   map[pair]Rule
	links   map[linkKey]*link
	rng     *rand.Rand
	closed  bool
}

// New returns an empty Net; seed makes drop decisions reproducible.
func New(seed uint64) *Net {
	return &Net{changed: make(chan struct{}), nodes: map[string]bool{}, owners: map[string]string{},
		rules: map[pair]Rule{}, links: map[linkKey]*link{}, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b9))}
}

// Add registers a real address node name listens on. A node may have
// several (its raft address and its API address): each is reached through
// its own proxies, and all obey the rules of the node's pairs.
func (n *Net) Add(name, addr string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.nodes[name] = true
	n.owners[addr] = name
}

// Nodes lists the registered names, sorted.
func (n *Net) Nodes() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]string, 0, len(n.nodes))
	for name := range n.nodes {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// Dialer returns node from's dial function in the form raft's transport
// takes (consensus.Config.Dial): an address of a registered node is reached
// through node from's proxy for that address; any other address is an error
// (a test that routes traffic through the Net means all of it).
func (n *Net) Dialer(from string) func(address string, timeout time.Duration) (net.Conn, error) {
	return func(address string, timeout time.Duration) (net.Conn, error) {
		l, err := n.link(from, address)
		if err != nil {
			return nil, err
		}
		return net.DialTimeout("tcp", l.ln.Addr().String(), timeout)
	}
}

// DialContext is Dialer in the form of net.Dialer.DialContext, for HTTP
// clients (server.Config.PeerDial).
func (n *Net) DialContext(from string) func(ctx context.Context, network, address string) (net.Conn, error) {
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		l, err := n.link(from, address)
		if err != nil {
			return nil, err
		}
		var d net.Dialer
		return d.DialContext(ctx, network, l.ln.Addr().String())
	}
}

// ProxyAddr returns the address of node from's proxy for addr, a registered
// node's address (started on first use, kept until Close). A node in another
// process is told to dial it instead of addr (trellis serve
// --peer-connect-to addr=proxy).
func (n *Net) ProxyAddr(from, addr string) (string, error) {
	l, err := n.link(from, addr)
	if err != nil {
		return "", err
	}
	return l.ln.Addr().String(), nil
}

// Accepted returns how many connections node from's proxy for addr has
// accepted so far (0 when it never started): a test can check that its nodes
// really dial through the Net.
func (n *Net) Accepted(from, addr string) int64 {
	n.mu.Lock()
	l := n.links[linkKey{from, addr}]
	n.mu.Unlock()
	if l == nil {
		return 0
	}
	return l.accepted.Load()
}

func (n *Net) link(from, addr string) (*link, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil, errors.New("faultnet: closed")
	}
	k := linkKey{from, addr}
	if l := n.links[k]; l != nil {
		return l, nil
	}
	to, ok := n.owners[addr]
	if !ok {
		return nil, fmt.Errorf("faultnet: %s dials %s, which is no registered node's address (Net.Add it)", from, addr)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	l := &link{net: n, p: pair{from, to}, target: addr, ln: ln, conns: map[net.Conn]bool{}}
	n.links[k] = l
	go l.serve()
	return l, nil
}

// Set replaces the rule of the directed pair from→to.
func (n *Net) Set(from, to string, r Rule) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if r == (Rule{}) {
		delete(n.rules, pair{from, to})
	} else {
		n.rules[pair{from, to}] = r
	}
	n.notifyLocked()
}

// Block holds bytes from node from to node to (a one-way partition).
func (n *Net) Block(from, to string) { n.Set(from, to, Rule{Blocked: true}) }

// Isolate blocks both directions between node and every other node.
func (n *Net) Isolate(node string) {
	for _, o := range n.Nodes() {
		if o != node {
			n.Block(node, o)
			n.Block(o, node)
		}
	}
}

// Partition blocks both directions between nodes of different groups.
func (n *Net) Partition(groups ...[]string) {
	for i, g := range groups {
		for j, h := range groups {
			if i == j {
				continue
			}
			for _, a := range g {
				for _, b := range h {
					n.Block(a, b)
				}
			}
		}
	}
}

// Slow delays (and with probability drop, resets) traffic both ways
// between a and b.
func (n *Net) Slow(a, b string, delay time.Duration, drop float64) {
	n.Set(a, b, Rule{Delay: delay, Drop: drop})
	n.Set(b, a, Rule{Delay: delay, Drop: drop})
}

// Heal clears every rule; held bytes flow again.
func (n *Net) Heal() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.rules = map[pair]Rule{}
	n.notifyLocked()
}

func (n *Net) notifyLocked() {
	close(n.changed)
	n.changed = make(chan struct{})
}

// Close stops every proxy and closes their connections.
func (n *Net) Close() {
	n.mu.Lock()
	n.closed = true
	links := n.links
	n.links = map[linkKey]*link{}
	n.notifyLocked()
	n.mu.Unlock()
	for _, l := range links {
		l.close()
	}
}

// pass waits until bytes may go from→to and says whether to forward them
// (false: drop the connection, or the Net closed).
func (n *Net) pass(p pair, done <-chan struct{}) bool {
	for {
		n.mu.Lock()
		r, closed, changed := n.rules[p], n.closed, n.changed
		drop := r.Drop > 0 && n.rng.Float64() < r.Drop
		n.mu.Unlock()
		if closed {
			return false
		}
		if !r.Blocked {
			if r.Delay > 0 {
				select {
				case <-time.After(r.Delay):
				case <-done:
					return false
				}
			}
			return !drop
		}
		select {
		case <-changed:
		case <-done:
			return false
		}
	}
}

// link is one proxy of the directed pair p: the connections node p.from
// opened to target, an address of node p.to.
type link struct {
	net    *Net
	p      pair
	target string
	ln     net.Listener

	accepted atomic.Int64

	mu    sync.Mutex
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

func (l *link) serve() {
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return
		}
		l.accepted.Add(1)
		l.wg.Go(func() { l.proxy(c) })
	}
}

func (l *link) track(c net.Conn, add bool) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if add {
		if l.conns == nil {
			return false
		}
		l.conns[c] = true
	} else {
		delete(l.conns, c)
	}
	return true
}

func (l *link) proxy(down net.Conn) {
	defer down.Close()
	if !l.track(down, true) {
		return
	}
	defer l.track(down, false)
	up, err := net.DialTimeout("tcp", l.target, 2*time.Second)
	if err != nil {
		return // the target is down: the dialer sees its connection close
	}
	defer up.Close()
	if !l.track(up, true) {
		return
	}
	defer l.track(up, false)
	done := make(chan struct{})
	var once sync.Once
	stop := func() { once.Do(func() { close(done); up.Close(); down.Close() }) }
	var wg sync.WaitGroup
	wg.Go(func() { defer stop(); l.pump(up, down, l.p, done) })
	wg.Go(func() { defer stop(); l.pump(down, up, pair{l.p.to, l.p.from}, done) })
	wg.Wait()
}

// pump copies src to dst, each chunk subject to the rule of direction p.
func (l *link) pump(dst io.Writer, src io.Reader, p pair, done <-chan struct{}) {
	buf := make([]byte, 32<<10)
	for {
		k, err := src.Read(buf)
		if k > 0 {
			if !l.net.pass(p, done) {
				return
			}
			if _, werr := dst.Write(buf[:k]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (l *link) close() {
	l.ln.Close()
	l.mu.Lock()
	conns := l.conns
	l.conns = nil
	l.mu.Unlock()
	for c := range conns {
		c.Close()
	}
	l.wg.Wait()
}
