package server_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trellis-authz/trellis/alerts"
	"github.com/trellis-authz/trellis/test/testnode"
)

// TestAlertBacklogPastGCWindow: while the webhook refuses, many times the
// GC window's worth of matching writes commit; when it comes back every
// one of them is delivered, once per id. Before the change feed was held
// at the alert cursor, the loop fell below the feed's horizon and then
// failed with "snapshot expired" on every poll, delivering nothing again.
func TestAlertBacklogPastGCWindow(t *testing.T) {
	const writes = 400
	var down atomic.Bool
	down.Store(true)
	var mu sync.Mutex
	ids := map[string]int{}
	granted := map[string]bool{} // the relationships the deliveries report
	var kinds []string
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		id := r.Header.Get("Trellis-Delivery")
		if strings.HasPrefix(id, "ping-") {
			return
		}
		if down.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		var p alerts.Payload
		if err := json.Unmarshal(body, &p); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		ids[id]++
		if p.Event.Kind == alerts.KindRelationship {
			granted[strings.SplitN(p.Event.Relationship, "[", 2)[0]] = true
		} else {
			kinds = append(kinds, p.Event.Kind)
		}
		mu.Unlock()
	}))
	t.Cleanup(hs.Close)
	cfg := alertConfig(t)
	cfg.GCWindow = 20
	cfg.AlertBackoff = alerts.Backoff{First: time.Millisecond, Max: 20 * time.Millisecond} // no dead letters: retried until it answers
	n := testnode.Open(t, cfg)
	putRules(t, n, hs.URL)
	for i := range writes {
		body := fmt.Sprintf(`{"updates":[{"op":"touch","relationship":"dataset:d%d#emergency_reader@user:u%d[break_glass:{\"incident\":\"INC-1\"}][expiration:2099-01-01T00:00:00Z]"}]}`, i, i)
		if code, out := call(t, n, http.MethodPost, "/v1/relationships/write", body); code != http.StatusOK {
			t.Fatalf("write %d: %d %s", i, code, out)
		}
	}
	down.Store(false)
	deadline := time.Now().Add(60 * time.Second) // a deadline for a hang, not a performance bound
	for {
		mu.Lock()
		got, other := len(granted), len(kinds)
		mu.Unlock()
		if other > 0 {
			t.Fatalf("events other than the grants were delivered: %v (a gap means alerts were lost)", kinds)
		}
		if got == writes {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d alerts delivered after the webhook came back", got, writes)
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	for i := range writes {
		if r := fmt.Sprintf("dataset:d%d#emergency_reader@user:u%d", i, i); !granted[r] {
			t.Errorf("no alert for %s", r)
		}
	}
	for id, c := range ids {
		if c != 1 {
			t.Errorf("delivery %s arrived %d times once the webhook answered", id, c)
		}
	}
}

// TestAlertRulesReplacedNoBacklog: writes made while no rule followed the
// change feed do not alert once such a rule is installed again, and no gap
// is reported for them: the new rule set starts the cursor at its own
// revision, as the first one does.
func TestAlertRulesReplacedNoBacklog(t *testing.T) {
	var mu sync.Mutex
	var got []alerts.Payload
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if strings.HasPrefix(r.Header.Get("Trellis-Delivery"), "ping-") {
			return
		}
		var p alerts.Payload
		if json.Unmarshal(body, &p) == nil {
			mu.Lock()
			got = append(got, p)
			mu.Unlock()
		}
	}))
	t.Cleanup(hs.Close)
	cfg := alertConfig(t)
	cfg.GCWindow = 20
	n := testnode.Open(t, cfg)
	grant := func(i int) {
		t.Helper()
		body := fmt.Sprintf(`{"updates":[{"op":"touch","relationship":"dataset:r%d#emergency_reader@user:u%d[break_glass:{\"incident\":\"INC-1\"}][expiration:2099-01-01T00:00:00Z]"}]}`, i, i)
		if code, out := call(t, n, http.MethodPost, "/v1/relationships/write", body); code != http.StatusOK {
			t.Fatalf("write %d: %d %s", i, code, out)
		}
	}
	waitFor := func(want int) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second) // a deadline for a hang, not a performance bound
		for {
			mu.Lock()
			n := len(got)
			mu.Unlock()
			if n >= want || time.Now().After(deadline) {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	putRules(t, n, hs.URL)
	grant(0)
	waitFor(1)
	if code, out := call(t, n, http.MethodPut, "/v1/alerts", `{"rules":[],"reason":"quiet"}`); code != http.StatusOK {
		t.Fatalf("PUT no rules: %d %s", code, out)
	}
	for i := 1; i <= 100; i++ { // five GC windows of writes no rule follows
		grant(i)
	}
	putRules(t, n, hs.URL)
	grant(101)
	waitFor(2)
	time.Sleep(500 * time.Millisecond) // anything else the loop would send comes within its 50 ms polls
	mu.Lock()
	defer mu.Unlock()
	var rels []string
	for _, p := range got {
		rels = append(rels, p.Event.Kind+" "+strings.SplitN(p.Event.Relationship, "[", 2)[0])
	}
	want := []string{"relationship dataset:r0#emergency_reader@user:u0", "relationship dataset:r101#emergency_reader@user:u101"}
	if fmt.Sprint(rels) != fmt.Sprint(want) {
		t.Errorf("deliveries %v, want %v", rels, want)
	}
}
