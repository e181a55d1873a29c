package api

import (
	"bytes"
	"context"
	"encoding/json"
	"github.com/trellis-authz/trellis/service"
	"github.com/trellis-authz/trellis/wire"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trellis-authz/trellis/consensus"
	"github.com/trellis-authz/trellis/engine"
	"github.com/trellis-authz/trellis/schema"
	"github.com/trellis-authz/trellis/schema/compile"
	"github.com/trellis-authz/trellis/storage"
	"github.com/trellis-authz/trellis/tuple"
)

// The real types satisfy the interfaces the API declares.
var (
	_ service.Engine        = (*engine.Engine)(nil)
	_ service.CacheStater   = (*engine.Engine)(nil)
	_ service.Revisions     = (*consensus.Node)(nil)
	_ service.CommandWriter = (*consensus.Node)(nil)
	_ NodeStatsSource       = (*consensus.Node)(nil)
	_ service.Snapshot      = (*storage.Snapshot)(nil)
	_ service.Snapshots     = service.SnapshotsOf[*storage.Snapshot](nil)
)

const testSchema = `definition user {}

caveat purpose_is(purpose string, allowed list<string>) {
  purpose in allowed
}

definition team {
  relation member: user | team#member
}

definition dataset {
  relation reader: user | team#member | user with purpose_is
  relation owner: user
  relation blocked: user
  permission read = (reader + owner) - blocked
}
`

// stack is a real single-node Trellis: Badger on disk, a one-voter raft
// cluster on loopback, the engine, and the API behind httptest.
type stack struct {
	t      testing.TB
	store  *storage.Store
	node   *consensus.Node
	eng    *engine.Engine
	srv    *Server
	http   *httptest.Server
	deps   testDeps
	tokens map[Role]string
	audit  *recordingAudit
}

// recordingAudit keeps the audit records of committed commands.
type recordingAudit struct {
	mu      sync.Mutex
	records []consensus.AuditRecord
}

func (a *recordingAudit) Append(rec consensus.AuditRecord, changes []storage.Change) ([]storage.KV, func(), error) {
	return nil, func() {
		a.mu.Lock()
		a.records = append(a.records, rec)
		a.mu.Unlock()
	}, nil
}

func (a *recordingAudit) last() consensus.AuditRecord {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.records) == 0 {
		return consensus.AuditRecord{}
	}
	return a.records[len(a.records)-1]
}

func testLogger() *slog.Logger {
	if os.Getenv("API_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func compileForNode(text string) (*schema.Schema, error) {
	s, errs := compile.CompileText("schema.zed", text)
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return s, nil
}

func newStack(t testing.TB) *stack {
	t.Helper()
	dir := t.TempDir()
	sc := storage.DefaultConfig(filepath.Join(dir, "badger"))
	sc.SyncWrites = false
	sc.GCWindow = 0 // tests move the horizon themselves
	sc.Logger = testLogger()
	st, err := storage.Open(sc)
	if err != nil {
		t.Fatalf("storage.Open: %v", err)
	}
	cc := consensus.DefaultConfig()
	cc.NodeID = "n1"
	cc.DataDir = filepath.Join(dir, "raft")
	cc.RaftAddr = "127.0.0.1:0"
	cc.Bootstrap = true
	cc.Store = st
	cc.Compile = compileForNode
	audit := &recordingAudit{}
	cc.Audit = audit
	cc.HeartbeatTimeout = 200 * time.Millisecond
	cc.ElectionTimeout = 200 * time.Millisecond
	cc.LeaderLeaseTimeout = 100 * time.Millisecond
	cc.CommitTimeout = 5 * time.Millisecond
	cc.Logger = testLogger()
	node, err := consensus.Open(cc)
	if err != nil {
		st.Close()
		t.Fatalf("consensus.Open: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := node.WaitForLeader(ctx); err != nil {
		t.Fatalf("WaitForLeader: %v", err)
	}
	// The first leader writes the cluster id asynchronously; let it land
	// before tests compare revisions.
	if _, err := node.WaitClusterUUID(ctx); err != nil {
		t.Fatalf("WaitClusterUUID: %v", err)
	}
	eng, err := engine.New(engine.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	s := &stack{t: t, store: st, node: node, eng: eng, tokens: map[Role]string{}, audit: audit}
	s.deps = testDeps{
		Engine:    eng,
		Revisions: node,
		Snapshots: service.SnapshotsOf[*storage.Snapshot](st),
		Writer:    service.ConsensusWriter(node),
		Stats:     NodeStatsFunc(node),
	}
	var entries []TokenEntry
	for _, r := range []Role{RoleReader, RoleWriter, RoleAdmin} {
		tok, hash := GenerateToken()
		s.tokens[r] = tok
		entries = append(entries, TokenEntry{Principal: "test-" + string(r), Role: r, SHA256: hash})
	}
	cfg := s.config()
	cfg.Auth = AuthConfig{Mode: AuthTokens, Tokens: entries}
	srv, err := newTestServer(cfg, s.deps)
	if err != nil {
		t.Fatalf("api.New: %v", err)
	}
	s.srv = srv
	s.http = httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		s.http.Close()
		if err := node.Close(); err != nil {
			t.Errorf("node.Close: %v", err)
		}
		if err := st.Close(); err != nil {
			t.Errorf("store.Close: %v", err)
		}
	})
	return s
}

func (s *stack) config() Config {
	cfg := DefaultConfig()
	cfg.ClusterID = "test-cluster"
	cfg.Logger = testLogger()
	cfg.RequestTimeout = 5 * time.Second
	// Most tests read their own writes without tokens; TestQuantization
	// covers the window.
	cfg.Quantization = 0
	return cfg
}

// response is an HTTP answer read whole.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) errorBody(t testing.TB) wire.Error {
	t.Helper()
	var e wire.ErrorResponse
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("error body %q does not decode: %v", r.body, err)
	}
	return e.Error
}

