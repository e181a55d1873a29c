package service

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strings"

	"github.com/trellis-authz/trellis/consensus"
	"github.com/trellis-authz/trellis/storage"
	"github.com/trellis-authz/trellis/tuple"
	"github.com/trellis-authz/trellis/wire"
)

// Relationships reads, writes, deletes, imports and exports relationships.
type Relationships struct {
	cfg    Config
	reads  *Reads
	writer Writer
}

// parseRelationship parses and bounds one relationship string.
func parseRelationship(cfg Config, field, v string) (tuple.Relationship, error) {
	if v == "" {
		return tuple.Relationship{}, argErr(field, "%s is empty; write resource_type:id#relation@subject_type:id", field)
	}
	if len(v) > cfg.MaxRelationshipLen {
		return tuple.Relationship{}, argErr(field, "%s is %d bytes; at most %d are allowed", field, len(v), cfg.MaxRelationshipLen)
	}
	r, err := tuple.Parse(v)
	if err != nil {
		var te *tuple.Error
		if errors.As(err, &te) && strings.HasPrefix(te.Part, "caveat context") {
			return r, fail(ErrInvalidContext, map[string]any{"field": field}, "%s: %v", field, err)
		}
		return r, argErr(field, "%s: %v", field, err)
	}
	return r, nil
}

// mutationMeta checks and fills in who writes, why, and the idempotency key.
func mutationMeta(c Caller, m *Mutation, reason, key string) error {
	if err := checkReason(reason); err != nil {
		return err
	}
	if err := checkIdempotencyKey(key); err != nil {
		return err
	}
	m.Principal = c.Principal
	m.Reason = reason
	m.IdempotencyKey = key
	m.RequestID = c.RequestID
	return nil
}

// Read returns a page of the relationships matching a filter.
func (r *Relationships) Read(ctx context.Context, in wire.ReadRelationshipsRequest) (wire.ReadRelationshipsResponse, error) {
	var out wire.ReadRelationshipsResponse
	limit, err := pageLimit(r.cfg, in.Limit)
	if err != nil {
		return out, err
	}
	if err := validateFilter(nil, "filter", in.Filter); err != nil {
		return out, err
	}
	v, err := r.reads.resolve(ctx, in.Consistency)
	if err != nil {
		return out, err
	}
	defer v.snap.Close()
	if err := validateFilter(v.schema, "filter", in.Filter); err != nil {
		return out, err
	}
	rels, next, err := v.snap.Read(ctx, in.Filter, limit, in.Cursor)
	if err != nil {
		return out, err
	}
	out = wire.ReadRelationshipsResponse{Relationships: make([]string, len(rels)), NextCursor: next, ReadAt: v.token}
	for i, rel := range rels {
		out.Relationships[i] = rel.String()
	}
	return out, nil
}

// Export streams every relationship matching filter (nil: all) at one
// revision. It returns the read token at once; the relationships follow
// through the sequence, which the caller must drain or stop, and close the
// export with the returned function.
func (r *Relationships) Export(ctx context.Context, filter *tuple.Filter, cons *wire.Consistency) (token string, rels iter.Seq2[tuple.Relationship, error], done func(), err error) {
	if filter != nil {
		if err := validateFilter(nil, "filter", *filter); err != nil {
			return "", nil, nil, err
		}
	}
	v, err := r.reads.resolve(ctx, cons)
	if err != nil {
		return "", nil, nil, err
	}
	var filters []tuple.Filter
	if filter != nil {
		if err := validateFilter(v.schema, "filter", *filter); err != nil {
			v.snap.Close()
			return "", nil, nil, err
		}
		filters = []tuple.Filter{*filter}
	} else if v.schema != nil {
		for _, t := range v.schema.Order {
			filters = append(filters, tuple.Filter{ResourceType: t})
		}
	}
	seq := func(yield func(tuple.Relationship, error) bool) {
		for _, f := range filters {
			for rel, err := range v.snap.ReadAll(ctx, f) {
				if !yield(rel, err) || err != nil {
					return
				}
			}
		}
	}
	return v.token, seq, v.snap.Close, nil
}

