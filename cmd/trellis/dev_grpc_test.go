package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"testing"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"
	authzed "github.com/authzed/authzed-go/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/trellis-authz/trellis/server"
	"github.com/trellis-authz/trellis/wire"
)

// checkDevGRPC drives the dev cluster's SpiceDB gRPC ports with the
// authzed-go client: the example check on every node, and a write sent to
// a follower (forwarded to the leader) whose ZedToken a check on another
// node then reads at.
func checkDevGRPC(t *testing.T, nodes []*server.Node, tok string) {
	t.Helper()
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+tok, "trellis-reason", "dev cluster gRPC test")
	clients := make([]*authzed.Client, len(nodes))
	follower := -1
	for i, n := range nodes {
		if n.GRPCAddr() == "" {
			t.Fatalf("node %d serves no gRPC", i+1)
		}
		c, err := authzed.NewClient(n.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		clients[i] = c
		if !n.Consensus().IsLeader() && follower < 0 {
			follower = i
		}
		r, err := c.CheckPermission(ctx, &v1.CheckPermissionRequest{
			Consistency: &v1.Consistency{Requirement: &v1.Consistency_FullyConsistent{FullyConsistent: true}},
			Resource:    &v1.ObjectReference{ObjectType: "organization", ObjectId: "acme"}, Permission: "administer",
			Subject: &v1.SubjectReference{Object: &v1.ObjectReference{ObjectType: "user", ObjectId: "olivia"}}})
		if err != nil || r.GetPermissionship() != v1.CheckPermissionResponse_PERMISSIONSHIP_HAS_PERMISSION {
			t.Errorf("gRPC example check on node %d: %v %v, want HAS_PERMISSION", i+1, r, err)
		}
	}
	if follower < 0 {
		t.Fatal("no follower")
	}
	w, err := clients[follower].WriteRelationships(ctx, &v1.WriteRelationshipsRequest{Updates: []*v1.RelationshipUpdate{{
		Operation: v1.RelationshipUpdate_OPERATION_TOUCH,
		Relationship: &v1.Relationship{Resource: &v1.ObjectReference{ObjectType: "organization", ObjectId: "acme"}, Relation: "admin",
			Subject: &v1.SubjectReference{Object: &v1.ObjectReference{ObjectType: "user", ObjectId: "grpc-dev"}}}}}})
	if err != nil || w.GetWrittenAt().GetToken() == "" {
		t.Fatalf("gRPC write on follower node %d: %v %v", follower+1, w, err)
	}
	other := (follower + 1) % len(nodes)
	r, err := clients[other].CheckPermission(ctx, &v1.CheckPermissionRequest{
		Consistency: &v1.Consistency{Requirement: &v1.Consistency_AtLeastAsFresh{AtLeastAsFresh: w.GetWrittenAt()}},
		Resource:    &v1.ObjectReference{ObjectType: "organization", ObjectId: "acme"}, Permission: "administer",
		Subject: &v1.SubjectReference{Object: &v1.ObjectReference{ObjectType: "user", ObjectId: "grpc-dev"}}})
	if err != nil || r.GetPermissionship() != v1.CheckPermissionResponse_PERMISSIONSHIP_HAS_PERMISSION {
		t.Errorf("check on node %d at the follower write's ZedToken: %v %v, want HAS_PERMISSION", other+1, r, err)
	}
	// The write's audit entry names the reason sent as metadata.
	var entries wire.AuditEntriesResponse
	if status, body, err := httpJSON(&http.Client{}, nodes[other].URL(), "GET", "/v1/audit/entries?kind=write&limit=1000", tok, nil, &entries, nil); err != nil || status != 200 {
		t.Fatalf("audit: %d %s %v", status, body, err)
	}
	found := false
	for _, e := range entries.Entries {
		found = found || (e.Reason == "dev cluster gRPC test" && e.Principal == "admin" && e.ChangeCount == 1)
	}
	if !found {
		t.Errorf("no audit entry with the gRPC reason: %+v", entries)
	}
}

// grpcOverTLS drives SpiceDB's gRPC API over TLS (the --tls-cert
// certificate): a write on one follower, forwarded to the leader over
// HTTPS, then a check on another at its ZedToken; a plaintext client is
// refused.
func grpcOverTLS(t *testing.T, writeAddr, checkAddr, token string, pool *x509.CertPool) {
	t.Helper()
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+token)
	dial := func(addr string, creds credentials.TransportCredentials) *authzed.Client {
		c, err := authzed.NewClient(addr, grpc.WithTransportCredentials(creds))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	tlsCreds := credentials.NewTLS(&tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	doc := &v1.ObjectReference{ObjectType: "doc", ObjectId: "grpc-tls"}
	ana := &v1.SubjectReference{Object: &v1.ObjectReference{ObjectType: "user", ObjectId: "ana"}}
	w, err := dial(writeAddr, tlsCreds).WriteRelationships(ctx, &v1.WriteRelationshipsRequest{Updates: []*v1.RelationshipUpdate{{
		Operation: v1.RelationshipUpdate_OPERATION_CREATE, Relationship: &v1.Relationship{Resource: doc, Relation: "viewer", Subject: ana}}}})
	if err != nil {
		t.Fatalf("gRPC write over TLS on a follower: %v", err)
	}
	r, err := dial(checkAddr, tlsCreds).CheckPermission(ctx, &v1.CheckPermissionRequest{
		Consistency: &v1.Consistency{Requirement: &v1.Consistency_AtLeastAsFresh{AtLeastAsFresh: w.GetWrittenAt()}},
		Resource:    doc, Permission: "view", Subject: ana})
	if err != nil || r.GetPermissionship() != v1.CheckPermissionResponse_PERMISSIONSHIP_HAS_PERMISSION {
		t.Fatalf("gRPC check over TLS: %v %v, want HAS_PERMISSION", r, err)
	}
	if _, err := dial(checkAddr, insecure.NewCredentials()).ReadSchema(ctx, &v1.ReadSchemaRequest{}); err == nil {
		t.Fatal("a plaintext gRPC client was answered on the TLS port")
	}
}
