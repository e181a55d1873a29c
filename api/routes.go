package api

import (
	"encoding/json"
	"github.com/trellis-authz/trellis/wire"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/trellis-authz/trellis/tuple"
)

func strPtr(s string) *string { return &s }

var filterQuery = []QueryParam{
	{"resource_type", "only relationships of this resource type"},
	{"resource_id", "only this resource ID (needs resource_type)"},
	{"resource_id_prefix", "only resource IDs with this prefix (needs resource_type)"},
	{"relation", "only this relation"},
	{"subject_type", "only subjects of this type"},
	{"subject_id", "only this subject ID"},
	{"subject_relation", "only subjects with this relation (empty: plain subjects)"},
}

var consistencyQuery = []QueryParam{
	{"consistency", "minimize_latency (default) or fully_consistent"},
	{"at_least_as_fresh", "a token: read at a revision at least this new"},
	{"at_exact_snapshot", "a token: read exactly at this revision"},
}

// coreRoutes lists the endpoints of a single node. Audit, cluster and watch
// endpoints are added with Server.Handle.
func (s *Server) coreRoutes() []Route {
	atLeast := &wire.Consistency{Mode: wire.AtLeastAsFresh, Token: s.tokens.Encode(1)}
	return append([]Route{
		{Method: http.MethodPost, Path: "/v1/check", Summary: "Check whether a subject has a permission on a resource", Role: RoleReader,
			Request: wire.CheckRequest{}, Response: wire.CheckResponse{}, Handler: handle(s, s.handleCheck),
			Example: wire.CheckRequest{Resource: "dataset:claims", Permission: "read", Subject: "user:ana",
				Context: json.RawMessage(`{"purpose":"fraud-model"}`), Consistency: atLeast, Explain: true}},
		{Method: http.MethodPost, Path: "/v1/check/bulk", Summary: "Run many checks at one revision", Role: RoleReader,
			Request: wire.CheckBulkRequest{}, Response: wire.CheckBulkResponse{}, Handler: handle(s, s.handleCheckBulk),
			Example: wire.CheckBulkRequest{Items: []wire.CheckItem{
				{Resource: "dataset:claims", Permission: "read", Subject: "user:ana"},
				{Resource: "dataset:claims", Permission: "read", Subject: "user:bob"},
			}, Consistency: &wire.Consistency{Mode: wire.MinimizeLatency}}},
		{Method: http.MethodPost, Path: "/v1/plan", Summary: "For one subject and a set of resources (listed, or every resource whose relation points at an object), the first of an ordered list of permissions that holds on each, at one revision", Role: RoleReader,
			Request: wire.PlanRequest{}, Response: wire.PlanResponse{}, Handler: handle(s, s.handlePlan),
			Example: wire.PlanRequest{Subject: "user:ana", ResourcesOf: &wire.ResourceSelector{Type: "field", Relation: "dataset", Object: "dataset:claims"},
				Permissions: []string{"read_raw", "read_masked"}, Context: json.RawMessage(`{"purpose":"fraud-model"}`), Limit: 100}},
		{Method: http.MethodPost, Path: "/v1/expand", Summary: "Expand a permission into the tree of subjects that have it", Role: RoleReader,
			Request: wire.ExpandRequest{}, Response: wire.ExpandResponse{}, Handler: handle(s, s.handleExpand),
			Example: wire.ExpandRequest{Resource: "dataset:claims", Permission: "read", Consistency: &wire.Consistency{Mode: wire.FullyConsistent}}},
		{Method: http.MethodPost, Path: "/v1/lookup/resources", Summary: "List the resources of a type a subject has a permission on", Role: RoleReader,
			Request: wire.LookupResourcesRequest{}, Response: wire.LookupResourcesResponse{}, Handler: handle(s, s.handleLookupResources),
			Example: wire.LookupResourcesRequest{ResourceType: "dataset", Permission: "read", Subject: "user:ana", Limit: 100}},
		{Method: http.MethodPost, Path: "/v1/lookup/subjects", Summary: "List the subjects of a type that have a permission on a resource", Role: RoleReader,
			Request: wire.LookupSubjectsRequest{}, Response: wire.LookupSubjectsResponse{}, Handler: handle(s, s.handleLookupSubjects),
			Example: wire.LookupSubjectsRequest{Resource: "dataset:claims", Permission: "read", SubjectType: "user", Limit: 100}},
		{Method: http.MethodPost, Path: "/v1/relationships/read", Summary: "Read stored relationships matching a filter, a page at a time", Role: RoleReader,
			Request: wire.ReadRelationshipsRequest{}, Response: wire.ReadRelationshipsResponse{}, Handler: handle(s, s.handleReadRelationships),
			Example: wire.ReadRelationshipsRequest{Filter: tuple.Filter{ResourceType: "dataset", ResourceID: "claims"}, Limit: 50}},
		{Method: http.MethodGet, Path: "/v1/relationships/export", Summary: "Stream every relationship matching a filter as NDJSON ({\"relationship\": ...} per line); the read token is in the Trellis-Read-At header; expired relationships are left out (Trellis-Export-Excludes: expired)", Role: RoleReader,
			Response: wire.ExportLine{}, StreamOut: "application/x-ndjson", NoTimeout: true, Handler: s.handleExport,
			Query:        append(append([]QueryParam{}, filterQuery...), consistencyQuery...),
			QueryExample: "resource_type=dataset&resource_id=claims&relation=reader&consistency=minimize_latency"},
		{Method: http.MethodPost, Path: "/v1/relationships/write", Summary: "Create, touch or delete relationships, all or nothing", Role: RoleWriter,
			Request: wire.WriteRelationshipsRequest{}, Response: wire.WriteResponse{}, Handler: handle(s, s.handleWrite),
			Example: wire.WriteRelationshipsRequest{
				Updates: []wire.Update{
					{Op: "touch", Relationship: "dataset:claims#reader@team:ml#member"},
					{Op: "delete", Relationship: "dataset:claims#reader@user:bob"},
				},
				Preconditions: []wire.Precondition{{Op: "must_not_match", Filter: tuple.Filter{ResourceType: "dataset", ResourceID: "claims", Relation: "blocked"}}},
				Reason:        "JIRA-123 grant ML team read access", IdempotencyKey: "6f1c2b1e-8d5a-4c1e-9f3a-2d4b5c6d7e8f",
			}},
		{Method: http.MethodPost, Path: "/v1/relationships/delete", Summary: "Delete every relationship matching a filter (fails, deleting nothing, when more than limit match)", Role: RoleWriter,
			Request: wire.DeleteRelationshipsRequest{}, Response: wire.DeleteRelationshipsResponse{}, Handler: handle(s, s.handleDelete),
			Example: wire.DeleteRelationshipsRequest{Filter: tuple.Filter{ResourceType: "dataset", ResourceID: "claims", Relation: "reader",
				Subject: &tuple.SubjectFilter{Type: "user", Relation: strPtr("")}}, Limit: 100, Reason: "offboarding"}},
		{Method: http.MethodPost, Path: "/v1/relationships/import", Summary: "Stream NDJSON relationships in (one {\"relationship\": ...} or plain relationship per line); written with touch, in chunks, each chunk atomic and idempotent", Role: RoleWriter,
			Response: wire.ImportResponse{}, StreamIn: "application/x-ndjson", NoTimeout: true, Handler: s.handleImport,
			Example:      "{\"relationship\":\"dataset:claims#reader@user:ana\"}\n{\"relationship\":\"team:ml#member@user:bob\"}\ndataset:claims#reader@team:ml#member\n",
			Query:        []QueryParam{{"reason", "kept in the audit log"}, {"idempotency_key", "a UUID; retrying the import with it writes nothing twice"}},
			QueryExample: "reason=nightly+sync+from+HR&idempotency_key=0b6f4c3e-2f7a-4f0e-9d7b-5a1c2e3d4f50"},
		{Method: http.MethodGet, Path: "/v1/schema", Summary: "Read the schema", Role: RoleReader,
			Response: wire.SchemaResponse{}, Handler: s.handleGetSchema, Query: consistencyQuery, QueryExample: "consistency=fully_consistent"},
		{Method: http.MethodPut, Path: "/v1/schema", Summary: "Replace the schema (409 when it drops a type or relation that relationships still use)", Role: RoleAdmin,
			Request: wire.WriteSchemaRequest{}, Response: wire.WriteSchemaResponse{}, Handler: handle(s, s.handlePutSchema),
			Example: wire.WriteSchemaRequest{Schema: exampleSchema, Reason: "add datasets"}},
		{Method: http.MethodPost, Path: "/v1/schema/diff", Summary: "Compare a proposed schema with the stored one; breaking changes are marked", Role: RoleReader,
			Request: wire.DiffSchemaRequest{}, Response: wire.DiffSchemaResponse{}, Handler: handle(s, s.handleDiffSchema),
			Example: wire.DiffSchemaRequest{Schema: exampleSchema}},
		{Method: http.MethodPost, Path: "/v1/schema/format", Summary: "Format a schema in the canonical layout (as trellis schema fmt); 400 invalid_schema with each syntax error's line and column", Role: RoleReader,
			Request: wire.FormatSchemaRequest{}, Response: wire.FormatSchemaResponse{}, Handler: handle(s, s.handleFormatSchema),
			Example: wire.FormatSchemaRequest{Schema: "definition user {}\ndefinition team { relation member: user | team#member }\n"}},
		{Method: http.MethodGet, Path: "/healthz", Summary: "Liveness: the process serves HTTP", Response: wire.HealthResponse{}, Handler: s.handleHealthz},
		{Method: http.MethodGet, Path: "/readyz", Summary: "Readiness: the node knows a leader and has a schema", Response: wire.HealthResponse{}, Handler: s.handleReadyz},
	}, append(s.suspensionRoutes(), s.alertRoutes()...)...)
}

