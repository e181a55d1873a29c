package consensus

import (
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/trellis-authz/trellis/storage"
)

// AuditRootCommand carries the leader's audit-log root at a size, so that
// every node compares its own root for the same size (an `audit: true` alert
// rule, docs/alerts.md). The leader proposes one only while such a rule
// exists and its log has grown; applying it changes nothing but the stored
// latest comparison point, and it has no audit entry (it would grow the log
// it reports on).
type AuditRootCommand struct {
	Meta
	Node string // the leader that proposed it
	Size uint64
	Root string // hex SHA-256 root of the first Size entries
}

func (*AuditRootCommand) Type() CommandType { return TypeAuditRoot }
func (c *AuditRootCommand) Header() *Meta   { return &c.Meta }

// AuditRoot is the latest applied AuditRootCommand.
type AuditRoot struct {
	Node     string `json:"node"`
	Size     uint64 `json:"size"`
	Root     string `json:"root"`
	Revision uint64 `json:"revision"` // the revision it was applied at
}

var auditRootKey = []byte("alerts\x00auditroot")

type wireAuditRoot struct {
	Meta Meta   `json:"meta"`
	Node string `json:"node"`
	Size uint64 `json:"size"`
	Root string `json:"root"`
}

func decodeAuditRoot(b []byte) (Command, error) {
	var w wireAuditRoot
	if err := strictUnmarshal(b, &w); err != nil {
		return nil, err
	}
	return &AuditRootCommand{Meta: w.Meta, Node: w.Node, Size: w.Size, Root: w.Root}, nil
}

func validateAuditRoot(c *AuditRootCommand) error {
	if c.Node == "" {
		return fmt.Errorf("%w: an audit root command names the node that proposed it", ErrInvalidCommand)
	}
	if b, err := hex.DecodeString(c.Root); err != nil || len(b) != 32 {
		return fmt.Errorf("%w: audit root %q is not a hex SHA-256 hash", ErrInvalidCommand, c.Root)
	}
	return nil
}

func (a *applier) applyAuditRoot(index uint64, c Command) (WriteResult, error) {
	return a.commit(index, c, storage.Batch{}, func(r storage.Result) WriteResult {
		return WriteResult{Revision: r.Revision}
	}, "")
}

// auditRootExtra is the stored comparison point an audit root command leaves.
func auditRootExtra(c Command, index uint64) (storage.KV, bool) {
	ac, ok := c.(*AuditRootCommand)
	if !ok {
		return storage.KV{}, false
	}
	v, err := json.Marshal(AuditRoot{Node: ac.Node, Size: ac.Size, Root: ac.Root, Revision: index})
	if err != nil {
		return storage.KV{}, false
	}
	return storage.KV{Key: append([]byte{}, auditRootKey...), Value: v}, true
}

// LatestAuditRoot returns the latest audit root the leader proposed (ok is
// false before the first).
func LatestAuditRoot(s ExtraReader) (root AuditRoot, ok bool, err error) {
	b, ok, err := s.Extra(auditRootKey)
	if err != nil || !ok {
		return root, false, err
	}
	return root, true, json.Unmarshal(b, &root)
}
