package api

import (
	"encoding/json"
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
	atLeast := &Consistency{Mode: AtLeastAsFresh, Token: s.tokens.Encode(1)}
	return []Route{
		{Method: http.MethodPost, Path: "/v1/check", Summary: "Check whether a subject has a permission on a resource", Role: RoleReader,
			Request: CheckRequest{}, Response: CheckResponse{}, Handler: s.handleCheck,
			Example: CheckRequest{Resource: "dataset:claims", Permission: "read", Subject: "user:ana",
				Context: json.RawMessage(`{"purpose":"fraud-model"}`), Consistency: atLeast, Explain: true}},
		{Method: http.MethodPost, Path: "/v1/check/bulk", Summary: "Run many checks at one revision", Role: RoleReader,
			Request: CheckBulkRequest{}, Response: CheckBulkResponse{}, Handler: s.handleCheckBulk,
			Example: CheckBulkRequest{Items: []CheckItem{
				{Resource: "dataset:claims", Permission: "read", Subject: "user:ana"},
				{Resource: "dataset:claims", Permission: "read", Subject: "user:bob"},
			}, Consistency: &Consistency{Mode: MinimizeLatency}}},
		{Method: http.MethodPost, Path: "/v1/expand", Summary: "Expand a permission into the tree of subjects that have it", Role: RoleReader,
			Request: ExpandRequest{}, Response: ExpandResponse{}, Handler: s.handleExpand,
			Example: ExpandRequest{Resource: "dataset:claims", Permission: "read", Consistency: &Consistency{Mode: FullyConsistent}}},
		{Method: http.MethodPost, Path: "/v1/lookup/resources", Summary: "List the resources of a type a subject has a permission on", Role: RoleReader,
			Request: LookupResourcesRequest{}, Response: LookupResourcesResponse{}, Handler: s.handleLookupResources,
			Example: LookupResourcesRequest{ResourceType: "dataset", Permission: "read", Subject: "user:ana", Limit: 100}},
		{Method: http.MethodPost, Path: "/v1/lookup/subjects", Summary: "List the subjects of a type that have a permission on a resource", Role: RoleReader,
			Request: LookupSubjectsRequest{}, Response: LookupSubjectsResponse{}, Handler: s.handleLookupSubjects,
			Example: LookupSubjectsRequest{Resource: "dataset:claims", Permission: "read", SubjectType: "user", Limit: 100}},
		{Method: http.MethodPost, Path: "/v1/relationships/read", Summary: "Read stored relationships matching a filter, a page at a time", Role: RoleReader,
			Request: ReadRelationshipsRequest{}, Response: ReadRelationshipsResponse{}, Handler: s.handleReadRelationships,
			Example: ReadRelationshipsRequest{Filter: tuple.Filter{ResourceType: "dataset", ResourceID: "claims"}, Limit: 50}},
		{Method: http.MethodGet, Path: "/v1/relationships/export", Summary: "Stream every relationship matching a filter as NDJSON ({\"relationship\": ...} per line); the read token is in the Trellis-Read-At header", Role: RoleReader,
			Response: ExportLine{}, StreamOut: "application/x-ndjson", NoTimeout: true, Handler: s.handleExport,
			Query:        append(append([]QueryParam{}, filterQuery...), consistencyQuery...),
			QueryExample: "resource_type=dataset&resource_id=claims&relation=reader&consistency=minimize_latency"},
		{Method: http.MethodPost, Path: "/v1/relationships/write", Summary: "Create, touch or delete relationships, all or nothing", Role: RoleWriter,
			Request: WriteRelationshipsRequest{}, Response: WriteResponse{}, Handler: s.handleWrite,
			Example: WriteRelationshipsRequest{
				Updates: []Update{
					{Op: "touch", Relationship: "dataset:claims#reader@team:ml#member"},
					{Op: "delete", Relationship: "dataset:claims#reader@user:bob"},
				},
				Preconditions: []Precondition{{Op: "must_not_match", Filter: tuple.Filter{ResourceType: "dataset", ResourceID: "claims", Relation: "blocked"}}},
				Reason:        "JIRA-123 grant ML team read access", IdempotencyKey: "6f1c2b1e-8d5a-4c1e-9f3a-2d4b5c6d7e8f",
			}},
		{Method: http.MethodPost, Path: "/v1/relationships/delete", Summary: "Delete every relationship matching a filter (fails, deleting nothing, when more than limit match)", Role: RoleWriter,
			Request: DeleteRelationshipsRequest{}, Response: DeleteRelationshipsResponse{}, Handler: s.handleDelete,
			Example: DeleteRelationshipsRequest{Filter: tuple.Filter{ResourceType: "dataset", ResourceID: "claims", Relation: "reader",
				Subject: &tuple.SubjectFilter{Type: "user", Relation: strPtr("")}}, Limit: 100, Reason: "offboarding"}},
		{Method: http.MethodPost, Path: "/v1/relationships/import", Summary: "Stream NDJSON relationships in (one {\"relationship\": ...} or plain relationship per line); written with touch, in chunks, each chunk atomic and idempotent", Role: RoleWriter,
			Response: ImportResponse{}, StreamIn: "application/x-ndjson", NoTimeout: true, Handler: s.handleImport,
			Example:      "{\"relationship\":\"dataset:claims#reader@user:ana\"}\n{\"relationship\":\"team:ml#member@user:bob\"}\ndataset:claims#reader@team:ml#member\n",
			Query:        []QueryParam{{"reason", "kept in the audit log"}, {"idempotency_key", "a UUID; retrying the import with it writes nothing twice"}},
			QueryExample: "reason=nightly+sync+from+HR&idempotency_key=0b6f4c3e-2f7a-4f0e-9d7b-5a1c2e3d4f50"},
		{Method: http.MethodGet, Path: "/v1/schema", Summary: "Read the schema", Role: RoleReader,
			Response: SchemaResponse{}, Handler: s.handleGetSchema, Query: consistencyQuery, QueryExample: "consistency=fully_consistent"},
		{Method: http.MethodPut, Path: "/v1/schema", Summary: "Replace the schema (409 when it drops a type or relation that relationships still use)", Role: RoleAdmin,
			Request: WriteSchemaRequest{}, Response: WriteSchemaResponse{}, Handler: s.handlePutSchema,
			Example: WriteSchemaRequest{Schema: exampleSchema, Reason: "add datasets"}},
		{Method: http.MethodPost, Path: "/v1/schema/diff", Summary: "Compare a proposed schema with the stored one; breaking changes are marked", Role: RoleReader,
			Request: DiffSchemaRequest{}, Response: DiffSchemaResponse{}, Handler: s.handleDiffSchema,
			Example: DiffSchemaRequest{Schema: exampleSchema}},
		{Method: http.MethodGet, Path: "/healthz", Summary: "Liveness: the process serves HTTP", Response: HealthResponse{}, Handler: s.handleHealthz},
		{Method: http.MethodGet, Path: "/readyz", Summary: "Readiness: the node knows a leader and has a schema", Response: HealthResponse{}, Handler: s.handleReadyz},
	}
}

