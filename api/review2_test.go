package api

import (
	"bytes"
	"encoding/json"
	"github.com/trellis-authz/trellis/service"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/trellis-authz/trellis/wire"
)

// post sends a raw body to a route of hs and decodes the error answer.
func postRaw(t *testing.T, url string, body []byte) (int, wire.Error) {
	t.Helper()
	resp, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e wire.ErrorResponse
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &e)
	return resp.StatusCode, e.Error
}

// Error messages name the field and the JSON it must be, never a Go type.
func TestJSONErrorsNameJSONShapes(t *testing.T) {
	hs := fakeServer(t, nil)
	cases := []struct {
		name, path, body, want string
	}{
		{"number for a string", "/v1/check", `{"resource": 5, "permission": "read", "subject": "user:ana"}`, `field "resource" must be a string, not JSON number`},
		{"array for an object", "/v1/relationships/write", `[]`, "the request body must be an object, not JSON array"},
		{"string for updates", "/v1/relationships/write", `{"updates": "touch"}`, `field "updates" must be an array, not JSON string`},
		{"string context", "/v1/check", `{"resource": "dataset:claims", "permission": "read", "subject": "user:ana", "context": "fraud"}`, "context must be a JSON object of caveat parameters"},
	}
	for _, c := range cases {
		status, e := postRaw(t, hs.URL+c.path, []byte(c.body))
		if status != http.StatusBadRequest || !strings.Contains(e.Message, c.want) {
			t.Errorf("%s: got %d %q, want 400 containing %q", c.name, status, e.Message, c.want)
		}
		for _, goName := range []string{"api.", "wire.", "interface {}", "map[string]", "Go value"} {
			if strings.Contains(e.Message, goName) {
				t.Errorf("%s: message %q names a Go type (%s)", c.name, e.Message, goName)
			}
		}
	}
}

// Invalid UTF-8 is refused with the byte offset, not decoded into U+FFFD
// and echoed back as mojibake.
func TestInvalidUTF8NamesOffset(t *testing.T) {
	hs := fakeServer(t, nil)
	body := []byte(`{"resource": "dataset:cl` + "\xff\xfe" + `aims", "permission": "read", "subject": "user:ana"}`)
	status, e := postRaw(t, hs.URL+"/v1/check", body)
	off := bytes.IndexByte(body, 0xff)
	if status != http.StatusBadRequest || e.Code != "invalid_json" || e.Details["offset"] != float64(off) {
		t.Fatalf("got %d %s %v %q, want 400 invalid_json at offset %d", status, e.Code, e.Details, e.Message, off)
	}
	if strings.ContainsRune(e.Message, '\uFFFD') {
		t.Errorf("message %q echoes a replacement character", e.Message)
	}
}

// The raft gauges: trellis_raft_is_leader is 1 on the leader (raft names the
// state "Leader"), trellis_raft_commit_index is the commit index (not the
// applied one).
func TestRaftGauges(t *testing.T) {
	hs := fakeServer(t, func(c *Config, d *testDeps) {
		d.Stats = func() NodeStats { return NodeStats{State: "Leader", AppliedIndex: 5, CommitIndex: 7, HasLeader: true} }
	})
	resp, err := http.Get(hs.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"trellis_raft_is_leader 1\n", "trellis_raft_commit_index 7\n", "trellis_raft_applied_index 5\n"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("/metrics lacks %q", strings.TrimSpace(want))
		}
	}
}

type statsSource struct{ applied, commit uint64 }

func (s statsSource) State() string                 { return "Follower" }
func (s statsSource) AppliedIndex() uint64          { return s.applied }
func (s statsSource) CommitIndex() uint64           { return s.commit }
func (s statsSource) Leader() (id, raftAddr string) { return "n2", "127.0.0.1:7002" }

func TestNodeStatsFuncReadsCommitIndex(t *testing.T) {
	st := NodeStatsFunc(statsSource{applied: 3, commit: 9})()
	if st.CommitIndex != 9 || st.AppliedIndex != 3 || !st.HasLeader {
		t.Fatalf("got %+v, want commit 9, applied 3, a leader", st)
	}
}

// A watch resuming from a token the cluster never committed is refused at
// once (it used to send heartbeats forever, holding a stream slot), and its
// type filter names types of the schema.
func TestWatchRefusesFutureTokensAndUnknownTypes(t *testing.T) {
	s := newStack(t)
	s.putSchema(testSchema)
	cfg := s.config()
	cfg.Auth = AuthConfig{Mode: AuthInsecureNoAuth}
	srv, err := newTestServer(cfg, s.deps)
	if err != nil {
		t.Fatal(err)
	}
	RegisterWatch(srv, service.NewWatch(s.store, srv.Services().Reads))
	future := url.QueryEscape(srv.tokens.Encode(s.node.AppliedRevision() + 1000))
	for _, c := range []struct{ query, code string }{
		{"since=" + future, "token_from_the_future"},
		{"types=dataset,modle", "unknown_type"},
		{"types=Bad%20Name", "invalid_argument"},
	} {
		r := doHandler(t, srv, http.MethodGet, "/v1/watch?"+c.query, nil)
		if r.status < 400 || r.errorBody(t).Code != c.code {
			t.Errorf("watch?%s: got %d %s, want %s", c.query, r.status, r.body, c.code)
		}
	}
}