// Write applies creates, touches and deletes, all or nothing.
func (r *Relationships) Write(ctx context.Context, c Caller, in wire.WriteRelationshipsRequest) (wire.WriteResponse, error) {
	if len(in.Updates) == 0 {
		return wire.WriteResponse{}, argErr("updates", "updates is empty; send at least one {\"op\": ..., \"relationship\": ...}")
	}
	if n := len(in.Updates) + len(in.Preconditions); n > r.cfg.MaxUpdatesPerWrite {
		return wire.WriteResponse{}, fail(ErrTooManyUpdates, map[string]any{"field": "updates", "limit": r.cfg.MaxUpdatesPerWrite},
			"the write has %d updates and preconditions; at most %d are allowed (split it, or use /v1/relationships/import)", n, r.cfg.MaxUpdatesPerWrite)
	}
	var m Mutation
	if err := mutationMeta(c, &m, in.Reason, in.IdempotencyKey); err != nil {
		return wire.WriteResponse{}, err
	}
	v, err := r.reads.latestSchema(ctx)
	if err != nil {
		return wire.WriteResponse{}, err
	}
	defer v.snap.Close()
	for i, u := range in.Updates {
		field := fmt.Sprintf("updates[%d]", i)
		op, err := tuple.ParseOp(u.Op)
		if err != nil {
			return wire.WriteResponse{}, argErr(field+".op", "%s.op: %v", field, err)
		}
		rel, err := parseRelationship(r.cfg, field+".relationship", u.Relationship)
		if err != nil {
			return wire.WriteResponse{}, err
		}
		if op == tuple.OpDelete {
			if err := schemaMember(v.schema, field+".relationship", rel.Resource.Type, rel.Relation); err != nil {
				return wire.WriteResponse{}, err
			}
		} else if err := validateRelationship(r.cfg, v.schema, field+".relationship", rel); err != nil {
			return wire.WriteResponse{}, err
		}
		m.Updates = append(m.Updates, tuple.Update{Op: op, Relationship: rel})
	}
	if err := tuple.CheckUpdates(m.Updates); err != nil {
		return wire.WriteResponse{}, updateError("updates", err)
	}
	for i, p := range in.Preconditions {
		field := fmt.Sprintf("preconditions[%d]", i)
		op, err := tuple.ParsePreconditionOp(p.Op)
		if err != nil {
			return wire.WriteResponse{}, argErr(field+".op", "%s.op: %v", field, err)
		}
		if err := validateFilter(v.schema, field+".filter", p.Filter); err != nil {
			return wire.WriteResponse{}, err
		}
		m.Preconditions = append(m.Preconditions, tuple.Precondition{Op: op, Filter: p.Filter})
	}
	res, err := r.writer.Write(ctx, m)
	if err != nil {
		return wire.WriteResponse{}, writeError(err)
	}
	return wire.WriteResponse{WrittenAt: r.reads.tokens.Encode(res.Revision)}, nil
}

// updateError turns tuple.CheckUpdates' verdict into an invalid_argument
// naming the list entry.
func updateError(list string, err error) error {
	var ue *tuple.UpdateError
	if errors.As(err, &ue) {
		return argErr(fmt.Sprintf("%s[%d]", list, ue.Index), "%v", err)
	}
	return argErr(list, "%v", err)
}

// writeError adds advice to the errors a write can meet.
func writeError(err error) error {
	var se *Error
	if errors.As(err, &se) {
		return err
	}
	switch {
	case errors.Is(err, storage.ErrAlreadyExists), errors.Is(err, ErrAlreadyExists):
		return fail(err, nil, "%v; write it with touch (REST op \"touch\", gRPC OPERATION_TOUCH) to write it whether or not it exists", err)
	case errors.Is(err, storage.ErrPreconditionFailed), errors.Is(err, ErrPreconditionFailed):
		return fail(err, nil, "%v; nothing was written", err)
	case errors.Is(err, consensus.ErrLeadershipLost), errors.Is(err, ErrOutcomeUnknown):
		return fail(err, nil, "%v; retry with the same idempotency_key", err)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, storage.ErrRevisionAhead), errors.Is(err, ErrDeadlineExceeded):
		return fail(ErrDeadlineExceeded, nil, "the write did not commit before the request deadline; its outcome is unknown, retry with the same idempotency_key")
	}
	return err
}

