package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/trellis-authz/trellis/wire"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/trellis-authz/trellis/api"
	"github.com/trellis-authz/trellis/consensus"
)

// TestClusterThreeNodes runs the non-destructive cluster behaviours against
// one 3-node cluster.
func TestClusterThreeNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three nodes; skipped with -short")
	}
	c := newTestCluster(t, 3, nil)
	leader := c.leader()
	fs := c.followers()
	t.Logf("leader n%d, followers %v", leader+1, fs)

	t.Run("follower write is visible on every node with its token", func(t *testing.T) {
		c.t = t
		tok := c.mustWrite(fs[0], "touch", "doc:readme#viewer@user:ana")
		for i := range 3 {
			c.mustCheck(i, "doc:readme", "view", "user:ana", fresh(tok), "allowed")
			c.mustCheck(i, "doc:readme", "view", "user:ana", fullyConsistent, "allowed")
		}
		// at_exact_snapshot at the write's token works on another follower.
		c.mustCheck(fs[1], "doc:readme", "view", "user:ana", &wire.Consistency{Mode: wire.AtExactSnapshot, Token: tok}, "allowed")
	})

	t.Run("fully_consistent on a follower sees the latest write without a token", func(t *testing.T) {
		c.t = t
		for k := range 5 {
			rel := fmt.Sprintf("doc:fc%d#viewer@user:bo", k)
			c.mustWrite(leader, "touch", rel)
			c.mustCheck(fs[k%2], fmt.Sprintf("doc:fc%d", k), "view", "user:bo", fullyConsistent, "allowed")
		}
	})

	t.Run("new enemy across nodes", func(t *testing.T) {
		c.t = t
		grant := c.mustWrite(fs[0], "touch", "doc:plan#viewer@user:eve")
		c.mustCheck(fs[1], "doc:plan", "view", "user:eve", fresh(grant), "allowed")
		revoke := c.mustWrite(fs[0], "touch", "doc:plan#banned@user:eve")
		c.mustCheck(fs[1], "doc:plan", "view", "user:eve", fresh(revoke), "denied")
		c.mustCheck(leader, "doc:plan", "view", "user:eve", fresh(revoke), "denied")
		// Revoke by deleting on the leader, check on a follower.
		c.mustWrite(leader, "delete", "doc:plan#banned@user:eve")
		unrevoke := c.mustWrite(leader, "delete", "doc:plan#viewer@user:eve")
		c.mustCheck(fs[0], "doc:plan", "view", "user:eve", fresh(unrevoke), "denied")
	})

	t.Run("idempotent retry through different nodes", func(t *testing.T) {
		c.t = t
		key := uuid.NewString()
		t1, s1, b1 := c.write(fs[0], "create", "doc:once#viewer@user:cy", key)
		t2, s2, b2 := c.write(fs[1], "create", "doc:once#viewer@user:cy", key)
		if s1 != 200 || s2 != 200 {
			t.Fatalf("create twice with one key: got %d %s and %d %s, want 200 both (the retry replays)", s1, b1, s2, b2)
		}
		if t1 != t2 {
			t.Fatalf("replayed write: got written_at %s, want the first answer %s", t2, t1)
		}
		_, s3, b3 := c.write(fs[1], "create", "doc:once#viewer@user:cy", "")
		if s3 != http.StatusConflict || !strings.Contains(b3, "already_exists") {
			t.Fatalf("create without key after it exists: got %d %s, want 409 already_exists", s3, b3)
		}
	})

	t.Run("a forwarded request on a non-leader is 503 no_leader, not forwarded again", func(t *testing.T) {
		c.t = t
		body := wire.WriteRelationshipsRequest{Updates: []wire.Update{{Op: "touch", Relationship: "doc:loop#viewer@user:ana"}}}
		status, b, err := httpJSON(c.client, c.urls[fs[0]], http.MethodPost, "/v1/relationships/write", c.admin, body, nil,
			http.Header{api.ForwardedHeader: {"n9"}})
		if err != nil || status != http.StatusServiceUnavailable || !strings.Contains(b, "no_leader") {
			t.Fatalf("got %d %s %v, want 503 no_leader", status, b, err)
		}
	})

	t.Run("the follower checks credentials before forwarding", func(t *testing.T) {
		c.t = t
		body := wire.WriteRelationshipsRequest{Updates: []wire.Update{{Op: "touch", Relationship: "doc:x#viewer@user:ana"}}}
		if status, b := c.do(fs[0], http.MethodPost, "/v1/relationships/write", c.reader, body, nil); status != http.StatusForbidden {
			t.Fatalf("reader token write on a follower: got %d %s, want 403", status, b)
		}
		if status, b := c.do(fs[0], http.MethodPost, "/v1/relationships/write", "not-a-token", body, nil); status != http.StatusUnauthorized {
			t.Fatalf("unknown token write on a follower: got %d %s, want 401", status, b)
		}
		// Bad input is judged by the leader, and its answer relayed.
		bad := wire.WriteRelationshipsRequest{Updates: []wire.Update{{Op: "touch", Relationship: "doc:x#nope@user:ana"}}}
		if status, b := c.do(fs[0], http.MethodPost, "/v1/relationships/write", c.admin, bad, nil); status != http.StatusNotFound || !strings.Contains(b, "unknown_relation") {
			t.Fatalf("unknown relation through a follower: got %d %s, want 404 unknown_relation", status, b)
		}
	})

	t.Run("streamed import through a follower", func(t *testing.T) {
		c.t = t
		var lines strings.Builder
		for k := range 2500 {
			fmt.Fprintf(&lines, "doc:imp%d#viewer@user:ana\n", k)
		}
		req, _ := http.NewRequest(http.MethodPost, c.urls[fs[0]]+"/v1/relationships/import?idempotency_key="+uuid.NewString(), strings.NewReader(lines.String()))
		req.Header.Set("Authorization", "Bearer "+c.admin)
		req.Header.Set("Content-Type", "application/x-ndjson")
		resp, err := c.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var out wire.ImportResponse
		err = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || out.Imported != 2500 {
			t.Fatalf("import through a follower: got %d %+v %v, want 200 with 2500 imported", resp.StatusCode, out, err)
		}
		c.mustCheck(fs[1], "doc:imp2499", "view", "user:ana", fresh(out.WrittenAt), "allowed")
	})

	t.Run("schema change through a follower", func(t *testing.T) {
		c.t = t
		var out wire.WriteSchemaResponse
		status, b := c.do(fs[1], http.MethodPut, "/v1/schema", c.admin, wire.WriteSchemaRequest{Schema: clusterSchema + "\ndefinition team {}\n"}, &out)
		if status != http.StatusOK {
			t.Fatalf("PUT /v1/schema on a follower: got %d %s, want 200", status, b)
		}
	})

	t.Run("cluster status", func(t *testing.T) {
		c.t = t
		var st wire.ClusterResponse
		if status, b := c.do(fs[0], http.MethodGet, "/v1/cluster", c.reader, nil, &st); status != 200 {
			t.Fatalf("GET /v1/cluster: got %d %s", status, b)
		}
		if len(st.Members) != 3 || st.Leader != fmt.Sprintf("n%d", leader+1) {
			t.Fatalf("got %d members, leader %q; want 3 and n%d: %+v", len(st.Members), st.Leader, leader+1, st)
		}
		leaders := 0
		for _, m := range st.Members {
			if !m.Reachable || m.AppliedRevision == 0 || m.APIAddr == "" {
				t.Errorf("member %+v: want reachable with an applied revision and an API address", m)
			}
			if m.Role == "leader" {
				leaders++
			}
		}
		if leaders != 1 {
			t.Errorf("got %d members with role leader, want 1", leaders)
		}
		if status, b := c.do(fs[0], http.MethodPost, "/v1/cluster/members", c.reader, wire.AddMemberRequest{ID: "n9", RaftAddr: "127.0.0.1:1", APIAddr: "http://127.0.0.1:1"}, nil); status != http.StatusForbidden {
			t.Errorf("add member with a reader token: got %d %s, want 403", status, b)
		}
		if status, b := c.do(fs[0], http.MethodPost, "/v1/cluster/members", c.admin, wire.AddMemberRequest{ID: "n9", RaftAddr: "nope", APIAddr: "http://127.0.0.1:1"}, nil); status != http.StatusBadRequest {
			t.Errorf("add member with a bad raft_addr: got %d %s, want 400", status, b)
		}
		if status, b := c.do(fs[0], http.MethodDelete, "/v1/cluster/members/n9", c.admin, nil, nil); status != http.StatusNotFound {
			t.Errorf("remove an unknown member: got %d %s, want 404", status, b)
		}
	})

	t.Run("trellis cluster status", func(t *testing.T) {
		c.t = t
		cmd := newRootCommand()
		var out, errOut bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&errOut)
		code := execute(cmd, []string{"cluster", "status", "--endpoint", c.urls[fs[1]], "--token", c.reader})
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut.String())
		}
		text := out.String()
		want := fmt.Sprintf("leader n%d", leader+1)
		if !strings.Contains(text, want) || strings.Count(text, "Follower") != 2 || strings.Count(text, "Leader") != 1 {
			t.Fatalf("got\n%s\nwant %q, two Follower rows and one Leader row", text, want)
		}
		for _, tc := range []struct {
			args []string
			code int
			want string
		}{
			{[]string{"cluster", "remove", "n9"}, 1, "not_found"},
			{[]string{"cluster", "join", "--id", "n9", "--raft-addr", "nope", "--api-addr", "http://127.0.0.1:1"}, 1, "invalid_argument"},
			{[]string{"cluster", "join", "--id", "n9"}, 2, "--raft-addr"},
		} {
			cmd := newRootCommand()
			var errOut bytes.Buffer
			cmd.SetOut(io.Discard)
			cmd.SetErr(&errOut)
			code := execute(cmd, append(tc.args, "--endpoint", c.urls[fs[1]], "--token", c.admin))
			if code != tc.code || !strings.Contains(errOut.String(), tc.want) {
				t.Errorf("trellis %s: got exit %d %q, want exit %d mentioning %q", strings.Join(tc.args, " "), code, errOut.String(), tc.code, tc.want)
			}
		}
	})
}

