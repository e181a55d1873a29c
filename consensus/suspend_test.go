package consensus

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/trellis-authz/trellis/audit"
	"github.com/trellis-authz/trellis/storage"
	"github.com/trellis-authz/trellis/tuple"
)

// suspensionsAt reads the suspensions node tn stores at rev.
func suspensionsAt(t *testing.T, tn *testNode, rev uint64) []string {
	t.Helper()
	if err := tn.store.WaitApplied(ctxT(t, 10*time.Second), rev); err != nil {
		t.Fatalf("%s: WaitApplied(%d): %v", tn.id, rev, err)
	}
	sn, err := tn.store.Snapshot(rev)
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Close()
	set, err := sn.Suspensions()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range set.All() {
		out = append(out, s.Subject.String()+" "+s.Reason+" by "+s.Principal)
	}
	return out
}

// TestSuspendCommandReplicates: a suspend command is stored on every node at
// its revision (not before), with one audit entry of kind suspend covering
// "suspend <subject>"; an unsuspend removes it with an unsuspend entry; an
// unsuspend of a subject that is not suspended and an until before the
// leader's time are rejected alike everywhere and append nothing.
func TestSuspendCommandReplicates(t *testing.T) {
	logs := &auditLogs{logs: map[string]*audit.Log{}}
	c := startCluster(t, 3, logs.tune(t))
	first := c.write(&SchemaCommand{Meta: Meta{Principal: "user:admin"}, Text: testSchema})
	eve := tuple.SubjectRef{Type: "user", ID: "eve"}
	res := c.write(&SuspendCommand{Meta: Meta{Principal: "user:admin", Reason: "SEC-7"}, Subject: eve})
	for _, tn := range c.running() {
		if got := suspensionsAt(t, tn, res.Revision); len(got) != 1 || got[0] != "user:eve SEC-7 by user:admin" {
			t.Errorf("%s at %d: %q, want eve's suspension", tn.id, res.Revision, got)
		}
		if got := suspensionsAt(t, tn, first.Revision); len(got) != 0 {
			t.Errorf("%s at %d (before the suspension): %q, want none", tn.id, first.Revision, got)
		}
	}
	tn := c.leader()
	l := logs.get(tn.id)
	es, _, err := l.Entries(0, 100, audit.Filter{Kind: audit.KindSuspend})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 || es[0].Revision != res.Revision || es[0].Reason != "SEC-7" || es[0].ChangeCount != 1 ||
		!bytes.Equal(es[0].ChangeDigest, audit.DigestChanges([]string{"suspend user:eve"})) {
		t.Fatalf("suspend audit entries: %+v", es)
	}
	size := l.Size()

	_, err = tn.node.Write(ctxT(t, 10*time.Second), &SuspendCommand{Meta: Meta{Reason: "x"}, Subject: tuple.SubjectRef{Type: "user", ID: "bob"}, Remove: true})
	if !errors.Is(err, storage.ErrNotSuspended) {
		t.Errorf("unsuspend of bob: %v, want ErrNotSuspended", err)
	}
	past := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	_, err = tn.node.Write(ctxT(t, 10*time.Second), &SuspendCommand{Meta: Meta{Reason: "x"}, Subject: eve, Until: &past})
	if !errors.Is(err, ErrInvalidSuspension) || !strings.Contains(err.Error(), "not after") {
		t.Errorf("until in the past: %v, want ErrInvalidSuspension", err)
	}
	if got := l.Size(); got != size {
		t.Errorf("rejected commands appended %d audit entries", got-size)
	}

	back := c.write(&SuspendCommand{Meta: Meta{Principal: "user:admin", Reason: "SEC-7 done"}, Subject: eve, Remove: true})
	for _, tn := range c.running() {
		if got := suspensionsAt(t, tn, back.Revision); len(got) != 0 {
			t.Errorf("%s after unsuspend: %q", tn.id, got)
		}
		if got := suspensionsAt(t, tn, res.Revision); len(got) != 1 {
			t.Errorf("%s at the suspension's revision after unsuspend: %q, want it still there", tn.id, got)
		}
	}
	es, _, err = l.Entries(0, 100, audit.Filter{Kind: audit.KindUnsuspend})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 || es[0].Revision != back.Revision || !bytes.Equal(es[0].ChangeDigest, audit.DigestChanges([]string{"unsuspend user:eve"})) {
		t.Fatalf("unsuspend audit entries: %+v", es)
	}
}
