//go:build docker

package docker

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// repoRoot is the repository root (two levels above this file).
func repoRoot(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	root, err := filepath.Abs(filepath.Join(filepath.Dir(file), "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

type compose struct {
	t       *testing.T
	root    string
	project string
	env     []string
	ports   map[string]string // service -> published host port
}

// run runs a command in the repository root with the compose environment.
func (c *compose) run(timeout time.Duration, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = c.root
	cmd.Env = append(os.Environ(), c.env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (c *compose) must(timeout time.Duration, name string, args ...string) string {
	c.t.Helper()
	out, err := c.run(timeout, name, args...)
	if err != nil {
		c.t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

func (c *compose) compose(args ...string) string {
	c.t.Helper()
	return c.must(3*time.Minute, "docker-compose", append([]string{"-p", c.project}, args...)...)
}

// container returns the container ID of a service.
func (c *compose) container(service string) string {
	c.t.Helper()
	return strings.TrimSpace(c.compose("ps", "-q", service))
}

func (c *compose) url(service string) string { return "http://127.0.0.1:" + c.ports[service] }

// waitHealthy waits until docker reports the service's health check (the
// binary's own `trellis health`) as healthy.
func (c *compose) waitHealthy(service string) {
	c.t.Helper()
	id := c.container(service)
	deadline := time.Now().Add(2 * time.Minute)
	var last string
	for time.Now().Before(deadline) {
		out, _ := c.run(10*time.Second, "docker", "inspect", "--format", "{{.State.Health.Status}}", id)
		last = strings.TrimSpace(out)
		if last == "healthy" {
			return
		}
		time.Sleep(time.Second)
	}
	c.t.Fatalf("%s not healthy after 2m (last status %q)", service, last)
}

var httpc = &http.Client{Timeout: 15 * time.Second}

func call(method, url string, body any, out any) (int, string, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := httpc.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode == 200 {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, string(b), err
		}
	}
	return resp.StatusCode, string(b), nil
}

type clusterStatus struct {
	Leader  string `json:"leader"`
	Members []struct {
		ID        string `json:"id"`
		Reachable bool   `json:"reachable"`
	} `json:"members"`
}

var serviceOf = map[string]string{"n1": "node1", "n2": "node2", "n3": "node3"}

// leader asks a service for the leader and returns the leader's service,
// retrying until one is known (and is not `not`).
func (c *compose) leader(ask, not string) string {
	c.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		var st clusterStatus
		if status, _, err := call("GET", c.url(ask)+"/v1/cluster", nil, &st); err == nil && status == 200 && st.Leader != "" && serviceOf[st.Leader] != not {
			return serviceOf[st.Leader]
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.t.Fatalf("%s knows no leader after 1m", ask)
	return ""
}

// write touches a relationship through a service, retrying 5xx answers with
// the same idempotency key, and returns the written_at token.
func (c *compose) write(service, rel string) string {
	c.t.Helper()
	key := uuid.NewString()
	body := map[string]any{"updates": []map[string]string{{"op": "touch", "relationship": rel}}, "idempotency_key": key}
	var last string
	for range 60 {
		var out struct {
			WrittenAt string `json:"written_at"`
		}
		status, b, err := call("POST", c.url(service)+"/v1/relationships/write", body, &out)
		if err == nil && status == 200 {
			return out.WrittenAt
		}
		last = fmt.Sprintf("%d %s %v", status, b, err)
		if status != 0 && status < 500 {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	c.t.Fatalf("write %s through %s: %s", rel, service, last)
	return ""
}

// eventually runs a check that may first time out (a node that is catching
// up after a restart or a reconnect), retrying for up to two minutes.
func (c *compose) eventually(service, resource, perm, subject, token string) string {
	c.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		got, status, body := c.tryCheck(service, resource, perm, subject, token)
		if status == 200 {
			return got
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("check on %s: still %d %s after 2m", service, status, body)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func (c *compose) tryCheck(service, resource, perm, subject, token string) (string, int, string) {
	req := map[string]any{"resource": resource, "permission": perm, "subject": subject,
		"consistency": map[string]string{"at_least_as_fresh": token}}
	var out struct {
		Result string `json:"result"`
	}
	status, b, err := call("POST", c.url(service)+"/v1/check", req, &out)
	if err != nil {
		b += " " + err.Error()
	}
	return out.Result, status, b
}

// check runs a check through a service with at_least_as_fresh token.
func (c *compose) check(service, resource, perm, subject, token string) string {
	c.t.Helper()
	req := map[string]any{"resource": resource, "permission": perm, "subject": subject,
		"consistency": map[string]string{"at_least_as_fresh": token}}
	var out struct {
		Result string `json:"result"`
	}
	status, b, err := call("POST", c.url(service)+"/v1/check", req, &out)
	if err != nil || status != 200 {
		c.t.Fatalf("check on %s: %d %s %v", service, status, b, err)
	}
	return out.Result
}

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// TestCompose builds the image, starts the 3-node compose cluster, writes and
// checks through different nodes, kills the leader, cuts a follower off the
// network, and tears everything down (down -v) even on failure.
func TestCompose(t *testing.T) {
	if out, err := exec.Command("docker", "info").CombinedOutput(); err != nil {
		t.Skipf("no Docker engine answers (`docker info` failed: %v); this test needs one\n%s", err, out)
	}
	if _, err := exec.LookPath("docker-compose"); err != nil {
		t.Skip("docker-compose (v1) is not installed; this test drives docker-compose")
	}
	c := &compose{t: t, root: repoRoot(t), project: "trellistest" + strings.ReplaceAll(uuid.NewString()[:8], "-", ""),
		ports: map[string]string{}, env: []string{"CGO_ENABLED=0"}}
	for i, s := range []string{"node1", "node2", "node3"} {
		c.ports[s] = freePort(t)
		c.ports[s+"-grpc"] = freePort(t)
		c.env = append(c.env, fmt.Sprintf("TRELLIS_PORT%d=%s", i+1, c.ports[s]), fmt.Sprintf("TRELLIS_GRPC_PORT%d=%s", i+1, c.ports[s+"-grpc"]))
	}
	if os.Getenv("TRELLIS_DOCKER_SKIP_BUILD") == "" {
		c.must(10*time.Minute, "go", "build", "-trimpath", "-o", "bin/trellis", "./cmd/trellis")
		c.must(5*time.Minute, "docker", "build", "-t", "trellis:dev", ".")
	}
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := c.run(time.Minute, "docker-compose", "-p", c.project, "logs", "--no-color", "--tail", "25")
			t.Logf("compose logs:\n%s", out)
		}
		if out, err := c.run(3*time.Minute, "docker-compose", "-p", c.project, "down", "-v", "--remove-orphans"); err != nil {
			t.Errorf("docker-compose down -v: %v\n%s", err, out)
		}
	})
	c.compose("up", "-d")
	for _, s := range []string{"node1", "node2", "node3"} {
		c.waitHealthy(s)
	}

	// Write through a follower, check on the other follower.
	leader := c.leader("node1", "")
	var fs []string
	for _, s := range []string{"node1", "node2", "node3"} {
		if s != leader {
			fs = append(fs, s)
		}
	}
	tok := c.write(fs[0], "organization:acme#admin@user:zoe")
	if got := c.check(fs[1], "organization:acme", "administer", "user:zoe", tok); got != "allowed" {
		t.Fatalf("check on %s after a write through %s: got %s, want allowed", fs[1], fs[0], got)
	}
	// The same over SpiceDB's gRPC API on the published ports.
	c.grpcWriteThenCheck(fs[0], fs[1])

	// Kill the leader: a new one is elected and writes go on.
	killed := time.Now()
	c.must(time.Minute, "docker", "kill", c.container(leader))
	newLeader := c.leader(fs[0], leader)
	t.Logf("docker kill %s: %s elected after %v", leader, newLeader, time.Since(killed))
	tok = c.write(fs[1], "organization:acme#admin@user:yan")
	if got := c.check(fs[0], "organization:acme", "administer", "user:yan", tok); got != "allowed" {
		t.Fatalf("check after failover: got %s, want allowed", got)
	}
	c.must(time.Minute, "docker", "start", c.container(leader))
	c.waitHealthy(leader)
	if got := c.eventually(leader, "organization:acme", "administer", "user:yan", tok); got != "allowed" {
		t.Fatalf("restarted %s: got %s, want allowed (caught up)", leader, got)
	}

	// Cut a follower off the network: the other two keep writing; the cut
	// node refuses fully_consistent reads, still serves minimize_latency, and
	// catches up once reconnected.
	leader = c.leader("node1", "")
	cut := "node1"
	if leader == cut {
		cut = "node2"
	}
	other := "node3"
	if leader == other {
		other = map[string]string{"node1": "node2", "node2": "node1"}[cut]
	}
	network := c.project + "_trellis"
	cutID := c.container(cut)
	c.must(time.Minute, "docker", "network", "disconnect", network, cutID)
	tok = c.write(other, "organization:acme#admin@user:xia")
	if got := c.check(leader, "organization:acme", "administer", "user:xia", tok); got != "allowed" {
		t.Fatalf("write during the cut: got %s, want allowed", got)
	}
	// The cut node is unreachable from the host now (its published port went
	// with its network); ask it from inside its container.
	exe := func(args ...string) (string, error) {
		return c.run(time.Minute, "docker", append([]string{"exec", cutID, "/trellis"}, args...)...)
	}
	out, err := exe("check", "--endpoint", "http://127.0.0.1:8080", "--consistency", "fully_consistent", "--timeout", "20s",
		"organization:acme", "administer", "user:zoe")
	if err == nil || !strings.Contains(out, "unavailable") && !strings.Contains(out, "no_leader") {
		t.Fatalf("fully_consistent check on the cut-off %s: got err=%v %s, want a failure (unavailable), not an answer", cut, err, out)
	}
	t.Logf("fully_consistent on the cut-off node: %s", strings.TrimSpace(out))
	if out, err := exe("check", "--endpoint", "http://127.0.0.1:8080", "--consistency", "minimize_latency",
		"organization:acme", "administer", "user:zoe"); err != nil {
		t.Fatalf("minimize_latency check on the cut-off %s: %v %s, want allowed", cut, err, out)
	}
	c.must(time.Minute, "docker", "network", "connect", "--alias", cut, network, cutID)
	c.waitHealthy(cut)
	if got := c.eventually(cut, "organization:acme", "administer", "user:xia", tok); got != "allowed" {
		t.Fatalf("%s after reconnecting: got %s, want allowed (caught up)", cut, got)
	}
}
