package service

import (
	"context"
	"fmt"
	"strings"

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
	c, err := command(m)
	if err != nil {
		return MutationResult{}, err
	}
	return mutationResult(w.n.Write(ctx, c))
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
	c, err := command(m)
	if err != nil {
		return nil, err
	}
	wait, err := w.s.Submit(ctx, c)
	if err != nil {
		return nil, err
	}
	return func() (MutationResult, error) { return mutationResult(wait()) }, nil
}

// command turns a Mutation into the replicated command that carries it. A
// Mutation is one kind of write: updates (with preconditions), a delete by
// filter (with preconditions), an import chunk or a schema. One that sets
// two is refused instead of silently dropping one of them.
func command(m Mutation) (consensus.Command, error) {
	meta := consensus.Meta{Principal: m.Principal, Reason: m.Reason, RequestID: m.RequestID, IdempotencyKey: m.IdempotencyKey}
	var kinds []string
	if len(m.Updates) > 0 {
		kinds = append(kinds, "updates")
	}
	if m.DeleteFilter != nil {
		kinds = append(kinds, "a delete filter")
	}
	if m.Import != nil {
		kinds = append(kinds, "an import chunk")
	}
	if m.Schema != nil {
		kinds = append(kinds, "a schema")
	}
	if m.Suspend != nil {
		kinds = append(kinds, "a suspension")
	}
	if m.Alerts != nil {
		kinds = append(kinds, "alert rules")
	}
	if m.AlertLetter != nil {
		kinds = append(kinds, "an alert letter")
	}
	switch {
	case len(kinds) > 1:
		return nil, fmt.Errorf("%w: a write carries %s; send each as its own write", ErrInvalidArgument, strings.Join(kinds, " and "))
	case len(m.Preconditions) > 0 && (m.Import != nil || m.Schema != nil || m.Suspend != nil || m.Alerts != nil || m.AlertLetter != nil):
		return nil, fmt.Errorf("%w: preconditions go with updates or a delete filter, not with %s", ErrInvalidArgument, kinds[0])
	case m.AlertLetter != nil:
		return &consensus.AlertLetterCommand{Meta: meta, Add: m.AlertLetter.Add, Remove: m.AlertLetter.Remove}, nil
	case m.Alerts != nil:
		return &consensus.AlertsCommand{Meta: meta, Rules: *m.Alerts}, nil
	case m.Suspend != nil:
		return &consensus.SuspendCommand{Meta: meta, Subject: m.Suspend.Suspension.Subject, Until: m.Suspend.Suspension.Until, Remove: m.Suspend.Remove}, nil
	case m.Schema != nil:
		return &consensus.SchemaCommand{Meta: meta, Text: m.Schema.Text}, nil
	case m.Import != nil:
		return &consensus.ImportCommand{Meta: meta, Relationships: m.Import}, nil
	case m.DeleteFilter != nil:
		return &consensus.DeleteCommand{Meta: meta, Filter: *m.DeleteFilter, Limit: m.DeleteLimit, Preconditions: m.Preconditions}, nil
	}
	return &consensus.WriteCommand{Meta: meta, Updates: m.Updates, Preconditions: m.Preconditions}, nil
}
