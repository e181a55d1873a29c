//go:build slow

package main

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/trellis-authz/trellis/test/faultnet"
)

// faultKind is one kind of fault the nemesis injects.
type faultKind struct {
	name      string
	partition bool
	count     int // how many of this kind one run injects
	// inject starts the fault and returns what it did and how to end it.
	inject func(n *nemesis) (desc string, heal func())
}

// faultKinds is the mix of one run: 14 partitions among 24 faults. Every
// network fault holds for raft and for node-to-node HTTP (forwarded writes,
// read-index calls), which both run through the proxies (newProcCluster).
var faultKinds = []faultKind{
	{"isolate-follower", true, 3, func(n *nemesis) (string, func()) {
		v := n.follower()
		n.net.Isolate(n.name(v))
		return "isolate " + n.name(v) + " (a follower) both ways", n.net.Heal
	}},
	{"isolate-leader", true, 3, func(n *nemesis) (string, func()) {
		l := n.c.leader()
		n.net.Isolate(n.name(l))
		return "isolate " + n.name(l) + " (the leader) both ways", n.net.Heal
	}},
	{"one-way", true, 3, func(n *nemesis) (string, func()) {
		a, b := n.pair()
		n.net.Block(n.name(a), n.name(b))
		return fmt.Sprintf("block %s -> %s only", n.name(a), n.name(b)), n.net.Heal
	}},
	{"leader-mute", true, 3, func(n *nemesis) (string, func()) {
		l := n.c.leader()
		for i := range 3 {
			if i != l {
				n.net.Block(n.name(l), n.name(i))
			}
		}
		return "block everything the leader " + n.name(l) + " sends (it still hears the others)", n.net.Heal
	}},
	{"bridge", true, 2, func(n *nemesis) (string, func()) {
		a, b := n.pair()
		n.net.Partition([]string{n.name(a)}, []string{n.name(b)})
		return fmt.Sprintf("cut %s <-> %s (the third node sees both)", n.name(a), n.name(b)), n.net.Heal
	}},
	{"slow", false, 3, func(n *nemesis) (string, func()) {
		d := time.Duration(20+n.rng.IntN(80)) * time.Millisecond
		n.everyLink(func(a, b string) { n.net.Slow(a, b, d, 0) })
		return fmt.Sprintf("delay every link by %v", d), n.net.Heal
	}},
	{"lossy", false, 3, func(n *nemesis) (string, func()) {
		p := 0.02 + 0.06*n.rng.Float64()
		n.everyLink(func(a, b string) { n.net.Slow(a, b, 5*time.Millisecond, p) })
		return fmt.Sprintf("reset connections on %.0f%% of chunks, 5ms delay, every link", 100*p), n.net.Heal
	}},
	{"kill-restart", false, 4, func(n *nemesis) (string, func()) {
		v := n.rng.IntN(3)
		role := "a follower"
		if n.rng.IntN(2) == 0 {
			v, role = n.c.leader(), "the leader"
		} else if l := n.c.leader(); v == l {
			role = "the leader"
		}
		n.c.kill(v)
		return fmt.Sprintf("kill -9 %s (%s), restart it on its data dir", n.name(v), role), func() { n.c.restart(v) }
	}},
}

// nemesis injects faults into a procCluster: network faults through its
// faultnet.Net (raft and node-to-node HTTP alike), kill -9 of its processes.
type nemesis struct {
	t   *testing.T
	c   *procCluster
	net *faultnet.Net
	rng *rand.Rand
	log []string
	by  map[string]int
}

func (n *nemesis) name(i int) string { return fmt.Sprintf("n%d", i+1) }

func (n *nemesis) follower() int {
	f := n.c.followers()
	return f[n.rng.IntN(len(f))]
}

func (n *nemesis) pair() (int, int) {
	a := n.rng.IntN(3)
	return a, (a + 1 + n.rng.IntN(2)) % 3
}

func (n *nemesis) everyLink(f func(a, b string)) {
	for i := range 3 {
		for j := i + 1; j < 3; j++ {
			f(n.name(i), n.name(j))
		}
	}
}

// run injects every fault of faultKinds in a shuffled order, each for 1.5 to
// 3 s followed by a quiet second, and returns the number of partitions.
func (n *nemesis) run() (faults, partitions int) {
	var plan []faultKind
	for _, k := range faultKinds {
		for range k.count {
			plan = append(plan, k)
		}
	}
	n.rng.Shuffle(len(plan), func(i, j int) { plan[i], plan[j] = plan[j], plan[i] })
	n.by = map[string]int{}
	for i, k := range plan {
		t0 := time.Now()
		desc, heal := k.inject(n)
		time.Sleep(time.Duration(1500+n.rng.IntN(1500)) * time.Millisecond)
		heal()
		line := fmt.Sprintf("%2d %-16s %s (%v)", i+1, k.name, desc, time.Since(t0).Round(100*time.Millisecond))
		n.t.Log("nemesis: " + line)
		n.log = append(n.log, line)
		n.by[k.name]++
		faults++
		if k.partition {
			partitions++
		}
		time.Sleep(time.Second)
	}
	return faults, partitions
}

func (n *nemesis) summary() string {
	names := make([]string, 0, len(n.by))
	for k := range n.by {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, k := range names {
		fmt.Fprintf(&b, " %s=%d", k, n.by[k])
	}
	return b.String()
}

// newEnemy checks the new-enemy property while the nemesis runs: each round
// grants user:e view on a fresh document through a random node, revokes it
// through a random node (both acknowledged), then checks at_least_as_fresh
// the revoke's token on a random node. An "allowed" answer is a violation.
// A round whose grant or revoke is never acknowledged is abandoned (its
// document is not used again).
type newEnemy struct {
	rounds, checks, violations, abandoned int
	failures                              []string
}

func (e *newEnemy) run(c *testCluster, rng *rand.Rand, stop <-chan struct{}) {
	ack := func(op, rel string) (string, bool) {
		key := uuid.NewString()
		for giveUp := time.Now().Add(8 * time.Second); time.Now().Before(giveUp); {
			tok, status, _ := c.write(rng.IntN(3), op, rel, key)
			if status == http.StatusOK {
				return tok, true
			}
			time.Sleep(50 * time.Millisecond)
		}
		return "", false
	}
	for round := 0; ; round++ {
		select {
		case <-stop:
			return
		default:
		}
		e.rounds++
		res := fmt.Sprintf("doc:ne%d", round)
		rel := res + "#viewer@user:e"
		if _, ok := ack("touch", rel); !ok {
			e.abandoned++
			continue
		}
		tok, ok := ack("delete", rel)
		if !ok {
			e.abandoned++
			continue
		}
		for try := 0; try < 5; try++ {
			node := rng.IntN(3)
			got, status, body := c.check(node, res, "view", "user:e", fresh(tok))
			if status != http.StatusOK {
				time.Sleep(100 * time.Millisecond)
				continue
			}
			e.checks++
			if got != "denied" {
				e.violations++
				e.failures = append(e.failures, fmt.Sprintf("%s on n%d at_least_as_fresh %s: %q (%s)", res, node+1, tok, got, body))
			}
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// runNewEnemy starts e in the background; the returned function stops it and
// waits.
func runNewEnemy(c *testCluster, e *newEnemy) (stop func()) {
	ch := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { e.run(c, rand.New(rand.NewPCG(99, 3)), ch) })
	return func() { close(ch); wg.Wait() }
}