// TestClusterFailover kills the leader during a stream of writes: a new
// leader takes over, no acknowledged write is lost, and the old leader comes
// back and catches up by snapshot.
func TestClusterFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three nodes; skipped with -short")
	}
	c := newTestCluster(t, 3, func(cc *consensus.Config) {
		cc.SnapshotThreshold = 16
		cc.TrailingLogs = 8
		cc.WALSegmentSize = 4096                     // truncation drops whole segments: keep them small
		cc.SnapshotInterval = 100 * time.Millisecond // raft waits 1-2 intervals between checks
	})
	old := c.leader()

	type ack struct{ rel, token string }
	var (
		mu     sync.Mutex
		acked  []ack
		count  atomic.Int64
		stop   = make(chan struct{})
		writer sync.WaitGroup
	)
	for w := range 3 {
		writer.Go(func() {
			for k := 0; ; k++ {
				select {
				case <-stop:
					return
				default:
				}
				rel := fmt.Sprintf("doc:w%d_%d#viewer@user:u%d", w, k, w)
				key := uuid.NewString()
				// Retry with the same key until acknowledged: the key makes
				// an unknown outcome safe to retry.
				for try := 0; ; try++ {
					node := (w + k + try) % 3
					tok, status, _ := c.write(node, "touch", rel, key)
					if status == http.StatusOK {
						mu.Lock()
						acked = append(acked, ack{rel, tok})
						mu.Unlock()
						count.Add(1)
						break
					}
					select {
					case <-stop:
						return // not acknowledged: may or may not be written
					case <-time.After(20 * time.Millisecond):
					}
				}
			}
		})
	}
	waitCount := func(n int64) {
		deadline := time.Now().Add(60 * time.Second)
		for count.Load() < n {
			if time.Now().After(deadline) {
				t.Fatalf("only %d writes acknowledged, want %d", count.Load(), n)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitCount(30)
	before := count.Load()
	killed := time.Now()
	c.stop(old)
	newLeader := c.leader()
	elected := time.Since(killed)
	waitCount(count.Load() + 1) // a write acknowledged after the election
	firstWrite := time.Since(killed)
	t.Logf("leader n%d stopped; n%d elected after %v; first acknowledged write after %v", old+1, newLeader+1, elected, firstWrite)
	waitCount(before + 60) // enough entries to snapshot past the old leader's log
	close(stop)
	writer.Wait()

	mu.Lock()
	defer mu.Unlock()
	for _, a := range acked {
		res := strings.TrimPrefix(a.rel[:strings.Index(a.rel, "#")], "")
		user := a.rel[strings.Index(a.rel, "@")+1:]
		c.mustCheck(newLeader, res, "view", user, fresh(a.token), "allowed")
	}
	t.Logf("%d acknowledged writes, all present on the new leader", len(acked))

	// Force a snapshot so the log the old leader misses is compacted.
	if err := c.node(newLeader).Consensus().Snapshot(); err != nil {
		t.Fatalf("snapshot on the new leader: %v", err)
	}
	last := acked[len(acked)-1]
	if err := c.start(old); err != nil {
		t.Fatalf("restart n%d: %v", old+1, err)
	}
	c.waitReady(old)
	res := last.rel[:strings.Index(last.rel, "#")]
	user := last.rel[strings.Index(last.rel, "@")+1:]
	c.mustCheck(old, res, "view", user, fresh(last.token), "allowed")
	want := c.node(newLeader).Consensus().AppliedRevision()
	if got := c.node(old).Consensus().AppliedRevision(); got < want {
		t.Fatalf("old leader at revision %d after the token wait, want >= %d", got, want)
	}
	restores, _ := strconv.Atoi(c.node(old).Consensus().Stats()["fsm_restores"])
	if restores < 1 {
		t.Errorf("the old leader caught up without installing a snapshot (fsm_restores=%d); want >= 1 since the leader compacted its log", restores)
	}
	t.Logf("old leader n%d caught up to revision %d (snapshot restores: %d)", old+1, want, restores)
}

// TestClusterPartition cuts one node off (its two peers stop): it cannot
// acknowledge writes, still serves minimize_latency reads, answers
// fully_consistent reads with 503 rather than stale data, and reports its
// peers unreachable.
func TestClusterPartition(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three nodes; skipped with -short")
	}
	c := newTestCluster(t, 3, nil)
	for _, lone := range []string{"follower", "leader"} {
		t.Run(lone, func(t *testing.T) {
			c.t = t
			var i int
			if lone == "leader" {
				i = c.leader()
			} else {
				i = c.followers()[0]
			}
			tok := c.mustWrite(i, "touch", "doc:cut#viewer@user:"+lone)
			c.mustCheck(i, "doc:cut", "view", "user:"+lone, fresh(tok), "allowed")
			var others []int
			for j := range 3 {
				if j != i {
					others = append(others, j)
					c.stop(j)
				}
			}
			if _, status, body := c.write(i, "touch", "doc:cut#viewer@user:zed", uuid.NewString()); status == http.StatusOK || status/100 != 5 {
				t.Fatalf("write on a cut-off %s: got %d %s, want a 5xx (not acknowledged)", lone, status, body)
			}
			c.mustCheck(i, "doc:cut", "view", "user:"+lone, minimizeLatency, "allowed")
			_, status, body := c.check(i, "doc:cut", "view", "user:"+lone, fullyConsistent)
			if status != http.StatusServiceUnavailable {
				t.Fatalf("fully_consistent check on a cut-off %s: got %d %s, want 503", lone, status, body)
			}
			var st wire.ClusterResponse
			if status, b := c.do(i, http.MethodGet, "/v1/cluster", c.reader, nil, &st); status != 200 {
				t.Fatalf("GET /v1/cluster: got %d %s", status, b)
			}
			for _, m := range st.Members {
				if m.ID != fmt.Sprintf("n%d", i+1) && (m.Reachable || m.Error == "") {
					t.Errorf("member %s: got reachable=%v error=%q, want unreachable with an error", m.ID, m.Reachable, m.Error)
				}
			}
			// Heal: the others come back and the cluster serves writes again.
			var wg sync.WaitGroup
			for _, j := range others {
				wg.Go(func() {
					if err := c.start(j); err != nil {
						t.Errorf("restart n%d: %v", j+1, err)
					}
				})
			}
			wg.Wait()
			for j := range 3 {
				c.waitReady(j)
			}
			tok = c.mustWrite(i, "touch", "doc:cut#viewer@user:healed")
			for j := range 3 {
				c.mustCheck(j, "doc:cut", "view", "user:healed", fresh(tok), "allowed")
			}
		})
	}
}

// TestClusterJoinAndRemove grows a one-node cluster with --join and shrinks
// it with DELETE /v1/cluster/members/{id}, both sent to the joining node.
func TestClusterJoinAndRemove(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two nodes; skipped with -short")
	}
	c := newTestCluster(t, 1, nil)
	o := c.opts[0]
	o.NodeID = "n2"
	o.HTTPAddr = freeAddr(t)
	o.RaftAddr = freeAddr(t)
	o.DataDir = t.TempDir()
	o.Peers = ""
	o.Join = c.urls[0]
	o.JoinToken = c.admin
	c.opts = append(c.opts, o)
	c.nodes = append(c.nodes, nil)
	c.urls = append(c.urls, "http://"+o.HTTPAddr)
	if err := c.start(1); err != nil {
		t.Fatalf("start n2 with --join: %v", err)
	}
	c.waitReady(1)
	var st wire.ClusterResponse
	if status, b := c.do(1, http.MethodGet, "/v1/cluster", c.reader, nil, &st); status != 200 || len(st.Members) != 2 {
		t.Fatalf("GET /v1/cluster on the joined node: got %d %s, want 200 with 2 members", status, b)
	}
	tok := c.mustWrite(1, "touch", "doc:joined#viewer@user:ana")
	c.mustCheck(0, "doc:joined", "view", "user:ana", fresh(tok), "allowed")
	c.mustCheck(1, "doc:joined", "view", "user:ana", fullyConsistent, "allowed")

	var ms wire.MembersResponse
	if status, b := c.do(1, http.MethodDelete, "/v1/cluster/members/n2", c.admin, nil, &ms); status != 200 || len(ms.Members) != 1 || ms.Members[0].ID != "n1" {
		t.Fatalf("remove n2 through n2: got %d %s, want 200 with only n1 left", status, b)
	}
	c.stop(1)
	c.mustWrite(0, "touch", "doc:joined#viewer@user:bo")
}
