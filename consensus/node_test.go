package consensus

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hashicorp/raft"
	"github.com/trellis-authz/trellis/schema"
	"github.com/trellis-authz/trellis/storage"
	"github.com/trellis-authz/trellis/tuple"
)

func openSingle(t *testing.T) *testNode {
	t.Helper()
	tn := newTestNode(t, "n1")
	tn.open(true, nil)
	waitIsLeader(t, tn.node)
	return tn
}

func writeSchema(t *testing.T, n *Node, text string) WriteResult {
	t.Helper()
	res, err := n.Write(ctxT(t, 10*time.Second), &SchemaCommand{Meta: Meta{Principal: "admin"}, Text: text})
	if err != nil {
		t.Fatalf("schema write: %v", err)
	}
	return res
}

func TestSingleNodeWriteAndRestart(t *testing.T) {
	tn := openSingle(t)
	writeSchema(t, tn.node, testSchema)

	key := uuid.NewString()
	w := touch("dataset:claims#reader@user:ana")
	w.IdempotencyKey = key
	first, err := tn.node.Write(ctxT(t, 10*time.Second), w)
	if err != nil {
		t.Fatalf("write: %v", err)
	}
	// The revision is the raft log index of the entry that carried the write.
	var entry raft.Log
	if err := tn.node.bolt.GetLog(first.Revision, &entry); err != nil {
		t.Fatalf("raft log at revision %d: %v", first.Revision, err)
	}
	c, err := Decode(entry.Data)
	if err != nil {
		t.Fatalf("decoding log entry %d: %v", first.Revision, err)
	}
	if got, ok := c.(*WriteCommand); !ok || got.IdempotencyKey != key {
		t.Fatalf("log entry %d is %T %+v, want the write with key %s", first.Revision, c, c, key)
	}
	if got := tn.store.AppliedRevision(); got < first.Revision {
		t.Fatalf("store applied revision %d, want >= %d", got, first.Revision)
	}
	if !hasAt(t, tn.store, first.Revision, "dataset:claims#reader@user:ana") {
		t.Fatalf("relationship missing at revision %d", first.Revision)
	}
	if hasAt(t, tn.store, first.Revision-1, "dataset:claims#reader@user:ana") {
		t.Fatalf("relationship present at revision %d, before its write", first.Revision-1)
	}
	if first.Changed != 1 || first.Replayed {
		t.Fatalf("first answer %+v, want Changed 1, not replayed", first)
	}
	// The audit hook saw the write with the leader's time and the caller's meta.
	tn.audit.mu.Lock()
	recs := append([]AuditRecord(nil), tn.audit.entries...)
	tn.audit.mu.Unlock()
	if len(recs) != 2 || recs[0].Kind != "schema" || recs[1].Kind != "write" || recs[1].Revision != first.Revision ||
		recs[1].Principal != "test" || recs[1].IdempotencyKey != key || recs[1].Time.IsZero() {
		t.Fatalf("audit records %+v, want a schema entry then the write at revision %d with its meta", recs, first.Revision)
	}

	// Restart from the same directories, with a raft snapshot on disk: raft
	// offers it at start, and the FSM must not load it over a store that
	// already holds it.
	if err := tn.node.Snapshot(); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	appliedBefore := tn.store.AppliedRevision()
	tn.close()
	tn.open(true, nil)
	waitIsLeader(t, tn.node)
	if st := tn.node.Stats(); st["fsm_restores_skipped"] != "1" || st["fsm_restores"] != "0" {
		t.Fatalf("after restart: restores %s, skipped %s; want 0 and 1", st["fsm_restores"], st["fsm_restores_skipped"])
	}
	if err := tn.node.WaitApplied(ctxT(t, 10*time.Second), appliedBefore); err != nil {
		t.Fatalf("WaitApplied after restart: %v", err)
	}
	if !has(t, tn.store, "dataset:claims#reader@user:ana") {
		t.Fatal("relationship lost across restart")
	}
	if n := tn.audit.count(); n != 0 {
		t.Fatalf("%d commands re-applied after restart, want 0 (replays must be skipped)", n)
	}

	// An idempotent retry returns the first answer and writes nothing.
	retry := touch("dataset:claims#reader@user:ana")
	retry.IdempotencyKey = key
	retry.RequestID = "another-request-id" // a retry may carry a new request id
	again, err := tn.node.Write(ctxT(t, 10*time.Second), retry)
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	if again.Revision != first.Revision || !again.Replayed || again.Changed != first.Changed {
		t.Fatalf("retry answered %+v, want the first answer %+v with Replayed", again, first)
	}
	if n := tn.audit.count(); n != 0 {
		t.Fatalf("retry applied %d commands, want 0", n)
	}

	// The same key for a different request is refused.
	other := touch("dataset:claims#reader@user:bob")
	other.IdempotencyKey = key
	if _, err := tn.node.Write(ctxT(t, 10*time.Second), other); !errors.Is(err, ErrIdempotencyKeyReused) {
		t.Fatalf("reused key: got %v, want ErrIdempotencyKeyReused", err)
	}
	if has(t, tn.store, "dataset:claims#reader@user:bob") {
		t.Fatal("a refused write wrote its relationship")
	}
}

