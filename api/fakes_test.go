package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/trellis-authz/trellis/service"
	"github.com/trellis-authz/trellis/wire"
	"iter"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/trellis-authz/trellis/consensus"
	"github.com/trellis-authz/trellis/engine"
	"github.com/trellis-authz/trellis/storage"
	"github.com/trellis-authz/trellis/tuple"
)

// Fakes for the layers under the API, for the paths the real stack cannot
// reach on demand: internal failures, no leader, overload.

type fakeEngine struct {
	block   chan struct{} // when set, Check waits on it
	entered chan struct{} // when set, Check sends on it before waiting
	err     error
}

func (f *fakeEngine) Check(ctx context.Context, v engine.View, r engine.CheckRequest) (engine.CheckResult, error) {
	if f.entered != nil {
		f.entered <- struct{}{}
	}
	if f.block != nil {
		<-f.block
	}
	return engine.CheckResult{Result: engine.Allowed}, f.err
}
func (f *fakeEngine) CheckBulk(ctx context.Context, v engine.View, rs []engine.CheckRequest) []engine.BulkResult {
	return make([]engine.BulkResult, len(rs))
}
func (f *fakeEngine) Expand(ctx context.Context, v engine.View, o tuple.ObjectRef, p string) (*engine.ExpandNode, error) {
	return &engine.ExpandNode{Kind: "nil"}, f.err
}
func (f *fakeEngine) LookupResources(ctx context.Context, v engine.View, r engine.LookupResourcesRequest) (engine.LookupResourcesResult, error) {
	return engine.LookupResourcesResult{}, f.err
}
func (f *fakeEngine) LookupSubjects(ctx context.Context, v engine.View, r engine.LookupSubjectsRequest) (engine.LookupSubjectsResult, error) {
	return engine.LookupSubjectsResult{}, f.err
}

type fakeRevisions struct {
	applied uint64
	readErr error
}

func (f *fakeRevisions) AppliedRevision() uint64 { return f.applied }
func (f *fakeRevisions) WaitApplied(ctx context.Context, rev uint64) error {
	if rev <= f.applied {
		return nil
	}
	<-ctx.Done()
	return ctx.Err()
}
func (f *fakeRevisions) ReadIndex(ctx context.Context) (uint64, error) { return f.applied, f.readErr }

type fakeSnapshot struct{ schema string }

func (f fakeSnapshot) Relationship(ctx context.Context, o tuple.ObjectRef, rel string, s tuple.SubjectRef) (tuple.Relationship, bool, error) {
	return tuple.Relationship{}, false, nil
}
func (f fakeSnapshot) Subjects(ctx context.Context, o tuple.ObjectRef, rel, st string) iter.Seq2[tuple.Relationship, error] {
	return func(func(tuple.Relationship, error) bool) {}
}
func (f fakeSnapshot) Resources(ctx context.Context, s tuple.SubjectRef, rt, rel string) iter.Seq2[tuple.Relationship, error] {
	return func(func(tuple.Relationship, error) bool) {}
}
func (f fakeSnapshot) Read(ctx context.Context, fl tuple.Filter, limit int, cursor string) ([]tuple.Relationship, string, error) {
	return nil, "", nil
}
func (f fakeSnapshot) ReadAll(ctx context.Context, fl tuple.Filter) iter.Seq2[tuple.Relationship, error] {
	return func(func(tuple.Relationship, error) bool) {}
}
func (f fakeSnapshot) Schema() (storage.SchemaRecord, bool, error) {
	if f.schema == "" {
		return storage.SchemaRecord{}, false, nil
	}
	return storage.SchemaRecord{Text: f.schema, Hash: HashToken(f.schema)}, true, nil
}
func (f fakeSnapshot) Close() {}

type fakeSnapshots struct{ schema string }

func (f fakeSnapshots) Snapshot(rev uint64) (service.Snapshot, error) { return fakeSnapshot(f), nil }

type fakeWriter struct{ err error }

func (f fakeWriter) Write(ctx context.Context, m service.Mutation) (service.MutationResult, error) {
	return service.MutationResult{Revision: 2}, f.err
}

