//go:build slow

package main

import (
	"fmt"
	"github.com/trellis-authz/trellis/wire"
	"math"
	"math/rand/v2"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/google/uuid"

	"github.com/trellis-authz/trellis/tuple"
)

// registerInput is one operation on a key's register: the presence of the
// relationship doc:KEY#viewer@user:x.
type registerInput struct {
	Key   int
	Write bool
	Value bool // for a write: touch (true) or delete (false)
}

// registerModel is a set of independent boolean registers, one per key.
var registerModel = porcupine.Model{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		by := map[int][]porcupine.Operation{}
		for _, op := range h {
			k := op.Input.(registerInput).Key
			by[k] = append(by[k], op)
		}
		keys := make([]int, 0, len(by))
		for k := range by {
			keys = append(keys, k)
		}
		sort.Ints(keys)
		var out [][]porcupine.Operation
		for _, k := range keys {
			out = append(out, by[k])
		}
		return out
	},
	Init: func() any { return false },
	Step: func(state, input, output any) (bool, any) {
		in := input.(registerInput)
		if in.Write {
			return true, in.Value
		}
		return output.(bool) == state.(bool), state
	},
	DescribeOperation: func(input, output any) string {
		in := input.(registerInput)
		if in.Write {
			return fmt.Sprintf("k%d := %v", in.Key, in.Value)
		}
		return fmt.Sprintf("k%d -> %v", in.Key, output)
	},
}

