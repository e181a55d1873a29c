//go:build slow

package main

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/trellis-authz/trellis/consensus"
	"github.com/trellis-authz/trellis/server"
	"github.com/trellis-authz/trellis/test/faultnet"
	"github.com/trellis-authz/trellis/wire"
)

// jepsenChildEnv carries a fault-test node's serve flags to the re-executed
// test binary.
const jepsenChildEnv = "TRELLIS_JEPSEN_CHILD_ARGS"

// TestJepsenChildServe is not a test of its own: TestJepsenRegisters
// re-executes the test binary with jepsenChildEnv set, and this function
// then runs one node, as `trellis serve` does with those flags, until it is
// killed (SIGKILL) or stopped (SIGTERM). Besides the flags it shortens raft's
// timeouts and snapshot interval and keeps WAL segments small, as the
// in-process cluster tests do (these have no flags); it exits when its
// parent is gone.
func TestJepsenChildServe(t *testing.T) {
	args := os.Getenv(jepsenChildEnv)
	if args == "" {
		t.Skip("helper process for TestJepsenRegisters")
	}
	o := server.DefaultConfig()
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	addNodeFlags(fs, &o)
	if err := fs.Parse(strings.Split(args, "\x1f")); err != nil {
		fmt.Fprintln(os.Stderr, "jepsen child:", err)
		os.Exit(2)
	}
	o.RaftTimeouts = 500 * time.Millisecond
	o.TuneRaft = func(cc *consensus.Config) {
		cc.WALSegmentSize = 64 << 10 // truncation drops whole segments: keep them small
		cc.SnapshotInterval = time.Second
	}
	o.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	o.Out = io.Discard
	ppid := os.Getppid()
	go func() {
		for range time.Tick(500 * time.Millisecond) {
			if os.Getppid() != ppid {
				os.Exit(3) // the test is gone: do not outlive it
			}
		}
	}()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := serve(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "jepsen child: serve:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// procCluster is three nodes, each a child process (TestJepsenChildServe)
// with its own data directory, whose peer connections all run through one
// faultnet.Net in the test process. The embedded testCluster holds the API
// URLs, tokens and HTTP client, so its request helpers (do, write, check,
// waitReady) work unchanged; its nodes stay nil.
type procCluster struct {
	*testCluster
	net   *faultnet.Net
	raft  []string // each node's raft address
	api   []string // each node's API host:port
	args  [][]string
	logs  []string // each node's stderr, appended across restarts
	procs []*proc  // nil while a node is down
	mu    sync.Mutex
}

// proc is one running child and its end.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when it exited (cmd.Wait returned)
}

// newProcCluster starts the three nodes. Every node listens on its real raft
// and API addresses, which --peers advertises and the test's client dials
// directly. A node in another process cannot take a Go dial hook, so each is
// told with --peer-connect-to to reach its peers' addresses at proxy
// addresses instead: faultnet listens one proxy per (from node, peer
// address), so a proxy knows which directed pair its bytes belong to, and
// every rule of that pair applies to raft and node-to-node HTTP (forwarded
// writes, read-index calls) alike. (The other scheme considered, binding
// each node's outgoing connections to its own 127.0.0.x and telling callers
// apart by source IP, needs a flag for the source address and loopback
// aliases that only Linux has by default.)
func newProcCluster(t *testing.T) *procCluster {
	t.Helper()
	dir := t.TempDir()
	tokens, schemaFile, admin, reader := writeClusterFiles(t, dir)
	fnet := faultnet.New(11)
	t.Cleanup(fnet.Close)
	c := &procCluster{
		testCluster: &testCluster{t: t, admin: admin, reader: reader, nodes: make([]*server.Node, 3),
			client: &http.Client{Timeout: 15 * time.Second}},
		net: fnet, procs: make([]*proc, 3),
	}
	type addrs struct{ id, raft, http string }
	var nodes []addrs
	var peers []string
	for i := range 3 {
		a := addrs{fmt.Sprintf("n%d", i+1), freeAddr(t), freeAddr(t)}
		nodes = append(nodes, a)
		fnet.Add(a.id, a.raft)
		fnet.Add(a.id, a.http)
		c.urls = append(c.urls, "http://"+a.http)
		c.raft, c.api = append(c.raft, a.raft), append(c.api, a.http)
		peers = append(peers, fmt.Sprintf("%s=%s=http://%s", a.id, a.raft, a.http))
	}
	for i, a := range nodes {
		var via []string
		for j, b := range nodes {
			if j == i {
				continue
			}
			for _, addr := range []string{b.raft, b.http} {
				p, err := fnet.ProxyAddr(a.id, addr)
				if err != nil {
					t.Fatal(err)
				}
				via = append(via, addr+"="+p)
			}
		}
		c.args = append(c.args, []string{"--node-id", a.id, "--http-addr", a.http, "--raft-addr", a.raft,
			"--data-dir", filepath.Join(dir, a.id), "--token-file", tokens, "--schema", schemaFile,
			"--peers", strings.Join(peers, ","), "--peer-connect-to", strings.Join(via, ","),
			"--raft-snapshot-threshold", "256", "--raft-trailing-logs", "64"})
		c.logs = append(c.logs, filepath.Join(dir, a.id+".log"))
	}
	t.Cleanup(c.stopAll)
	// Start all at once: the first start bootstraps, which needs a quorum.
	for i := range 3 {
		c.spawn(i)
	}
	for i := range 3 {
		c.waitUp(i)
	}
	return c
}

// spawn starts node i's process.
func (c *procCluster) spawn(i int) {
	c.t.Helper()
	log, err := os.OpenFile(c.logs[i], os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		c.t.Fatal(err)
	}
	defer log.Close() // the child has its own copy
	fmt.Fprintf(log, "--- start %s\n", time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(os.Args[0], "-test.run=^TestJepsenChildServe$")
	cmd.Env = append(os.Environ(), jepsenChildEnv+"="+strings.Join(c.args[i], "\x1f"))
	cmd.Stdout, cmd.Stderr = io.Discard, log
	if err := cmd.Start(); err != nil {
		c.t.Fatalf("starting n%d: %v", i+1, err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); close(p.done) }()
	c.mu.Lock()
	c.procs[i] = p
	c.mu.Unlock()
}

// waitUp waits until node i answers /readyz with 200. A node that exits
// first because a port of its was taken meanwhile (another socket picked it
// while the node was down) is started again, a few times.
func (c *procCluster) waitUp(i int) {
	c.t.Helper()
	for attempt := 1; ; attempt++ {
		state, exited := c.readyOrExited(i)
		if !exited {
			return
		}
		tail := c.logTail(i)
		if !strings.Contains(tail, "address already in use") || attempt == 5 {
			c.t.Fatalf("n%d exited (%v) before it was ready; its log ends:\n%s", i+1, state, tail)
		}
		time.Sleep(500 * time.Millisecond)
		c.spawn(i)
	}
}

// readyOrExited waits until node i is ready (exited false) or its process
// ended (exited true, with how); it fails the test after 30 s.
func (c *procCluster) readyOrExited(i int) (state *os.ProcessState, exited bool) {
	c.t.Helper()
	c.mu.Lock()
	p := c.procs[i]
	c.mu.Unlock()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		select {
		case <-p.done:
			return p.cmd.ProcessState, true
		default:
		}
		if resp, err := c.client.Get(c.urls[i] + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil, false
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatalf("n%d not ready after 30s; its log ends:\n%s", i+1, c.logTail(i))
	return nil, false
}

func (c *procCluster) logTail(i int) string {
	b, _ := os.ReadFile(c.logs[i])
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// kill sends node i SIGKILL and waits until the process is gone: no
// shutdown runs, whatever was not fsynced is lost.
func (c *procCluster) kill(i int) {
	c.mu.Lock()
	p := c.procs[i]
	c.procs[i] = nil
	c.mu.Unlock()
	if p == nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// restart starts node i again on its data directory and waits until ready.
func (c *procCluster) restart(i int) {
	c.t.Helper()
	c.spawn(i)
	c.waitUp(i)
}

// stopAll ends every node with SIGTERM (a clean shutdown), SIGKILL after 10 s.
func (c *procCluster) stopAll() {
	for i := range c.procs {
		c.mu.Lock()
		p := c.procs[i]
		c.procs[i] = nil
		c.mu.Unlock()
		if p == nil {
			continue
		}
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			c.t.Logf("n%d did not stop within 10s of SIGTERM; killing it", i+1)
			p.cmd.Process.Signal(syscall.SIGKILL)
			<-p.done
		}
	}
}

// proxied counts the connections the nodes opened to each other through
// the proxies, to the raft addresses and to the API addresses: nonzero
// counts show the child processes really dial through the Net.
func (c *procCluster) proxied() (raft, api int64) {
	for i := range 3 {
		for j := range 3 {
			if i != j {
				from := fmt.Sprintf("n%d", i+1)
				raft += c.net.Accepted(from, c.raft[j])
				api += c.net.Accepted(from, c.api[j])
			}
		}
	}
	return raft, api
}

func (c *procCluster) running(i int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.procs[i] != nil
}

// status is GET /v1/cluster/node on node i, with a short timeout.
func (c *procCluster) status(i int) (wire.NodeStatus, bool) {
	var st wire.NodeStatus
	cl := &http.Client{Timeout: time.Second}
	code, _, err := httpJSON(cl, c.urls[i], http.MethodGet, "/v1/cluster/node", c.reader, nil, &st, nil)
	return st, err == nil && code == http.StatusOK
}

// leader waits for a running node that says it is the leader.
func (c *procCluster) leader() int {
	c.t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		for i := range c.procs {
			if !c.running(i) {
				continue
			}
			if st, ok := c.status(i); ok && st.State == "Leader" {
				return i
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.t.Fatal("no leader among the running nodes after 30s")
	return -1
}

// followers returns the running nodes other than the leader.
func (c *procCluster) followers() []int {
	l := c.leader()
	var out []int
	for i := range c.procs {
		if i != l && c.running(i) {
			out = append(out, i)
		}
	}
	return out
}

// tokenRevision reads the revision of a consistency token (format in
// service.Tokens: "t1." + base64url(uvarint revision + 4-byte cluster tag)).
// The test process does not know the cluster's random id, so the tag is
// not checked here; the nodes check it.
func tokenRevision(tok string) (uint64, error) {
	body, ok := strings.CutPrefix(tok, "t1.")
	if !ok {
		return 0, fmt.Errorf("token %q does not start with t1.", tok)
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return 0, fmt.Errorf("token %q: %v", tok, err)
	}
	rev, n := binary.Uvarint(raw)
	if n <= 0 || len(raw)-n != 4 {
		return 0, fmt.Errorf("token %q is truncated", tok)
	}
	return rev, nil
}
