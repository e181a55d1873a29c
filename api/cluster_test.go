package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/trellis-authz/trellis/wire"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/trellis-authz/trellis/consensus"
)

// fakeCluster is a follower whose leader lives at leaderAPI.
type fakeCluster struct {
	mu                  sync.Mutex
	leaderID, leaderAPI string
}

func (f *fakeCluster) IsLeader() bool { return false }
func (f *fakeCluster) Leader() (string, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.leaderID, "127.0.0.1:1"
}

// setLeader changes who this follower believes leads.
func (f *fakeCluster) setLeader(id string) {
	f.mu.Lock()
	f.leaderID = id
	f.mu.Unlock()
}

func (f *fakeCluster) LeaderAPIAddr() string                { return f.leaderAPI }
func (f *fakeCluster) State() string                        { return "Follower" }
func (f *fakeCluster) AppliedRevision() uint64              { return 1 }
func (f *fakeCluster) AppliedIndex() uint64                 { return 1 }
func (f *fakeCluster) Members() ([]consensus.Member, error) { return nil, nil }
func (f *fakeCluster) ReadIndex(context.Context) (uint64, error) {
	return 0, consensus.ErrNotLeader
}
func (f *fakeCluster) AddMember(context.Context, consensus.Peer) error { return consensus.ErrNotLeader }
func (f *fakeCluster) RemoveServer(context.Context, string) error      { return consensus.ErrNotLeader }

// followerServer starts an API whose node is a follower of the leader at
// leaderAPI ("" for no known leader).
func followerServer(t *testing.T, leaderAPI string) *httptest.Server {
	t.Helper()
	hs, _ := followerServerWith(t, leaderAPI)
	return hs
}

// followerServerWith is followerServer that also returns the fake cluster
// node, to change its view of the leader.
func followerServerWith(t *testing.T, leaderAPI string) (*httptest.Server, *fakeCluster) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Auth = AuthConfig{Mode: AuthInsecureNoAuth}
	cfg.Logger = testLogger()
	cfg.RequestTimeout = 3 * time.Second
	deps := testDeps{Engine: &fakeEngine{}, Revisions: &fakeRevisions{applied: 1, readErr: consensus.ErrNotLeader},
		Snapshots: fakeSnapshots{schema: testSchema}, Writer: fakeWriter{err: errors.New("a follower must not write locally")}}
	srv, err := newTestServer(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	fc := &fakeCluster{leaderAPI: leaderAPI}
	if leaderAPI != "" {
		fc.leaderID = "n1"
	}
	cc := DefaultClusterConfig()
	cc.NodeID, cc.Node, cc.LeaderWait = "n2", fc, 100*time.Millisecond
	if err := srv.EnableCluster(cc); err != nil {
		t.Fatal(err)
	}
	if err := srv.EnableCluster(cc); err == nil {
		t.Fatal("EnableCluster twice: got nil, want an error")
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return hs, fc
}

// TestForwardLeaderMoves: a write forwarded to a leader that goes silent is
// answered 503 outcome_unknown as soon as this node sees the leadership move
// (an election), not after the request deadline.
func TestForwardLeaderMoves(t *testing.T) {
	released := make(chan struct{})
	silent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		select { // a leader cut off from its quorum: no answer
		case <-r.Context().Done():
		case <-released:
		}
	}))
	defer silent.Close()
	defer close(released)
	f, fc := followerServerWith(t, silent.URL) // request deadline 3 s
	go func() {
		time.Sleep(300 * time.Millisecond)
		fc.setLeader("") // the follower stops hearing from the leader: an election
	}()
	// Waiting for the deadline would answer 504 deadline_exceeded.
	status, body, _ := post(t, f.URL, "/v1/relationships/write", writeBody, nil)
	if status != http.StatusServiceUnavailable || !strings.Contains(body, `"code":"outcome_unknown"`) || !strings.Contains(body, "leadership moved") {
		t.Fatalf("got %d %s, want 503 outcome_unknown naming the leadership move", status, body)
	}
}

func post(t *testing.T, url, path string, body any, h http.Header) (int, string, http.Header) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, url+path, strings.NewReader(string(b)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer tok")
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out), resp.Header
}

var writeBody = wire.WriteRelationshipsRequest{Updates: []wire.Update{{Op: "touch", Relationship: "dataset:claims#reader@user:ana"}}}