func fakeServer(t *testing.T, mutate func(*Config, *testDeps)) *httptest.Server {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Auth = AuthConfig{Mode: AuthInsecureNoAuth}
	cfg.Logger = testLogger()
	deps := testDeps{Engine: &fakeEngine{}, Revisions: &fakeRevisions{applied: 1}, Snapshots: fakeSnapshots{schema: testSchema}, Writer: fakeWriter{}}
	if mutate != nil {
		mutate(&cfg, &deps)
	}
	srv, err := newTestServer(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return hs
}

var checkBody = wire.CheckRequest{Resource: "dataset:claims", Permission: "read", Subject: "user:ana"}

func TestInternalErrorIs500WithoutDetails(t *testing.T) {
	hs := fakeServer(t, func(c *Config, d *testDeps) { d.Engine = &fakeEngine{err: errors.New("disk on fire at /var/secret")} })
	r := doURL(t, hs.URL, http.MethodPost, "/v1/check", "", checkBody)
	e := r.errorBody(t)
	if r.status != 500 || e.Code != "internal" || e.RequestID == "" {
		t.Fatalf("got %d %s, want 500 internal with a request id", r.status, r.body)
	}
	if strings.Contains(string(r.body), "secret") {
		t.Errorf("the internal cause leaked to the client: %s", r.body)
	}
}

func TestDependencyErrorsMap(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*Config, *testDeps)
		path   string
		body   any
		status int
		code   string
	}{
		{"no leader for fully_consistent", func(c *Config, d *testDeps) {
			d.Revisions = &fakeRevisions{applied: 1, readErr: fmt.Errorf("%w: %w", consensus.ErrNotLeader, consensus.ErrNoLeader)}
		}, "/v1/check", wire.CheckRequest{Resource: "dataset:claims", Permission: "read", Subject: "user:ana", Consistency: &wire.Consistency{Mode: wire.FullyConsistent}}, 503, "unavailable"},
		{"leadership lost on write", func(c *Config, d *testDeps) { d.Writer = fakeWriter{err: consensus.ErrLeadershipLost} },
			"/v1/relationships/write", wire.WriteRelationshipsRequest{Updates: []wire.Update{touch("dataset:x#reader@user:ana")}}, 503, "outcome_unknown"},
		{"idempotency key reused", func(c *Config, d *testDeps) { d.Writer = fakeWriter{err: consensus.ErrIdempotencyKeyReused} },
			"/v1/relationships/write", wire.WriteRelationshipsRequest{Updates: []wire.Update{touch("dataset:x#reader@user:ana")}}, 409, "idempotency_key_reused"},
		{"depth exceeded", func(c *Config, d *testDeps) { d.Engine = &fakeEngine{err: engine.ErrDepthExceeded} },
			"/v1/check", checkBody, 400, "depth_exceeded"},
		{"no schema", func(c *Config, d *testDeps) { d.Snapshots = fakeSnapshots{} },
			"/v1/relationships/write", wire.WriteRelationshipsRequest{Updates: []wire.Update{touch("dataset:x#reader@user:ana")}}, 404, "schema_not_found"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hs := fakeServer(t, c.mutate)
			r := doURL(t, hs.URL, http.MethodPost, c.path, "", c.body)
			if r.status != c.status || r.errorBody(t).Code != c.code {
				t.Errorf("got %d %s, want %d %s", r.status, r.body, c.status, c.code)
			}
		})
	}
}

func TestOverloadIs429(t *testing.T) {
	block, entered := make(chan struct{}), make(chan struct{}, 1)
	hs := fakeServer(t, func(c *Config, d *testDeps) {
		c.MaxInFlight = 1
		d.Engine = &fakeEngine{block: block, entered: entered}
	})
	done := make(chan response)
	go func() { done <- doURL(t, hs.URL, http.MethodPost, "/v1/check", "", checkBody) }()
	// Once the first request is inside the engine it holds the only data
	// slot, so a second check gets 429 with Retry-After; health, metrics and
	// admin calls have pools of their own and still answer.
	<-entered
	r := doURL(t, hs.URL, http.MethodPost, "/v1/check", "", checkBody)
	health := doURL(t, hs.URL, http.MethodGet, "/healthz", "", nil)
	metrics := doURL(t, hs.URL, http.MethodGet, "/metrics", "", nil)
	admin := doURL(t, hs.URL, http.MethodPut, "/v1/schema", "", wire.WriteSchemaRequest{Schema: testSchema})
	close(block)
	if first := <-done; first.status != 200 {
		t.Errorf("first request: got %d %s, want 200", first.status, first.body)
	}
	if r.status != http.StatusTooManyRequests || r.errorBody(t).Code != "overloaded" || r.header.Get("Retry-After") == "" {
		t.Errorf("request over the in-flight bound: got %d %s (Retry-After %q), want 429 overloaded with Retry-After", r.status, r.body, r.header.Get("Retry-After"))
	}
	for name, got := range map[string]response{"/healthz": health, "/metrics": metrics, "admin PUT /v1/schema": admin} {
		if got.status != http.StatusOK {
			t.Errorf("%s while data traffic fills its pool: got %d %s, want 200", name, got.status, got.body)
		}
	}
}

