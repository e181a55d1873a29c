package spicedb_test

import (
	"context"
	"strings"
	"testing"
	"time"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"

	"github.com/trellis-authz/trellis/wire"
)

// Watch streams each write's changes with its ZedToken; a start cursor
// replays from a revision on; object types and relationship filters narrow
// the stream.
func TestWatch(t *testing.T) {
	tn := startNode(t, govSchema)
	c := tn.client(t, tn.reader)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var first wire.WriteResponse
	if code := tn.rest(t, tn.writer, "POST", "/v1/relationships/write", wire.WriteRelationshipsRequest{Updates: []wire.Update{
		{Op: "touch", Relationship: "team:ml#member@user:ana"}}}, &first); code != 200 {
		t.Fatalf("write: %d", code)
	}
	// From the first write's token on: the writes after it, in order, and
	// only the dataset ones.
	stream, err := c.Watch(ctx, &v1.WatchRequest{OptionalStartCursor: &v1.ZedToken{Token: first.WrittenAt}, OptionalObjectTypes: []string{"dataset"}})
	if err != nil {
		t.Fatal(err)
	}
	var tokens []string
	for _, u := range []wire.Update{
		{Op: "touch", Relationship: "dataset:claims#reader@user:ana"},
		{Op: "touch", Relationship: "team:ml#member@user:bo"}, // filtered out by type
		{Op: "delete", Relationship: "dataset:claims#reader@user:ana"},
	} {
		var w wire.WriteResponse
		if code := tn.rest(t, tn.writer, "POST", "/v1/relationships/write", wire.WriteRelationshipsRequest{Updates: []wire.Update{u}}, &w); code != 200 {
			t.Fatalf("write %v: %d", u, code)
		}
		tokens = append(tokens, w.WrittenAt)
	}
	want := []struct {
		op    v1.RelationshipUpdate_Operation
		token string
	}{{v1.RelationshipUpdate_OPERATION_TOUCH, tokens[0]}, {v1.RelationshipUpdate_OPERATION_DELETE, tokens[2]}}
	for i, w := range want {
		msg, err := stream.Recv()
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if len(msg.GetUpdates()) != 1 {
			t.Fatalf("event %d: %d updates, want 1: %v", i, len(msg.GetUpdates()), msg)
		}
		u := msg.GetUpdates()[0]
		r := u.GetRelationship()
		if u.GetOperation() != w.op || r.GetResource().GetObjectId() != "claims" || r.GetSubject().GetObject().GetObjectId() != "ana" {
			t.Errorf("event %d: %v, want %v of dataset:claims#reader@user:ana", i, u, w.op)
		}
		if msg.GetChangesThrough().GetToken() != w.token {
			t.Errorf("event %d: changes_through %q, want the write's token %q", i, msg.GetChangesThrough().GetToken(), w.token)
		}
	}

	// A relationship filter on the subject: only bo's change from the start.
	stream, err = c.Watch(ctx, &v1.WatchRequest{OptionalStartCursor: &v1.ZedToken{Token: first.WrittenAt},
		OptionalRelationshipFilters: []*v1.RelationshipFilter{{ResourceType: "team", OptionalSubjectFilter: &v1.SubjectFilter{SubjectType: "user", OptionalSubjectId: "bo"}}}})
	if err != nil {
		t.Fatal(err)
	}
	msg, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if len(msg.GetUpdates()) != 1 || msg.GetUpdates()[0].GetRelationship().GetSubject().GetObject().GetObjectId() != "bo" || msg.GetChangesThrough().GetToken() != tokens[1] {
		t.Errorf("filtered watch: %v, want bo's touch at %s", msg, tokens[1])
	}

	// An unknown object type is refused with what to fix.
	stream, err = c.Watch(ctx, &v1.WatchRequest{OptionalObjectTypes: []string{"nosuchtype"}})
	if err == nil {
		_, err = stream.Recv()
	}
	if err == nil || !strings.Contains(err.Error(), "nosuchtype") {
		t.Errorf("watch of an unknown type: %v, want an error naming it", err)
	}
}
