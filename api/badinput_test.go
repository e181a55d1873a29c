package api

import (
	"bytes"
	"fmt"
	"github.com/trellis-authz/trellis/service"
	"github.com/trellis-authz/trellis/wire"
	"net/http"
	"strings"
	"testing"
)

// TestBadInput sends malformed and forbidden requests to the real stack. Each
// must answer its documented status and code and leave the store unchanged,
// byte for byte.
func TestBadInput(t *testing.T) {
	s := newStack(t)
	s.putSchema(testSchema)
	s.write(
		touch("dataset:claims#reader@user:ana"),
		touch("dataset:claims#reader@team:ml#member"),
		touch("team:ml#member@user:bob"),
		touch(`dataset:claims#reader@user:eve[purpose_is:{"allowed":["fraud-model"]}]`),
		touch("dataset:claims#owner@user:olga"),
	)
	before := s.export()
	if bytes.Count(before, []byte("\n")) != 5 {
		t.Fatalf("export before: got %q, want 5 lines", before)
	}
	otherCluster := service.NewTokens("another-cluster").Encode(1)
	many := make([]wire.Update, 1001)
	for i := range many {
		many[i] = touch(fmt.Sprintf("dataset:d%d#reader@user:ana", i))
	}
	big := `{"resource":"dataset:claims","permission":"read","subject":"user:ana","context":{"x":"` + strings.Repeat("a", 5<<20) + `"}}`
	longID := strings.Repeat("x", 1100)
	bigCtx := `{"x":"` + strings.Repeat("a", 5000) + `"}`
	schemaWithoutReader := strings.Replace(testSchema, "relation reader: user | team#member | user with purpose_is\n", "", 1)
	schemaWithoutReader = strings.Replace(schemaWithoutReader, "(reader + owner)", "owner", 1)
	schemaWithoutCaveat := strings.Replace(strings.Replace(testSchema, " | user with purpose_is", "", 1),
		"caveat purpose_is(purpose string, allowed list<string>) {\n  purpose in allowed\n}\n", "", 1)
	schemaWithoutTeam := `definition user {}

caveat purpose_is(purpose string, allowed list<string>) {
  purpose in allowed
}

definition dataset {
  relation reader: user | user with purpose_is
  relation owner: user
  relation blocked: user
  permission read = (reader + owner) - blocked
}
`
	const (
		post = http.MethodPost
		put  = http.MethodPut
		get  = http.MethodGet
	)
	type tc struct {
		name   string
		method string
		path   string
		role   Role   // "" with token "" sends no token
		token  string // overrides role
		body   any
		status int
		code   string
		// contains, when set, must appear in the error message.
		contains string
	}
	w := "/v1/relationships/write"
	cases := []tc{
		{name: "malformed JSON check", method: post, path: "/v1/check", role: RoleReader, body: `{"resource": "dataset:claims",`, status: 400, code: "invalid_json"},
		{name: "malformed JSON write", method: post, path: w, role: RoleWriter, body: `{"updates": [}`, status: 400, code: "invalid_json"},
		{name: "unknown field", method: post, path: w, role: RoleWriter, body: `{"updates": [], "upserts": []}`, status: 400, code: "invalid_json", contains: "upserts"},
		{name: "wrong JSON type", method: post, path: w, role: RoleWriter, body: `{"updates": "dataset:claims#reader@user:x"}`, status: 400, code: "invalid_json", contains: "updates"},
		{name: "trailing data", method: post, path: "/v1/check", role: RoleReader, body: `{"resource":"dataset:claims","permission":"read","subject":"user:ana"} {}`, status: 400, code: "invalid_json"},
		{name: "empty body", method: post, path: w, role: RoleWriter, body: ``, status: 400, code: "invalid_json"},
		{name: "unknown type", method: post, path: w, role: RoleWriter, body: wire.WriteRelationshipsRequest{Updates: []wire.Update{touch("document:x#reader@user:ana")}}, status: 404, code: "unknown_type", contains: "document"},
		{name: "unknown relation", method: post, path: w, role: RoleWriter, body: wire.WriteRelationshipsRequest{Updates: []wire.Update{touch("dataset:x#writer@user:ana")}}, status: 404, code: "unknown_relation", contains: "writer"},
		{name: "write to a permission", method: post, path: w, role: RoleWriter, body: wire.WriteRelationshipsRequest{Updates: []wire.Update{touch("dataset:x#read@user:ana")}}, status: 400, code: "invalid_argument", contains: "permission"},
		{name: "subject type not allowed", method: post, path: w, role: RoleWriter, body: wire.WriteRelationshipsRequest{Updates: []wire.Update{touch("dataset:x#blocked@team:ml#member")}}, status: 400, code: "subject_not_allowed", contains: "team:ml#member"},
		{name: "wildcard not allowed", method: post, path: w, role: RoleWriter, body: wire.WriteRelationshipsRequest{Updates: []wire.Update{touch("dataset:x#owner@user:*")}}, status: 400, code: "subject_not_allowed"},
		{name: "caveat not allowed", method: post, path: w, role: RoleWriter, body: wire.WriteRelationshipsRequest{Updates: []wire.Update{touch("dataset:x#owner@user:ana[purpose_is]")}}, status: 400, code: "subject_not_allowed", contains: "purpose_is"},
		{name: "wrong caveat context type", method: post, path: w, role: RoleWriter, body: wire.WriteRelationshipsRequest{Updates: []wire.Update{touch(`dataset:x#reader@user:zed[purpose_is:{"allowed":"fraud"}]`)}}, status: 400, code: "invalid_context", contains: "list<string>"},
		{name: "unknown caveat parameter", method: post, path: w, role: RoleWriter, body: wire.WriteRelationshipsRequest{Updates: []wire.Update{touch(`dataset:x#reader@user:zed[purpose_is:{"purpse":"x"}]`)}}, status: 400, code: "invalid_context", contains: "purpse"},
		{name: "null caveat context value", method: post, path: w, role: RoleWriter, body: wire.WriteRelationshipsRequest{Updates: []wire.Update{touch(`dataset:x#reader@user:zed[purpose_is:{"allowed":null}]`)}}, status: 400, code: "invalid_context", contains: `"allowed"`},
		{name: "null caveat context value in a list", method: post, path: w, role: RoleWriter, body: wire.WriteRelationshipsRequest{Updates: []wire.Update{touch(`dataset:x#reader@user:zed[purpose_is:{"allowed":["a",null]}]`)}}, status: 400, code: "invalid_context", contains: `"allowed"`},
		{name: "prefix with a NUL byte", method: post, path: "/v1/relationships/read", role: RoleReader, body: `{"filter":{"resource_type":"dataset","resource_id_prefix":"a\u0000"}}`, status: 400, code: "invalid_argument", contains: "resource_id_prefix"},
		{name: "malformed caveat context", method: post, path: w, role: RoleWriter, body: wire.WriteRelationshipsRequest{Updates: []wire.Update{touch(`dataset:x#reader@user:zed[purpose_is:{"allowed":]`)}}, status: 400, code: "invalid_context"},
		{name: "expiration not allowed", method: post, path: w, role: RoleWriter, body: wire.WriteRelationshipsRequest{Updates: []wire.Update{touch("dataset:x#owner@user:ana[expiration:2030-01-01T00:00:00Z]")}}, status: 400, code: "subject_not_allowed", contains: "expiration"},
		{name: "check context of the wrong type", method: post, path: "/v1/check", role: RoleReader, body: `{"resource":"dataset:claims","permission":"read","subject":"user:eve","context":{"purpose":42}}`, status: 400, code: "invalid_context"},
		{name: "check context not an object", method: post, path: "/v1/check", role: RoleReader, body: `{"resource":"dataset:claims","permission":"read","subject":"user:eve","context":[1]}`, status: 400, code: "invalid_context"},
		{name: "malformed relationship", method: post, path: w, role: RoleWriter, body: wire.WriteRelationshipsRequest{Updates: []wire.Update{touch("dataset:x#reader")}}, status: 400, code: "invalid_argument", contains: "updates[0].relationship"},
		{name: "bad object id", method: post, path: w, role: RoleWriter, body: wire.WriteRelationshipsRequest{Updates: []wire.Update{touch("dataset:x y#reader@user:ana")}}, status: 400, code: "invalid_argument"},
		{name: "too long id", method: post, path: w, role: RoleWriter, body: wire.WriteRelationshipsRequest{Updates: []wire.Update{touch("dataset:" + longID + "#reader@user:ana")}}, status: 400, code: "invalid_argument"},
		{name: "bad op", method: post, path: w, role: RoleWriter, body: wire.WriteRelationshipsRequest{Updates: []wire.Update{{Op: "upsert", Relationship: "dataset:x#reader@user:ana"}}}, status: 400, code: "invalid_argument", contains: "upsert"},
		{name: "no updates", method: post, path: w, role: RoleWriter, body: wire.WriteRelationshipsRequest{}, status: 400, code: "invalid_argument"},
		{name: "duplicate update", method: post, path: w, role: RoleWriter, body: wire.WriteRelationshipsRequest{Updates: []wire.Update{touch("dataset:x#reader@user:ana"), del("dataset:x#reader@user:ana")}}, status: 400, code: "invalid_argument"},
		{name: "too many updates", method: post, path: w, role: RoleWriter, body: wire.WriteRelationshipsRequest{Updates: many}, status: 400, code: "too_many_updates", contains: "1000"},
		{name: "oversized body", method: post, path: "/v1/check", role: RoleReader, body: big, status: 413, code: "body_too_large"},
		{name: "idempotency key not a UUID", method: post, path: w, role: RoleWriter, body: wire.WriteRelationshipsRequest{Updates: []wire.Update{touch("dataset:x#reader@user:ana")}, IdempotencyKey: "retry-1"}, status: 400, code: "invalid_argument", contains: "UUID"},
		{name: "missing token", method: post, path: w, body: wire.WriteRelationshipsRequest{Updates: []wire.Update{touch("dataset:x#reader@user:ana")}}, status: 401, code: "unauthenticated"},
		{name: "wrong token", method: post, path: w, token: "trl_not-a-token", body: wire.WriteRelationshipsRequest{Updates: []wire.Update{touch("dataset:x#reader@user:ana")}}, status: 401, code: "unauthenticated"},
		{name: "reader token writing", method: post, path: w, role: RoleReader, body: wire.WriteRelationshipsRequest{Updates: []wire.Update{touch("dataset:x#reader@user:ana")}}, status: 403, code: "permission_denied", contains: "writer"},
		{name: "writer token changing the schema", method: put, path: "/v1/schema", role: RoleWriter, body: wire.WriteSchemaRequest{Schema: testSchema}, status: 403, code: "permission_denied", contains: "admin"},
		{name: "reader token deleting", method: post, path: "/v1/relationships/delete", role: RoleReader, body: wire.DeleteRelationshipsRequest{Filter: tupleFilter("dataset")}, status: 403, code: "permission_denied"},
		{name: "reader token importing", method: post, path: "/v1/relationships/import", role: RoleReader, body: "dataset:x#reader@user:ana\n", status: 403, code: "permission_denied"},
		{name: "bad consistency token", method: post, path: "/v1/check", role: RoleReader, body: `{"resource":"dataset:claims","permission":"read","subject":"user:ana","consistency":{"at_least_as_fresh":"t1.!!!"}}`, status: 400, code: "invalid_token"},
		{name: "token of another cluster", method: post, path: "/v1/check", role: RoleReader, body: wire.CheckRequest{Resource: "dataset:claims", Permission: "read", Subject: "user:ana", Consistency: &wire.Consistency{Mode: wire.AtExactSnapshot, Token: otherCluster}}, status: 400, code: "invalid_token", contains: "another cluster"},
		{name: "unknown consistency", method: post, path: "/v1/check", role: RoleReader, body: `{"resource":"dataset:claims","permission":"read","subject":"user:ana","consistency":"eventually"}`, status: 400, code: "invalid_json", contains: "eventually"},
		{name: "unknown permission in check", method: post, path: "/v1/check", role: RoleReader, body: wire.CheckRequest{Resource: "dataset:claims", Permission: "write", Subject: "user:ana"}, status: 404, code: "unknown_relation"},
		{name: "check context too large", method: post, path: "/v1/check", role: RoleReader, body: `{"resource":"dataset:claims","permission":"read","subject":"user:ana","context":` + bigCtx + `}`, status: 400, code: "invalid_context"},
		{name: "bad cursor", method: post, path: "/v1/relationships/read", role: RoleReader, body: wire.ReadRelationshipsRequest{Filter: tupleFilter("dataset"), Cursor: "garbage"}, status: 400, code: "invalid_cursor"},
		{name: "empty filter", method: post, path: "/v1/relationships/read", role: RoleReader, body: wire.ReadRelationshipsRequest{}, status: 400, code: "invalid_argument"},
		{name: "page too large", method: post, path: "/v1/lookup/resources", role: RoleReader, body: wire.LookupResourcesRequest{ResourceType: "dataset", Permission: "read", Subject: "user:ana", Limit: 100000}, status: 400, code: "invalid_argument", contains: "limit"},
		{name: "delete with a bad filter", method: post, path: "/v1/relationships/delete", role: RoleWriter, body: `{"filter":{"resource_id":"claims"}}`, status: 400, code: "invalid_argument"},
		{name: "delete over its limit", method: post, path: "/v1/relationships/delete", role: RoleWriter, body: wire.DeleteRelationshipsRequest{Filter: tupleFilter("dataset"), Limit: 1}, status: 400, code: "limit_exceeded"},
		{name: "create of an existing relationship", method: post, path: w, role: RoleWriter, body: wire.WriteRelationshipsRequest{Updates: []wire.Update{create("dataset:x#reader@user:new"), create("dataset:claims#reader@user:ana")}}, status: 409, code: "already_exists"},
		{name: "failed precondition", method: post, path: w, role: RoleWriter, body: wire.WriteRelationshipsRequest{Updates: []wire.Update{touch("dataset:x#reader@user:new")},
			Preconditions: []wire.Precondition{{Op: "must_match", Filter: tupleFilter("dataset", "claims", "blocked")}}}, status: 412, code: "precondition_failed"},
		{name: "schema drops a used relation", method: put, path: "/v1/schema", role: RoleAdmin, body: wire.WriteSchemaRequest{Schema: schemaWithoutReader}, status: 409, code: "unsafe_schema_change", contains: "dataset#reader"},
		{name: "schema adds a caveat to a used subject type", method: put, path: "/v1/schema", role: RoleAdmin, body: wire.WriteSchemaRequest{Schema: strings.Replace(testSchema, "relation owner: user\n", "relation owner: user with purpose_is\n", 1)}, status: 409, code: "unsafe_schema_change", contains: "dataset#owner"},
		{name: "schema removes a used caveat", method: put, path: "/v1/schema", role: RoleAdmin, body: wire.WriteSchemaRequest{Schema: schemaWithoutCaveat}, status: 409, code: "unsafe_schema_change", contains: "purpose_is"},
		{name: "schema drops a used type", method: put, path: "/v1/schema", role: RoleAdmin, body: wire.WriteSchemaRequest{Schema: schemaWithoutTeam}, status: 409, code: "unsafe_schema_change", contains: "team"},
		{name: "schema does not compile", method: put, path: "/v1/schema", role: RoleAdmin, body: wire.WriteSchemaRequest{Schema: "definition user {\n  relation x: nobody\n}"}, status: 400, code: "invalid_schema"},
		{name: "empty schema", method: put, path: "/v1/schema", role: RoleAdmin, body: wire.WriteSchemaRequest{Schema: "  "}, status: 400, code: "invalid_argument"},
		{name: "import bad line", method: post, path: "/v1/relationships/import", role: RoleWriter, body: "dataset:new#reader@user:ana\nnot a relationship\n", status: 400, code: "invalid_argument", contains: "line 2"},
		{name: "import unknown type", method: post, path: "/v1/relationships/import", role: RoleWriter, body: `{"relationship":"report:q1#reader@user:ana"}` + "\n", status: 404, code: "unknown_type"},
		{name: "unknown route", method: get, path: "/v1/nothing", role: RoleReader, status: 404, code: "not_found"},
		{name: "wrong method", method: get, path: "/v1/check", role: RoleReader, status: 405, code: "method_not_allowed"},
	}
	if len(cases) < 30 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			token := c.token
			if token == "" && c.role != "" {
				token = s.tokens[c.role]
			}
			r := s.do(c.method, c.path, token, c.body)
			if r.status != c.status {
				t.Fatalf("got status %d (%s), want %d", r.status, string(r.body), c.status)
			}
			e := r.errorBody(t)
			if e.Code != c.code {
				t.Errorf("got code %q (%s), want %q", e.Code, e.Message, c.code)
			}
			if c.contains != "" && !strings.Contains(e.Message, c.contains) {
				t.Errorf("got message %q, want it to mention %q", e.Message, c.contains)
			}
			if e.RequestID == "" || e.RequestID != r.header.Get(RequestIDHeader) {
				t.Errorf("got request_id %q and header %q, want the same non-empty id", e.RequestID, r.header.Get(RequestIDHeader))
			}
			if e.Code == "internal" {
				t.Errorf("a client error answered 500 internal")
			}
			if after := s.export(); !bytes.Equal(before, after) {
				t.Fatalf("store changed:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

func tupleFilter(parts ...string) tupleFilterT {
	f := tupleFilterT{}
	if len(parts) > 0 {
		f.ResourceType = parts[0]
	}
	if len(parts) > 1 {
		f.ResourceID = parts[1]
	}
	if len(parts) > 2 {
		f.Relation = parts[2]
	}
	return f
}
