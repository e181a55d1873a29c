package consensus

import (
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestClusterUUID: the first leader chooses a random id that every member
// learns, that survives a restart and that a later cluster command cannot
// change; another cluster gets another id.
func TestClusterUUID(t *testing.T) {
	c := startCluster(t, 3, nil)
	l := c.leader()
	id, err := l.node.WaitClusterUUID(ctxT(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := uuid.Parse(id); err != nil {
		t.Fatalf("cluster id %q is not a UUID: %v", id, err)
	}
	for _, tn := range c.nodes {
		got, err := tn.node.WaitClusterUUID(ctxT(t, 10*time.Second))
		if err != nil || got != id {
			t.Fatalf("%s: cluster id %q, %v; want %q", tn.id, got, err, id)
		}
	}

	// A second id (a leader that had not learned the first) changes nothing.
	res := c.write(&ClusterCommand{ID: uuid.NewString()})
	for _, tn := range c.nodes {
		if err := tn.node.WaitApplied(ctxT(t, 10*time.Second), res.Revision); err != nil {
			t.Fatal(err)
		}
		if got := tn.node.ClusterUUID(); got != id {
			t.Fatalf("%s after a second cluster command: %q, want the first %q", tn.id, got, id)
		}
	}

	f := c.nodes[0]
	if f == l {
		f = c.nodes[1]
	}
	f.close()
	f.open(true, c.peers)
	if got := f.node.ClusterUUID(); got != id {
		t.Fatalf("%s after a restart: cluster id %q, want %q (read from its store)", f.id, got, id)
	}

	other := newTestNode(t, "solo")
	other.open(true, nil)
	waitIsLeader(t, other.node)
	oid, err := other.node.WaitClusterUUID(ctxT(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if oid == id {
		t.Fatalf("two clusters share the id %q", id)
	}
}

func TestClusterCommandRejectsNonUUID(t *testing.T) {
	if err := Validate(&ClusterCommand{ID: "trellis"}); err == nil {
		t.Fatal(`Validate(ClusterCommand{ID: "trellis"}): got nil, want an error`)
	}
}
