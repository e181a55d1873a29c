package spicedb

import (
	"context"
	"fmt"
	"io"
	"iter"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/trellis-authz/trellis/api"
	"github.com/trellis-authz/trellis/service"
	"github.com/trellis-authz/trellis/tuple"
	"github.com/trellis-authz/trellis/wire"
)

// reason is the audit reason of a write: the trellis-reason metadata
// (header Trellis-Reason over the gateway), else the "reason" field of the
// request's optional_transaction_metadata.
func reason(ctx context.Context, meta *structpb.Struct) string {
	if r := infoOf(ctx).reason; r != "" {
		return r
	}
	if v, ok := meta.GetFields()["reason"]; ok {
		return v.GetStringValue()
	}
	return ""
}

var updateOps = map[v1.RelationshipUpdate_Operation]string{
	v1.RelationshipUpdate_OPERATION_CREATE: "create",
	v1.RelationshipUpdate_OPERATION_TOUCH:  "touch",
	v1.RelationshipUpdate_OPERATION_DELETE: "delete",
}

func (p *permissions) WriteRelationships(ctx context.Context, in *v1.WriteRelationshipsRequest) (*v1.WriteRelationshipsResponse, error) {
	out := &v1.WriteRelationshipsResponse{}
	if done, err := p.s.onLeader(ctx, "/v1/relationships/write", in, out); done {
		return out, err
	}
	req := wire.WriteRelationshipsRequest{Reason: reason(ctx, in.GetOptionalTransactionMetadata()), IdempotencyKey: infoOf(ctx).idemKey}
	for i, u := range in.GetUpdates() {
		field := fmt.Sprintf("updates[%d]", i)
		op, ok := updateOps[u.GetOperation()]
		if !ok {
			return nil, argErr(field+".operation", "%s.operation must be OPERATION_CREATE, OPERATION_TOUCH or OPERATION_DELETE, not %s", field, u.GetOperation())
		}
		rel, err := relationship(u.GetRelationship(), field+".relationship")
		if err != nil {
			return nil, err
		}
		req.Updates = append(req.Updates, wire.Update{Op: op, Relationship: rel.String()})
	}
	pre, err := preconditions(in.GetOptionalPreconditions())
	if err != nil {
		return nil, err
	}
	req.Preconditions = pre
	res, err := p.s.cfg.Services.Relationships.Write(ctx, infoOf(ctx).caller(), req)
	if err != nil {
		return nil, err
	}
	out.WrittenAt = zedToken(res.WrittenAt)
	return out, nil
}

func (p *permissions) DeleteRelationships(ctx context.Context, in *v1.DeleteRelationshipsRequest) (*v1.DeleteRelationshipsResponse, error) {
	out := &v1.DeleteRelationshipsResponse{}
	if done, err := p.s.onLeader(ctx, "/v1/relationships/delete", in, out); done {
		return out, err
	}
	if in.GetRelationshipFilter() == nil {
		return nil, argErr("relationship_filter", "relationship_filter is required: give at least {resource_type}")
	}
	if len(in.GetOptionalPreconditions()) > 0 {
		return nil, argErr("optional_preconditions", "DeleteRelationships with optional_preconditions is not supported by Trellis; send WriteRelationships with OPERATION_DELETE updates and the preconditions instead")
	}
	f := filter(in.GetRelationshipFilter())
	c := infoOf(ctx).caller()
	why := reason(ctx, in.GetOptionalTransactionMetadata())
	limit := int(in.GetOptionalLimit())
	res, err := p.s.cfg.Services.Relationships.Delete(ctx, c, wire.DeleteRelationshipsRequest{
		Filter: f, Limit: limit, Reason: why, IdempotencyKey: infoOf(ctx).idemKey})
	if limitExceeded(err) && limit > 0 {
		if in.GetOptionalAllowPartialDeletions() {
			return p.deletePart(ctx, c, f, limit, why)
		}
		// The service's message names REST's limit; say it in this API's fields.
		return nil, service.Fail(service.ErrLimitExceeded, map[string]any{"limit": limit, "field": "optional_limit"},
			"more than %d relationships match the relationship_filter; nothing was deleted (raise optional_limit, narrow the filter, or set optional_allow_partial_deletions to delete %d per call)", limit, limit)
	}
	if err != nil {
		return nil, err
	}
	out.DeletedAt = zedToken(res.WrittenAt)
	out.DeletionProgress = v1.DeleteRelationshipsResponse_DELETION_PROGRESS_COMPLETE
	out.RelationshipsDeletedCount = uint64(res.Deleted)
	return out, nil
}

