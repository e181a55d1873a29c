package spicedb_test

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"
	authzed "github.com/authzed/authzed-go/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/trellis-authz/trellis/service"
)

// badSchema is the REST bad-input suite's schema (api/stack_test.go):
// govSchema with an owner relation.
var badSchema = strings.NewReplacer("  relation blocked: user\n", "  relation owner: user\n  relation blocked: user\n",
	"read = reader - blocked", "read = (reader + owner) - blocked").Replace(govSchema)

// badCase is one bad request: call sends it with the client of its role
// and returns the RPC's error.
type badCase struct {
	name   string
	role   string // admin, writer, reader; "none" sends no token, "wrong" an unknown one
	call   func(ctx context.Context, c *authzed.Client) error
	code   codes.Code
	reason string   // the ErrorInfo reason: the Trellis code upper-cased
	want   []string // substrings the message must contain (what is wrong, how to fix it)
}

// TestBadInputGRPC sends the bad inputs of the REST suite (api.TestBadInput)
// that a SpiceDB message can express over gRPC with the authzed-go client.
// Each must answer its gRPC code, a message that names what is wrong, an
// ErrorInfo of domain trellis with the Trellis code as reason, and change
// nothing: every relationship and the schema text are the same after each
// case and after the suite. Left out are the REST cases a protobuf message
// cannot carry (malformed or trailing JSON, an unknown field, a context that
// is not an object, an unknown route or method) and the 8 MiB message limit,
// which the gRPC runtime answers before Trellis sees the call.
func TestBadInputGRPC(t *testing.T) {
	tn := startNode(t, badSchema)
	ctx := context.Background()
	clients := map[string]*authzed.Client{
		"admin": tn.client(t, tn.admin), "writer": tn.client(t, tn.writer), "reader": tn.client(t, tn.reader),
		"none": tn.client(t, ""), "wrong": tn.client(t, "trl_not-a-token"),
	}
	w := clients["writer"]
	seed := []string{
		"dataset:claims#reader@user:ana",
		"dataset:claims#reader@team:ml#member",
		"team:ml#member@user:bob",
		`dataset:claims#reader@user:eve[purpose_is:{"allowed":["fraud-model"]}]`,
		"dataset:claims#owner@user:olga",
	}
	var ups []*v1.RelationshipUpdate
	for _, s := range seed {
		ups = append(ups, touch(v1Rel(t, s)))
	}
	wr, err := w.WriteRelationships(ctx, &v1.WriteRelationshipsRequest{Updates: ups})
	if err != nil {
		t.Fatalf("seeding: %v", err)
	}
	before := stateOf(t, clients["admin"])
	if n := len(strings.Split(before.rels, "\n")); n != len(seed) || before.schema == "" {
		t.Fatalf("state before: got %d relationships %q and schema %q, want %d and the schema", n, before.rels, before.schema, len(seed))
	}

	cases := badCases(t, wr.GetWrittenAt().GetToken())
	if len(cases) < 30 {
		t.Fatalf("only %d cases", len(cases))
	}
	seen := map[string]bool{}
	for _, c := range cases {
		if seen[c.name] {
			t.Fatalf("case %q twice", c.name)
		}
		seen[c.name] = true
		t.Run(c.name, func(t *testing.T) {
			cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			err := c.call(cctx, clients[c.role])
			wantStatus(t, err, c)
			if after := stateOf(t, clients["admin"]); after != before {
				t.Fatalf("state changed:\nbefore %+v\nafter  %+v", before, after)
			}
		})
	}
	if after := stateOf(t, clients["admin"]); after != before {
		t.Fatalf("state changed by the suite:\nbefore %+v\nafter  %+v", before, after)
	}
}

// wantStatus fails unless err is c's status: code, message, ErrorInfo.
func wantStatus(t *testing.T, err error, c badCase) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s", c.code)
	}
	st, ok := status.FromError(err)
	if !ok {
		t.Fatalf("got %v, want a gRPC status", err)
	}
	t.Logf("%s %s", st.Code(), st.Message())
	if st.Code() != c.code {
		t.Errorf("got code %s (%q), want %s", st.Code(), st.Message(), c.code)
	}
	for _, w := range c.want {
		if !strings.Contains(st.Message(), w) {
			t.Errorf("got message %q, want it to mention %q", st.Message(), w)
		}
	}
	var info *errdetails.ErrorInfo
	for _, d := range st.Details() {
		if i, ok := d.(*errdetails.ErrorInfo); ok {
			info = i
		}
	}
	switch {
	case info == nil:
		t.Errorf("status %s %q has no ErrorInfo detail (details %v)", st.Code(), st.Message(), st.Details())
	case info.GetDomain() != "trellis" || info.GetReason() != c.reason:
		t.Errorf("got ErrorInfo domain %q reason %q, want trellis %s", info.GetDomain(), info.GetReason(), c.reason)
	}
	if st.Code() == codes.Internal || st.Code() == codes.Unknown {
		t.Errorf("a client error answered %s", st.Code())
	}
}

