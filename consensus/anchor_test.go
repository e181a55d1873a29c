package consensus

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/trellis-authz/trellis/audit"
	"github.com/trellis-authz/trellis/storage"
)

// TestAnchorCommandAppendsOneAuditEntry applies an AnchorCommand through real
// raft on three nodes: every node appends exactly one, identical,
// decision_anchor audit entry carrying the head; no relationship changes; a
// malformed anchor is rejected without touching the log.
func TestAnchorCommandAppendsOneAuditEntry(t *testing.T) {
	logs := &auditLogs{logs: map[string]*audit.Log{}}
	c := startCluster(t, 3, logs.tune(t))
	c.write(&SchemaCommand{Meta: Meta{Principal: "user:admin"}, Text: testSchema})
	w := touch("dataset:a#reader@user:x")
	w.Principal = "user:admin"
	c.write(w)

	tn := c.leader()
	l := logs.get(tn.id)
	before := l.Size()
	head := bytes.Repeat([]byte{0xC3}, 32)
	res := c.write(&AnchorCommand{
		Meta: Meta{Principal: "node:n1", Reason: "decision chain head", RequestID: uuid.NewString()},
		Node: "n1", Size: 7, Head: hex.EncodeToString(head),
	})
	if got := l.Size(); got != before+1 {
		t.Fatalf("got audit size %d after the anchor, want %d (exactly one entry)", got, before+1)
	}
	es, _, err := l.Entries(before, 10, audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	e := es[0]
	if e.Kind != audit.KindDecisionAnchor || e.Principal != "node:n1" || e.ChangeCount != 7 || !bytes.Equal(e.ChangeDigest, head) || e.Revision != res.Revision {
		t.Fatalf("got entry %+v, want kind decision_anchor, principal node:n1, change_count 7, digest %x, revision %d", e, head, res.Revision)
	}
	if res.Changed != 0 {
		t.Errorf("got %d relationships changed by an anchor, want 0", res.Changed)
	}
	errStop := errors.New("stop")
	err = tn.store.Changes(context.Background(), res.Revision, func(rev uint64, changes []storage.Change, _ []byte) error {
		if rev == res.Revision && len(changes) != 0 {
			t.Errorf("got %d changes at the anchor's revision %d, want 0", len(changes), rev)
		}
		return errStop
	})
	if err != nil && !errors.Is(err, errStop) {
		t.Fatal(err)
	}
	if !has(t, tn.store, "dataset:a#reader@user:x") {
		t.Error("the relationship written before the anchor is gone")
	}
	want, _ := e.MarshalBinary()
	for _, other := range c.running() {
		if other == tn {
			continue
		}
		if err := other.store.WaitApplied(ctxT(t, 10*time.Second), res.Revision); err != nil {
			t.Fatalf("%s: WaitApplied(%d): %v", other.id, res.Revision, err)
		}
		ol := logs.get(other.id)
		oes, _, err := ol.Entries(before, 10, audit.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(oes) != 1 {
			t.Fatalf("%s: got %d entries from %d, want 1 (the anchor)", other.id, len(oes), before)
		}
		if got, _ := oes[0].MarshalBinary(); !bytes.Equal(got, want) {
			t.Errorf("%s: got anchor entry %+v, want %+v (the leader's)", other.id, oes[0], e)
		}
	}

	// A malformed anchor is refused and appends nothing.
	_, err = tn.node.Write(ctxT(t, 10*time.Second), &AnchorCommand{Node: "n1", Size: 1, Head: "nothex"})
	if !errors.Is(err, ErrInvalidCommand) || !strings.Contains(err.Error(), "hex") {
		t.Fatalf("got %v, want ErrInvalidCommand about the head", err)
	}
	if got := l.Size(); got != before+1 {
		t.Fatalf("got audit size %d after a refused anchor, want %d", got, before+1)
	}
}

// TestAnchorHandlerRejectsMalformed: the applier rejects a malformed anchor that
// reached the log (as a hand-crafted entry would) the same way Validate does.
func TestAnchorHandlerRejectsMalformed(t *testing.T) {
	a := &applier{}
	_, err := a.applyAnchor(1, &AnchorCommand{Node: "", Size: 0, Head: strings.Repeat("0", 64)})
	if !errors.Is(err, ErrInvalidCommand) {
		t.Fatalf("got %v, want ErrInvalidCommand", err)
	}
}
