package spicedb

import (
	"context"
	"fmt"
	"net/http"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"
	"google.golang.org/grpc"

	"github.com/trellis-authz/trellis/api"
	"github.com/trellis-authz/trellis/tuple"
	"github.com/trellis-authz/trellis/wire"
)

// permissions implements PermissionsService's reads over the services;
// writes.go has its writes.
type permissions struct {
	v1.UnimplementedPermissionsServiceServer
	s *Server
}

func (p *permissions) CheckPermission(ctx context.Context, in *v1.CheckPermissionRequest) (*v1.CheckPermissionResponse, error) {
	res, err := object(in.GetResource(), "resource")
	if err != nil {
		return nil, err
	}
	sub, err := subject(in.GetSubject(), "subject")
	if err != nil {
		return nil, err
	}
	cctx, err := contextJSON(in.GetContext())
	if err != nil {
		return nil, err
	}
	out, err := p.s.cfg.Services.Permissions.Check(ctx, infoOf(ctx).caller(), wire.CheckRequest{
		Resource: res, Permission: in.GetPermission(), Subject: sub, Context: cctx, Consistency: consistency(in.GetConsistency()),
		Explain: in.GetWithTracing(),
	})
	if err != nil {
		return nil, err
	}
	return &v1.CheckPermissionResponse{
		CheckedAt:         zedToken(out.CheckedAt),
		Permissionship:    permissionship(out.Result),
		PartialCaveatInfo: partial(out.MissingContext),
		OptionalExpiresAt: expiresAt(out.ExpiresAt),
		DebugTrace:        debugInfo(out.Trace),
	}, nil
}

func (p *permissions) CheckBulkPermissions(ctx context.Context, in *v1.CheckBulkPermissionsRequest) (*v1.CheckBulkPermissionsResponse, error) {
	req := wire.CheckBulkRequest{Consistency: consistency(in.GetConsistency()), Items: make([]wire.CheckItem, len(in.GetItems()))}
	for i, it := range in.GetItems() {
		field := fmt.Sprintf("items[%d]", i)
		res, err := object(it.GetResource(), field+".resource")
		if err != nil {
			return nil, err
		}
		sub, err := subject(it.GetSubject(), field+".subject")
		if err != nil {
			return nil, err
		}
		cctx, err := contextJSON(it.GetContext())
		if err != nil {
			return nil, err
		}
		req.Items[i] = wire.CheckItem{Resource: res, Permission: it.GetPermission(), Subject: sub, Context: cctx}
	}
	out, err := p.s.cfg.Services.Permissions.CheckBulk(ctx, infoOf(ctx).caller(), req, describe)
	if err != nil {
		return nil, err
	}
	resp := &v1.CheckBulkPermissionsResponse{CheckedAt: zedToken(out.CheckedAt)}
	for i, r := range out.Results {
		pair := &v1.CheckBulkPermissionsPair{Request: in.GetItems()[i]}
		if r.Error != nil {
			pair.Response = &v1.CheckBulkPermissionsPair_Error{Error: statusOf(r.Error.Code, r.Error.Message, r.Error.Details).Proto()}
		} else {
			pair.Response = &v1.CheckBulkPermissionsPair_Item{Item: &v1.CheckBulkPermissionsResponseItem{
				Permissionship: permissionship(r.Result), PartialCaveatInfo: partial(r.MissingContext)}}
		}
		resp.Pairs = append(resp.Pairs, pair)
	}
	return resp, nil
}

func (p *permissions) ExpandPermissionTree(ctx context.Context, in *v1.ExpandPermissionTreeRequest) (*v1.ExpandPermissionTreeResponse, error) {
	res, err := object(in.GetResource(), "resource")
	if err != nil {
		return nil, err
	}
	out, err := p.s.cfg.Services.Permissions.Expand(ctx, wire.ExpandRequest{Resource: res, Permission: in.GetPermission(), Consistency: consistency(in.GetConsistency())})
	if err != nil {
		return nil, err
	}
	t, err := tree(out.Tree)
	if err != nil {
		return nil, err
	}
	return &v1.ExpandPermissionTreeResponse{ExpandedAt: zedToken(out.ReadAt), TreeRoot: t}, nil
}

