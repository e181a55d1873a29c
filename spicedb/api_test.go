package spicedb_test

import (
	"context"
	"errors"
	"io"
	"testing"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/trellis-authz/trellis/wire"
)

const govSchema = `caveat purpose_is(purpose string, allowed list<string>) {
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
`

func obj(typ, id string) *v1.ObjectReference {
	return &v1.ObjectReference{ObjectType: typ, ObjectId: id}
}
func sub(typ, id, rel string) *v1.SubjectReference {
	return &v1.SubjectReference{Object: obj(typ, id), OptionalRelation: rel}
}
func rel(rt, rid, relation, st, sid, srel string) *v1.Relationship {
	return &v1.Relationship{Resource: obj(rt, rid), Relation: relation, Subject: sub(st, sid, srel)}
}
func touch(r *v1.Relationship) *v1.RelationshipUpdate {
	return &v1.RelationshipUpdate{Operation: v1.RelationshipUpdate_OPERATION_TOUCH, Relationship: r}
}
func fresh(tok *v1.ZedToken) *v1.Consistency {
	return &v1.Consistency{Requirement: &v1.Consistency_AtLeastAsFresh{AtLeastAsFresh: tok}}
}

func drain[T any](t *testing.T, s grpc.ServerStreamingClient[T]) []*T {
	t.Helper()
	var out []*T
	for {
		m, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("stream: %v", err)
		}
		out = append(out, m)
	}
}

