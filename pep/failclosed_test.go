package pep

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/trellis-authz/trellis/pep/internal/peptest"
)

// mustDeny decides q n times and fails on any allow; it returns the errors
// seen.
func mustDeny(t *testing.T, c *Client, q Question, n int, what string) []error {
	t.Helper()
	var errs []error
	for i := range n {
		d, err := c.Decide(context.Background(), q)
		if d.Allowed {
			t.Fatalf("%s: decision %d allowed (%+v, err %v); every decision must be a denial", what, i, d, err)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

func TestFailClosedServerKilled(t *testing.T) {
	tn := startNode(t, testSchema)
	tn.Write(t, touch("dataset:claims#reader@user:ana"))
	c := newClient(t, testConfig(tn.URL, tn.Reader))
	cachedQ := Question{Resource: "dataset:claims", Permission: "read", Subject: "user:ana"}
	otherQ := Question{Resource: "dataset:claims", Permission: "read", Subject: "user:bob"}
	if d := warm(t, c, cachedQ); !d.Allowed {
		t.Fatalf("before the kill: %+v, want allowed", d)
	}
	tn.Kill()
	// A question the cache does not hold is never allowed from the kill on.
	mustDeny(t, c, otherQ, 20, "uncached question, server killed")
	// The cached allow stops being served once the PEP sees its stream drop.
	waitFor(t, "the cache to stop answering", func() bool { return !c.Live() })
	errs := mustDeny(t, c, cachedQ, 50, "cached question, server killed")
	if len(errs) != 50 {
		t.Fatalf("%d of 50 denials carried an error; want all (Trellis cannot be asked)", len(errs))
	}
}

// TestFailClosedStreamCut cuts every connection of the PEP (watch and
// checks) mid-way, revokes while it is cut off, and heals: no decision after
// the revoke's acknowledgement may be an allow — neither while cut off nor
// after the reconnect, before or after the replay. (Trellis quantizes
// minimize_latency reads, default 100 ms; the PEP asks fully_consistent while
// its watch is down, so no answer of that window gets through.)
func TestFailClosedStreamCut(t *testing.T) {
	tn := startNode(t, testSchema)
	tn.Write(t, touch("dataset:claims#reader@user:ana"), touch("dataset:claims#reader@user:bob"))
	p := peptest.NewProxy(t, strings.TrimPrefix(tn.URL, "http://"))
	c := newClient(t, testConfig(p.URL(), tn.Reader))
	ana := Question{Resource: "dataset:claims", Permission: "read", Subject: "user:ana"}
	bob := Question{Resource: "dataset:claims", Permission: "read", Subject: "user:bob"}
	warm(t, c, ana)
	warm(t, c, bob)

	p.Cut()
	tn.Write(t, del("dataset:claims#reader@user:ana")) // acknowledged: from here on ana is denied
	waitFor(t, "the cache to stop answering", func() bool { return !c.Live() })
	if errs := mustDeny(t, c, ana, 30, "cut off"); len(errs) != 30 {
		t.Fatalf("%d of 30 denials while cut off carried an error, want 30", len(errs))
	}
	mustDeny(t, c, bob, 30, "cut off (bob, still granted, but Trellis cannot be asked)")

	p.Heal()
	// Until the reconnect, during the replay and after it: never an allow.
	deadline := time.Now().Add(15 * time.Second)
	for !c.Live() || c.target.Load() != 0 {
		mustDeny(t, c, ana, 1, "reconnecting")
		if time.Now().After(deadline) {
			t.Fatal("the watch did not reconnect and catch up within 15 s")
		}
	}
	mustDeny(t, c, ana, 50, "after the reconnect")
	waitFor(t, "bob allowed again after the heal", func() bool {
		d, _ := c.Decide(context.Background(), bob)
		return d.Allowed
	})
}

// TestFailClosedStreamStall: the proxy stops forwarding without closing
// anything (a partition); the silent stream is declared dead and checks
// time out.
func TestFailClosedStreamStall(t *testing.T) {
	tn := startNode(t, testSchema)
	tn.Write(t, touch("dataset:claims#reader@user:ana"))
	p := peptest.NewProxy(t, strings.TrimPrefix(tn.URL, "http://"))
	cfg := testConfig(p.URL(), tn.Reader)
	cfg.WatchSilence = 300 * time.Millisecond
	cfg.Timeout = 100 * time.Millisecond
	c := newClient(t, cfg)
	q := Question{Resource: "dataset:claims", Permission: "read", Subject: "user:ana"}
	warm(t, c, q)
	p.Stall()
	waitFor(t, "the cache to stop answering", func() bool { return !c.Live() })
	for _, err := range mustDeny(t, c, q, 5, "stalled") {
		if !errors.Is(err, ErrTimeout) && !strings.Contains(err.Error(), "asking trellis") {
			t.Errorf("stalled: error %v, want a timeout or a transport error", err)
		}
	}
}

// TestFailClosedSlowServer: a node that answers checks later than the
// timeout gives denials with ErrTimeout.
func TestFailClosedSlowServer(t *testing.T) {
	tn := startNode(t, testSchema)
	tn.Write(t, touch("dataset:claims#reader@user:ana"))
	slow := httptest.NewServer(peptest.RecordingProxy(t, tn.URL, func(r *http.Request) {
		if r.URL.Path == "/v1/check" {
			select {
			case <-time.After(time.Second):
			case <-r.Context().Done():
			}
		}
	}))
	t.Cleanup(slow.Close)
	cfg := testConfig(slow.URL, tn.Reader)
	cfg.Timeout = 50 * time.Millisecond
	c := newClient(t, cfg)
	waitFor(t, "the watch", c.Live)
	q := Question{Resource: "dataset:claims", Permission: "read", Subject: "user:ana"}
	for _, err := range mustDeny(t, c, q, 5, "slow server") {
		if !errors.Is(err, ErrTimeout) {
			t.Errorf("slow server: error %v, want ErrTimeout", err)
		}
	}
	if errs := mustDeny(t, c, q, 5, "slow server"); len(errs) != 5 {
		t.Fatalf("%d of 5 denials had an error, want 5 (nothing may be cached from a timed-out check)", len(errs))
	}
}

// TestFailClosedGarbage: a server that answers nonsense (wrong shapes,
// unknown results, error statuses carrying "allowed", truncated bodies) gets
// a denial with an error every time, with the cache on; and a watch stream of
// garbage never lets the cache answer.
func TestFailClosedGarbage(t *testing.T) {
	bodies := []struct {
		name   string
		status int
		body   string
	}{
		{"not json", 200, "allowed"},
		{"html", 200, "<html>allowed</html>"},
		{"empty", 200, ""},
		{"truncated", 200, `{"result": "allowed", "checked_at": "t1.AQ`},
		{"unknown result", 200, `{"result": "maybe", "checked_at": "t1.AQAAAAA"}`},
		{"upper case", 200, `{"result": "ALLOWED", "checked_at": "t1.AQAAAAA"}`},
		{"no token", 200, `{"result": "allowed"}`},
		{"conditional without names", 200, `{"result": "conditional", "checked_at": "t1.AQAAAAA"}`},
		{"wrong type", 200, `{"result": true, "checked_at": "t1.AQAAAAA"}`},
		{"array", 200, `[{"result": "allowed"}]`},
		{"allowed with 500", 500, `{"result": "allowed", "checked_at": "t1.AQAAAAA"}`},
		{"allowed with 302", 302, `{"result": "allowed", "checked_at": "t1.AQAAAAA"}`},
		{"allowed with 403", 403, `{"result": "allowed", "checked_at": "t1.AQAAAAA"}`},
		{"huge", 200, `{"result": "allowed", "checked_at": "t1.AQAAAAA", "x": "` + strings.Repeat("a", maxAnswer) + `"}`},
	}
	watchGarbage := []string{
		"data: {not json}\n\n",
		"event: change\ndata: {\"revision\": 5, \"token\": \"nope\", \"changes\": []}\n\n",
		"event: change\ndata: {\"revision\": 5, \"token\": \"t1.BQAAAAA\", \"changes\": [{\"op\": \"touch\", \"relationship\": \"garbage\"}]}\n\n",
		"event: error\ndata: {\"code\": \"internal\", \"message\": \"x\"}\n\n",
	}
	for i, b := range bodies {
		t.Run(b.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch r.URL.Path {
				case "/v1/schema":
					fmt.Fprintf(w, `{"schema": %q, "hash": "h", "read_at": "t1.AQAAAAA"}`, testSchema)
				case "/v1/watch":
					w.Header().Set("Content-Type", "text/event-stream")
					io.WriteString(w, watchGarbage[i%len(watchGarbage)])
				default:
					w.WriteHeader(b.status)
					io.WriteString(w, b.body)
				}
			}))
			t.Cleanup(srv.Close)
			c := newClient(t, testConfig(srv.URL, "x"))
			q := Question{Resource: "dataset:claims", Permission: "read", Subject: "user:ana"}
			if errs := mustDeny(t, c, q, 20, b.name); len(errs) != 20 {
				t.Fatalf("%d of 20 denials had an error; want 20", len(errs))
			}
			if c.cache.size.Load() != 0 {
				t.Fatalf("garbage was cached: %d entries", c.cache.size.Load())
			}
		})
	}
}