// limitExceeded reports whether err is a delete over its limit, as the
// error table names it (the service's or the store's sentinel).
func limitExceeded(err error) bool {
	if err == nil {
		return false
	}
	_, body := api.ErrorBody(err)
	return body.Code == "limit_exceeded"
}

// deletePart deletes limit of the relationships a filter matches (more
// match): it reads them, then deletes exactly those in one write, and
// answers DELETION_PROGRESS_PARTIAL so the caller deletes again.
func (p *permissions) deletePart(ctx context.Context, c service.Caller, f tuple.Filter, limit int, why string) (*v1.DeleteRelationshipsResponse, error) {
	page, err := p.s.cfg.Services.Relationships.Read(ctx, wire.ReadRelationshipsRequest{Filter: f, Limit: limit,
		Consistency: &wire.Consistency{Mode: wire.FullyConsistent}})
	if err != nil {
		return nil, err
	}
	req := wire.WriteRelationshipsRequest{Reason: why}
	for _, r := range page.Relationships {
		req.Updates = append(req.Updates, wire.Update{Op: "delete", Relationship: r})
	}
	res, err := p.s.cfg.Services.Relationships.Write(ctx, c, req)
	if err != nil {
		return nil, err
	}
	return &v1.DeleteRelationshipsResponse{DeletedAt: zedToken(res.WrittenAt), RelationshipsDeletedCount: uint64(len(req.Updates)),
		DeletionProgress: v1.DeleteRelationshipsResponse_DELETION_PROGRESS_PARTIAL}, nil
}

func (p *permissions) ImportBulkRelationships(stream grpc.ClientStreamingServer[v1.ImportBulkRelationshipsRequest, v1.ImportBulkRelationshipsResponse]) error {
	ctx := stream.Context()
	if p.s.cfg.Leader != nil && !p.s.cfg.Leader.IsLeader() {
		return service.Fail(service.ErrNoLeader, map[string]any{"retryable": true},
			"ImportBulkRelationships must be sent to the leader (this node follows); send it to the leader's gRPC address, or stream NDJSON to POST /v1/relationships/import on any node")
	}
	lines := func(yield func(service.ImportLine, error) bool) {
		n := 0
		for {
			msg, err := stream.Recv()
			if err == io.EOF {
				return
			}
			if err != nil {
				yield(service.ImportLine{Line: n + 1}, err)
				return
			}
			for _, r := range msg.GetRelationships() {
				n++
				rel, err := relationship(r, fmt.Sprintf("relationships[%d]", n-1))
				if err != nil {
					yield(service.ImportLine{Line: n}, err)
					return
				}
				if !yield(service.ImportLine{Line: n, Text: rel.String()}, nil) {
					return
				}
			}
		}
	}
	res, err := p.s.cfg.Services.Relationships.Import(ctx, infoOf(ctx).caller(), infoOf(ctx).reason, infoOf(ctx).idemKey,
		iter.Seq2[service.ImportLine, error](lines), describe)
	if err != nil {
		return err
	}
	return stream.SendAndClose(&v1.ImportBulkRelationshipsResponse{NumLoaded: uint64(res.Imported)})
}

// schemas implements SchemaService.
type schemas struct {
	v1.UnimplementedSchemaServiceServer
	s *Server
}

func (sc *schemas) ReadSchema(ctx context.Context, _ *v1.ReadSchemaRequest) (*v1.ReadSchemaResponse, error) {
	// SpiceDB's ReadSchema has no consistency; read the newest schema, so
	// that a WriteSchema is seen by the next ReadSchema.
	out, err := sc.s.cfg.Services.Schema.Get(ctx, &wire.Consistency{Mode: wire.FullyConsistent})
	if err != nil {
		return nil, err
	}
	return &v1.ReadSchemaResponse{SchemaText: out.Schema, ReadAt: zedToken(out.ReadAt)}, nil
}

func (sc *schemas) WriteSchema(ctx context.Context, in *v1.WriteSchemaRequest) (*v1.WriteSchemaResponse, error) {
	out := &v1.WriteSchemaResponse{}
	if done, err := sc.s.onLeader(ctx, "/v1/schema/write", in, out); done {
		return out, err
	}
	res, err := sc.s.cfg.Services.Schema.Put(ctx, infoOf(ctx).caller(), wire.WriteSchemaRequest{
		Schema: in.GetSchema(), Reason: infoOf(ctx).reason, IdempotencyKey: infoOf(ctx).idemKey})
	if err != nil {
		return nil, err
	}
	out.WrittenAt = zedToken(res.WrittenAt)
	return out, nil
}