// exampleSchema is the schema the OpenAPI examples are written against.
const exampleSchema = `caveat purpose_is(purpose string, allowed list<string>) {
  purpose in allowed
}

definition user {}

definition team {
  relation member: user | team#member
}

definition dataset {
  relation reader: user | team#member | user with purpose_is
  relation blocked: user
  permission read = reader - blocked
}

definition field {
  relation dataset: dataset
  relation unmasked_for: user
  permission read_masked = dataset->read
  permission read_raw = read_masked & unmasked_for
}
`

func (s *Server) handleHealthz(c echo.Context) error {
	return ok(c, wire.HealthResponse{Status: "ok"})
}

func (s *Server) handleReadyz(c echo.Context) error {
	if s.stats != nil && !s.stats().HasLeader {
		return c.JSON(http.StatusServiceUnavailable, wire.HealthResponse{Status: "not_ready", Reason: "this node knows no raft leader"})
	}
	stored, err := s.svc.Schema.Stored(c.Request().Context())
	if err != nil {
		// The cause may name internals (paths, addresses): log it, answer
		// only its error code.
		_, body := httpError(err)
		s.log.Warn("readyz: cannot read a snapshot", slog.String("request_id", requestID(c)), slog.Any("error", err))
		return c.JSON(http.StatusServiceUnavailable, wire.HealthResponse{Status: "not_ready",
			Reason: "cannot read a snapshot (" + body.Code + "); see the server log, request " + requestID(c)})
	}
	if !stored {
		return c.JSON(http.StatusServiceUnavailable, wire.HealthResponse{Status: "not_ready", Reason: "no schema is stored yet; PUT /v1/schema"})
	}
	return ok(c, wire.HealthResponse{Status: "ok"})
}