func TestIdempotencyWindowExpires(t *testing.T) {
	tn := newTestNode(t, "n1")
	tn.tune = func(c *Config) { c.IdempotencyWindow = 50 * time.Millisecond }
	tn.open(true, nil)
	waitIsLeader(t, tn.node)
	writeSchema(t, tn.node, testSchema)
	key := uuid.NewString()
	w := touch("dataset:a#reader@user:ana")
	w.IdempotencyKey = key
	first, err := tn.node.Write(ctxT(t, 10*time.Second), w)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(60 * time.Millisecond) // leader-chosen time moves past the window
	w2 := touch("dataset:a#reader@user:ana")
	w2.IdempotencyKey = key
	second, err := tn.node.Write(ctxT(t, 10*time.Second), w2)
	if err != nil {
		t.Fatal(err)
	}
	if second.Replayed || second.Revision <= first.Revision {
		t.Fatalf("after the window: got %+v, want a fresh write after revision %d", second, first.Revision)
	}
}

func TestWriteRejections(t *testing.T) {
	tn := openSingle(t)
	n := tn.node

	// Before any schema, writes are refused.
	if _, err := n.Write(ctxT(t, 10*time.Second), touch("dataset:claims#reader@user:ana")); !errors.Is(err, ErrNoSchema) {
		t.Fatalf("write before schema: got %v, want ErrNoSchema", err)
	}
	if _, err := n.Write(ctxT(t, 10*time.Second), &SchemaCommand{Text: "definition user {"}); !errors.Is(err, ErrSchemaInvalid) {
		t.Fatalf("bad schema: got %v, want ErrSchemaInvalid", err)
	}
	writeSchema(t, n, testSchema)
	if _, err := n.Write(ctxT(t, 10*time.Second), touch("dataset:claims#reader@user:ana", "team:ml#member@user:bob")); err != nil {
		t.Fatalf("seed write: %v", err)
	}

	mustNot := func(f tuple.Filter) []tuple.Precondition {
		return []tuple.Precondition{{Op: tuple.MustNotMatch, Filter: f}}
	}
	cases := []struct {
		name  string
		cmd   Command
		want  []error
		wrote string // must stay absent
	}{
		{"precondition must_match fails", &WriteCommand{
			Updates:       []tuple.Update{{Op: tuple.OpTouch, Relationship: rel("dataset:x#reader@user:carl")}},
			Preconditions: []tuple.Precondition{{Op: tuple.MustMatch, Filter: tuple.Filter{ResourceType: "dataset", ResourceID: "nope"}}},
		}, []error{storage.ErrPreconditionFailed}, "dataset:x#reader@user:carl"},
		{"precondition must_not_match fails", &WriteCommand{
			Updates:       []tuple.Update{{Op: tuple.OpTouch, Relationship: rel("dataset:x#reader@user:carl")}},
			Preconditions: mustNot(tuple.Filter{ResourceType: "dataset", ResourceID: "claims"}),
		}, []error{storage.ErrPreconditionFailed}, "dataset:x#reader@user:carl"},
		{"create of existing", &WriteCommand{Updates: []tuple.Update{
			{Op: tuple.OpTouch, Relationship: rel("dataset:y#reader@user:carl")},
			{Op: tuple.OpCreate, Relationship: rel("dataset:claims#reader@user:ana")},
		}}, []error{storage.ErrAlreadyExists}, "dataset:y#reader@user:carl"},
		{"unknown type", touch("model:m#reader@user:carl"), []error{ErrSchemaViolation, schema.ErrUnknownType}, ""},
		{"subject not allowed", touch("dataset:z#owner@team:ml#member"), []error{ErrSchemaViolation, schema.ErrSubjectNotAllowed}, "dataset:z#owner@team:ml#member"},
		{"permission written", touch("dataset:z#read@user:carl"), []error{ErrSchemaViolation}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := tn.audit.count()
			_, err := n.Write(ctxT(t, 10*time.Second), tc.cmd)
			for _, w := range tc.want {
				if !errors.Is(err, w) {
					t.Fatalf("got error %v, want one wrapping %v", err, w)
				}
			}
			if tc.wrote != "" && has(t, tn.store, tc.wrote) {
				t.Fatalf("rejected write left %s behind", tc.wrote)
			}
			if got := tn.audit.count(); got != before {
				t.Fatalf("rejected write appended %d audit entries, want 0", got-before)
			}
		})
	}
}

