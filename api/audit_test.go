package api

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"github.com/trellis-authz/trellis/service"
	"github.com/trellis-authz/trellis/wire"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/trellis-authz/trellis/audit"
	"github.com/trellis-authz/trellis/consensus"
	"github.com/trellis-authz/trellis/engine"
	"github.com/trellis-authz/trellis/storage"
)

// auditStack is a real single-node stack (Badger, one-voter raft, engine,
// API over HTTP) with the real audit log wired into the FSM and the audit,
// watch and decision routes registered (decisions kept in memory).
type auditStack struct {
	*stack
	log    *audit.Log
	signer *audit.Signer
}

func newAuditStack(t testing.TB) *auditStack {
	t.Helper()
	dir := t.TempDir()
	sc := storage.DefaultConfig(filepath.Join(dir, "badger"))
	sc.SyncWrites = false
	sc.GCWindow = 0
	sc.Logger = testLogger()
	st, err := storage.Open(sc)
	if err != nil {
		t.Fatalf("storage.Open: %v", err)
	}
	l, err := audit.Open(consensus.AuditStore(st))
	if err != nil {
		t.Fatalf("audit.Open: %v", err)
	}
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	signer, err := audit.NewSigner("test-node", key)
	if err != nil {
		t.Fatal(err)
	}
	cc := consensus.DefaultConfig()
	cc.NodeID = "n1"
	cc.DataDir = filepath.Join(dir, "raft")
	cc.RaftAddr = "127.0.0.1:0"
	cc.Bootstrap = true
	cc.Store = st
	cc.Compile = compileForNode
	cc.Audit = consensus.NewAuditLog(l)
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
	eng, err := engine.New(engine.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	s := &stack{t: t, store: st, node: node, eng: eng, tokens: map[Role]string{}}
	s.deps = testDeps{
		Engine:    eng,
		Revisions: node,
		Snapshots: service.SnapshotsOf[*storage.Snapshot](st),
		Writer:    service.ConsensusWriter(node),
		Stats:     NodeStatsFunc(node),
	}
	// A decision log (in memory) for the checks, served by the decision routes.
	decisions, err := audit.NewDecisionLog(&bytes.Buffer{}, audit.DecisionHead{}, audit.DefaultDecisionConfig("n1"))
	if err != nil {
		t.Fatal(err)
	}
	s.deps.Decisions = decisions
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
	RegisterAudit(srv, service.NewAudit(l, signer))
	RegisterWatch(srv, service.NewWatch(st, srv.Services().Reads))
	RegisterDecisions(srv, service.NewDecisionRecords(decisions.Feed(), "n1"))
	s.srv = srv
	s.http = httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		s.http.CloseClientConnections()
		s.http.Close()
		if err := node.Close(); err != nil {
			t.Errorf("node.Close: %v", err)
		}
		if err := st.Close(); err != nil {
			t.Errorf("store.Close: %v", err)
		}
	})
	return &auditStack{stack: s, log: l, signer: signer}
}

// doWithID sends a request with an explicit request id.
func (s *auditStack) doWithID(method, path string, role Role, body any, reqID string) response {
	s.t.Helper()
	js, err := json.Marshal(body)
	if err != nil {
		s.t.Fatal(err)
	}
	req, _ := http.NewRequest(method, s.http.URL+path, bytes.NewReader(js))
	req.Header.Set("Authorization", "Bearer "+s.tokens[role])
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(RequestIDHeader, reqID)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: buf.Bytes()}
}

func (s *auditStack) entries(query string) auditEntriesJSON {
	s.t.Helper()
	var out auditEntriesJSON
	s.mustOK(http.MethodGet, "/v1/audit/entries"+query, RoleAdmin, nil, &out)
	return out
}

