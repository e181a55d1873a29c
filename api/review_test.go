package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"github.com/trellis-authz/trellis/service"
	"github.com/trellis-authz/trellis/wire"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestReviewNo500 is a regression test: a NUL byte in a filter's
// resource_id_prefix reached storage and answered 500. Every case must answer
// 400 invalid_argument naming the field, and write nothing.
func TestReviewNo500(t *testing.T) {
	s := newStack(t)
	s.putSchema(testSchema)
	s.write(touch("dataset:claims#reader@user:ana"))
	before := s.export()
	for _, c := range []struct {
		name, method, path string
		role               Role
		body               any
	}{
		{"read", http.MethodPost, "/v1/relationships/read", RoleReader, `{"filter":{"resource_type":"dataset","resource_id_prefix":"a\u0000"}}`},
		{"export", http.MethodGet, "/v1/relationships/export?resource_type=dataset&resource_id_prefix=a%00", RoleReader, nil},
		{"delete", http.MethodPost, "/v1/relationships/delete", RoleWriter, `{"filter":{"resource_type":"dataset","resource_id_prefix":"a\u0000"}}`},
		{"precondition", http.MethodPost, "/v1/relationships/write", RoleWriter, `{"updates":[{"op":"touch","relationship":"dataset:x#reader@user:bob"}],"preconditions":[{"op":"must_match","filter":{"resource_type":"dataset","resource_id_prefix":"\u0000"}}]}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := s.do(c.method, c.path, s.tokens[c.role], c.body)
			if r.status != http.StatusBadRequest {
				t.Fatalf("got %d %s, want 400", r.status, r.body)
			}
			if e := r.errorBody(t); e.Code != "invalid_argument" {
				t.Errorf("got code %q (%s), want invalid_argument", e.Code, e.Message)
			}
			if after := s.export(); !bytes.Equal(before, after) {
				t.Errorf("store changed:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

// TestReviewExpirationRequired is a regression test: the API accepted a
// relationship without an expiration on a relation that only allows
// "user with expiration", and the applier refused it after a raft round trip.
// The API now applies schema.ValidateRelationship itself.
func TestReviewExpirationRequired(t *testing.T) {
	s := newStack(t)
	s.putSchema("use expiration\n\ndefinition user {}\n\ndefinition doc {\n  relation reader: user with expiration\n  relation owner: user\n}\n")
	s.write(touch("doc:a#reader@user:ana[expiration:2099-01-01T00:00:00Z]"))
	before := s.export()
	for _, c := range []struct{ name, rel, contains string }{
		{"missing expiration", "doc:a#reader@user:bob", "must have an expiration"},
		{"expiration not allowed", "doc:a#owner@user:bob[expiration:2099-01-01T00:00:00Z]", "cannot expire"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := s.do(http.MethodPost, "/v1/relationships/write", s.tokens[RoleWriter], wire.WriteRelationshipsRequest{Updates: []wire.Update{touch(c.rel)}})
			if r.status != http.StatusBadRequest {
				t.Fatalf("got %d %s, want 400", r.status, r.body)
			}
			e := r.errorBody(t)
			if e.Code != "subject_not_allowed" || !strings.Contains(e.Message, c.contains) {
				t.Errorf("got %s %q, want subject_not_allowed mentioning %q", e.Code, e.Message, c.contains)
			}
			if after := s.export(); !bytes.Equal(before, after) {
				t.Errorf("store changed:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

// TestStreamsHaveTheirOwnPool: long-lived streams (watch) take slots of
// MaxStreams, not of MaxInFlight, so streams held open cannot make checks get
// 429; one stream over MaxStreams is refused with 429 overloaded.
func TestStreamsHaveTheirOwnPool(t *testing.T) {
	s := newStack(t)
	s.putSchema(testSchema)
	s.write(touch("dataset:claims#reader@user:ana"))
	cfg := s.config()
	cfg.Auth = AuthConfig{Mode: AuthInsecureNoAuth}
	cfg.MaxInFlight = 2
	cfg.MaxStreams = 2
	srv, err := newTestServer(cfg, s.deps)
	if err != nil {
		t.Fatal(err)
	}
	RegisterWatch(srv, service.NewWatch(s.store, srv.Services().Reads))
	hs := newTestHTTP(srv)
	defer hs.Close()
	defer hs.CloseClientConnections()
	for range cfg.MaxStreams {
		resp, err := http.Get(hs.URL + "/v1/watch")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("stream within the bound: got %d, want 200", resp.StatusCode)
		}
		// The headers arrived, so the handler runs and holds its slot.
	}
	if got := len(srv.admit.pools[classStream].slots); got != cfg.MaxStreams {
		t.Fatalf("got %d stream slots taken, want %d", got, cfg.MaxStreams)
	}
	for i := range cfg.MaxInFlight + 1 {
		r := doURL(t, hs.URL, http.MethodPost, "/v1/check", "", checkBody)
		if r.status != http.StatusOK {
			t.Fatalf("check %d while %d streams are open: got %d %s, want 200", i, cfg.MaxStreams, r.status, r.body)
		}
	}
	r := doURL(t, hs.URL, http.MethodGet, "/v1/watch", "", nil)
	if r.status != http.StatusTooManyRequests || r.errorBody(t).Code != "overloaded" {
		t.Errorf("stream over MaxStreams: got %d %s, want 429 overloaded", r.status, r.body)
	}
}

// TestStreamWaitIsBounded: export has no request deadline, but waiting for a
// token ahead of the cluster is refused at once (400), never a wait.
func TestStreamWaitIsBounded(t *testing.T) {
	s := newStack(t)
	s.putSchema(testSchema)
	cfg := s.config()
	cfg.Auth = AuthConfig{Mode: AuthInsecureNoAuth}
	cfg.RequestTimeout = time.Hour
	cfg.MaxWait = 300 * time.Millisecond
	srv, err := newTestServer(cfg, s.deps)
	if err != nil {
		t.Fatal(err)
	}
	ahead := srv.tokens.Encode(s.node.AppliedRevision() + 1000)
	for _, mode := range []string{wire.AtLeastAsFresh, wire.AtExactSnapshot} {
		r := doHandler(t, srv, http.MethodGet, "/v1/relationships/export?resource_type=dataset&"+mode+"="+url.QueryEscape(ahead), nil)
		if r.status != http.StatusBadRequest || r.errorBody(t).Code != "token_from_the_future" {
			t.Errorf("export %s a token ahead of the cluster: got %d %s, want 400 token_from_the_future", mode, r.status, r.body)
		}
	}
}

type failingSnapshots struct{ err error }

func (f failingSnapshots) Snapshot(rev uint64) (service.Snapshot, error) { return nil, f.err }

// TestReadyzDoesNotLeak: /readyz answers a short reason, not the internal
// error text (which may name paths and addresses).
func TestReadyzDoesNotLeak(t *testing.T) {
	hs := fakeServer(t, func(c *Config, d *testDeps) {
		d.Snapshots = failingSnapshots{err: errors.New("open /var/secret/badger/MANIFEST: permission denied")}
	})
	r := doURL(t, hs.URL, http.MethodGet, "/readyz", "", nil)
	var h wire.HealthResponse
	if err := json.Unmarshal(r.body, &h); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
	if r.status != http.StatusServiceUnavailable || h.Status != "not_ready" || h.Reason == "" {
		t.Errorf("got %d %s, want 503 not_ready with a reason", r.status, r.body)
	}
	if strings.Contains(string(r.body), "secret") || strings.Contains(string(r.body), "MANIFEST") {
		t.Errorf("the internal cause leaked: %s", r.body)
	}
}
