package api

import (
	"encoding/json"
	"github.com/trellis-authz/trellis/wire"
	"net/http"
	"testing"
	"time"
)

// TestConsistencyModes runs the consistency guarantees against the real stack.
func TestConsistencyModes(t *testing.T) {
	s := newStack(t)
	s.putSchema(testSchema)

	// A write's token makes a following check see it.
	t1 := s.write(touch("dataset:claims#reader@user:ana"))
	if got := s.check("dataset:claims", "read", "user:ana", &wire.Consistency{Mode: wire.AtLeastAsFresh, Token: t1}); got.Result != "allowed" {
		t.Fatalf("check at_least_as_fresh the grant: got %q, want allowed", got.Result)
	}

	// The new enemy: after a revoke, a check at least as fresh as the revoke is denied.
	t2 := s.write(touch("dataset:claims#blocked@user:ana"))
	got := s.check("dataset:claims", "read", "user:ana", &wire.Consistency{Mode: wire.AtLeastAsFresh, Token: t2})
	if got.Result != "denied" {
		t.Fatalf("check at_least_as_fresh the revoke: got %q, want denied", got.Result)
	}
	if rev, err := s.srv.tokens.Decode(got.CheckedAt); err != nil || rev < mustRev(t, s, t2) {
		t.Fatalf("checked_at %q (rev %d, %v) is older than the revoke %q", got.CheckedAt, rev, err, t2)
	}

	// At the exact earlier snapshot the earlier answer still holds.
	got = s.check("dataset:claims", "read", "user:ana", &wire.Consistency{Mode: wire.AtExactSnapshot, Token: t1})
	if got.Result != "allowed" {
		t.Fatalf("check at_exact_snapshot before the revoke: got %q, want allowed", got.Result)
	}
	if got.CheckedAt != t1 {
		t.Fatalf("at_exact_snapshot checked_at: got %q, want %q", got.CheckedAt, t1)
	}

	// fully_consistent sees the latest write.
	if got := s.check("dataset:claims", "read", "user:ana", &wire.Consistency{Mode: wire.FullyConsistent}); got.Result != "denied" {
		t.Fatalf("fully_consistent check: got %q, want denied", got.Result)
	}
	// minimize_latency (default) on a single node has applied everything.
	if got := s.check("dataset:claims", "read", "user:ana", nil); got.Result != "denied" {
		t.Fatalf("minimize_latency check: got %q, want denied", got.Result)
	}

	// A token naming a revision the cluster never committed (forged, or from
	// another deployment with the same cluster id) is a 400 at once, not a wait.
	short := s.config()
	short.RequestTimeout = 300 * time.Millisecond
	short.Auth = AuthConfig{Mode: AuthInsecureNoAuth}
	fast, err := newTestServer(short, s.deps)
	if err != nil {
		t.Fatal(err)
	}
	ahead := s.srv.tokens.Encode(s.node.AppliedRevision() + 1000)
	for _, mode := range []string{wire.AtLeastAsFresh, wire.AtExactSnapshot} {
		r := doHandler(t, fast, http.MethodPost, "/v1/check", wire.CheckRequest{Resource: "dataset:claims", Permission: "read", Subject: "user:ana",
			Consistency: &wire.Consistency{Mode: mode, Token: ahead}})
		if r.status != http.StatusBadRequest || r.errorBody(t).Code != "token_from_the_future" {
			t.Errorf("%s a token ahead of the cluster: got %d %s, want 400 token_from_the_future", mode, r.status, r.body)
		}
	}

	// Below the GC horizon: 410.
	if err := s.store.SetGCHorizon(s.store.AppliedRevision()); err != nil {
		t.Fatal(err)
	}
	r := s.do(http.MethodPost, "/v1/check", s.tokens[RoleReader], wire.CheckRequest{Resource: "dataset:claims", Permission: "read", Subject: "user:ana",
		Consistency: &wire.Consistency{Mode: wire.AtExactSnapshot, Token: t1}})
	if r.status != http.StatusGone || r.errorBody(t).Code != "snapshot_expired" {
		t.Fatalf("at_exact_snapshot below the GC horizon: got %d %s, want 410 snapshot_expired", r.status, r.body)
	}
	// at_least_as_fresh an old token is still fine: it reads at the latest.
	if got := s.check("dataset:claims", "read", "user:ana", &wire.Consistency{Mode: wire.AtLeastAsFresh, Token: t1}); got.Result != "denied" {
		t.Fatalf("at_least_as_fresh an expired token: got %q, want denied", got.Result)
	}
}

func mustRev(t *testing.T, s *stack, tok string) uint64 {
	t.Helper()
	rev, err := s.srv.tokens.Decode(tok)
	if err != nil {
		t.Fatal(err)
	}
	return rev
}

// doHandler sends one request straight to a server's handler.
func doHandler(t *testing.T, srv *Server, method, path string, body any) response {
	t.Helper()
	hs := newTestHTTP(srv)
	defer hs.Close()
	return doURL(t, hs.URL, method, path, "", body)
}

// TestQuantization pins what minimize_latency may and may not return when
// reads share a revision for Config.Quantization.
func TestQuantization(t *testing.T) {
	s := newStack(t)
	cfg := s.config()
	cfg.Quantization = time.Minute // the window does not end during the test
	cfg.Auth = AuthConfig{Mode: AuthInsecureNoAuth}
	q, err := newTestServer(cfg, s.deps)
	if err != nil {
		t.Fatal(err)
	}
	check := func(c *wire.Consistency) wire.CheckResponse {
		t.Helper()
		r := doHandler(t, q, http.MethodPost, "/v1/check", wire.CheckRequest{Resource: "dataset:claims", Permission: "read", Subject: "user:ana", Consistency: c})
		if r.status != http.StatusOK {
			t.Fatalf("check: %d %s", r.status, r.body)
		}
		var out wire.CheckResponse
		if err := json.Unmarshal(r.body, &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	s.putSchema(testSchema)
	t1 := s.write(touch("dataset:claims#reader@user:ana"))
	first := check(nil)
	if first.Result != "allowed" {
		t.Fatalf("first minimize_latency check: got %q, want allowed", first.Result)
	}
	t2 := s.write(del("dataset:claims#reader@user:ana"))
	// Inside the window minimize_latency keeps the revision it sampled...
	if got := check(nil); got.Result != "allowed" || got.CheckedAt != first.CheckedAt {
		t.Errorf("minimize_latency inside the window: got %q at %s, want allowed at the sampled %s", got.Result, got.CheckedAt, first.CheckedAt)
	}
	// ...but a token is never read below: the revoke is seen.
	if got := check(&wire.Consistency{Mode: wire.AtLeastAsFresh, Token: t2}); got.Result != "denied" {
		t.Errorf("at_least_as_fresh the revoke: got %q, want denied", got.Result)
	}
	// An older token may share the window's revision.
	if got := check(&wire.Consistency{Mode: wire.AtLeastAsFresh, Token: t1}); got.Result != "allowed" || got.CheckedAt != first.CheckedAt {
		t.Errorf("at_least_as_fresh an older token: got %q at %s, want the shared revision %s", got.Result, got.CheckedAt, first.CheckedAt)
	}
	// The server without quantization reads the newest revision.
	if got := s.check("dataset:claims", "read", "user:ana", nil); got.Result != "denied" {
		t.Errorf("minimize_latency without quantization: got %q, want denied", got.Result)
	}
}