// TestJepsenRegisters runs concurrent writers and token-carrying readers
// against three node processes (newProcCluster) whose raft and node-to-node
// HTTP traffic all goes through a fault-injecting proxy (test/faultnet)
// while a nemesis injects 24 faults — partitions of several shapes, slow and
// lossy links, nodes killed with SIGKILL and restarted on their data
// directories (see faultKinds) — records the history and checks it for linearizability with
// porcupine, checks that no acknowledged write was lost, and checks the
// new-enemy property (a check at least as fresh as an acknowledged revoke
// never allows; see newEnemy).
//
// Every operation publishes its answer's token into a shared "latest token";
// an at_least_as_fresh read uses the latest token at its invocation, so it
// reflects every operation that completed before it started, which makes
// those reads linearizable too. Writes are retried with one idempotency key
// until acknowledged (so each is applied at most once); a write never
// acknowledged is recorded as pending until the end of the history.
func TestJepsenRegisters(t *testing.T) {
	const (
		keys     = 6
		writers  = 4
		readers  = 4
		giveUpOp = 8 * time.Second
	)
	testStart := time.Now()
	c := newProcCluster(t)
	t.Logf("three node processes ready in %v", time.Since(testStart).Round(100*time.Millisecond))
	start := time.Now()
	now := func() int64 { return int64(time.Since(start)) }

	var (
		mu        sync.Mutex
		history   []porcupine.Operation
		latest    string // newest token any operation returned
		latestRev uint64
		acked     = map[int][]porcupine.Operation{}
	)
	publish := func(tok string) {
		rev, err := tokenRevision(tok)
		if err != nil {
			t.Errorf("bad token %q: %v", tok, err)
			return
		}
		mu.Lock()
		if rev > latestRev {
			latestRev, latest = rev, tok
		}
		mu.Unlock()
	}
	record := func(op porcupine.Operation) {
		mu.Lock()
		history = append(history, op)
		mu.Unlock()
	}
	rel := func(k int) string { return fmt.Sprintf("doc:k%d#viewer@user:x", k) }

	stop := make(chan struct{})
	var wg sync.WaitGroup
	counts := struct {
		sync.Mutex
		writes, pending, reads, failedReads int
	}{}
	for w := range writers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for {
				select {
				case <-stop:
					return
				default:
				}
				in := registerInput{Key: rng.IntN(keys), Write: true, Value: rng.IntN(2) == 0}
				op := "delete"
				if in.Value {
					op = "touch"
				}
				key := uuid.NewString()
				call := now()
				giveUp := time.Now().Add(giveUpOp)
				done := false
				for try := 0; time.Now().Before(giveUp); try++ {
					tok, status, _ := c.write(rng.IntN(3), op, rel(in.Key), key)
					if status == http.StatusOK {
						// Publish before taking the return time: a read that
						// starts after this return must find the token.
						publish(tok)
						ret := now()
						o := porcupine.Operation{ClientId: w, Input: in, Call: call, Output: true, Return: ret}
						record(o)
						mu.Lock()
						acked[in.Key] = append(acked[in.Key], o)
						mu.Unlock()
						done = true
						break
					}
					if status > 0 && status < 500 {
						t.Errorf("write %s %s: got %d, want 200 or a retryable 5xx", op, rel(in.Key), status)
						break
					}
					time.Sleep(50 * time.Millisecond)
				}
				counts.Lock()
				if done {
					counts.writes++
				} else {
					counts.pending++
				}
				counts.Unlock()
				if !done {
					// Unknown outcome: it may take effect at any later time.
					record(porcupine.Operation{ClientId: w, Input: in, Call: call, Output: true, Return: math.MaxInt64 / 2})
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
	for r := range readers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(100+r), 2))
			for {
				select {
				case <-stop:
					return
				default:
				}
				k := rng.IntN(keys)
				// Take the call time before reading the latest token: every
				// operation that returned before the call published its
				// token before returning, so the token covers it.
				call := now()
				mu.Lock()
				tok := latest
				mu.Unlock()
				cons := fullyConsistent
				if r%2 == 0 && tok != "" {
					cons = fresh(tok)
				}
				var out wire.CheckResponse
				status, _ := c.do(rng.IntN(3), http.MethodPost, "/v1/check", c.reader,
					wire.CheckRequest{Resource: fmt.Sprintf("doc:k%d", k), Permission: "view", Subject: "user:x", Consistency: cons}, &out)
				if status == http.StatusOK {
					publish(out.CheckedAt) // before the return time, as for writes
				}
				ret := now()
				counts.Lock()
				if status == http.StatusOK {
					counts.reads++
				} else {
					counts.failedReads++
				}
				counts.Unlock()
				if status != http.StatusOK {
					time.Sleep(50 * time.Millisecond)
					continue // a failed read has no effect
				}
				record(porcupine.Operation{ClientId: writers + r, Input: registerInput{Key: k}, Call: call,
					Output: out.Result == "allowed", Return: ret})
				time.Sleep(5 * time.Millisecond)
			}
		})
	}

	// Nemesis: partitions (symmetric, one-way, an isolated or muted leader,
	// a bridge), slow and lossy links, killed (-9) and restarted nodes.
	enemy := &newEnemy{}
	stopEnemy := runNewEnemy(c.testCluster, enemy)
	nem := &nemesis{t: t, c: c, net: c.net, rng: rand.New(rand.NewPCG(7, 7))}
	faults, partitions := nem.run()
	stopEnemy()
	close(stop)
	wg.Wait()

	// Final reads on every node, fully consistent, after everyone caught up.
	for i := range 3 {
		c.waitReady(i)
	}
	for k := range keys {
		for i := range 3 {
			call := now()
			var out wire.CheckResponse
			status, body := c.do(i, http.MethodPost, "/v1/check", c.reader,
				wire.CheckRequest{Resource: fmt.Sprintf("doc:k%d", k), Permission: "view", Subject: "user:x", Consistency: fullyConsistent}, &out)
			if status != http.StatusOK {
				t.Fatalf("final read of k%d on n%d: got %d %s", k, i+1, status, body)
			}
			record(porcupine.Operation{ClientId: writers + readers, Input: registerInput{Key: k}, Call: call,
				Output: out.Result == "allowed", Return: now()})
		}
	}
	t.Logf("history: %d acknowledged writes, %d writes with unknown outcome, %d reads (%d failed and dropped), %d operations in all",
		counts.writes, counts.pending, counts.reads, counts.failedReads, len(history))
	if counts.writes < 20 || counts.reads < 20 {
		t.Fatalf("too few operations to judge: %d writes, %d reads", counts.writes, counts.reads)
	}

	t.Logf("faults: %d injected, %d of them partitions;%s", faults, partitions, nem.summary())
	raftConns, apiConns := c.proxied()
	t.Logf("through the proxies: %d raft connections, %d node-to-node HTTP connections", raftConns, apiConns)
	if raftConns == 0 || apiConns == 0 {
		t.Errorf("the nodes opened %d raft and %d HTTP connections to each other through faultnet, want both above 0 (is --peer-connect-to applied?)", raftConns, apiConns)
	}
	t.Logf("new enemy: %d rounds, %d checks at the revoke's token, %d violations, %d rounds abandoned (a write never acknowledged)",
		enemy.rounds, enemy.checks, enemy.violations, enemy.abandoned)
	if faults < 20 || partitions < 8 {
		t.Errorf("the nemesis injected %d faults (%d partitions), want at least 20 (8)", faults, partitions)
	}
	for _, f := range enemy.failures {
		t.Errorf("new enemy: a check at least as fresh as an acknowledged revoke allowed: %s", f)
	}
	if enemy.checks < 10 {
		t.Errorf("new enemy: only %d checks answered, want at least 10 to judge", enemy.checks)
	}

	res, info := porcupine.CheckOperationsVerbose(registerModel, history, time.Minute)
	switch res {
	case porcupine.Illegal:
		path := t.TempDir() + "/history.html"
		if err := porcupine.VisualizePath(registerModel, info, path); err == nil {
			t.Logf("visualization of the history: %s", path)
		}
		t.Fatal("the history is not linearizable")
	case porcupine.Unknown:
		t.Fatal("porcupine could not decide linearizability within a minute; shorten the run")
	}
	t.Log("the history is linearizable")

	// No acknowledged write lost: for a key whose last acknowledged write
	// follows every other write to that key (acknowledged or not) in real
	// time, every node must end with that write's value.
	pendingKeys := map[int]bool{}
	for _, op := range history {
		in := op.Input.(registerInput)
		if in.Write && op.Return == math.MaxInt64/2 {
			pendingKeys[in.Key] = true
		}
	}
	checked := 0
	for k, ops := range acked {
		if pendingKeys[k] {
			continue
		}
		last := ops[0]
		for _, o := range ops {
			if o.Call > last.Call {
				last = o
			}
		}
		clean := true
		for _, o := range ops {
			if o != last && o.Return >= last.Call {
				clean = false
			}
		}
		if !clean {
			continue
		}
		want := last.Input.(registerInput).Value
		for i := range 3 {
			// A read at least as fresh as every answer is served from node
			// i's own store once it applied that revision.
			var out wire.ReadRelationshipsResponse
			r, _ := tuple.Parse(rel(k))
			status, body := c.do(i, http.MethodPost, "/v1/relationships/read", c.reader, wire.ReadRelationshipsRequest{
				Filter: tuple.Filter{ResourceType: "doc", ResourceID: r.Resource.ID}, Limit: 10, Consistency: fresh(latest)}, &out)
			if status != http.StatusOK {
				t.Fatalf("reading k%d on n%d: got %d %s", k, i+1, status, body)
			}
			if (len(out.Relationships) > 0) != want {
				t.Errorf("k%d on n%d: present=%v, want %v (the last acknowledged write)", k, i+1, len(out.Relationships) > 0, want)
			}
		}
		checked++
	}
	t.Logf("no acknowledged write lost: %d keys checked on every node's store", checked)
	t.Logf("test time %v (cluster start, nemesis, checks)", time.Since(testStart).Round(100*time.Millisecond))
}