// Delete deletes every relationship matching a filter (none when more than
// the limit match).
func (r *Relationships) Delete(ctx context.Context, c Caller, in wire.DeleteRelationshipsRequest) (wire.DeleteRelationshipsResponse, error) {
	var out wire.DeleteRelationshipsResponse
	if in.Limit < 0 {
		return out, argErr("limit", "limit is %d; use 0 for no limit or a positive bound", in.Limit)
	}
	var m Mutation
	if err := mutationMeta(c, &m, in.Reason, in.IdempotencyKey); err != nil {
		return out, err
	}
	if err := validateFilter(nil, "filter", in.Filter); err != nil {
		return out, err
	}
	v, err := r.reads.latestSchema(ctx)
	if err != nil {
		return out, err
	}
	defer v.snap.Close()
	if err := validateFilter(v.schema, "filter", in.Filter); err != nil {
		return out, err
	}
	f := in.Filter
	m.DeleteFilter, m.DeleteLimit = &f, in.Limit
	res, err := r.writer.Write(ctx, m)
	switch {
	case errors.Is(err, storage.ErrLimitExceeded) || errors.Is(err, ErrLimitExceeded):
		return out, fail(err, map[string]any{"limit": in.Limit}, "more than %d relationships match %s; nothing was deleted (raise limit or narrow the filter)", in.Limit, in.Filter)
	case errors.Is(err, storage.ErrBatchTooLarge):
		return r.deleteInChunks(ctx, m)
	case err != nil:
		return out, writeError(err)
	}
	return wire.DeleteRelationshipsResponse{WrittenAt: r.reads.tokens.Encode(res.Revision), Deleted: res.Deleted}, nil
}

// deleteChunk is how many relationships one chunk of a large delete removes.
const deleteChunk = 2000

// deleteInChunks deletes what a delete by filter matches when it is too
// large for one store transaction: chunks of deleteChunk relationships, each
// one atomic write of delete updates, until nothing matches. The delete as a
// whole is not atomic: a read between chunks sees some of it (the answer
// says how many chunks it took). Each chunk's idempotency key is derived
// from the request's, and deleting what is gone changes nothing, so a retry
// of the whole request is safe.
func (r *Relationships) deleteInChunks(ctx context.Context, m Mutation) (wire.DeleteRelationshipsResponse, error) {
	out := wire.DeleteRelationshipsResponse{}
	f := *m.DeleteFilter
	for chunk := 0; ; chunk++ {
		v, err := r.reads.latest(ctx)
		if err != nil {
			return out, err
		}
		rels, _, err := v.snap.Read(ctx, f, deleteChunk, "")
		v.snap.Close()
		if err != nil {
			return out, err
		}
		if len(rels) == 0 {
			if out.WrittenAt == "" {
				out.WrittenAt = r.reads.tokens.Encode(v.rev)
			}
			return out, nil
		}
		cm := Mutation{Principal: m.Principal, Reason: m.Reason, RequestID: m.RequestID,
			IdempotencyKey: chunkKey(m.IdempotencyKey, "delete", chunk)}
		for _, rel := range rels {
			cm.Updates = append(cm.Updates, tuple.Update{Op: tuple.OpDelete, Relationship: rel})
		}
		res, err := r.writer.Write(ctx, cm)
		if err != nil {
			return out, fail(writeError(err), map[string]any{"deleted": out.Deleted, "chunks": out.Chunks},
				"deleting in chunks: chunk %d failed after %d relationships were deleted: %v; retry the request (with the same idempotency_key) to delete the rest", chunk+1, out.Deleted, err)
		}
		out.Deleted += len(rels)
		out.Chunks++
		out.WrittenAt = r.reads.tokens.Encode(res.Revision)
	}
}