// A write that changes nothing (deleting a relationship that does not
// exist) leaves no audit entry; one that changes something leaves one.
func TestNoAuditEntryForAWriteThatChangedNothing(t *testing.T) {
	s := newAuditStack(t)
	s.putSchema(testSchema)
	before := s.entries("?limit=100").Size
	s.write(del("dataset:claims#reader@user:nobody"))
	if got := s.entries("?limit=100").Size; got != before {
		t.Fatalf("audit log grew from %d to %d entries for a delete of nothing", before, got)
	}
	s.write(touch("dataset:claims#reader@user:ana"))
	if got := s.entries("?limit=100").Size; got != before+1 {
		t.Fatalf("audit log has %d entries after a real write, want %d", got, before+1)
	}
}

// While a node writes the schema it was started with, a check that finds
// none is 503 not_ready with Retry-After, not 404 "write a schema first".
func TestNotReadyWhileLoadingSchema(t *testing.T) {
	hs := fakeServer(t, func(c *Config, d *testDeps) { d.Snapshots = fakeSnapshots{} })
	if r := doURL(t, hs.URL, http.MethodPost, "/v1/check", "", checkBody); r.status != http.StatusNotFound {
		t.Fatalf("no schema, none expected: got %d %s, want 404", r.status, r.body)
	}
	srv, err := newTestServer(func() Config {
		c := DefaultConfig()
		c.Auth = AuthConfig{Mode: AuthInsecureNoAuth}
		return c
	}(), testDeps{Engine: &fakeEngine{}, Revisions: &fakeRevisions{applied: 1}, Snapshots: fakeSnapshots{}, Writer: fakeWriter{}})
	if err != nil {
		t.Fatal(err)
	}
	srv.Services().Reads.ExpectSchema()
	r := doHandler(t, srv, http.MethodPost, "/v1/check", checkBody)
	if r.status != http.StatusServiceUnavailable || r.errorBody(t).Code != "not_ready" || r.header.Get("Retry-After") == "" {
		t.Fatalf("while loading: got %d %s (Retry-After %q), want 503 not_ready with Retry-After", r.status, r.body, r.header.Get("Retry-After"))
	}
}

func TestDuplicateJSONKeysRefused(t *testing.T) {
	hs := fakeServer(t, nil)
	for _, c := range []struct{ body, field string }{
		{`{"resource": "dataset:claims", "permission": "read", "subject": "user:ana", "subject": "user:admin"}`, "subject"},
		{`{"resource": "dataset:claims", "permission": "read", "subject": "user:ana", "context": {"purpose": "a", "purpose": "b"}}`, "context.purpose"},
	} {
		status, e := postRaw(t, hs.URL+"/v1/check", []byte(c.body))
		if status != http.StatusBadRequest || e.Code != "invalid_json" || e.Details["field"] != c.field {
			t.Errorf("%s: got %d %s %v, want 400 invalid_json on %s", c.body, status, e.Code, e.Details, c.field)
		}
	}
	bulk := `{"items": [{"resource": "dataset:a", "permission": "read", "subject": "user:ana"}, {"resource": "dataset:b", "resource": "dataset:c", "permission": "read", "subject": "user:ana"}]}`
	if status, e := postRaw(t, hs.URL+"/v1/check/bulk", []byte(bulk)); status != http.StatusBadRequest || e.Details["field"] != "items[1].resource" {
		t.Errorf("bulk: got %d %v, want the duplicate at items[1].resource", status, e.Details)
	}
	// The same key in two different objects is fine.
	ok := `{"items": [{"resource": "dataset:a", "permission": "read", "subject": "user:ana"}, {"resource": "dataset:b", "permission": "read", "subject": "user:ana"}]}`
	if status, e := postRaw(t, hs.URL+"/v1/check/bulk", []byte(ok)); status != http.StatusOK {
		t.Errorf("distinct objects: got %d %v, want 200", status, e)
	}
}

// An export says that it leaves out expired relationships.
func TestExportSaysWhatItExcludes(t *testing.T) {
	hs := fakeServer(t, nil)
	r := doURL(t, hs.URL, http.MethodGet, "/v1/relationships/export", "", nil)
	if r.status != http.StatusOK || r.header.Get("Trellis-Export-Excludes") != "expired" {
		t.Fatalf("got %d, Trellis-Export-Excludes %q; want 200 and \"expired\"", r.status, r.header.Get("Trellis-Export-Excludes"))
	}
}
