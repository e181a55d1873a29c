package peptest

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/trellis-authz/trellis/server"
	"github.com/trellis-authz/trellis/test/testnode"
	"github.com/trellis-authz/trellis/wire"
)

// Node is a real Trellis node on loopback (Badger on disk, raft, HTTP)
// with an admin, a writer and a reader token.
type Node struct {
	node                  *server.Node
	URL                   string
	Admin, Writer, Reader string
	closeOnce             sync.Once
}

// Start opens a node with schemaText; edits change its config.
func Start(t testing.TB, schemaText string, edits ...func(*server.Config)) *Node {
	t.Helper()
	cfg := testnode.Config(t, schemaText)
	toks := testnode.WithTokens(t, &cfg)
	tn := &Node{Admin: toks.Admin, Writer: toks.Writer, Reader: toks.Reader}
	for _, edit := range edits {
		edit(&cfg)
	}
	tn.node = testnode.Open(t, cfg)
	tn.URL = tn.node.URL()
	t.Cleanup(tn.Kill)
	return tn
}

// Kill closes the node (its HTTP server, and every stream with it).
func (tn *Node) Kill() { tn.closeOnce.Do(func() { _ = tn.node.Close() }) }

// REST sends a REST request to url and decodes a 200 answer into out; it
// fails the test on any other status.
func REST(t testing.TB, url, token, method, path string, body, out any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %s: %v", method, path, b, err)
		}
	}
}

// Write applies updates (Touch, Delete) as the writer and returns
// written_at.
func (tn *Node) Write(t testing.TB, updates ...wire.Update) string {
	t.Helper()
	var out wire.WriteResponse
	REST(t, tn.URL, tn.Writer, http.MethodPost, "/v1/relationships/write", wire.WriteRelationshipsRequest{Updates: updates}, &out)
	return out.WrittenAt
}

// Touch and Delete are the updates of Write.
func Touch(rel string) wire.Update  { return wire.Update{Op: "touch", Relationship: rel} }
func Delete(rel string) wire.Update { return wire.Update{Op: "delete", Relationship: rel} }

// WaitFor polls cond every few milliseconds until it holds, failing the test
// after 15 s (a deadline for progress, not a measure of speed).
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after 15 s waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// Proxy is a TCP proxy in front of a node that a test can cut: Cut closes
// every connection and refuses new ones until Heal; Stall stops forwarding
// bytes (without closing anything) until Heal.
type Proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  map[net.Conn]bool
	down   bool
	stall  chan struct{} // closed when not stalled
}

func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{ln: ln, target: target, conns: map[net.Conn]bool{}, stall: make(chan struct{})}
	close(p.stall)
	t.Cleanup(func() { ln.Close(); p.Cut(); p.Heal() })
	go p.serve()
	return p
}

func (p *Proxy) URL() string { return "http://" + p.ln.Addr().String() }

func (p *Proxy) serve() {
	for {
		down, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		refuse := p.down
		p.mu.Unlock()
		if refuse {
			down.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			down.Close()
			continue
		}
		p.mu.Lock()
		p.conns[down], p.conns[up] = true, true
		p.mu.Unlock()
		go p.pump(up, down)
		go p.pump(down, up)
	}
}

func (p *Proxy) pump(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			stall := p.stall
			p.mu.Unlock()
			<-stall
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		c.Close()
	}
	p.conns = map[net.Conn]bool{}
}

func (p *Proxy) Stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stall = make(chan struct{})
}

func (p *Proxy) Heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
	select {
	case <-p.stall:
	default:
		close(p.stall)
	}
}

// RecordingProxy is an HTTP reverse proxy to a node that calls hook with
// every request before forwarding it (streams are flushed as they come).
func RecordingProxy(t testing.TB, target string, hook func(*http.Request)) http.Handler {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.FlushInterval = -1
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hook(r)
		if r.Context().Err() != nil {
			return
		}
		rp.ServeHTTP(w, r)
	})
}

// ReadSchema is the smallest schema the middleware tests need: users who
// read datasets.
const ReadSchema = `
definition user {}

definition dataset {
  relation reader: user
  permission read = reader
}
`

// QuietLog is a logger that drops everything.
func QuietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