// TestRegisterModelRejectsStaleRead shows the checker has teeth: a read that
// starts after a write was acknowledged and misses it is not linearizable.
func TestRegisterModelRejectsStaleRead(t *testing.T) {
	w := porcupine.Operation{ClientId: 0, Input: registerInput{Key: 1, Write: true, Value: true}, Call: 0, Output: true, Return: 10}
	tests := []struct {
		name string
		read porcupine.Operation
		want bool
	}{
		{"stale read after the ack", porcupine.Operation{ClientId: 1, Input: registerInput{Key: 1}, Call: 20, Output: false, Return: 30}, false},
		{"fresh read after the ack", porcupine.Operation{ClientId: 1, Input: registerInput{Key: 1}, Call: 20, Output: true, Return: 30}, true},
		{"concurrent read may miss it", porcupine.Operation{ClientId: 1, Input: registerInput{Key: 1}, Call: 5, Output: false, Return: 30}, true},
		{"another key is independent", porcupine.Operation{ClientId: 1, Input: registerInput{Key: 2}, Call: 20, Output: false, Return: 30}, true},
	}
	for _, tc := range tests {
		if got := porcupine.CheckOperations(registerModel, []porcupine.Operation{w, tc.read}); got != tc.want {
			t.Errorf("%s: got linearizable=%v, want %v", tc.name, got, tc.want)
		}
	}
}
