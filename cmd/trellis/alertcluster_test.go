package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/trellis-authz/trellis/alerts"
	"github.com/trellis-authz/trellis/consensus"
	"github.com/trellis-authz/trellis/server"
)

// alertReceiver records every delivery it is sent, by id; while hold is
// set it keeps each request open (the sender waits for an answer that does
// not come) until release is closed.
type alertReceiver struct {
	mu      sync.Mutex
	byID    map[string][]string // delivery id -> relationships, one per arrival
	held    chan struct{}       // a request arrived while holding
	release chan struct{}
	hold    bool
	audits  int // audit-disagreement alerts (there must be none)
}

func (r *alertReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	id := req.Header.Get("Trellis-Delivery")
	if len(id) > 5 && id[:5] == "ping-" {
		return
	}
	var p alerts.Payload
	if json.Unmarshal(body, &p) != nil || !alerts.Verify("cluster-secret", body, req.Header.Get("Trellis-Signature")) {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	if p.Event.Kind == alerts.KindAudit {
		r.audits++
		r.mu.Unlock()
		return
	}
	r.byID[id] = append(r.byID[id], p.Event.Relationship)
	hold := r.hold
	r.mu.Unlock()
	if hold {
		select {
		case r.held <- struct{}{}:
		default:
		}
		select {
		case <-r.release:
		case <-req.Context().Done():
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	}
}

// TestAlertLeaderKilledMidDelivery: on a 3-node cluster the leader is
// stopped while a webhook holds its delivery open; the new leader delivers
// from the replicated cursor. Every alert of every acknowledged write
// arrives, and copies of one alert share its delivery id. An audit rule
// runs throughout: the leaders' roots are compared on every node and, the
// nodes agreeing, none is told.
func TestAlertLeaderKilledMidDelivery(t *testing.T) {
	rcv := &alertReceiver{byID: map[string][]string{}, held: make(chan struct{}, 1), release: make(chan struct{})}
	hs := httptest.NewServer(rcv)
	defer hs.Close()
	c := newTestClusterWith(t, 3, nil, func(o *server.Config) {
		o.AlertBackoff = alerts.Backoff{First: 20 * time.Millisecond, Max: 200 * time.Millisecond, Attempts: 1000}
		o.AlertAuditEvery = 20 * time.Millisecond
	}, nil)
	defer c.closeAll()
	l := c.leader()
	rules := map[string]any{"rules": []map[string]any{{"name": "viewers", "match": map[string]string{"resource_type": "doc", "relation": "viewer"},
		"webhook": map[string]string{"url": hs.URL, "secret": "cluster-secret"}},
		{"name": "audit-agreement", "audit": true, "webhook": map[string]string{"url": hs.URL, "secret": "cluster-secret"}}}}
	if status, body := c.do(l, http.MethodPut, "/v1/alerts", c.admin, rules, nil); status != http.StatusOK {
		t.Fatalf("PUT /v1/alerts: %d %s", status, body)
	}
	var want []string
	write := func(user string) {
		rel := "doc:d1#viewer@user:" + user
		c.mustWrite(c.followers()[0], "touch", rel)
		want = append(want, rel)
	}
	write("before")
	waitFor(t, rcv, want)

	rcv.mu.Lock()
	rcv.hold = true
	rcv.mu.Unlock()
	write("during")
	<-rcv.held // the leader is inside the delivery of "during"
	old := c.leader()
	c.stop(old)
	rcv.mu.Lock()
	rcv.hold = false
	rcv.mu.Unlock()
	close(rcv.release)
	nl := c.leader()
	if nl == old {
		t.Fatal("the stopped node still leads")
	}
	for _, u := range []string{"after1", "after2"} {
		write(u)
	}
	waitFor(t, rcv, want)
	// Every live node has compared a root covering the last write's entry.
	lead := c.node(c.leader())
	size := lead.AuditLog().Size()
	for _, i := range append(c.followers(), c.leader()) {
		deadline := time.Now().Add(20 * time.Second) // a deadline for a hang, not a performance bound
		for {
			r, ok, err := consensus.LatestAuditRoot(c.node(i).Store())
			if err != nil {
				t.Fatal(err)
			}
			if ok && r.Size >= size {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("node %d: no audit root at size %d applied (latest %+v)", i, size, r)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	time.Sleep(100 * time.Millisecond) // the next poll of every node compares it

	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if rcv.audits != 0 {
		t.Errorf("%d audit-disagreement alerts from a cluster whose nodes agree", rcv.audits)
	}
	for id, rels := range rcv.byID {
		for _, r := range rels[1:] {
			if r != rels[0] {
				t.Errorf("delivery id %s carried %q and %q: one id, one alert", id, rels[0], r)
			}
		}
	}
	ids := map[string]string{}
	for id, rels := range rcv.byID {
		if prev, dup := ids[rels[0]]; dup {
			t.Errorf("%s delivered under two ids, %s and %s", rels[0], prev, id)
		}
		ids[rels[0]] = id
	}
}

// waitFor waits until every relationship of want was delivered at least once.
func waitFor(t *testing.T, rcv *alertReceiver, want []string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second) // a hang, not a performance bound
	for {
		rcv.mu.Lock()
		got := map[string]bool{}
		for _, rels := range rcv.byID {
			for _, r := range rels {
				got[r] = true
			}
		}
		rcv.mu.Unlock()
		missing := ""
		for _, w := range want {
			if !got[w] {
				missing = w
			}
		}
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s was never delivered (got %v)", missing, got)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