// state is every relationship (a fully consistent export, sorted, one a
// line) and the schema text.
type state struct{ rels, schema string }

func stateOf(t *testing.T, c *authzed.Client) state {
	t.Helper()
	ctx := context.Background()
	s, err := c.ExportBulkRelationships(ctx, &v1.ExportBulkRelationshipsRequest{Consistency: full()})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, m := range drain(t, s) {
		for _, r := range m.GetRelationships() {
			lines = append(lines, relText(t, r))
		}
	}
	slices.Sort(lines)
	sc, err := c.ReadSchema(ctx, &v1.ReadSchemaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	return state{strings.Join(lines, "\n"), sc.GetSchemaText()}
}

func full() *v1.Consistency {
	return &v1.Consistency{Requirement: &v1.Consistency_FullyConsistent{FullyConsistent: true}}
}

// withRevision is a copy of a token of this cluster naming another
// revision: the cluster tag is kept, so only the revision is wrong.
func withRevision(t *testing.T, tok string, rev uint64) string {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(tok, "t1."))
	if err != nil {
		t.Fatalf("token %q: %v", tok, err)
	}
	_, n := binary.Uvarint(raw)
	return "t1." + base64.RawURLEncoding.EncodeToString(append(binary.AppendUvarint(nil, rev), raw[n:]...))
}

// truncated is a token that lost its last byte.
func truncated(t *testing.T, tok string) string {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(tok, "t1."))
	if err != nil {
		t.Fatalf("token %q: %v", tok, err)
	}
	return "t1." + base64.RawURLEncoding.EncodeToString(raw[:len(raw)-1])
}

// forged is a token whose cluster tag is flipped.
func forged(t *testing.T, tok string) string {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(tok, "t1."))
	if err != nil {
		t.Fatalf("token %q: %v", tok, err)
	}
	raw[len(raw)-1] ^= 0xff
	return "t1." + base64.RawURLEncoding.EncodeToString(raw)
}

// write sends one WriteRelationships of updates.
func write(ups ...*v1.RelationshipUpdate) func(context.Context, *authzed.Client) error {
	return func(ctx context.Context, c *authzed.Client) error {
		_, err := c.WriteRelationships(ctx, &v1.WriteRelationshipsRequest{Updates: ups})
		return err
	}
}

func touchT(t *testing.T, s string) *v1.RelationshipUpdate { return touch(v1Rel(t, s)) }

func create(r *v1.Relationship) *v1.RelationshipUpdate {
	return &v1.RelationshipUpdate{Operation: v1.RelationshipUpdate_OPERATION_CREATE, Relationship: r}
}

// check sends a CheckPermission of dataset:claims.
func check(permission string, s *v1.SubjectReference, cctx *structpb.Struct, cons *v1.Consistency) func(context.Context, *authzed.Client) error {
	return func(ctx context.Context, c *authzed.Client) error {
		_, err := c.CheckPermission(ctx, &v1.CheckPermissionRequest{Resource: obj("dataset", "claims"), Permission: permission,
			Subject: s, Context: cctx, Consistency: cons})
		return err
	}
}

