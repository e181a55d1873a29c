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
// replicated command. When the node can submit without waiting
// (CommandSubmitter, as consensus.Node does), the Writer is a Submitter too.
func ConsensusWriter(n CommandWriter) Writer {
	if s, ok := n.(CommandSubmitter); ok {
		return consensusSubmitter{consensusWriter{n}, s}
	}
	return consensusWriter{n}
}

type consensusWriter struct{ n CommandWriter }

func (w consensusWriter) Write(ctx context.Context, m Mutation) (MutationResult, error) {
	return mutationResult(w.n.Write(ctx, command(m)))
}

func mutationResult(res consensus.WriteResult, err error) (MutationResult, error) {
	if err != nil {
		return MutationResult{}, err
	}
	return MutationResult{Revision: res.Revision, Deleted: res.Changed}, nil
}

// Submitter is a Writer that can also propose a mutation without waiting for
// it: Submit returns once the mutation is queued for consensus, wait returns
// its result. Mutations submitted one after another are applied in that
// order. Import uses it to keep two chunks in flight without reordering them.
type Submitter interface {
	Submit(ctx context.Context, m Mutation) (wait func() (MutationResult, error), err error)
}

// CommandSubmitter is a CommandWriter that can submit without waiting
// (consensus.Node).
type CommandSubmitter interface {
	Submit(ctx context.Context, c consensus.Command) (func() (consensus.WriteResult, error), error)
}

type consensusSubmitter struct {
	consensusWriter
	s CommandSubmitter
}

func (w consensusSubmitter) Submit(ctx context.Context, m Mutation) (func() (MutationResult, error), error) {
	wait, err := w.s.Submit(ctx, command(m))
	if err != nil {
		return nil, err
	}
	return func() (MutationResult, error) { return mutationResult(wait()) }, nil
}

// command turns a Mutation into the replicated command that carries it.
func command(m Mutation) consensus.Command {
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
	return c
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