func TestDeleteByFilterAndLimit(t *testing.T) {
	tn := openSingle(t)
	writeSchema(t, tn.node, testSchema)
	if _, err := tn.node.Write(ctxT(t, 10*time.Second), touch("dataset:a#reader@user:1", "dataset:a#reader@user:2", "dataset:b#reader@user:3")); err != nil {
		t.Fatal(err)
	}
	_, err := tn.node.Write(ctxT(t, 10*time.Second), &DeleteCommand{Filter: tuple.Filter{ResourceType: "dataset", ResourceID: "a"}, Limit: 1})
	if !errors.Is(err, storage.ErrLimitExceeded) {
		t.Fatalf("delete over limit: got %v, want ErrLimitExceeded", err)
	}
	res, err := tn.node.Write(ctxT(t, 10*time.Second), &DeleteCommand{Filter: tuple.Filter{ResourceType: "dataset", ResourceID: "a"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Changed != 2 {
		t.Fatalf("deleted %d, want 2", res.Changed)
	}
	if has(t, tn.store, "dataset:a#reader@user:1") || !has(t, tn.store, "dataset:b#reader@user:3") {
		t.Fatal("delete by filter removed the wrong relationships")
	}
	imp, err := tn.node.Write(ctxT(t, 10*time.Second), &ImportCommand{Relationships: []tuple.Relationship{rel("dataset:c#reader@user:4"), rel("dataset:c#owner@user:5")}})
	if err != nil || imp.Changed != 2 || !has(t, tn.store, "dataset:c#owner@user:5") {
		t.Fatalf("import: got %+v, %v; want 2 imported", imp, err)
	}
}

func TestUnsafeSchemaChange(t *testing.T) {
	tn := openSingle(t)
	writeSchema(t, tn.node, testSchema)
	if _, err := tn.node.Write(ctxT(t, 10*time.Second), touch("dataset:claims#owner@user:ana", "team:ml#member@user:bob")); err != nil {
		t.Fatal(err)
	}
	noOwner := strings.Replace(testSchema, "\trelation owner: user\n", "", 1)
	noOwner = strings.Replace(noOwner, "reader + owner", "reader", 1)
	_, err := tn.node.Write(ctxT(t, 10*time.Second), &SchemaCommand{Text: noOwner})
	if !errors.Is(err, ErrUnsafeSchemaChange) || !strings.Contains(err.Error(), "dataset#owner") {
		t.Fatalf("removing a used relation: got %v, want ErrUnsafeSchemaChange naming dataset#owner", err)
	}
	noTeam := strings.Replace(testSchema, "definition team {\n\trelation member: user\n}\n", "", 1)
	noTeam = strings.Replace(noTeam, "user | team#member", "user", 1)
	_, err = tn.node.Write(ctxT(t, 10*time.Second), &SchemaCommand{Text: noTeam})
	if !errors.Is(err, ErrUnsafeSchemaChange) || !strings.Contains(err.Error(), "type team") {
		t.Fatalf("removing a used type: got %v, want ErrUnsafeSchemaChange naming type team", err)
	}
	// Once the relationships are gone, the change is allowed.
	if _, err := tn.node.Write(ctxT(t, 10*time.Second), &WriteCommand{Updates: []tuple.Update{{Op: tuple.OpDelete, Relationship: rel("dataset:claims#owner@user:ana")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := tn.node.Write(ctxT(t, 10*time.Second), &SchemaCommand{Text: noOwner}); err != nil {
		t.Fatalf("safe schema change refused: %v", err)
	}
	// And the new schema is in force for the next write.
	if _, err := tn.node.Write(ctxT(t, 10*time.Second), touch("dataset:claims#owner@user:ana")); !errors.Is(err, schema.ErrUnknownRelation) && !errors.Is(err, ErrSchemaViolation) {
		t.Fatalf("write to a removed relation: got %v, want a schema violation", err)
	}
}

// TestUnknownCommandHalts documents the policy for an entry whose type this
// binary does not know: the state machine halts (it applies nothing more, its
// store stays before the entry) and the node shuts raft down, instead of
// skipping the entry and diverging from replicas that understand it.
func TestUnknownCommandHalts(t *testing.T) {
	tn := openSingle(t)
	writeSchema(t, tn.node, testSchema)

	fut := tn.node.raft.Apply([]byte{0xEE, '{', '}'}, 5*time.Second)
	if err := fut.Error(); err != nil {
		t.Fatalf("raft apply: %v", err)
	}
	err, _ := fut.Response().(error)
	if !errors.Is(err, ErrUnknownCommand) || !IsFatal(err) {
		t.Fatalf("apply of type 0xEE answered %v, want a fatal ErrUnknownCommand", err)
	}
	if got := tn.store.AppliedRevision(); got >= fut.Index() {
		t.Fatalf("store applied revision %d reached the entry it could not apply (index %d)", got, fut.Index())
	}
	if got := tn.node.State(); got != "Halted" {
		t.Fatalf("State() = %q, want Halted", got)
	}
	if _, err := tn.node.Write(ctxT(t, 5*time.Second), touch("dataset:a#reader@user:ana")); err == nil {
		t.Fatal("a halted node accepted a write")
	}
	if has(t, tn.store, "dataset:a#reader@user:ana") {
		t.Fatal("a halted node applied a write")
	}
}

func TestWaitApplied(t *testing.T) {
	tn := openSingle(t)
	writeSchema(t, tn.node, testSchema)
	target := tn.node.AppliedIndex() + 1
	// A waiter is woken by the apply that reaches its index.
	done := make(chan error, 1)
	go func() { done <- tn.node.WaitApplied(ctxT(t, 10*time.Second), target) }()
	if _, err := tn.node.Write(ctxT(t, 10*time.Second), touch("dataset:w#reader@user:w")); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("WaitApplied(%d): %v", target, err)
	}
	// An index nobody writes ends with the context's error.
	far := tn.node.AppliedIndex() + 1000
	err := tn.node.WaitApplied(ctxT(t, 100*time.Millisecond), far)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitApplied(%d) at the deadline: got %v, want context.DeadlineExceeded", far, err)
	}
	// Closing the node releases waiters with ErrClosed.
	go func() { done <- tn.node.WaitApplied(ctxT(t, 10*time.Second), far) }()
	time.Sleep(20 * time.Millisecond)
	tn.node.Close()
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("WaitApplied across Close: got %v, want ErrClosed", err)
	}
}
