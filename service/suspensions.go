package service

import (
	"context"
	"errors"
	"time"

	"github.com/trellis-authz/trellis/consensus"
	"github.com/trellis-authz/trellis/storage"
	"github.com/trellis-authz/trellis/tuple"
	"github.com/trellis-authz/trellis/wire"
)

// Suspensions suspends subjects, lifts suspensions and lists them
// (docs/suspension.md). A suspension is a replicated command: once its
// written_at token is reached, every evaluation on every node denies the
// subject everything.
type Suspensions struct {
	reads  *Reads
	writer Writer
	now    func() time.Time
}

// suspensionSubject parses and checks the subject of a suspension against
// the schema in force.
func (s *Suspensions) suspensionSubject(ctx context.Context, raw string) (tuple.SubjectRef, error) {
	subj, err := parseSubject("subject", raw)
	if err != nil {
		return subj, err
	}
	if subj.IsWildcard() {
		return subj, argErr("subject", "subject %q is a wildcard; suspend subjects one at a time, e.g. %s:eve", raw, subj.Type)
	}
	v, err := s.reads.latestSchema(ctx)
	if err != nil {
		return subj, err
	}
	defer v.snap.Close()
	if subj.Relation != "" {
		err = schemaMember(v.schema, "subject", subj.Type, subj.Relation)
	} else {
		_, err = schemaType(v.schema, "subject", subj.Type)
	}
	return subj, err
}

func suspensionMeta(c Caller, m *Mutation, reason, key string) error {
	if reason == "" {
		return argErr("reason", "reason is required: say why (it is kept in the audit log and shown in explain traces)")
	}
	return mutationMeta(c, m, reason, key)
}

// Suspend suspends in.Subject.
func (s *Suspensions) Suspend(ctx context.Context, c Caller, in wire.SuspendRequest) (wire.SuspensionWriteResponse, error) {
	var out wire.SuspensionWriteResponse
	var m Mutation
	if err := suspensionMeta(c, &m, in.Reason, in.IdempotencyKey); err != nil {
		return out, err
	}
	var until *time.Time
	if in.Until != "" {
		t, err := time.Parse(time.RFC3339, in.Until)
		if err != nil {
			return out, argErr("until", "until %q is not an RFC 3339 time such as 2026-12-31T23:00:00Z; leave it out to suspend until unsuspended", in.Until)
		}
		if !t.After(s.now()) {
			return out, argErr("until", "until %s is in the past; give a future time, or leave it out to suspend until unsuspended", in.Until)
		}
		t = t.UTC()
		until = &t
	}
	subj, err := s.suspensionSubject(ctx, in.Subject)
	if err != nil {
		return out, err
	}
	m.Suspend = &storage.SuspensionChange{Suspension: tuple.Suspension{Subject: subj, Until: until}}
	return s.write(ctx, m)
}

// Unsuspend lifts the suspension of in.Subject.
func (s *Suspensions) Unsuspend(ctx context.Context, c Caller, in wire.UnsuspendRequest) (wire.SuspensionWriteResponse, error) {
	var out wire.SuspensionWriteResponse
	var m Mutation
	if err := suspensionMeta(c, &m, in.Reason, in.IdempotencyKey); err != nil {
		return out, err
	}
	subj, err := parseSubject("subject", in.Subject)
	if err != nil {
		return out, err
	}
	m.Suspend = &storage.SuspensionChange{Suspension: tuple.Suspension{Subject: subj}, Remove: true}
	return s.write(ctx, m)
}

func (s *Suspensions) write(ctx context.Context, m Mutation) (wire.SuspensionWriteResponse, error) {
	res, err := s.writer.Write(ctx, m)
	switch {
	case errors.Is(err, storage.ErrNotSuspended):
		return wire.SuspensionWriteResponse{}, fail(ErrNotFound, map[string]any{"field": "subject"}, "%v", err)
	case errors.Is(err, consensus.ErrInvalidSuspension):
		return wire.SuspensionWriteResponse{}, argErr("until", "%v", err)
	case err != nil:
		return wire.SuspensionWriteResponse{}, writeError(err)
	}
	return wire.SuspensionWriteResponse{WrittenAt: s.reads.tokens.Encode(res.Revision)}, nil
}

// List returns the suspensions stored at the requested revision.
func (s *Suspensions) List(ctx context.Context, cons *wire.Consistency) (wire.SuspensionsResponse, error) {
	v, err := s.reads.resolve(ctx, cons)
	if err != nil {
		return wire.SuspensionsResponse{}, err
	}
	defer v.snap.Close()
	out := wire.SuspensionsResponse{Suspensions: []wire.Suspension{}, ReadAt: v.token}
	sr, ok := v.snap.(interface {
		Suspensions() (*tuple.SuspensionSet, error)
	})
	if !ok {
		return out, nil
	}
	set, err := sr.Suspensions()
	if err != nil {
		return wire.SuspensionsResponse{}, err
	}
	now := s.now()
	for _, x := range set.All() {
		out.Suspensions = append(out.Suspensions, wire.Suspension{Subject: x.Subject.String(), Reason: x.Reason, Principal: x.Principal,
			Since: x.Since.UTC(), Until: x.Until, Active: x.Active(now), WrittenAt: s.reads.tokens.Encode(x.Revision)})
	}
	return out, nil
}
