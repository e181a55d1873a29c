package consensus_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/trellis-authz/trellis/consensus"
	"github.com/trellis-authz/trellis/schema"
	"github.com/trellis-authz/trellis/schema/compile"
	"github.com/trellis-authz/trellis/storage"
	"github.com/trellis-authz/trellis/tuple"
)

// A single node is a one-voter cluster: it bootstraps itself, and writes go
// through raft like on a bigger cluster.
func Example() {
	dir, _ := os.MkdirTemp("", "trellis-consensus-example")
	defer os.RemoveAll(dir)
	st, err := storage.Open(storage.DefaultConfig(filepath.Join(dir, "data")))
	if err != nil {
		panic(err)
	}
	defer st.Close()

	cfg := consensus.DefaultConfig()
	cfg.NodeID = "node1"
	cfg.DataDir = filepath.Join(dir, "raft")
	cfg.RaftAddr = "127.0.0.1:0"
	cfg.Bootstrap = true
	cfg.Store = st
	cfg.Compile = func(text string) (*schema.Schema, error) {
		s, errs := compile.CompileText("schema.zed", text)
		return s, errs.Err()
	}
	n, err := consensus.Open(cfg)
	if err != nil {
		panic(err)
	}
	defer n.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.WaitForLeader(ctx); err != nil {
		panic(err)
	}
	if _, err := n.Write(ctx, &consensus.SchemaCommand{Text: "definition user {}\ndefinition doc {\n\trelation viewer: user\n}\n"}); err != nil {
		panic(err)
	}
	res, err := n.Write(ctx, &consensus.WriteCommand{
		Meta:    consensus.Meta{Principal: "admin", Reason: "example"},
		Updates: []tuple.Update{{Op: tuple.OpTouch, Relationship: tuple.MustParse("doc:readme#viewer@user:ana")}},
	})
	if err != nil {
		panic(err)
	}
	// A linearizable read: read index, wait, read at the applied revision.
	idx, err := n.ReadIndex(ctx)
	if err != nil {
		panic(err)
	}
	if err := n.WaitApplied(ctx, idx); err != nil {
		panic(err)
	}
	fmt.Println("changed:", res.Changed, "visible:", n.AppliedRevision() >= res.Revision)
	// Output: changed: 1 visible: true
}