// One principal cannot take the whole pool: over its own bound it gets 429,
// while another principal's request still runs.
func TestPerPrincipalLimits(t *testing.T) {
	block, entered := make(chan struct{}), make(chan struct{}, 1)
	tokA, hashA := GenerateToken()
	tokB, hashB := GenerateToken()
	hs := fakeServer(t, func(c *Config, d *testDeps) {
		c.MaxInFlightPerPrincipal = 1
		c.Auth = AuthConfig{Mode: AuthTokens, Tokens: []TokenEntry{
			{Principal: "a", Role: RoleReader, SHA256: hashA}, {Principal: "b", Role: RoleReader, SHA256: hashB}}}
		d.Engine = &fakeEngine{block: block, entered: entered}
	})
	done := make(chan response)
	go func() { done <- doURL(t, hs.URL, http.MethodPost, "/v1/check", tokA, checkBody) }()
	<-entered
	second := doURL(t, hs.URL, http.MethodPost, "/v1/check", tokA, checkBody)
	if second.status != http.StatusTooManyRequests || !strings.Contains(second.errorBody(t).Message, `principal "a"`) || second.header.Get("Retry-After") == "" {
		t.Errorf("a's second concurrent check: got %d %s, want 429 naming principal a, with Retry-After", second.status, second.body)
	}
	other := make(chan response)
	go func() { other <- doURL(t, hs.URL, http.MethodPost, "/v1/check", tokB, checkBody) }()
	<-entered // b's check is inside the engine too: it was admitted
	close(block)
	for _, r := range []response{<-done, <-other} {
		if r.status != http.StatusOK {
			t.Errorf("got %d %s, want 200", r.status, r.body)
		}
	}
}

func TestPerPrincipalRate(t *testing.T) {
	hs := fakeServer(t, func(c *Config, d *testDeps) {
		c.RatePerPrincipal, c.BurstPerPrincipal = 0.001, 2 // two requests, then one per 1000 s
	})
	for i := range 2 {
		if r := doURL(t, hs.URL, http.MethodPost, "/v1/check", "", checkBody); r.status != http.StatusOK {
			t.Fatalf("request %d within the burst: got %d %s", i, r.status, r.body)
		}
	}
	r := doURL(t, hs.URL, http.MethodPost, "/v1/check", "", checkBody)
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" || r.header.Get("Retry-After") == "1" {
		t.Errorf("over the rate: got %d %s (Retry-After %q), want 429 with the wait in seconds", r.status, r.body, r.header.Get("Retry-After"))
	}
	if r := doURL(t, hs.URL, http.MethodGet, "/healthz", "", nil); r.status != http.StatusOK {
		t.Errorf("/healthz is not rate limited: got %d", r.status)
	}
}

func TestRequestIDHonoured(t *testing.T) {
	hs := fakeServer(t, nil)
	id := uuid.NewString()
	req, _ := http.NewRequest(http.MethodGet, hs.URL+"/healthz", nil)
	req.Header.Set(RequestIDHeader, id)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get(RequestIDHeader); got != id {
		t.Errorf("valid incoming request id: got %q back, want %q", got, id)
	}
	req.Header.Set(RequestIDHeader, "not-a-uuid\nInjected: yes")
	resp, err = http.DefaultClient.Do(req)
	if err == nil {
		resp.Body.Close()
		if got := resp.Header.Get(RequestIDHeader); got == "" || strings.Contains(got, "not-a-uuid") {
			t.Errorf("invalid incoming request id: got %q back, want a fresh UUID", got)
		}
	}
}

func TestReadyzWithoutLeader(t *testing.T) {
	hs := fakeServer(t, func(c *Config, d *testDeps) { d.Stats = func() NodeStats { return NodeStats{State: "Candidate"} } })
	if r := doURL(t, hs.URL, http.MethodGet, "/readyz", "", nil); r.status != http.StatusServiceUnavailable || !strings.Contains(string(r.body), "leader") {
		t.Errorf("readyz without a leader: got %d %s, want 503 naming the leader", r.status, r.body)
	}
}

func TestRequestLog(t *testing.T) {
	var buf syncBuffer
	hs := fakeServer(t, func(c *Config, d *testDeps) {
		c.Logger = slog.New(slog.NewJSONHandler(&buf, nil))
	})
	r := doURL(t, hs.URL, http.MethodPost, "/v1/check", "", wire.CheckRequest{Resource: "nothing:x", Permission: "read", Subject: "user:ana"})
	if r.status != http.StatusNotFound {
		t.Fatalf("got %d, want 404", r.status)
	}
	var entry map[string]any
	if err := json.Unmarshal(bytes.TrimSpace([]byte(buf.String())), &entry); err != nil {
		t.Fatalf("log %q is not one JSON line: %v", buf.String(), err)
	}
	want := map[string]any{"msg": "request", "route": "/v1/check", "method": "POST", "status": float64(404),
		"error_code": "unknown_type", "principal": AnonymousPrincipal, "request_id": r.header.Get(RequestIDHeader)}
	for k, v := range want {
		if entry[k] != v {
			t.Errorf("log field %s: got %v, want %v", k, entry[k], v)
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
