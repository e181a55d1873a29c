package api

import (
	"context"

	"github.com/trellis-authz/trellis/consensus"
)

// CommandWriter is what ConsensusWriter needs: consensus.Node satisfies it.
type CommandWriter interface {
	Write(ctx context.Context, c consensus.Command) (consensus.WriteResult, error)
}

// ConsensusWriter adapts a consensus node to Writer: each Mutation becomes one
// replicated command.
func ConsensusWriter(n CommandWriter) Writer { return consensusWriter{n} }

type consensusWriter struct{ n CommandWriter }

func (w consensusWriter) Write(ctx context.Context, m Mutation) (MutationResult, error) {
	meta := consensus.Meta{Principal: m.Principal, Reason: m.Reason, RequestID: m.RequestID, IdempotencyKey: m.IdempotencyKey}
	var c consensus.Command
	switch {
	case m.Schema != nil:
		c = &consensus.SchemaCommand{Meta: meta, Text: m.Schema.Text}
	case m.Import != nil:
		c = &consensus.ImportCommand{Meta: meta, Relationships: m.Import}
	case m.DeleteFilter != nil:
		c = &consensus.DeleteCommand{Meta: meta, Filter: *m.DeleteFilter, Limit: m.DeleteLimit, Preconditions: m.Preconditions}
	default:
		c = &consensus.WriteCommand{Meta: meta, Updates: m.Updates, Preconditions: m.Preconditions}
	}
	res, err := w.n.Write(ctx, c)
	if err != nil {
		return MutationResult{}, err
	}
	return MutationResult{Revision: res.Revision, Deleted: res.Changed}, nil
}

// NodeStatsSource is what NodeStatsFunc needs: consensus.Node satisfies it.
type NodeStatsSource interface {
	State() string
	AppliedIndex() uint64
	Leader() (id, raftAddr string)
}

// NodeStatsFunc returns a Deps.Stats function reading a consensus node.
func NodeStatsFunc(n NodeStatsSource) func() NodeStats {
	return func() NodeStats {
		id, _ := n.Leader()
		return NodeStats{State: n.State(), AppliedIndex: n.AppliedIndex(), CommitIndex: n.AppliedIndex(), HasLeader: id != ""}
	}
}