// pages calls page with the cursor of each page in turn, from start, until
// the last page or until limit results were sent (0: no limit). page
// answers how many results it sent that count toward the limit, and the
// next cursor ("" at the end).
// The first page's read token pins the rest: every page reads the same
// revision, as one SpiceDB stream does.
func pages(limit uint32, start string, cons *wire.Consistency, page func(size int, cursor string, cons *wire.Consistency) (sent int, next, token string, err error)) error {
	cursor := start
	left := int(limit)
	for {
		size := 0 // the service's page size
		if limit > 0 {
			size = left
		}
		sent, next, token, err := page(size, cursor, cons)
		if err != nil {
			return err
		}
		if token != "" && (cons == nil || cons.Mode != wire.AtExactSnapshot) {
			cons = &wire.Consistency{Mode: wire.AtExactSnapshot, Token: token}
		}
		left -= sent
		if next == "" || (limit > 0 && left <= 0) {
			return nil
		}
		cursor = next
	}
}

func (p *permissions) LookupResources(in *v1.LookupResourcesRequest, stream grpc.ServerStreamingServer[v1.LookupResourcesResponse]) error {
	ctx := stream.Context()
	sub, err := subject(in.GetSubject(), "subject")
	if err != nil {
		return err
	}
	cctx, err := contextJSON(in.GetContext())
	if err != nil {
		return err
	}
	return pages(in.GetOptionalLimit(), in.GetOptionalCursor().GetToken(), consistency(in.GetConsistency()),
		func(size int, cursor string, cons *wire.Consistency) (int, string, string, error) {
			out, err := p.s.cfg.Services.Permissions.LookupResources(ctx, wire.LookupResourcesRequest{
				ResourceType: in.GetResourceObjectType(), Permission: in.GetPermission(), Subject: sub, Context: cctx,
				Limit: size, Cursor: cursor, Consistency: cons})
			if err != nil {
				return 0, "", "", err
			}
			for i, r := range out.Resources {
				msg := &v1.LookupResourcesResponse{LookedUpAt: zedToken(out.ReadAt), ResourceObjectId: r.ID,
					Permissionship: lookupPermissionship(r.Result), PartialCaveatInfo: partial(r.MissingContext)}
				if i == len(out.Resources)-1 && out.NextCursor != "" {
					msg.AfterResultCursor = &v1.Cursor{Token: out.NextCursor}
				}
				if err := stream.Send(msg); err != nil {
					return 0, "", "", err
				}
			}
			return len(out.Resources), out.NextCursor, out.ReadAt, nil
		})
}

func (p *permissions) LookupSubjects(in *v1.LookupSubjectsRequest, stream grpc.ServerStreamingServer[v1.LookupSubjectsResponse]) error {
	ctx := stream.Context()
	res, err := object(in.GetResource(), "resource")
	if err != nil {
		return err
	}
	cctx, err := contextJSON(in.GetContext())
	if err != nil {
		return err
	}
	rel := in.GetOptionalSubjectRelation()
	if rel == ellipsis {
		rel = ""
	}
	wildcards := in.GetWildcardOption() != v1.LookupSubjectsRequest_WILDCARD_OPTION_EXCLUDE_WILDCARDS
	return pages(in.GetOptionalConcreteLimit(), in.GetOptionalCursor().GetToken(), consistency(in.GetConsistency()),
		func(size int, cursor string, cons *wire.Consistency) (int, string, string, error) {
			out, err := p.s.cfg.Services.Permissions.LookupSubjects(ctx, wire.LookupSubjectsRequest{
				Resource: res, Permission: in.GetPermission(), SubjectType: in.GetSubjectObjectType(), SubjectRelation: rel,
				Context: cctx, Limit: size, Cursor: cursor, Consistency: cons})
			if err != nil {
				return 0, "", "", err
			}
			concrete := 0 // optional_concrete_limit counts these, not the wildcard
			for i, sub := range out.Subjects {
				switch {
				case sub.ID != "*":
					concrete++
				case !wildcards:
					continue
				}
				msg := &v1.LookupSubjectsResponse{LookedUpAt: zedToken(out.ReadAt), Subject: &v1.ResolvedSubject{
					SubjectObjectId: sub.ID, Permissionship: lookupPermissionship(sub.Result), PartialCaveatInfo: partial(sub.MissingContext)}}
				for _, ex := range sub.Excluded {
					msg.ExcludedSubjects = append(msg.ExcludedSubjects, &v1.ResolvedSubject{SubjectObjectId: ex,
						Permissionship: v1.LookupPermissionship_LOOKUP_PERMISSIONSHIP_HAS_PERMISSION})
				}
				if i == len(out.Subjects)-1 && out.NextCursor != "" {
					msg.AfterResultCursor = &v1.Cursor{Token: out.NextCursor}
				}
				if err := stream.Send(msg); err != nil {
					return 0, "", "", err
				}
			}
			return concrete, out.NextCursor, out.ReadAt, nil
		})
}

