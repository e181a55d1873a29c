package api

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/trellis-authz/trellis/wire"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// TestEndpoints exercises every endpoint's success path on the real stack.
func TestEndpoints(t *testing.T) {
	s := newStack(t)

	// Before a schema: not ready, schema 404.
	if r := s.do(http.MethodGet, "/readyz", "", nil); r.status != http.StatusServiceUnavailable {
		t.Errorf("readyz without a schema: got %d, want 503", r.status)
	}
	if r := s.do(http.MethodGet, "/v1/schema", s.tokens[RoleReader], nil); r.status != http.StatusNotFound || r.errorBody(t).Code != "schema_not_found" {
		t.Errorf("GET /v1/schema without a schema: got %d %s, want 404 schema_not_found", r.status, r.body)
	}
	s.putSchema(testSchema)
	if r := s.do(http.MethodGet, "/readyz", "", nil); r.status != http.StatusOK {
		t.Errorf("readyz: got %d %s, want 200", r.status, r.body)
	}
	if r := s.do(http.MethodGet, "/healthz", "", nil); r.status != http.StatusOK {
		t.Errorf("healthz: got %d, want 200", r.status)
	}
	var sr wire.SchemaResponse
	s.mustOK(http.MethodGet, "/v1/schema?consistency=fully_consistent", RoleReader, nil, &sr)
	if sr.Schema != testSchema || len(sr.Hash) != 64 || sr.ReadAt == "" {
		t.Errorf("GET /v1/schema: got hash %q read_at %q, schema equal %v", sr.Hash, sr.ReadAt, sr.Schema == testSchema)
	}

	// Import 25 relationships in chunks of 10 (a second server shares the stack).
	var lines strings.Builder
	for i := range 25 {
		fmt.Fprintf(&lines, "{\"relationship\":\"dataset:d%02d#reader@user:u%d\"}\n", i, i%3)
	}
	lines.WriteString("\nteam:ml#member@user:bob\n")
	cfg := s.config()
	cfg.ImportBatchSize = 10
	cfg.Auth = AuthConfig{Mode: AuthInsecureNoAuth}
	small, err := newTestServer(cfg, s.deps)
	if err != nil {
		t.Fatal(err)
	}
	key := uuid.NewString()
	r := doHandler(t, small, http.MethodPost, "/v1/relationships/import?reason=seed&idempotency_key="+key, lines.String())
	var imp wire.ImportResponse
	if r.status != http.StatusOK || json.Unmarshal(r.body, &imp) != nil || imp.Imported != 26 {
		t.Fatalf("import: got %d %s, want 200 with 26 imported", r.status, r.body)
	}
	revAfterImport := mustRev(t, s, imp.WrittenAt)
	// The same import again with the same key writes nothing new.
	r = doHandler(t, small, http.MethodPost, "/v1/relationships/import?reason=seed&idempotency_key="+key, lines.String())
	if r.status != http.StatusOK {
		t.Fatalf("import retry: got %d %s", r.status, r.body)
	}
	if got := s.node.AppliedRevision(); got != revAfterImport {
		t.Errorf("import retry with the same key moved the revision from %d to %d", revAfterImport, got)
	}

	// Read pages through everything of type dataset.
	var all []string
	cursor := ""
	for page := 0; ; page++ {
		var rr wire.ReadRelationshipsResponse
		s.mustOK(http.MethodPost, "/v1/relationships/read", RoleReader, wire.ReadRelationshipsRequest{Filter: tupleFilter("dataset"), Limit: 7, Cursor: cursor}, &rr)
		if len(rr.Relationships) > 7 {
			t.Fatalf("page %d has %d relationships, limit 7", page, len(rr.Relationships))
		}
		all = append(all, rr.Relationships...)
		if rr.NextCursor == "" {
			break
		}
		cursor = rr.NextCursor
		if page > 10 {
			t.Fatal("read never ends")
		}
	}
	if len(all) != 25 || !slices.Contains(all, "dataset:d07#reader@user:u1") {
		t.Errorf("read: got %d relationships %v, want the 25 imported", len(all), all)
	}

	// Export: NDJSON with the read token in a header.
	r = s.do(http.MethodGet, "/v1/relationships/export?resource_type=team", s.tokens[RoleReader], nil)
	if r.status != http.StatusOK || r.header.Get(ReadAtHeader) == "" || r.header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("export: got %d, header %v", r.status, r.header)
	}
	if got := strings.TrimSpace(string(r.body)); got != `{"relationship":"team:ml#member@user:bob"}` {
		t.Errorf("export of team: got %q", got)
	}

	// Writes, checks, bulk.
	tok := s.write(touch("dataset:d00#reader@team:ml#member"), touch(`dataset:d01#reader@user:eve[purpose_is:{"allowed":["fraud-model"]}]`))
	at := &wire.Consistency{Mode: wire.AtLeastAsFresh, Token: tok}
	if got := s.check("dataset:d00", "read", "user:bob", at); got.Result != "allowed" {
		t.Errorf("check via team: got %q, want allowed", got.Result)
	}
	got := s.check("dataset:d01", "read", "user:eve", at)
	if got.Result != "conditional" || !slices.Equal(got.MissingContext, []string{"purpose"}) {
		t.Errorf("check without context: got %q missing %v, want conditional [purpose]", got.Result, got.MissingContext)
	}
	var cr wire.CheckResponse
	s.mustOK(http.MethodPost, "/v1/check", RoleReader, wire.CheckRequest{Resource: "dataset:d01", Permission: "read", Subject: "user:eve",
		Context: json.RawMessage(`{"purpose":"fraud-model"}`), Consistency: at, Explain: true}, &cr)
	if cr.Result != "allowed" || cr.Trace == nil {
		t.Errorf("check with context and explain: got %q trace %v, want allowed with a trace", cr.Result, cr.Trace)
	}
	var bulk wire.CheckBulkResponse
	s.mustOK(http.MethodPost, "/v1/check/bulk", RoleReader, wire.CheckBulkRequest{Items: []wire.CheckItem{
		{Resource: "dataset:d00", Permission: "read", Subject: "user:bob"},
		{Resource: "dataset:d00", Permission: "read", Subject: "user:u2"},
		{Resource: "nothing:x", Permission: "read", Subject: "user:bob"},
	}, Consistency: at}, &bulk)
	if len(bulk.Results) != 3 || bulk.Results[0].Result != "allowed" || bulk.Results[1].Result != "denied" ||
		bulk.Results[2].Error == nil || bulk.Results[2].Error.Code != "unknown_type" {
		t.Errorf("bulk: got %+v", bulk.Results)
	}

	// Expand and lookups.
	var ex wire.ExpandResponse
	s.mustOK(http.MethodPost, "/v1/expand", RoleReader, wire.ExpandRequest{Resource: "dataset:d00", Permission: "read", Consistency: at}, &ex)
	if ex.Tree == nil || !strings.Contains(mustJSON(t, ex.Tree), "team:ml#member") {
		t.Errorf("expand: got %s, want a tree naming team:ml#member", mustJSON(t, ex.Tree))
	}
	var lr wire.LookupResourcesResponse
	s.mustOK(http.MethodPost, "/v1/lookup/resources", RoleReader, wire.LookupResourcesRequest{ResourceType: "dataset", Permission: "read", Subject: "user:u1", Consistency: at}, &lr)
	var ids []string
	for _, x := range lr.Resources {
		ids = append(ids, x.ID)
	}
	slices.Sort(ids)
	if want := []string{"d01", "d04", "d07", "d10", "d13", "d16", "d19", "d22"}; !slices.Equal(ids, want) {
		t.Errorf("lookup resources for user:u1: got %v, want %v", ids, want)
	}
	var ls wire.LookupSubjectsResponse
	s.mustOK(http.MethodPost, "/v1/lookup/subjects", RoleReader, wire.LookupSubjectsRequest{Resource: "dataset:d00", Permission: "read", SubjectType: "user", Consistency: at}, &ls)
	var subs []string
	for _, x := range ls.Subjects {
		subs = append(subs, x.ID)
	}
	slices.Sort(subs)
	if want := []string{"bob", "u0"}; !slices.Equal(subs, want) {
		t.Errorf("lookup subjects of dataset:d00: got %v, want %v", subs, want)
	}

	// Idempotent write: the retry answers the first token and writes nothing.
	key = uuid.NewString()
	req := wire.WriteRelationshipsRequest{Updates: []wire.Update{create("dataset:idem#reader@user:ana")}, IdempotencyKey: key, Reason: "test"}
	var w1, w2 wire.WriteResponse
	s.mustOK(http.MethodPost, "/v1/relationships/write", RoleWriter, req, &w1)
	s.mustOK(http.MethodPost, "/v1/relationships/write", RoleWriter, req, &w2)
	if w1.WrittenAt != w2.WrittenAt {
		t.Errorf("idempotent retry: got %q then %q, want the same token", w1.WrittenAt, w2.WrittenAt)
	}
	// The principal, reason and key went into the replicated command.
	if rec := s.audit.last(); rec.Principal != "test-writer" || rec.Reason != "test" || rec.IdempotencyKey != key || rec.RequestID == "" || rec.Revision != mustRev(t, s, w1.WrittenAt) {
		t.Errorf("audit record of the write: got %+v, want principal test-writer, reason test, key %s, a request id, revision of %s", rec, key, w1.WrittenAt)
	}

	// Delete by filter.
	var dr wire.DeleteRelationshipsResponse
	s.mustOK(http.MethodPost, "/v1/relationships/delete", RoleWriter, wire.DeleteRelationshipsRequest{Filter: tupleFilter("dataset", "d02")}, &dr)
	if dr.Deleted != 1 {
		t.Errorf("delete dataset:d02: got %d deleted, want 1", dr.Deleted)
	}

	// Schema diff marks breaking changes; an additive PUT is accepted.
	added := strings.Replace(testSchema, "relation blocked: user\n", "relation blocked: user\n  relation auditor: user\n", 1)
	var diff wire.DiffSchemaResponse
	s.mustOK(http.MethodPost, "/v1/schema/diff", RoleReader, wire.DiffSchemaRequest{Schema: added}, &diff)
	if len(diff.Changes) != 1 || diff.Changes[0].Kind != "relation_added" || diff.Changes[0].Breaking {
		t.Errorf("diff adding a relation: got %+v", diff.Changes)
	}
	s.mustOK(http.MethodPost, "/v1/schema/diff", RoleReader, wire.DiffSchemaRequest{Schema: strings.Replace(strings.Replace(testSchema, "  relation owner: user\n", "", 1), "(reader + owner)", "reader", 1)}, &diff)
	if !slices.ContainsFunc(diff.Changes, func(c wire.SchemaChange) bool {
		return c.Kind == "relation_removed" && c.Target == "dataset#owner" && c.Breaking
	}) {
		t.Errorf("diff removing dataset#owner: got %+v", diff.Changes)
	}
	s.putSchema(added)

	// Metrics show the requests and the check outcomes.
	r = s.do(http.MethodGet, "/metrics", "", nil)
	for _, want := range []string{`trellis_http_requests_total{method="POST",route="/v1/check",status="200"}`, `trellis_check_results_total{result="allowed"}`, "trellis_raft_applied_index", "trellis_check_cache_hit_ratio", "trellis_check_cache_hits_total", "trellis_check_cache_misses_total"} {
		if !bytes.Contains(r.body, []byte(want)) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestExportImportRoundTrip exports a store and imports it into another.
func TestExportImportRoundTrip(t *testing.T) {
	a := newStack(t)
	a.putSchema(testSchema)
	a.write(touch("dataset:claims#reader@user:ana"), touch(`dataset:claims#reader@user:eve[purpose_is:{"allowed":["x"]}]`), touch("team:ml#member@team:core#member"))
	dump := a.export()
	b := newStack(t)
	b.putSchema(testSchema)
	var out wire.ImportResponse
	b.mustOK(http.MethodPost, "/v1/relationships/import", RoleWriter, dump, &out)
	if out.Imported != 3 {
		t.Fatalf("imported %d, want 3", out.Imported)
	}
	if got := b.export(); !bytes.Equal(got, dump) {
		t.Errorf("round trip: got\n%s\nwant\n%s", got, dump)
	}
	n := 0
	for sc := bufio.NewScanner(bytes.NewReader(dump)); sc.Scan(); n++ {
		var l wire.ExportLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil || l.Relationship == "" {
			t.Errorf("export line %q is not {\"relationship\": ...}", sc.Text())
		}
	}
	if n != 3 {
		t.Errorf("export has %d lines, want 3", n)
	}
}