// streamErr reads a server stream to its end and returns its error (or
// the error of opening it).
func streamErr[T any](s grpc.ServerStreamingClient[T], err error) error {
	for err == nil {
		_, err = s.Recv()
	}
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

func readRels(in *v1.ReadRelationshipsRequest) func(context.Context, *authzed.Client) error {
	return func(ctx context.Context, c *authzed.Client) error { return streamErr(c.ReadRelationships(ctx, in)) }
}

func lookupRes(in *v1.LookupResourcesRequest) func(context.Context, *authzed.Client) error {
	return func(ctx context.Context, c *authzed.Client) error { return streamErr(c.LookupResources(ctx, in)) }
}

func lookupSubs(in *v1.LookupSubjectsRequest) func(context.Context, *authzed.Client) error {
	return func(ctx context.Context, c *authzed.Client) error { return streamErr(c.LookupSubjects(ctx, in)) }
}

func deleteRels(in *v1.DeleteRelationshipsRequest) func(context.Context, *authzed.Client) error {
	return func(ctx context.Context, c *authzed.Client) error {
		_, err := c.DeleteRelationships(ctx, in)
		return err
	}
}

func writeSchema(text string) func(context.Context, *authzed.Client) error {
	return func(ctx context.Context, c *authzed.Client) error {
		_, err := c.WriteSchema(ctx, &v1.WriteSchemaRequest{Schema: text})
		return err
	}
}

// importRels streams relationships to ImportBulkRelationships.
func importRels(rels ...*v1.Relationship) func(context.Context, *authzed.Client) error {
	return func(ctx context.Context, c *authzed.Client) error {
		s, err := c.ImportBulkRelationships(ctx)
		if err != nil {
			return err
		}
		if err := s.Send(&v1.ImportBulkRelationshipsRequest{Relationships: rels}); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		_, err = s.CloseAndRecv()
		return err
	}
}

// checkBulkItem sends one CheckBulkPermissions item and returns the
// item's error status as an error.
func checkBulkItem(it *v1.CheckBulkPermissionsRequestItem) func(context.Context, *authzed.Client) error {
	return func(ctx context.Context, c *authzed.Client) error {
		out, err := c.CheckBulkPermissions(ctx, &v1.CheckBulkPermissionsRequest{Items: []*v1.CheckBulkPermissionsRequestItem{it}})
		if err != nil {
			return err
		}
		if len(out.GetPairs()) != 1 {
			return fmt.Errorf("got %d pairs, want 1", len(out.GetPairs()))
		}
		if e := out.GetPairs()[0].GetError(); e != nil {
			return status.FromProto(e).Err()
		}
		return nil
	}
}

func withCaveat(r *v1.Relationship, name string, cctx *structpb.Struct) *v1.Relationship {
	r.OptionalCaveat = &v1.ContextualizedCaveat{CaveatName: name, Context: cctx}
	return r
}

func mustStruct(t *testing.T, m map[string]any) *structpb.Struct {
	t.Helper()
	s, err := structpb.NewStruct(m)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func badCases(t *testing.T, tok string) []badCase {
	otherCluster := service.NewTokens("another-cluster").Encode(1)
	many := make([]*v1.RelationshipUpdate, 1001)
	for i := range many {
		many[i] = touch(rel("dataset", fmt.Sprintf("d%d", i), "reader", "user", "ana", ""))
	}
	longID := strings.Repeat("x", 1100)
	bigCtx := mustStruct(t, map[string]any{"x": strings.Repeat("a", 5000)})
	schemaWithoutReader := strings.Replace(badSchema, "relation reader: user | team#member | user with purpose_is\n", "", 1)
	schemaWithoutReader = strings.Replace(schemaWithoutReader, "(reader + owner)", "owner", 1)
	schemaWithoutCaveat := strings.Replace(strings.Replace(badSchema, " | user with purpose_is", "", 1),
		"caveat purpose_is(purpose string, allowed list<string>) {\n  purpose in allowed\n}\n", "", 1)
	schemaWithoutTeam := strings.Replace(strings.Replace(badSchema, "definition team {\n  relation member: user | team#member\n}\n\n", "", 1),
		"relation reader: user | team#member |", "relation reader: user |", 1)
	if strings.Contains(schemaWithoutTeam, "team") {
		t.Fatalf("schema without team still names it:\n%s", schemaWithoutTeam)
	}
	newRel := func() *v1.Relationship { return rel("dataset", "x", "reader", "user", "new", "") }
	var (
		ia, fp, pd, ua = codes.InvalidArgument, codes.FailedPrecondition, codes.PermissionDenied, codes.Unauthenticated
		ana            = sub("user", "ana", "")
	)
	return []badCase{
		// relationships that do not fit the schema
		{"unknown type", "writer", write(touchT(t, "document:x#reader@user:ana")), fp, "UNKNOWN_TYPE", []string{"updates[0].relationship", `"document"`, "defined: user, team, dataset"}},
		{"unknown relation", "writer", write(touchT(t, "dataset:x#writer@user:ana")), fp, "UNKNOWN_RELATION", []string{`"writer"`, "relations: reader, owner, blocked"}},
		{"unknown subject type", "writer", write(touchT(t, "dataset:x#reader@robot:r2")), fp, "UNKNOWN_TYPE", []string{"subject", `"robot"`, "defined: user"}},
		{"write to a permission", "writer", write(touchT(t, "dataset:x#read@user:ana")), ia, "INVALID_ARGUMENT", []string{"dataset#read is a permission", "written to relations"}},
		{"subject type not allowed", "writer", write(touchT(t, "dataset:x#blocked@team:ml#member")), ia, "SUBJECT_NOT_ALLOWED", []string{`"team#member"`, "dataset#blocked", "allowed: user"}},
		{"wildcard not allowed", "writer", write(touchT(t, "dataset:x#owner@user:*")), ia, "SUBJECT_NOT_ALLOWED", []string{`"user:*"`, "allowed: user"}},
		{"caveat not allowed", "writer", write(touchT(t, "dataset:x#owner@user:ana[purpose_is]")), ia, "SUBJECT_NOT_ALLOWED", []string{`caveat "purpose_is"`, "allowed for it: user"}},
		{"unknown caveat", "writer", write(touch(withCaveat(rel("dataset", "x", "reader", "user", "zed", ""), "is_tuesday", nil))), ia, "SUBJECT_NOT_ALLOWED", []string{`"is_tuesday"`, "allowed for it: user, user with purpose_is"}},
		{"wrong caveat context type", "writer", write(touch(withCaveat(rel("dataset", "x", "reader", "user", "zed", ""), "purpose_is",
			mustStruct(t, map[string]any{"allowed": "fraud"})))), ia, "INVALID_CONTEXT", []string{`"allowed"`, "list<string>", `"fraud"`}},
		{"unknown caveat parameter", "writer", write(touch(withCaveat(rel("dataset", "x", "reader", "user", "zed", ""), "purpose_is",
			mustStruct(t, map[string]any{"purpse": "x"})))), ia, "INVALID_CONTEXT", []string{`"purpse"`, "its parameters are: purpose, allowed"}},
		{"null caveat context value", "writer", write(touch(withCaveat(rel("dataset", "x", "reader", "user", "zed", ""), "purpose_is",
			mustStruct(t, map[string]any{"allowed": nil})))), ia, "INVALID_CONTEXT", []string{`"allowed"`, "must be a list", "got null"}},
		{"null caveat context value in a list", "writer", write(touch(withCaveat(rel("dataset", "x", "reader", "user", "zed", ""), "purpose_is",
			mustStruct(t, map[string]any{"allowed": []any{"a", nil}})))), ia, "INVALID_CONTEXT", []string{`"allowed"`, "element 1 must be a string", "got null"}},
		{"expiration not allowed", "writer", write(touch(func() *v1.Relationship {
			r := rel("dataset", "x", "owner", "user", "ana", "")
			r.OptionalExpiresAt = timestamppb.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
			return r
		}())), ia, "SUBJECT_NOT_ALLOWED", []string{"expiration not allowed", `add "with expiration"`}},
		{"invalid expiration time", "writer", write(touch(func() *v1.Relationship {
			r := rel("dataset", "x", "reader", "user", "ana", "")
			r.OptionalExpiresAt = &timestamppb.Timestamp{Seconds: 1, Nanos: -5}
			return r
		}())), ia, "INVALID_ARGUMENT", []string{"updates[0].relationship.optional_expires_at", "nanos"}},

		// malformed messages and names
		{"bad object id", "writer", write(touch(rel("dataset", "x y", "reader", "user", "ana", ""))), ia, "INVALID_ARGUMENT", []string{`"x y"`, "only letters, digits"}},
		{"bad type name", "writer", write(touch(rel("Data-Set", "x", "reader", "user", "ana", ""))), ia, "INVALID_ARGUMENT", []string{`"Data-Set"`, "lowercase letter"}},
		{"empty relation", "writer", write(touch(rel("dataset", "x", "", "user", "ana", ""))), ia, "INVALID_ARGUMENT", []string{"relation:", "3 to 64 characters"}},
		{"too long id", "writer", write(touch(rel("dataset", longID, "reader", "user", "ana", ""))), ia, "INVALID_ARGUMENT", []string{"resource id", "1100 bytes", "at most 1024"}},
		{"too long subject id", "writer", write(touch(rel("dataset", "x", "reader", "user", longID, ""))), ia, "INVALID_ARGUMENT", []string{"subject id", "1100 bytes", "at most 1024"}},
		{"missing relationship", "writer", write(&v1.RelationshipUpdate{Operation: v1.RelationshipUpdate_OPERATION_TOUCH}), ia, "INVALID_ARGUMENT", []string{"updates[0].relationship is required"}},
		{"missing resource", "writer", write(touch(&v1.Relationship{Relation: "reader", Subject: ana})), ia, "INVALID_ARGUMENT", []string{"updates[0].relationship.resource", "object_type"}},
		{"missing subject", "writer", write(touch(&v1.Relationship{Resource: obj("dataset", "x"), Relation: "reader"})), ia, "INVALID_ARGUMENT", []string{"updates[0].relationship.subject is required", "object_type"}},
		{"missing subject object", "writer", write(touch(&v1.Relationship{Resource: obj("dataset", "x"), Relation: "reader", Subject: &v1.SubjectReference{}})), ia, "INVALID_ARGUMENT", []string{"updates[0].relationship.subject.object is required", "object_type"}},
		{"operation unspecified", "writer", write(&v1.RelationshipUpdate{Relationship: newRel()}), ia, "INVALID_ARGUMENT", []string{"updates[0].operation", "OPERATION_TOUCH", "OPERATION_UNSPECIFIED"}},
		{"operation out of range", "writer", write(&v1.RelationshipUpdate{Operation: 42, Relationship: newRel()}), ia, "INVALID_ARGUMENT", []string{"updates[0].operation", "OPERATION_TOUCH", "not 42"}},
		{"second update bad", "writer", write(touch(newRel()), touchT(t, "dataset:x#writer@user:ana")), fp, "UNKNOWN_RELATION", []string{"updates[1].relationship", `"writer"`}},
		{"no updates", "writer", write(), ia, "INVALID_ARGUMENT", []string{"updates is empty", "at least one"}},
		{"duplicate update", "writer", write(touch(newRel()), &v1.RelationshipUpdate{Operation: v1.RelationshipUpdate_OPERATION_DELETE, Relationship: newRel()}), ia, "INVALID_ARGUMENT", []string{"updates[0] and updates[1]", "dataset:x#reader@user:new", "once per write"}},
		{"too many updates", "writer", write(many...), ia, "TOO_MANY_UPDATES", []string{"1001 updates", "at most 1000", "split it"}},
		{"idempotency key not a UUID", "writer", func(ctx context.Context, c *authzed.Client) error {
			return write(touch(newRel()))(metadata.AppendToOutgoingContext(ctx, "trellis-idempotency-key", "retry-1"), c)
		}, ia, "INVALID_ARGUMENT", []string{`"retry-1"`, "not a UUID", "send e.g."}},

		// who may do what
		{"missing token", "none", write(touch(newRel())), ua, "UNAUTHENTICATED", []string{"no Authorization", "Bearer"}},
		{"wrong token", "wrong", write(touch(newRel())), ua, "UNAUTHENTICATED", []string{"not known", "ask an admin"}},
		{"reader token writing", "reader", write(touch(newRel())), pd, "PERMISSION_DENIED", []string{"WriteRelationships", `"writer"`}},
		{"writer token changing the schema", "writer", writeSchema(badSchema), pd, "PERMISSION_DENIED", []string{"WriteSchema", `"admin"`}},
		{"reader token deleting", "reader", deleteRels(&v1.DeleteRelationshipsRequest{RelationshipFilter: &v1.RelationshipFilter{ResourceType: "dataset"}}), pd, "PERMISSION_DENIED", []string{"DeleteRelationships", `"writer"`}},
		{"reader token importing", "reader", importRels(newRel()), pd, "PERMISSION_DENIED", []string{"ImportBulkRelationships", `"writer"`}},
		{"no token reading", "none", check("read", ana, nil, nil), ua, "UNAUTHENTICATED", []string{"no Authorization", "Bearer"}},

		// consistency tokens
		{"bad consistency token", "reader", check("read", ana, nil, fresh(&v1.ZedToken{Token: "t1.!!!"})), ia, "INVALID_TOKEN", []string{`"t1.!!!"`, "not valid base64url"}},
		{"token without the prefix", "reader", check("read", ana, nil, fresh(&v1.ZedToken{Token: "garbage"})), ia, "INVALID_TOKEN", []string{"garbage", "exactly as the server returned it"}},
		{"truncated token", "reader", check("read", ana, nil, fresh(&v1.ZedToken{Token: truncated(t, tok)})), ia, "INVALID_TOKEN", []string{"truncated or corrupt"}},
		{"forged token", "reader", check("read", ana, nil, v1Exact(forged(t, tok))), ia, "INVALID_TOKEN", []string{"issued by another cluster", "only meaningful on the cluster that returned them"}},
		{"token of another cluster", "reader", check("read", ana, nil, v1Exact(otherCluster)), ia, "INVALID_TOKEN", []string{otherCluster, "issued by another cluster"}},
		{"token from the future", "reader", check("read", ana, nil, fresh(&v1.ZedToken{Token: withRevision(t, tok, 1<<40)})), ia, "TOKEN_FROM_THE_FUTURE", []string{"revision 1099511627776", "committed only up to", "pass a token this cluster returned"}},
		{"future token in a read", "reader", readRels(&v1.ReadRelationshipsRequest{RelationshipFilter: &v1.RelationshipFilter{ResourceType: "dataset"},
			Consistency: v1Exact(withRevision(t, tok, 1<<40))}), ia, "TOKEN_FROM_THE_FUTURE", []string{"revision 1099511627776", "committed only up to"}},
		{"empty at_least_as_fresh token", "reader", check("read", ana, nil, fresh(&v1.ZedToken{})), ia, "INVALID_TOKEN", []string{"token is empty", "written_at"}},

		// checks and lookups
		{"unknown permission in check", "reader", check("write", ana, nil, nil), fp, "UNKNOWN_RELATION", []string{"permission:", `"write"`, "it has: reader, owner, blocked, read"}},
		{"unknown resource type in check", "reader", func(ctx context.Context, c *authzed.Client) error {
			_, err := c.CheckPermission(ctx, &v1.CheckPermissionRequest{Resource: obj("report", "q1"), Permission: "read", Subject: ana})
			return err
		}, fp, "UNKNOWN_TYPE", []string{"resource:", `"report"`, "defined: user, team, dataset"}},
		{"check without resource", "reader", func(ctx context.Context, c *authzed.Client) error {
			_, err := c.CheckPermission(ctx, &v1.CheckPermissionRequest{Permission: "read", Subject: ana})
			return err
		}, ia, "INVALID_ARGUMENT", []string{"resource is required", "object_type"}},
		{"check without subject", "reader", check("read", nil, nil, nil), ia, "INVALID_ARGUMENT", []string{"subject is required"}},
		{"check without subject object", "reader", check("read", &v1.SubjectReference{}, nil, nil), ia, "INVALID_ARGUMENT", []string{"subject.object is required"}},
		{"check context of the wrong type", "reader", check("read", sub("user", "eve", ""), mustStruct(t, map[string]any{"purpose": 42}), nil), ia, "INVALID_CONTEXT", []string{`"purpose"`, "must be a string", "got 42"}},
		{"check context too large", "reader", check("read", ana, bigCtx, nil), ia, "INVALID_CONTEXT", []string{"context is 5008 bytes", "at most 4096"}},
		{"bulk check item with unknown permission", "reader", checkBulkItem(&v1.CheckBulkPermissionsRequestItem{Resource: obj("dataset", "claims"), Permission: "write", Subject: ana}),
			fp, "UNKNOWN_RELATION", []string{"items[0].permission", `"write"`}},
		{"lookup resources with unknown permission", "reader", lookupRes(&v1.LookupResourcesRequest{ResourceObjectType: "dataset", Permission: "write", Subject: ana}),
			fp, "UNKNOWN_RELATION", []string{"permission:", `"write"`, "it has:"}},
		{"lookup resources of unknown type", "reader", lookupRes(&v1.LookupResourcesRequest{ResourceObjectType: "report", Permission: "read", Subject: ana}),
			fp, "UNKNOWN_TYPE", []string{"resource_type:", `"report"`, "defined:"}},
		{"lookup resources without subject", "reader", lookupRes(&v1.LookupResourcesRequest{ResourceObjectType: "dataset", Permission: "read"}),
			ia, "INVALID_ARGUMENT", []string{"subject is required"}},
		{"lookup resources bad cursor", "reader", lookupRes(&v1.LookupResourcesRequest{ResourceObjectType: "dataset", Permission: "read", Subject: ana,
			OptionalCursor: &v1.Cursor{Token: "garbage"}}), ia, "INVALID_CURSOR", []string{"invalid cursor"}},
		{"lookup resources limit too large", "reader", lookupRes(&v1.LookupResourcesRequest{ResourceObjectType: "dataset", Permission: "read", Subject: ana,
			OptionalLimit: 100000}), ia, "INVALID_ARGUMENT", []string{"limit is 100000", "between 0", "1000"}},
		{"lookup subjects of unknown type", "reader", lookupSubs(&v1.LookupSubjectsRequest{Resource: obj("dataset", "claims"), Permission: "read", SubjectObjectType: "robot"}),
			fp, "UNKNOWN_TYPE", []string{"subject_type:", `"robot"`, "defined:"}},
		{"lookup subjects with unknown permission", "reader", lookupSubs(&v1.LookupSubjectsRequest{Resource: obj("dataset", "claims"), Permission: "write", SubjectObjectType: "user"}),
			fp, "UNKNOWN_RELATION", []string{"permission:", `"write"`, "it has:"}},
		{"expand unknown permission", "reader", func(ctx context.Context, c *authzed.Client) error {
			_, err := c.ExpandPermissionTree(ctx, &v1.ExpandPermissionTreeRequest{Resource: obj("dataset", "claims"), Permission: "write"})
			return err
		}, fp, "UNKNOWN_RELATION", []string{"permission:", `"write"`, "it has:"}},

		// reads
		{"bad cursor", "reader", readRels(&v1.ReadRelationshipsRequest{RelationshipFilter: &v1.RelationshipFilter{ResourceType: "dataset"},
			OptionalCursor: &v1.Cursor{Token: "garbage"}}), ia, "INVALID_CURSOR", []string{"invalid cursor", "pass the next cursor of the previous page unchanged"}},
		{"empty filter", "reader", readRels(&v1.ReadRelationshipsRequest{}), ia, "INVALID_ARGUMENT", []string{"invalid filter: empty", "name at least a resource_type or a subject"}},
		{"prefix with a NUL byte", "reader", readRels(&v1.ReadRelationshipsRequest{RelationshipFilter: &v1.RelationshipFilter{ResourceType: "dataset",
			OptionalResourceIdPrefix: "a\x00"}}), ia, "INVALID_ARGUMENT", []string{"resource_id_prefix", `"a\x00"`, "only letters"}},
		{"export from a cursor", "reader", func(ctx context.Context, c *authzed.Client) error {
			return streamErr(c.ExportBulkRelationships(ctx, &v1.ExportBulkRelationshipsRequest{OptionalCursor: &v1.Cursor{Token: "x"}}))
		}, ia, "INVALID_ARGUMENT", []string{"optional_cursor", "export again"}},

		// deletes and preconditions
		{"delete without filter", "writer", deleteRels(&v1.DeleteRelationshipsRequest{}), ia, "INVALID_ARGUMENT", []string{"relationship_filter is required", "resource_type"}},
		{"delete with a bad filter", "writer", deleteRels(&v1.DeleteRelationshipsRequest{RelationshipFilter: &v1.RelationshipFilter{OptionalResourceId: "claims"}}),
			ia, "INVALID_ARGUMENT", []string{"resource_id", "need resource_type"}},
		{"delete over its limit", "writer", deleteRels(&v1.DeleteRelationshipsRequest{RelationshipFilter: &v1.RelationshipFilter{ResourceType: "dataset"},
			OptionalLimit: 1}), ia, "LIMIT_EXCEEDED", []string{"more than 1 relationships", "nothing was deleted", "optional_allow_partial_deletions"}},
		{"delete with preconditions", "writer", deleteRels(&v1.DeleteRelationshipsRequest{RelationshipFilter: &v1.RelationshipFilter{ResourceType: "dataset"},
			OptionalPreconditions: []*v1.Precondition{{Operation: v1.Precondition_OPERATION_MUST_MATCH, Filter: &v1.RelationshipFilter{ResourceType: "dataset"}}}}),
			ia, "INVALID_ARGUMENT", []string{"optional_preconditions", "WriteRelationships"}},
		{"create of an existing relationship", "writer", write(create(newRel()), create(rel("dataset", "claims", "reader", "user", "ana", ""))),
			codes.AlreadyExists, "ALREADY_EXISTS", []string{"dataset:claims#reader@user:ana", "already exists", "touch"}},
		{"failed precondition", "writer", func(ctx context.Context, c *authzed.Client) error {
			_, err := c.WriteRelationships(ctx, &v1.WriteRelationshipsRequest{Updates: []*v1.RelationshipUpdate{touch(newRel())},
				OptionalPreconditions: []*v1.Precondition{{Operation: v1.Precondition_OPERATION_MUST_MATCH,
					Filter: &v1.RelationshipFilter{ResourceType: "dataset", OptionalResourceId: "claims", OptionalRelation: "blocked"}}}})
			return err
		}, fp, "PRECONDITION_FAILED", []string{"must_match", "relation=blocked", "nothing was written"}},
		{"precondition operation unspecified", "writer", func(ctx context.Context, c *authzed.Client) error {
			_, err := c.WriteRelationships(ctx, &v1.WriteRelationshipsRequest{Updates: []*v1.RelationshipUpdate{touch(newRel())},
				OptionalPreconditions: []*v1.Precondition{{Filter: &v1.RelationshipFilter{ResourceType: "dataset"}}}})
			return err
		}, ia, "INVALID_ARGUMENT", []string{"optional_preconditions[0].operation", "OPERATION_MUST_MATCH"}},
		{"precondition without filter", "writer", func(ctx context.Context, c *authzed.Client) error {
			_, err := c.WriteRelationships(ctx, &v1.WriteRelationshipsRequest{Updates: []*v1.RelationshipUpdate{touch(newRel())},
				OptionalPreconditions: []*v1.Precondition{{Operation: v1.Precondition_OPERATION_MUST_NOT_MATCH}}})
			return err
		}, ia, "INVALID_ARGUMENT", []string{"optional_preconditions[0].filter is required"}},

		// schema
		{"schema drops a used relation", "admin", writeSchema(schemaWithoutReader), fp, "UNSAFE_SCHEMA_CHANGE", []string{"relation dataset#reader is removed", "delete those relationships first"}},
		{"schema adds a caveat to a used subject type", "admin", writeSchema(strings.Replace(badSchema, "relation owner: user\n", "relation owner: user with purpose_is\n", 1)),
			fp, "UNSAFE_SCHEMA_CHANGE", []string{"dataset#owner no longer allows user", "delete those relationships first"}},
		{"schema removes a used caveat", "admin", writeSchema(schemaWithoutCaveat), fp, "UNSAFE_SCHEMA_CHANGE", []string{"no longer allows user with purpose_is", "delete those relationships first"}},
		{"schema drops a used type", "admin", writeSchema(schemaWithoutTeam), fp, "UNSAFE_SCHEMA_CHANGE", []string{"type team is removed", "delete those relationships first"}},
		{"schema does not compile", "admin", writeSchema("definition user {\n  relation owner: nobody\n}"), ia, "INVALID_SCHEMA", []string{"schema.zed:2:", "nobody"}},
		{"schema does not parse", "admin", writeSchema("definition user {"), ia, "INVALID_SCHEMA", []string{"schema.zed:1:", "expected '}'"}},
		{"empty schema", "admin", writeSchema("  "), ia, "INVALID_ARGUMENT", []string{"schema is empty", "send the schema text"}},

		// imports
		{"import unknown type", "writer", importRels(newRel(), rel("report", "q1", "reader", "user", "ana", "")), fp, "UNKNOWN_TYPE", []string{"line 2", `"report"`, "fix the line and import again"}},
		{"import missing subject", "writer", importRels(newRel(), &v1.Relationship{Resource: obj("dataset", "y"), Relation: "reader"}),
			ia, "INVALID_ARGUMENT", []string{"line 2", "relationships[1].subject is required"}},
	}
}

// A delete over its optional_limit changes nothing (TestBadInputGRPC); with
// optional_allow_partial_deletions it deletes exactly optional_limit of the
// matches and answers PARTIAL, until the rest fit.
func TestBadInputGRPCPartialDelete(t *testing.T) {
	tn := startNode(t, badSchema)
	ctx := context.Background()
	w := tn.client(t, tn.writer)
	var ups []*v1.RelationshipUpdate
	for _, id := range []string{"a", "b", "c"} {
		ups = append(ups, touch(rel("dataset", id, "reader", "user", "ana", "")))
	}
	if _, err := w.WriteRelationships(ctx, &v1.WriteRelationshipsRequest{Updates: ups}); err != nil {
		t.Fatal(err)
	}
	del := &v1.DeleteRelationshipsRequest{RelationshipFilter: &v1.RelationshipFilter{ResourceType: "dataset"},
		OptionalLimit: 2, OptionalAllowPartialDeletions: true}
	for i, want := range []struct {
		progress v1.DeleteRelationshipsResponse_DeletionProgress
		deleted  uint64
		left     int
	}{{v1.DeleteRelationshipsResponse_DELETION_PROGRESS_PARTIAL, 2, 1}, {v1.DeleteRelationshipsResponse_DELETION_PROGRESS_COMPLETE, 1, 0}} {
		out, err := w.DeleteRelationships(ctx, del)
		if err != nil {
			t.Fatalf("delete %d: %v", i+1, err)
		}
		if out.GetDeletionProgress() != want.progress || out.GetRelationshipsDeletedCount() != want.deleted {
			t.Errorf("delete %d: got %s, %d deleted; want %s, %d", i+1, out.GetDeletionProgress(), out.GetRelationshipsDeletedCount(), want.progress, want.deleted)
		}
		st := stateOf(t, tn.client(t, tn.admin))
		if got := len(strings.Fields(st.rels)); got != want.left {
			t.Errorf("after delete %d: got relationships %q, want %d left", i+1, st.rels, want.left)
		}
	}
}