// do sends a request. body may be nil, a string or []byte (sent as is), or a
// value encoded as JSON.
func (s *stack) do(method, path, token string, body any) response {
	s.t.Helper()
	return doURL(s.t, s.http.URL, method, path, token, body)
}

func doURL(t testing.TB, base, method, path, token string, body any) response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		js, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(js)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: data}
}

// mustOK sends a request that must succeed and decodes its answer into out.
func (s *stack) mustOK(method, path string, role Role, body, out any) {
	s.t.Helper()
	r := s.do(method, path, s.tokens[role], body)
	if r.status != http.StatusOK {
		s.t.Fatalf("%s %s: got status %d (%s), want 200", method, path, r.status, r.body)
	}
	if out != nil {
		if err := json.Unmarshal(r.body, out); err != nil {
			s.t.Fatalf("%s %s: decoding %q: %v", method, path, r.body, err)
		}
	}
}

func (s *stack) putSchema(text string) string {
	s.t.Helper()
	var out wire.WriteSchemaResponse
	s.mustOK(http.MethodPut, "/v1/schema", RoleAdmin, wire.WriteSchemaRequest{Schema: text}, &out)
	return out.WrittenAt
}

func (s *stack) write(updates ...wire.Update) string {
	s.t.Helper()
	var out wire.WriteResponse
	s.mustOK(http.MethodPost, "/v1/relationships/write", RoleWriter, wire.WriteRelationshipsRequest{Updates: updates}, &out)
	return out.WrittenAt
}

func (s *stack) check(resource, perm, subject string, c *wire.Consistency) wire.CheckResponse {
	s.t.Helper()
	var out wire.CheckResponse
	s.mustOK(http.MethodPost, "/v1/check", RoleReader, wire.CheckRequest{Resource: resource, Permission: perm, Subject: subject, Consistency: c}, &out)
	return out
}

// export returns the whole store as exported NDJSON, read fully consistently.
func (s *stack) export() []byte {
	s.t.Helper()
	r := s.do(http.MethodGet, "/v1/relationships/export?consistency=fully_consistent", s.tokens[RoleReader], nil)
	if r.status != http.StatusOK {
		s.t.Fatalf("export: got status %d (%s), want 200", r.status, r.body)
	}
	return r.body
}

func touch(rel string) wire.Update  { return wire.Update{Op: "touch", Relationship: rel} }
func create(rel string) wire.Update { return wire.Update{Op: "create", Relationship: rel} }
func del(rel string) wire.Update    { return wire.Update{Op: "delete", Relationship: rel} }

func newTestHTTP(srv *Server) *httptest.Server { return httptest.NewServer(srv.Handler()) }

type tupleFilterT = tuple.Filter
