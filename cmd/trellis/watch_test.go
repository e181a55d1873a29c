package main

import (
	"context"
	"fmt"
	"github.com/trellis-authz/trellis/wire"
	"strings"
	"testing"
	"time"

	"github.com/trellis-authz/trellis/client"
)

// TestWatchResumeAcrossLeaderChange: a consumer watching a follower reads
// part of the stream, the leader is stopped, more is written through the new
// leader, and the consumer resumes on another node with its last token. It
// sees every change exactly once, in order: tokens are cluster-wide
// revisions and every node's change feed holds the same revisions.
func TestWatchResumeAcrossLeaderChange(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster; skipped with -short")
	}
	c := newTestCluster(t, 3, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	writer := func(i int) *client.Client {
		return client.New(c.urls[i], client.WithToken(c.admin), client.WithTimeout(15*time.Second))
	}
	var want []string
	write := func(via, batch int) string {
		t.Helper()
		rel := fmt.Sprintf("doc:b%d#viewer@user:u", batch)
		var res *wire.WriteResponse
		var err error
		for attempt := 0; attempt < 50; attempt++ { // a new leader may still be settling
			if res, err = writer(via).WriteRelationships(ctx, wire.WriteRelationshipsRequest{Updates: []wire.Update{{Op: "touch", Relationship: rel}}}); err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			t.Fatalf("write %s via node %d: %v", rel, via+1, err)
		}
		want = append(want, "touch "+rel)
		return res.WrittenAt
	}
	l := c.leader()
	start := write(l, 0)
	want = want[:0] // watch from after batch 0
	for b := 1; b <= 4; b++ {
		write(l, b)
	}
	f := c.followers()
	watchOn := func(node int, since string) *client.Watcher {
		w, err := client.New(c.urls[node], client.WithToken(c.reader)).Watch(ctx, client.WatchOptions{Since: since, Types: []string{"doc"}})
		if err != nil {
			t.Fatalf("watch on node %d: %v", node+1, err)
		}
		return w
	}
	var got []string
	var lastRev uint64
	take := func(w *client.Watcher) {
		ev, err := w.Next()
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		if ev.Revision <= lastRev {
			t.Fatalf("revision %d after %d", ev.Revision, lastRev)
		}
		lastRev = ev.Revision
		for _, ch := range ev.Changes {
			got = append(got, ch.Op+" "+ch.Relationship)
		}
	}
	w := watchOn(f[0], start)
	take(w)
	take(w)
	last := w.LastID()
	w.Close()

	c.stop(l)
	nl := c.leader()
	for b := 5; b <= 8; b++ {
		write(nl, b)
	}
	w2 := watchOn(f[1], last) // another node than the first watch, not the old leader
	defer w2.Close()
	for len(got) < len(want) {
		take(w2)
	}
	if g, w := strings.Join(got, "\n"), strings.Join(want, "\n"); g != w {
		t.Errorf("got:\n%s\nwant:\n%s", g, w)
	}
}