// The official Go client drives every PermissionsService and SchemaService
// RPC against a real node; ZedTokens from gRPC work in REST reads and REST
// tokens work over gRPC.
func TestAuthzedClientEndToEnd(t *testing.T) {
	tn := startNode(t, "")
	ctx := context.Background()
	admin, writer, reader := tn.client(t, tn.admin), tn.client(t, tn.writer), tn.client(t, tn.reader)

	if _, err := admin.WriteSchema(ctx, &v1.WriteSchemaRequest{Schema: govSchema}); err != nil {
		t.Fatalf("WriteSchema: %v", err)
	}
	rs, err := reader.ReadSchema(ctx, &v1.ReadSchemaRequest{})
	if err != nil || rs.GetSchemaText() == "" || rs.GetReadAt().GetToken() == "" {
		t.Fatalf("ReadSchema: %v %v", rs, err)
	}
	ctxStruct, _ := structpb.NewStruct(map[string]any{"allowed": []any{"fraud"}})
	w, err := writer.WriteRelationships(ctx, &v1.WriteRelationshipsRequest{Updates: []*v1.RelationshipUpdate{
		touch(rel("team", "ml", "member", "user", "ana", "")),
		touch(rel("team", "ml", "member", "team", "infra", "member")),
		touch(rel("team", "infra", "member", "user", "bo", "...")),
		touch(rel("dataset", "claims", "reader", "team", "ml", "member")),
		touch(rel("dataset", "claims", "blocked", "user", "bo", "")),
		touch(&v1.Relationship{Resource: obj("dataset", "claims"), Relation: "reader", Subject: sub("user", "cy", ""),
			OptionalCaveat: &v1.ContextualizedCaveat{CaveatName: "purpose_is", Context: ctxStruct}}),
	}})
	if err != nil {
		t.Fatalf("WriteRelationships: %v", err)
	}
	tok := w.GetWrittenAt()
	check := func(subject, purpose string) *v1.CheckPermissionResponse {
		t.Helper()
		req := &v1.CheckPermissionRequest{Consistency: fresh(tok), Resource: obj("dataset", "claims"), Permission: "read", Subject: sub("user", subject, "")}
		if purpose != "" {
			req.Context, _ = structpb.NewStruct(map[string]any{"purpose": purpose})
		}
		r, err := reader.CheckPermission(ctx, req)
		if err != nil {
			t.Fatalf("CheckPermission %s: %v", subject, err)
		}
		return r
	}
	for _, c := range []struct {
		subject, purpose string
		want             v1.CheckPermissionResponse_Permissionship
	}{
		{"ana", "", v1.CheckPermissionResponse_PERMISSIONSHIP_HAS_PERMISSION},
		{"bo", "", v1.CheckPermissionResponse_PERMISSIONSHIP_NO_PERMISSION}, // blocked
		{"cy", "fraud", v1.CheckPermissionResponse_PERMISSIONSHIP_HAS_PERMISSION},
		{"cy", "ads", v1.CheckPermissionResponse_PERMISSIONSHIP_NO_PERMISSION},
		{"cy", "", v1.CheckPermissionResponse_PERMISSIONSHIP_CONDITIONAL_PERMISSION},
		{"zed", "", v1.CheckPermissionResponse_PERMISSIONSHIP_NO_PERMISSION},
	} {
		r := check(c.subject, c.purpose)
		if r.GetPermissionship() != c.want {
			t.Errorf("check %s purpose %q: %v, want %v", c.subject, c.purpose, r.GetPermissionship(), c.want)
		}
		if c.want == v1.CheckPermissionResponse_PERMISSIONSHIP_CONDITIONAL_PERMISSION &&
			(len(r.GetPartialCaveatInfo().GetMissingRequiredContext()) != 1 || r.GetPartialCaveatInfo().GetMissingRequiredContext()[0] != "purpose") {
			t.Errorf("conditional check: missing context %v, want [purpose]", r.GetPartialCaveatInfo())
		}
	}

	// The gRPC ZedToken works in a REST check, and a REST write token in a
	// gRPC check.
	var rc wire.CheckResponse
	if code := tn.rest(t, tn.reader, "POST", "/v1/check", wire.CheckRequest{Resource: "dataset:claims", Permission: "read", Subject: "user:ana",
		Consistency: &wire.Consistency{Mode: wire.AtExactSnapshot, Token: tok.GetToken()}}, &rc); code != 200 || rc.Result != "allowed" {
		t.Fatalf("REST check with a ZedToken: %d %+v", code, rc)
	}
	var ww wire.WriteResponse
	if code := tn.rest(t, tn.writer, "POST", "/v1/relationships/write", wire.WriteRelationshipsRequest{Updates: []wire.Update{{Op: "touch", Relationship: "dataset:claims#reader@user:dee"}}}, &ww); code != 200 {
		t.Fatalf("REST write: %d", code)
	}
	tok = &v1.ZedToken{Token: ww.WrittenAt}
	if r := check("dee", ""); r.GetPermissionship() != v1.CheckPermissionResponse_PERMISSIONSHIP_HAS_PERMISSION {
		t.Fatalf("gRPC check at a REST token: %v", r.GetPermissionship())
	}

	bulk, err := reader.CheckBulkPermissions(ctx, &v1.CheckBulkPermissionsRequest{Consistency: fresh(tok), Items: []*v1.CheckBulkPermissionsRequestItem{
		{Resource: obj("dataset", "claims"), Permission: "read", Subject: sub("user", "ana", "")},
		{Resource: obj("dataset", "claims"), Permission: "nope", Subject: sub("user", "ana", "")},
		{Resource: obj("dataset", "claims"), Permission: "read", Subject: sub("user", "bo", "")},
	}})
	if err != nil || len(bulk.GetPairs()) != 3 {
		t.Fatalf("CheckBulkPermissions: %v %v", bulk, err)
	}
	if bulk.Pairs[0].GetItem().GetPermissionship() != v1.CheckPermissionResponse_PERMISSIONSHIP_HAS_PERMISSION ||
		bulk.Pairs[1].GetError() == nil || codes.Code(bulk.Pairs[1].GetError().GetCode()) != codes.FailedPrecondition ||
		bulk.Pairs[2].GetItem().GetPermissionship() != v1.CheckPermissionResponse_PERMISSIONSHIP_NO_PERMISSION {
		t.Errorf("CheckBulkPermissions pairs: %v", bulk.GetPairs())
	}

	lr, err := reader.LookupResources(ctx, &v1.LookupResourcesRequest{Consistency: fresh(tok), ResourceObjectType: "dataset", Permission: "read", Subject: sub("user", "ana", "")})
	if err != nil {
		t.Fatal(err)
	}
	if got := drain(t, lr); len(got) != 1 || got[0].GetResourceObjectId() != "claims" {
		t.Errorf("LookupResources: %v", got)
	}
	ls, err := reader.LookupSubjects(ctx, &v1.LookupSubjectsRequest{Consistency: fresh(tok), Resource: obj("dataset", "claims"), Permission: "read", SubjectObjectType: "user"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]v1.LookupPermissionship{}
	for _, m := range drain(t, ls) {
		got[m.GetSubject().GetSubjectObjectId()] = m.GetSubject().GetPermissionship()
	}
	if len(got) != 3 || got["ana"] != v1.LookupPermissionship_LOOKUP_PERMISSIONSHIP_HAS_PERMISSION ||
		got["cy"] != v1.LookupPermissionship_LOOKUP_PERMISSIONSHIP_CONDITIONAL_PERMISSION || got["dee"] == 0 {
		t.Errorf("LookupSubjects: %v (want ana, dee and cy conditional; bo is blocked)", got)
	}

	rr, err := reader.ReadRelationships(ctx, &v1.ReadRelationshipsRequest{Consistency: fresh(tok), RelationshipFilter: &v1.RelationshipFilter{ResourceType: "team"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := drain(t, rr); len(got) != 3 {
		t.Errorf("ReadRelationships team: %d relationships, want 3", len(got))
	}
	// optional_limit pages, with the cursor of the last result.
	var seen int
	var cursor *v1.Cursor
	for range 10 {
		rr, err := reader.ReadRelationships(ctx, &v1.ReadRelationshipsRequest{Consistency: fresh(tok), RelationshipFilter: &v1.RelationshipFilter{ResourceType: "team"}, OptionalLimit: 2, OptionalCursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		page := drain(t, rr)
		seen += len(page)
		if len(page) == 0 || page[len(page)-1].GetAfterResultCursor() == nil {
			break
		}
		cursor = page[len(page)-1].GetAfterResultCursor()
	}
	if seen != 3 {
		t.Errorf("paged ReadRelationships saw %d relationships, want 3", seen)
	}

	ex, err := reader.ExpandPermissionTree(ctx, &v1.ExpandPermissionTreeRequest{Consistency: fresh(tok), Resource: obj("dataset", "claims"), Permission: "read"})
	if err != nil {
		t.Fatal(err)
	}
	if ex.GetTreeRoot().GetIntermediate().GetOperation() != v1.AlgebraicSubjectSet_OPERATION_EXCLUSION {
		t.Errorf("ExpandPermissionTree root: %v, want an exclusion", ex.GetTreeRoot())
	}

	// A reader may not write: PermissionDenied, nothing written.
	_, err = reader.WriteRelationships(ctx, &v1.WriteRelationshipsRequest{Updates: []*v1.RelationshipUpdate{touch(rel("team", "ml", "member", "user", "eve", ""))}})
	if status.Code(err) != codes.PermissionDenied {
		t.Errorf("reader write: %v, want PermissionDenied", err)
	}

	del, err := writer.DeleteRelationships(ctx, &v1.DeleteRelationshipsRequest{RelationshipFilter: &v1.RelationshipFilter{ResourceType: "dataset", OptionalRelation: "blocked"}})
	if err != nil || del.GetRelationshipsDeletedCount() != 1 {
		t.Fatalf("DeleteRelationships: %v %v", del, err)
	}
	if r, err := reader.CheckPermission(ctx, &v1.CheckPermissionRequest{Consistency: fresh(del.GetDeletedAt()), Resource: obj("dataset", "claims"), Permission: "read", Subject: sub("user", "bo", "")}); err != nil ||
		r.GetPermissionship() != v1.CheckPermissionResponse_PERMISSIONSHIP_HAS_PERMISSION {
		t.Errorf("bo after unblocking: %v %v", r, err)
	}

	// Import and export.
	imp, err := writer.ImportBulkRelationships(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var batch []*v1.Relationship
	for i := range 250 {
		batch = append(batch, rel("dataset", "d"+itoa(i), "reader", "user", "ana", ""))
	}
	if err := imp.Send(&v1.ImportBulkRelationshipsRequest{Relationships: batch}); err != nil {
		t.Fatal(err)
	}
	ir, err := imp.CloseAndRecv()
	if err != nil || ir.GetNumLoaded() != 250 {
		t.Fatalf("ImportBulkRelationships: %v %v", ir, err)
	}
	exp, err := reader.ExportBulkRelationships(ctx, &v1.ExportBulkRelationshipsRequest{Consistency: &v1.Consistency{Requirement: &v1.Consistency_FullyConsistent{FullyConsistent: true}}})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range drain(t, exp) {
		n += len(m.GetRelationships())
	}
	if want := 250 + 5 + 1; n != want { // 6 written, 1 deleted, dee by REST
		t.Errorf("ExportBulkRelationships: %d relationships, want %d", n, want)
	}
}

func itoa(i int) string {
	return string(rune('a'+i/26/26%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i%26))
}

// with_tracing answers SpiceDB's debug trace (what zed --explain prints):
// the top check and, below it, the checks that decided it.
func TestCheckWithTracing(t *testing.T) {
	tn := startNode(t, govSchema)
	ctx := context.Background()
	c := tn.client(t, tn.admin)
	w, err := c.WriteRelationships(ctx, &v1.WriteRelationshipsRequest{Updates: []*v1.RelationshipUpdate{
		touch(rel("team", "ml", "member", "user", "ana", "")),
		touch(rel("dataset", "claims", "reader", "team", "ml", "member")),
	}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.CheckPermission(ctx, &v1.CheckPermissionRequest{Consistency: fresh(w.GetWrittenAt()), Resource: obj("dataset", "claims"),
		Permission: "read", Subject: sub("user", "ana", ""), WithTracing: true})
	if err != nil {
		t.Fatal(err)
	}
	root := r.GetDebugTrace().GetCheck()
	if root.GetResource().GetObjectId() != "claims" || root.GetPermission() != "read" || root.GetResult() != v1.CheckDebugTrace_PERMISSIONSHIP_HAS_PERMISSION {
		t.Fatalf("debug trace root: %v", root)
	}
	var found func(*v1.CheckDebugTrace) bool
	found = func(d *v1.CheckDebugTrace) bool {
		if d.GetResource().GetObjectType() == "team" && d.GetPermission() == "member" && d.GetResult() == v1.CheckDebugTrace_PERMISSIONSHIP_HAS_PERMISSION {
			return true
		}
		for _, s := range d.GetSubProblems().GetTraces() {
			if found(s) {
				return true
			}
		}
		return false
	}
	if !found(root) {
		t.Errorf("the trace does not show team:ml#member deciding the check: %v", root)
	}
	// Without with_tracing, no trace.
	r, err = c.CheckPermission(ctx, &v1.CheckPermissionRequest{Consistency: fresh(w.GetWrittenAt()), Resource: obj("dataset", "claims"),
		Permission: "read", Subject: sub("user", "ana", "")})
	if err != nil || r.GetDebugTrace() != nil {
		t.Errorf("check without tracing: %v %v, want no trace", r, err)
	}
}