func TestForwardRelaysTheLeadersAnswer(t *testing.T) {
	var mu sync.Mutex
	var got http.Header
	var gotBody string
	leader := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got, gotBody = r.Header.Clone(), string(b)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusPreconditionFailed)
		fmt.Fprint(w, `{"error":{"code":"precondition_failed","message":"from the leader"}}`)
	}))
	defer leader.Close()
	f := followerServer(t, leader.URL)
	id := uuid.NewString()
	status, body, hdr := post(t, f.URL, "/v1/relationships/write", writeBody, http.Header{RequestIDHeader: {id}})
	if status != http.StatusPreconditionFailed || !strings.Contains(body, "from the leader") {
		t.Fatalf("got %d %s, want the leader's 412", status, body)
	}
	if hdr.Get(ServedByHeader) != "leader" {
		t.Errorf("got %s %q, want leader", ServedByHeader, hdr.Get(ServedByHeader))
	}
	mu.Lock()
	defer mu.Unlock()
	for k, want := range map[string]string{"Authorization": "Bearer tok", RequestIDHeader: id, ForwardedHeader: "n2"} {
		if got.Get(k) != want {
			t.Errorf("leader got %s %q, want %q", k, got.Get(k), want)
		}
	}
	if !strings.Contains(gotBody, "dataset:claims#reader@user:ana") {
		t.Errorf("leader got body %q, want the caller's", gotBody)
	}
	// Reads are not forwarded: a check is answered here.
	if status, body, hdr := post(t, f.URL, "/v1/check", checkBody, nil); status != 200 || hdr.Get(ServedByHeader) != "" {
		t.Fatalf("check on a follower: got %d %s (served by %q), want 200 answered locally", status, body, hdr.Get(ServedByHeader))
	}
}

func TestForwardFailures(t *testing.T) {
	// A leader that takes the request and dies before answering.
	dying := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	defer dying.Close()
	gone := httptest.NewServer(http.NotFoundHandler())
	goneURL := gone.URL
	gone.Close()

	tests := []struct {
		name   string
		leader string
		header http.Header
		status int
		code   string
	}{
		{"leader dies mid-request", dying.URL, nil, http.StatusServiceUnavailable, "outcome_unknown"},
		{"leader unreachable", goneURL, nil, http.StatusServiceUnavailable, "no_leader"},
		{"no leader known", "", nil, http.StatusServiceUnavailable, "no_leader"},
		{"already forwarded once", dying.URL, http.Header{ForwardedHeader: {"n3"}}, http.StatusServiceUnavailable, "no_leader"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := followerServer(t, tc.leader)
			status, body, _ := post(t, f.URL, "/v1/relationships/write", writeBody, tc.header)
			if status != tc.status || !strings.Contains(body, `"code":"`+tc.code+`"`) {
				t.Fatalf("got %d %s, want %d %s", status, body, tc.status, tc.code)
			}
		})
	}
}

func TestFollowerFullyConsistentAsksTheLeader(t *testing.T) {
	tests := []struct {
		name   string
		answer func(w http.ResponseWriter)
		status int
	}{
		{"leader gives an index", func(w http.ResponseWriter) { fmt.Fprint(w, `{"index":1,"leader":"n1"}`) }, http.StatusOK},
		{"leader has no quorum", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `{"error":{"code":"no_leader","message":"no quorum"}}`)
		}, http.StatusServiceUnavailable},
		{"leader index ahead of this node", func(w http.ResponseWriter) { fmt.Fprint(w, `{"index":5,"leader":"n1"}`) }, http.StatusGatewayTimeout},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var path, auth string
			leader := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				path, auth = r.URL.Path, r.Header.Get("Authorization")
				mu.Unlock()
				tc.answer(w)
			}))
			defer leader.Close()
			f := followerServer(t, leader.URL)
			body := checkBody
			body.Consistency = &wire.Consistency{Mode: wire.FullyConsistent}
			status, out, _ := post(t, f.URL, "/v1/check", body, nil)
			if status != tc.status {
				t.Fatalf("got %d %s, want %d", status, out, tc.status)
			}
			mu.Lock()
			defer mu.Unlock()
			if path != "/v1/cluster/read-index" || auth != "Bearer tok" {
				t.Errorf("leader was asked %q with Authorization %q, want /v1/cluster/read-index with the caller's token", path, auth)
			}
		})
	}
}

func TestClusterConfigValidate(t *testing.T) {
	good := DefaultClusterConfig()
	good.NodeID, good.Node = "n1", &fakeCluster{}
	tests := []struct {
		name string
		edit func(*ClusterConfig)
		want string
	}{
		{"no node id", func(c *ClusterConfig) { c.NodeID = "" }, "NodeID"},
		{"no node", func(c *ClusterConfig) { c.Node = nil }, "Node is nil"},
		{"zero status timeout", func(c *ClusterConfig) { c.StatusTimeout = 0 }, "StatusTimeout"},
	}
	if err := good.Validate(); err != nil {
		t.Fatalf("default config: got %v, want nil", err)
	}
	for _, tc := range tests {
		c := good
		tc.edit(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error mentioning %q", tc.name, err, tc.want)
		}
	}
}