// exampleSchema is the schema the OpenAPI examples are written against.
const exampleSchema = `definition user {}

definition team {
  relation member: user | team#member
}

definition dataset {
  relation reader: user | team#member
  relation blocked: user
  permission read = reader - blocked
}
`

func (s *Server) handleHealthz(c echo.Context) error {
	return ok(c, HealthResponse{Status: "ok"})
}

func (s *Server) handleReadyz(c echo.Context) error {
	if s.deps.Stats != nil && !s.deps.Stats().HasLeader {
		return c.JSON(http.StatusServiceUnavailable, HealthResponse{Status: "not_ready", Reason: "this node knows no raft leader"})
	}
	v, err := s.latest(c.Request().Context())
	if err != nil {
		// The cause may name internals (paths, addresses): log it, answer
		// only its error code.
		_, body := httpError(err)
		s.log.Warn("readyz: cannot read a snapshot", slog.String("request_id", requestID(c)), slog.Any("error", err))
		return c.JSON(http.StatusServiceUnavailable, HealthResponse{Status: "not_ready",
			Reason: "cannot read a snapshot (" + body.Code + "); see the server log, request " + requestID(c)})
	}
	defer v.snap.Close()
	if v.schema == nil {
		return c.JSON(http.StatusServiceUnavailable, HealthResponse{Status: "not_ready", Reason: "no schema is stored yet; PUT /v1/schema"})
	}
	return ok(c, HealthResponse{Status: "ok"})
}
