package service_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trellis-authz/trellis/consensus"
	"github.com/trellis-authz/trellis/engine"
	"github.com/trellis-authz/trellis/schema"
	"github.com/trellis-authz/trellis/schema/compile"
	"github.com/trellis-authz/trellis/service"
	"github.com/trellis-authz/trellis/storage"
	"github.com/trellis-authz/trellis/tuple"
	"github.com/trellis-authz/trellis/wire"
)

// The services over a real node (Badger on disk, one raft voter on
// loopback, the engine) and no transport at all.

const testSchema = `caveat signed(sig bytes) { sig.size() > 0 }
definition user {}
definition team {
  relation member: user | team#member
}
definition dataset {
  relation reader: user | team#member | user with signed
  relation blocked: user
  permission read = reader - blocked
}
`

type node struct {
	svc   *service.Services
	raft  *consensus.Node
	store *storage.Store
	admin service.Caller
}

func newNode(t *testing.T) *node { return newNodeWith(t, nil, nil) }

// newNodeWith starts a node whose store and service configs edit may change.
func newNodeWith(t *testing.T, editStore func(*storage.Config), editService func(*service.Config)) *node {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir := t.TempDir()
	sc := storage.DefaultConfig(filepath.Join(dir, "store"))
	sc.SyncWrites, sc.Logger = false, quiet
	if editStore != nil {
		editStore(&sc)
	}
	st, err := storage.Open(sc)
	if err != nil {
		t.Fatal(err)
	}
	cc := consensus.DefaultConfig()
	cc.NodeID, cc.DataDir, cc.RaftAddr, cc.Bootstrap, cc.Store, cc.Logger = "n1", filepath.Join(dir, "raft"), "127.0.0.1:0", true, st, quiet
	cc.Compile = func(text string) (*schema.Schema, error) {
		s, errs := compile.CompileText("schema.zed", text)
		return s, errs.Err()
	}
	cc.HeartbeatTimeout, cc.ElectionTimeout, cc.LeaderLeaseTimeout = 200*time.Millisecond, 200*time.Millisecond, 100*time.Millisecond
	rn, err := consensus.Open(cc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rn.Close(); st.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := rn.WaitForLeader(ctx); err != nil {
		t.Fatal(err)
	}
	// The first leader writes the cluster's id through raft; wait for it, so
	// the tests' "nothing was written" checks see only their own writes.
	if _, err := rn.WaitClusterUUID(ctx); err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	cfg := service.DefaultConfig()
	cfg.Quantization = 0
	if editService != nil {
		editService(&cfg)
	}
	svc, err := service.New(cfg, service.Deps{Engine: eng, Revisions: rn, Snapshots: service.SnapshotsOf[*storage.Snapshot](st),
		Writer: service.ConsensusWriter(rn), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	n := &node{svc: svc, raft: rn, store: st, admin: service.Caller{Principal: "admin", RequestID: "r1"}}
	if _, err := svc.Schema.Put(ctx, n.admin, wire.WriteSchemaRequest{Schema: testSchema, Reason: "test"}); err != nil {
		t.Fatal(err)
	}
	return n
}

func (n *node) write(t *testing.T, ops ...string) string {
	t.Helper()
	var ups []wire.Update
	for i := 0; i < len(ops); i += 2 {
		ups = append(ups, wire.Update{Op: ops[i], Relationship: ops[i+1]})
	}
	res, err := n.svc.Relationships.Write(context.Background(), n.admin, wire.WriteRelationshipsRequest{Updates: ups})
	if err != nil {
		t.Fatalf("write %v: %v", ops, err)
	}
	return res.WrittenAt
}

func (n *node) check(t *testing.T, resource, subject, token string) string {
	t.Helper()
	res, err := n.svc.Permissions.Check(context.Background(), n.admin, wire.CheckRequest{Resource: resource, Permission: "read", Subject: subject,
		Consistency: &wire.Consistency{Mode: wire.AtLeastAsFresh, Token: token}})
	if err != nil {
		t.Fatalf("check %s %s: %v", resource, subject, err)
	}
	return res.Result
}

// kindOf returns the service error's kind and details.
func kindOf(t *testing.T, err error) (error, map[string]any) {
	t.Helper()
	var se *service.Error
	if !errors.As(err, &se) {
		t.Fatalf("got %v (%T), want a *service.Error", err, err)
	}
	return se.Kind, se.Details
}

func TestCheckThroughNestingAndRevoke(t *testing.T) {
	n := newNode(t)
	tok := n.write(t, "touch", "team:ml#member@user:ana", "touch", "dataset:claims#reader@team:ml#member")
	if got := n.check(t, "dataset:claims", "user:ana", tok); got != "allowed" {
		t.Fatalf("ana through team:ml: got %s, want allowed", got)
	}
	// A revoke acknowledged at a token is seen by every read at that token.
	tok = n.write(t, "touch", "dataset:claims#blocked@user:ana")
	if got := n.check(t, "dataset:claims", "user:ana", tok); got != "denied" {
		t.Fatalf("after blocking ana: got %s, want denied", got)
	}
}

// A bytes caveat parameter that is not base64 is refused at write time, as
// invalid_context naming the parameter, and nothing is stored (it used to be
// stored, and every later check failed on it).
func TestBytesCaveatValueRefusedAtWrite(t *testing.T) {
	n := newNode(t)
	ctx := context.Background()
	before := n.store.AppliedRevision()
	_, err := n.svc.Relationships.Write(ctx, n.admin, wire.WriteRelationshipsRequest{Updates: []wire.Update{
		{Op: "touch", Relationship: `dataset:claims#reader@user:bob[signed:{"sig":"not base64!"}]`}}})
	kind, details := kindOf(t, err)
	if kind != service.ErrInvalidContext || details["parameter"] != "sig" || !strings.Contains(err.Error(), "base64") {
		t.Fatalf("got %v (kind %v, details %v), want invalid_context on parameter sig saying base64", err, kind, details)
	}
	if got := n.store.AppliedRevision(); got != before {
		t.Fatalf("the store moved from revision %d to %d; nothing may be written", before, got)
	}
	if _, err := n.svc.Relationships.Write(ctx, n.admin, wire.WriteRelationshipsRequest{Updates: []wire.Update{
		{Op: "touch", Relationship: `dataset:claims#reader@user:bob[signed:{"sig":"aGk="}]`}}}); err != nil {
		t.Fatalf("a base64 value: %v", err)
	}
}

func TestWriteNamesTheDuplicate(t *testing.T) {
	n := newNode(t)
	_, err := n.svc.Relationships.Write(context.Background(), n.admin, wire.WriteRelationshipsRequest{Updates: []wire.Update{
		{Op: "touch", Relationship: "dataset:a#reader@user:ana"},
		{Op: "touch", Relationship: "dataset:b#reader@user:ana"},
		{Op: "delete", Relationship: "dataset:a#reader@user:ana"},
	}})
	kind, details := kindOf(t, err)
	if kind != service.ErrInvalidArgument || details["field"] != "updates[2]" || !strings.Contains(err.Error(), "updates[0] and updates[2]") {
		t.Fatalf("got %v (details %v), want invalid_argument on updates[2] naming updates[0]", err, details)
	}
}

// An unknown resource type is reported on the resource field, not on the
// permission.
func TestCheckUnknownResourceTypeNamesResource(t *testing.T) {
	n := newNode(t)
	_, err := n.svc.Permissions.Check(context.Background(), n.admin, wire.CheckRequest{Resource: "model:gpt", Permission: "read", Subject: "user:ana"})
	kind, details := kindOf(t, err)
	if kind != service.ErrUnknownType || details["field"] != "resource" {
		t.Fatalf("got %v (kind %v, details %v), want unknown_type on field resource", err, kind, details)
	}
}

// A Mutation is one kind of write; one that carries updates and a delete
// filter is refused (the delete used to win and the updates were dropped).
func TestMutationWithTwoKindsRefused(t *testing.T) {
	n := newNode(t)
	before := n.store.AppliedRevision()
	w := service.ConsensusWriter(n.raft)
	r, _ := tuple.Parse("dataset:a#reader@user:ana")
	_, err := w.Write(context.Background(), service.Mutation{
		Updates:      []tuple.Update{{Op: tuple.OpTouch, Relationship: r}},
		DeleteFilter: &tuple.Filter{ResourceType: "dataset"},
	})
	if !errors.Is(err, service.ErrInvalidArgument) || !strings.Contains(err.Error(), "updates and a delete filter") {
		t.Fatalf("got %v, want invalid_argument naming both kinds", err)
	}
	if got := n.store.AppliedRevision(); got != before {
		t.Fatalf("revision moved %d -> %d; nothing may be written", before, got)
	}
}

func TestImportFromLines(t *testing.T) {
	n := newNode(t)
	lines := func(yield func(service.ImportLine, error) bool) {
		for i, s := range []string{"team:ml#member@user:ana", "dataset:claims#reader@team:ml#member", "dataset:claims#nope@user:x"} {
			if !yield(service.ImportLine{Line: i + 1, Text: s}, nil) {
				return
			}
		}
	}
	describe := func(err error) (*wire.Error, bool) { return &wire.Error{Code: "x", Message: err.Error()}, true }
	_, err := n.svc.Relationships.Import(context.Background(), n.admin, "seed", "", lines, describe)
	var se *service.Error
	if !errors.As(err, &se) || se.Details["line"] != 3 || se.Details["imported"] != 0 {
		t.Fatalf("got %v, want a failure at line 3 with nothing imported (one chunk)", err)
	}
	ok := func(yield func(service.ImportLine, error) bool) {
		yield(service.ImportLine{Line: 1, Text: "team:ml#member@user:ana"}, nil)
		yield(service.ImportLine{Line: 2, Text: "dataset:claims#reader@team:ml#member"}, nil)
	}
	res, err := n.svc.Relationships.Import(context.Background(), n.admin, "seed", "", ok, describe)
	if err != nil || res.Imported != 2 {
		t.Fatalf("got %+v, %v; want 2 imported", res, err)
	}
	if got := n.check(t, "dataset:claims", "user:ana", res.WrittenAt); got != "allowed" {
		t.Fatalf("after import: got %s, want allowed", got)
	}
}

func TestSchemaChangeThatOrphansIsRefused(t *testing.T) {
	n := newNode(t)
	n.write(t, "touch", "dataset:claims#blocked@user:ana")
	_, err := n.svc.Schema.Put(context.Background(), n.admin, wire.WriteSchemaRequest{Schema: strings.Replace(testSchema,
		"  relation blocked: user\n  permission read = reader - blocked", "  permission read = reader", 1)})
	kind, details := kindOf(t, err)
	if kind != service.ErrUnsafeSchemaChange || !strings.Contains(strings.Join(toStrings(details["in_use"]), ","), "dataset#blocked") {
		t.Fatalf("got %v (details %v), want unsafe_schema_change naming dataset#blocked", err, details)
	}
}

func toStrings(v any) []string {
	s, _ := v.([]string)
	return s
}

// SpiceDB's "no relation" ("...") as the subject relation of a lookup means
// plain subjects.
func TestLookupSubjectsEllipsis(t *testing.T) {
	n := newNode(t)
	tok := n.write(t, "touch", "dataset:claims#reader@user:ana")
	res, err := n.svc.Permissions.LookupSubjects(context.Background(), wire.LookupSubjectsRequest{Resource: "dataset:claims", Permission: "read",
		SubjectType: "user", SubjectRelation: "...", Consistency: &wire.Consistency{Mode: wire.AtLeastAsFresh, Token: tok}})
	if err != nil || len(res.Subjects) != 1 || res.Subjects[0].ID != "ana" {
		t.Fatalf("got %+v, %v; want user:ana", res, err)
	}
}

// A caveat context key that no caveat of the schema has is reported, not
// ignored (a misspelt key silently changed the answer).
func TestUnknownContextKeyReported(t *testing.T) {
	n := newNode(t)
	_, err := n.svc.Permissions.Check(context.Background(), n.admin, wire.CheckRequest{Resource: "dataset:claims", Permission: "read",
		Subject: "user:bob", Context: []byte(`{"sgi": "aGk="}`)})
	kind, details := kindOf(t, err)
	if kind != service.ErrInvalidContext || details["parameter"] != "sgi" || !strings.Contains(err.Error(), "sig") {
		t.Fatalf("got %v (details %v), want invalid_context on sgi listing the known parameter sig", err, details)
	}
	if _, err := n.svc.Permissions.Check(context.Background(), n.admin, wire.CheckRequest{Resource: "dataset:claims", Permission: "read",
		Subject: "user:bob", Context: []byte(`{"sig": "aGk="}`)}); err != nil {
		t.Fatalf("a known key: %v", err)
	}
}

// An exact-snapshot read at a revision before the first schema says so,
// instead of "PUT /v1/schema first" (a schema is stored).
func TestExactSnapshotBeforeTheSchema(t *testing.T) {
	n := newNode(t)
	early := n.svc.Reads.Tokens().Encode(1)
	_, err := n.svc.Permissions.Check(context.Background(), n.admin, wire.CheckRequest{Resource: "dataset:claims", Permission: "read",
		Subject: "user:bob", Consistency: &wire.Consistency{Mode: wire.AtExactSnapshot, Token: early}})
	kind, _ := kindOf(t, err)
	if kind != service.ErrNoSchema || !strings.Contains(err.Error(), "revision 1") || strings.Contains(err.Error(), "PUT /v1/schema first") {
		t.Fatalf("got %v, want schema_not_found naming revision 1 and a later token", err)
	}
}

// A delete by filter too large for one store transaction is applied in
// chunks (it failed with 413 "raise MemTableSize", a setting no flag sets).
func TestDeleteByFilterLargerThanATransaction(t *testing.T) {
	n := newNodeWith(t, func(c *storage.Config) { c.MemTableSize = 4 << 20 }, func(c *service.Config) { c.ImportBatchSize = 500 })
	const total = 12000
	lines := func(yield func(service.ImportLine, error) bool) {
		for i := range total {
			if !yield(service.ImportLine{Line: i + 1, Text: fmt.Sprintf("dataset:d%05d#reader@user:some-rather-long-user-name-%05d", i, i)}, nil) {
				return
			}
		}
		yield(service.ImportLine{Line: total + 1, Text: "team:ml#member@user:ana"}, nil)
	}
	describe := func(err error) (*wire.Error, bool) { return &wire.Error{Message: err.Error()}, true }
	if _, err := n.svc.Relationships.Import(context.Background(), n.admin, "seed", "", lines, describe); err != nil {
		t.Fatal(err)
	}
	res, err := n.svc.Relationships.Delete(context.Background(), n.admin, wire.DeleteRelationshipsRequest{Filter: tuple.Filter{ResourceType: "dataset"}, Reason: "purge"})
	if err != nil {
		t.Fatalf("delete: %v", err)
	}
	if res.Deleted != total || res.Chunks < 2 {
		t.Fatalf("got %+v, want %d deleted in several chunks", res, total)
	}
	left, err := n.svc.Relationships.Read(context.Background(), wire.ReadRelationshipsRequest{Filter: tuple.Filter{ResourceType: "dataset"},
		Consistency: &wire.Consistency{Mode: wire.AtLeastAsFresh, Token: res.WrittenAt}})
	if err != nil || len(left.Relationships) != 0 {
		t.Fatalf("after the delete: %d datasets left (%v), want none", len(left.Relationships), err)
	}
	team, _ := n.svc.Relationships.Read(context.Background(), wire.ReadRelationshipsRequest{Filter: tuple.Filter{ResourceType: "team"}})
	if len(team.Relationships) != 1 {
		t.Fatalf("the delete touched what the filter does not match: %v", team.Relationships)
	}
}

func TestImportNamesARepeatedLine(t *testing.T) {
	n := newNode(t)
	lines := func(yield func(service.ImportLine, error) bool) {
		for i, s := range []string{"team:ml#member@user:ana", "team:ml#member@user:bob", "team:ml#member@user:ana"} {
			if !yield(service.ImportLine{Line: i + 1, Text: s}, nil) {
				return
			}
		}
	}
	describe := func(err error) (*wire.Error, bool) { return &wire.Error{Message: err.Error()}, true }
	_, err := n.svc.Relationships.Import(context.Background(), n.admin, "", "", lines, describe)
	var se *service.Error
	if !errors.As(err, &se) || se.Details["line"] != 3 || !strings.Contains(err.Error(), "repeats line 1") {
		t.Fatalf("got %v, want line 3 repeating line 1", err)
	}
}
