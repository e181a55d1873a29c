//go:build docker

package docker

import (
	"context"
	"time"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"
	authzed "github.com/authzed/authzed-go/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// grpcWriteThenCheck writes through one node's published gRPC port with
// the authzed-go client and checks on another's at the write's ZedToken.
func (c *compose) grpcWriteThenCheck(writeOn, checkOn string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dial := func(service string) *authzed.Client {
		cl, err := authzed.NewClient("127.0.0.1:"+c.ports[service+"-grpc"], grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			c.t.Fatal(err)
		}
		c.t.Cleanup(func() { cl.Close() })
		return cl
	}
	w, err := dial(writeOn).WriteRelationships(ctx, &v1.WriteRelationshipsRequest{Updates: []*v1.RelationshipUpdate{{
		Operation: v1.RelationshipUpdate_OPERATION_TOUCH,
		Relationship: &v1.Relationship{Resource: &v1.ObjectReference{ObjectType: "organization", ObjectId: "acme"}, Relation: "admin",
			Subject: &v1.SubjectReference{Object: &v1.ObjectReference{ObjectType: "user", ObjectId: "grpc-zoe"}}}}}})
	if err != nil {
		c.t.Fatalf("gRPC write through %s: %v", writeOn, err)
	}
	r, err := dial(checkOn).CheckPermission(ctx, &v1.CheckPermissionRequest{
		Consistency: &v1.Consistency{Requirement: &v1.Consistency_AtLeastAsFresh{AtLeastAsFresh: w.GetWrittenAt()}},
		Resource:    &v1.ObjectReference{ObjectType: "organization", ObjectId: "acme"}, Permission: "administer",
		Subject: &v1.SubjectReference{Object: &v1.ObjectReference{ObjectType: "user", ObjectId: "grpc-zoe"}}})
	if err != nil || r.GetPermissionship() != v1.CheckPermissionResponse_PERMISSIONSHIP_HAS_PERMISSION {
		c.t.Fatalf("gRPC check on %s at the write's ZedToken: %v %v, want HAS_PERMISSION", checkOn, r, err)
	}
}
