package consensus

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/trellis-authz/trellis/storage"
)

// clusterIDKey is the extra key holding the cluster's random id.
var clusterIDKey = []byte("consensus/cluster-id")

// ClusterCommand records the cluster's random id. The first leader of a
// cluster proposes one (a UUID); only the first that applies counts: later
// ones (another node leading before it learned the id) apply as noops, the
// same way on every replica, so every node ends with the same id.
type ClusterCommand struct {
	Meta
	ID string
}

func (*ClusterCommand) Type() CommandType { return TypeCluster }
func (c *ClusterCommand) Header() *Meta   { return &c.Meta }

type wireCluster struct {
	Meta Meta   `json:"meta"`
	ID   string `json:"id"`
}

func (a *applier) applyCluster(index uint64, c Command) (WriteResult, error) {
	return a.commit(index, c, storage.Batch{},
		func(r storage.Result) WriteResult { return WriteResult{Revision: r.Revision} }, "")
}

// clusterExtra is the key a cluster command stores: the id, unless the store
// has one already.
func (a *applier) clusterExtra(c Command) (storage.KV, bool) {
	cc, ok := c.(*ClusterCommand)
	if !ok {
		return storage.KV{}, false
	}
	if _, has, err := a.store.Extra(clusterIDKey); err != nil || has {
		return storage.KV{}, false
	}
	return storage.KV{Key: append([]byte{}, clusterIDKey...), Value: []byte(cc.ID)}, true
}

// loadClusterID reads the id from the store ("" before the first leader
// recorded one).
func (f *fsm) loadClusterID() error {
	v, ok, err := f.a.store.Extra(clusterIDKey)
	if err != nil {
		return fmt.Errorf("reading the cluster id: %w", err)
	}
	if ok {
		f.clusterID.Store(string(v))
	}
	return nil
}

// ClusterUUID is the cluster's random id, chosen by its first leader and
// replicated to every member (a UUID string), or "" until this node has
// applied it. Consistency tokens carry it, so that a token of another
// deployment is rejected.
func (n *Node) ClusterUUID() string {
	v, _ := n.fsm.clusterID.Load().(string)
	return v
}

// WaitClusterUUID waits until this node knows the cluster id.
func (n *Node) WaitClusterUUID(ctx context.Context) (string, error) {
	for {
		if id := n.ClusterUUID(); id != "" {
			return id, nil
		}
		i := n.AppliedIndex()
		if err := n.WaitApplied(ctx, i+1); err != nil {
			return "", fmt.Errorf("waiting for the cluster id: %w", err)
		}
	}
}

// ensureClusterID is a new leader's duty: a cluster without an id gets one.
func (n *Node) ensureClusterID(ctx context.Context) error {
	if n.ClusterUUID() != "" {
		return nil
	}
	_, err := n.Write(ctx, &ClusterCommand{ID: uuid.NewString()})
	return err
}