func TestAuditOneEntryPerWriteKind(t *testing.T) {
	s := newAuditStack(t)
	type step struct {
		kind, principal, reason string
		send                    func(reqID, key string) response
		changes                 int
	}
	steps := []step{
		{audit.KindSchema, "test-admin", "initial schema", func(id, key string) response {
			return s.doWithID(http.MethodPut, "/v1/schema", RoleAdmin, wire.WriteSchemaRequest{Schema: testSchema, Reason: "initial schema", IdempotencyKey: key}, id)
		}, 1},
		{audit.KindWrite, "test-writer", "grant two", func(id, key string) response {
			return s.doWithID(http.MethodPost, "/v1/relationships/write", RoleWriter, wire.WriteRelationshipsRequest{
				Updates: []wire.Update{touch("dataset:a#reader@user:x"), touch("dataset:a#reader@user:y")}, Reason: "grant two", IdempotencyKey: key}, id)
		}, 2},
		{audit.KindImport, "test-writer", "bulk load", func(id, key string) response {
			req, _ := http.NewRequest(http.MethodPost, s.http.URL+"/v1/relationships/import?reason=bulk+load&idempotency_key="+key,
				strings.NewReader("dataset:b#owner@user:z\ndataset:c#owner@user:z\ndataset:d#owner@user:z\n"))
			req.Header.Set("Authorization", "Bearer "+s.tokens[RoleWriter])
			req.Header.Set("Content-Type", "application/x-ndjson")
			req.Header.Set(RequestIDHeader, id)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var buf bytes.Buffer
			buf.ReadFrom(resp.Body)
			return response{status: resp.StatusCode, body: buf.Bytes()}
		}, 3},
		{audit.KindDelete, "test-writer", "revoke by filter", func(id, key string) response {
			return s.doWithID(http.MethodPost, "/v1/relationships/delete", RoleWriter, wire.DeleteRelationshipsRequest{
				Filter: tupleFilterT{ResourceType: "dataset", ResourceID: "a"}, Reason: "revoke by filter", IdempotencyKey: key}, id)
		}, 2},
	}
	for i, st := range steps {
		t.Run(st.kind, func(t *testing.T) {
			reqID, key := uuid.NewString(), uuid.NewString()
			if r := st.send(reqID, key); r.status != http.StatusOK {
				t.Fatalf("got status %d (%s), want 200", r.status, r.body)
			}
			if got := s.log.Size(); got != uint64(i+1) {
				t.Fatalf("got audit size %d, want %d", got, i+1)
			}
			// The idempotent retry (a new request id, same key) adds nothing.
			if r := st.send(uuid.NewString(), key); r.status != http.StatusOK {
				t.Fatalf("retry: got status %d (%s), want 200", r.status, r.body)
			}
			if got := s.log.Size(); got != uint64(i+1) {
				t.Fatalf("after the idempotent retry: got audit size %d, want %d", got, i+1)
			}
			page := s.entries(fmt.Sprintf("?from=%d&limit=1", i))
			if len(page.Entries) != 1 {
				t.Fatalf("got %d entries, want 1", len(page.Entries))
			}
			e := page.Entries[0]
			if e.Seq != uint64(i) || e.Kind != st.kind || e.Principal != st.principal || e.Reason != st.reason ||
				e.RequestID != reqID || e.ChangeCount != st.changes {
				t.Errorf("got entry %+v, want seq %d kind %s principal %s reason %q request id %s change count %d",
					e, i, st.kind, st.principal, st.reason, reqID, st.changes)
			}
			wantKey := key
			if st.kind == audit.KindImport {
				wantKey = uuid.NewSHA1(uuid.MustParse(key), []byte("chunk-0")).String() // per-chunk key
			}
			if e.IdempotencyKey != wantKey {
				t.Errorf("got idempotency key %q, want %q", e.IdempotencyKey, wantKey)
			}
		})
	}

	t.Run("filters", func(t *testing.T) {
		if got := s.entries("?kind=write").Entries; len(got) != 1 || got[0].Kind != "write" {
			t.Errorf("kind=write: got %+v, want the one write entry", got)
		}
		if got := s.entries("?principal=test-admin").Entries; len(got) != 1 || got[0].Kind != "schema" {
			t.Errorf("principal=test-admin: got %+v, want the schema entry", got)
		}
		future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
		if got := s.entries("?since=" + future).Entries; len(got) != 0 {
			t.Errorf("since=future: got %d entries, want 0", len(got))
		}
		if got := s.entries("?until=" + future).Entries; len(got) != 4 {
			t.Errorf("until=future: got %d entries, want 4", len(got))
		}
	})

	t.Run("roles and bad input", func(t *testing.T) {
		for _, c := range []struct {
			path   string
			role   Role
			status int
		}{
			{"/v1/audit/entries", RoleReader, http.StatusForbidden},
			{"/v1/audit/export", RoleWriter, http.StatusForbidden},
			{"/v1/audit/checkpoint", RoleReader, http.StatusOK},
			{"/v1/audit/entries?limit=0", RoleAdmin, http.StatusBadRequest},
			{"/v1/audit/entries?since=yesterday", RoleAdmin, http.StatusBadRequest},
			{"/v1/audit/proof/inclusion?seq=9", RoleReader, http.StatusBadRequest},
			{"/v1/audit/proof/inclusion", RoleReader, http.StatusBadRequest},
			{"/v1/audit/proof/consistency?from=3&to=2", RoleReader, http.StatusBadRequest},
		} {
			if r := s.do(http.MethodGet, c.path, s.tokens[c.role], nil); r.status != c.status {
				t.Errorf("GET %s as %s: got status %d (%s), want %d", c.path, c.role, r.status, r.body, c.status)
			}
		}
	})
}