func (p *permissions) ReadRelationships(in *v1.ReadRelationshipsRequest, stream grpc.ServerStreamingServer[v1.ReadRelationshipsResponse]) error {
	ctx := stream.Context()
	f := filter(in.GetRelationshipFilter())
	return pages(in.GetOptionalLimit(), in.GetOptionalCursor().GetToken(), consistency(in.GetConsistency()),
		func(size int, cursor string, cons *wire.Consistency) (int, string, string, error) {
			out, err := p.s.cfg.Services.Relationships.Read(ctx, wire.ReadRelationshipsRequest{Filter: f, Limit: size, Cursor: cursor, Consistency: cons})
			if err != nil {
				return 0, "", "", err
			}
			for i, text := range out.Relationships {
				rel, err := parsedRelationship(text)
				if err != nil {
					return 0, "", "", err
				}
				msg := &v1.ReadRelationshipsResponse{ReadAt: zedToken(out.ReadAt), Relationship: rel}
				if i == len(out.Relationships)-1 && out.NextCursor != "" {
					msg.AfterResultCursor = &v1.Cursor{Token: out.NextCursor}
				}
				if err := stream.Send(msg); err != nil {
					return 0, "", "", err
				}
			}
			return len(out.Relationships), out.NextCursor, out.ReadAt, nil
		})
}

// exportBatch is how many relationships one ExportBulkRelationships message
// carries.
const exportBatch = 1000

func (p *permissions) ExportBulkRelationships(in *v1.ExportBulkRelationshipsRequest, stream grpc.ServerStreamingServer[v1.ExportBulkRelationshipsResponse]) error {
	ctx := stream.Context()
	if in.GetOptionalCursor() != nil {
		return argErr("optional_cursor", "ExportBulkRelationships cannot resume from an optional_cursor in Trellis; leave optional_cursor unset and export again from the start, at_exact_snapshot of the first export's revision")
	}
	var f *tuple.Filter
	if rf := in.GetOptionalRelationshipFilter(); rf != nil {
		x := filter(rf)
		f = &x
	}
	_, rels, done, err := p.s.cfg.Services.Relationships.Export(ctx, f, consistency(in.GetConsistency()))
	if err != nil {
		return err
	}
	defer done()
	limit := int(in.GetOptionalLimit())
	batch := &v1.ExportBulkRelationshipsResponse{}
	sent := 0
	for rel, err := range rels {
		if err != nil {
			return err
		}
		batch.Relationships = append(batch.Relationships, toRelationship(rel))
		sent++
		if len(batch.Relationships) == exportBatch || (limit > 0 && sent == limit) {
			if err := stream.Send(batch); err != nil {
				return err
			}
			batch = &v1.ExportBulkRelationshipsResponse{}
		}
		if limit > 0 && sent == limit {
			return nil
		}
	}
	if len(batch.Relationships) > 0 {
		return stream.Send(batch)
	}
	return nil
}

// describe is the CheckBulk item error describer, as REST's: an item's
// error is its answer unless it is a failure of the server.
func describe(err error) (*wire.Error, bool) {
	code, body := api.ErrorBody(err)
	return &body, code != http.StatusInternalServerError
}