func TestAuditProofsVerify(t *testing.T) {
	s := newAuditStack(t)
	s.putSchema(testSchema)
	for i := range 3 {
		s.write(touch(fmt.Sprintf("dataset:d%d#reader@user:u", i)))
	}
	var old auditCheckpointJSON
	s.mustOK(http.MethodGet, "/v1/audit/checkpoint", RoleReader, nil, &old)
	if err := old.Checkpoint.Verify(s.signer.Public()); err != nil {
		t.Fatalf("checkpoint signature: %v", err)
	}
	if old.Checkpoint.Size != 4 {
		t.Fatalf("got checkpoint size %d, want 4", old.Checkpoint.Size)
	}
	for i := range 4 {
		s.write(touch(fmt.Sprintf("dataset:e%d#reader@user:u", i)))
	}
	var cur auditCheckpointJSON
	s.mustOK(http.MethodGet, "/v1/audit/checkpoint", RoleReader, nil, &cur)
	if cur.Checkpoint.Size != 8 {
		t.Fatalf("got checkpoint size %d, want 8", cur.Checkpoint.Size)
	}

	// Every entry is included in the newer checkpoint's tree, and the leaf
	// the server returns is the hash of the entry it lists.
	page := s.entries("?limit=100")
	for _, e := range page.Entries {
		var inc wire.AuditInclusionResponse
		s.mustOK(http.MethodGet, fmt.Sprintf("/v1/audit/proof/inclusion?seq=%d&size=%d", e.Seq, cur.Checkpoint.Size), RoleReader, nil, &inc)
		leaf, err := e.LeafHash()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(leaf, inc.LeafHash) {
			t.Errorf("seq %d: server leaf %x, recomputed %x", e.Seq, inc.LeafHash, leaf)
		}
		if err := proof.VerifyInclusion(rfc6962.DefaultHasher, e.Seq, cur.Checkpoint.Size, leaf, inc.Proof, cur.Checkpoint.Root); err != nil {
			t.Errorf("seq %d: inclusion proof does not verify: %v", e.Seq, err)
		}
	}

	// The older checkpoint is a prefix of the newer one.
	var cons wire.AuditConsistencyResponse
	s.mustOK(http.MethodGet, fmt.Sprintf("/v1/audit/proof/consistency?from=%d&to=%d", old.Checkpoint.Size, cur.Checkpoint.Size), RoleReader, nil, &cons)
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, old.Checkpoint.Size, cur.Checkpoint.Size, cons.Proof, old.Checkpoint.Root, cur.Checkpoint.Root); err != nil {
		t.Errorf("consistency proof %d -> %d does not verify: %v", old.Checkpoint.Size, cur.Checkpoint.Size, err)
	}
	// A forged older root fails it.
	forged := bytes.Clone(old.Checkpoint.Root)
	forged[0] ^= 1
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, old.Checkpoint.Size, cur.Checkpoint.Size, cons.Proof, forged, cur.Checkpoint.Root); err == nil {
		t.Error("consistency proof verified against a forged old root")
	}

	// The export verifies offline against the newest checkpoint.
	r := s.do(http.MethodGet, "/v1/audit/export", s.tokens[RoleAdmin], nil)
	if r.status != http.StatusOK {
		t.Fatalf("export: got status %d (%s)", r.status, r.body)
	}
	if got := r.header.Get(AuditSizeHeader); got != "8" {
		t.Errorf("got %s %q, want 8", AuditSizeHeader, got)
	}
	rep, err := audit.Verify(bytes.NewReader(r.body), cur.Checkpoint, s.signer.Public())
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if !rep.CheckpointVerified || !rep.SignatureVerified || rep.Size != 8 {
		t.Errorf("got report %+v, want 8 entries, checkpoint and signature verified", rep)
	}
}

// The audit endpoints answer in package wire's shapes; the tests read them
// back with package audit's types, whose JSON a verifier uses, so a drift
// between the two fails here.
type auditCheckpointJSON struct {
	Checkpoint *audit.Checkpoint `json:"checkpoint"`
	PublicKey  string            `json:"public_key"`
}

type auditEntriesJSON struct {
	Entries []audit.Entry `json:"entries"`
	Next    uint64        `json:"next"`
	Size    uint64        `json:"size"`
}
