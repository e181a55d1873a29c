package service

import (
	"context"
	"encoding/json"
	"log/slog"
	"strconv"

	"github.com/trellis-authz/trellis/alerts"
	"github.com/trellis-authz/trellis/engine"
	"github.com/trellis-authz/trellis/tuple"
	"github.com/trellis-authz/trellis/wire"
)

// Permissions answers checks, expansions and both lookups.
type Permissions struct {
	cfg       Config
	reads     *Reads
	engine    Engine
	decisions DecisionRecorder
	alerts    *alerts.Watcher // nil: no decision alerts
	onCheck   func(result string)
	log       *slog.Logger
}

func view(v *readView) engine.View {
	return engine.View{Schema: v.schema, Reader: v.snap, Revision: v.rev}
}

// checkInput parses and validates one check against the schema.
func (p *Permissions) checkInput(v *readView, prefix string, it wire.CheckItem) (engine.CheckRequest, error) {
	var req engine.CheckRequest
	var err error
	if req.Resource, err = parseObject(prefix+"resource", it.Resource); err != nil {
		return req, err
	}
	if err := requireName(prefix+"permission", it.Permission); err != nil {
		return req, err
	}
	req.Permission = it.Permission
	if req.Subject, err = parseSubject(prefix+"subject", it.Subject); err != nil {
		return req, err
	}
	if req.Context, err = parseContext(p.cfg, prefix+"context", it.Context); err != nil {
		return req, err
	}
	if err := contextKeysKnown(v.schema, prefix+"context", req.Context); err != nil {
		return req, err
	}
	if _, err := schemaType(v.schema, prefix+"resource", req.Resource.Type); err != nil {
		return req, err
	}
	if err := schemaMember(v.schema, prefix+"permission", req.Resource.Type, req.Permission); err != nil {
		return req, err
	}
	if _, err := schemaType(v.schema, prefix+"subject", req.Subject.Type); err != nil {
		return req, err
	}
	if req.Subject.Relation != "" {
		if err := schemaMember(v.schema, prefix+"subject", req.Subject.Type, req.Subject.Relation); err != nil {
			return req, err
		}
	}
	// A check a decision alert rule may select reports, from its own
	// evaluation, whether it went through the rule's relation or caveat.
	req.Watch = p.alerts.WatchFor(req.Resource.Type, req.Permission, req.Subject.Type)
	return req, nil
}

// Check answers one check.
func (p *Permissions) Check(ctx context.Context, c Caller, in wire.CheckRequest) (wire.CheckResponse, error) {
	v, err := p.reads.resolve(ctx, in.Consistency)
	if err != nil {
		return wire.CheckResponse{}, err
	}
	defer v.snap.Close()
	req, err := p.checkInput(v, "", wire.CheckItem{Resource: in.Resource, Permission: in.Permission, Subject: in.Subject, Context: in.Context})
	if err != nil {
		return wire.CheckResponse{}, err
	}
	req.Explain = in.Explain
	res, err := p.engine.Check(ctx, view(v), req)
	if err != nil {
		p.onCheck("error")
		return wire.CheckResponse{}, err
	}
	p.onCheck(res.Result.String())
	p.recordDecision(c, c.RequestID, req, res, v.token)
	return wire.CheckResponse{
		Result:         res.Result.String(),
		MissingContext: res.MissingContext,
		ExpiresAt:      res.ExpiresAt,
		CheckedAt:      v.token,
		Trace:          traceToWire(res.Trace),
	}, nil
}

// CheckBulk answers many checks at one revision. An item that is wrong gets
// its own error (describe turns an error into the transport's error body);
// a failure of the node fails the whole request.
func (p *Permissions) CheckBulk(ctx context.Context, c Caller, in wire.CheckBulkRequest, describe func(error) (*wire.Error, bool)) (wire.CheckBulkResponse, error) {
	if len(in.Items) == 0 {
		return wire.CheckBulkResponse{}, argErr("items", "items is empty; send at least one check")
	}
	if len(in.Items) > p.cfg.MaxBulkItems {
		return wire.CheckBulkResponse{}, fail(ErrTooManyUpdates, map[string]any{"field": "items", "limit": p.cfg.MaxBulkItems},
			"items has %d checks; at most %d are allowed per request", len(in.Items), p.cfg.MaxBulkItems)
	}
	v, err := p.reads.resolve(ctx, in.Consistency)
	if err != nil {
		return wire.CheckBulkResponse{}, err
	}
	defer v.snap.Close()
	out := wire.CheckBulkResponse{Results: make([]wire.CheckBulkResult, len(in.Items)), CheckedAt: v.token}
	var reqs []engine.CheckRequest
	var idx []int
	for i, it := range in.Items {
		req, err := p.checkInput(v, "items["+strconv.Itoa(i)+"].", it)
		if err != nil {
			out.Results[i].Error, _ = describe(err)
			continue
		}
		reqs = append(reqs, req)
		idx = append(idx, i)
	}
	if len(reqs) == 0 {
		return out, nil
	}
	for j, r := range p.engine.CheckBulk(ctx, view(v), reqs) {
		i := idx[j]
		if r.Err != nil {
			body, verdict := describe(r.Err)
			if !verdict {
				return wire.CheckBulkResponse{}, r.Err
			}
			out.Results[i].Error = body
			p.onCheck("error")
			continue
		}
		p.onCheck(r.Result.Result.String())
		p.recordDecision(c, c.RequestID+"#"+strconv.Itoa(i), reqs[j], r.Result, v.token)
		out.Results[i] = wire.CheckBulkResult{Result: r.Result.Result.String(), MissingContext: r.Result.MissingContext, ExpiresAt: r.Result.ExpiresAt}
	}
	return out, nil
}

// Expand returns the tree of subjects that have a permission.
func (p *Permissions) Expand(ctx context.Context, in wire.ExpandRequest) (wire.ExpandResponse, error) {
	res, err := parseObject("resource", in.Resource)
	if err != nil {
		return wire.ExpandResponse{}, err
	}
	if err := requireName("permission", in.Permission); err != nil {
		return wire.ExpandResponse{}, err
	}
	v, err := p.reads.resolve(ctx, in.Consistency)
	if err != nil {
		return wire.ExpandResponse{}, err
	}
	defer v.snap.Close()
	if _, err := schemaType(v.schema, "resource", res.Type); err != nil {
		return wire.ExpandResponse{}, err
	}
	if err := schemaMember(v.schema, "permission", res.Type, in.Permission); err != nil {
		return wire.ExpandResponse{}, err
	}
	tree, err := p.engine.Expand(ctx, view(v), res, in.Permission)
	if err != nil {
		return wire.ExpandResponse{}, err
	}
	return wire.ExpandResponse{Tree: expandToWire(tree), ReadAt: v.token}, nil
}

// LookupResources lists the resources of a type a subject has a permission on.
func (p *Permissions) LookupResources(ctx context.Context, in wire.LookupResourcesRequest) (wire.LookupResourcesResponse, error) {
	var out wire.LookupResourcesResponse
	if in.ResourceType == "" {
		return out, argErr("resource_type", "resource_type is required")
	}
	if err := tuple.ValidateTypeName(in.ResourceType); err != nil {
		return out, argErr("resource_type", "resource_type: %v", err)
	}
	if err := requireName("permission", in.Permission); err != nil {
		return out, err
	}
	sub, err := parseSubject("subject", in.Subject)
	if err != nil {
		return out, err
	}
	v, cctx, limit, err := p.lookupStart(ctx, "resource_type", in.ResourceType, in.Permission, in.Context, in.Limit, in.Consistency)
	if err != nil {
		return out, err
	}
	defer v.snap.Close()
	if _, err := schemaType(v.schema, "subject", sub.Type); err != nil {
		return out, err
	}
	res, err := p.engine.LookupResources(ctx, view(v), engine.LookupResourcesRequest{
		ResourceType: in.ResourceType, Permission: in.Permission, Subject: sub, Context: cctx, Limit: limit, Cursor: in.Cursor,
	})
	if err != nil {
		return out, err
	}
	out = wire.LookupResourcesResponse{Resources: make([]wire.LookupResource, 0, len(res.Resources)), NextCursor: res.NextCursor, ReadAt: v.token}
	for _, r := range res.Resources {
		out.Resources = append(out.Resources, wire.LookupResource{ID: r.ID, Result: r.Result.String(), MissingContext: r.MissingContext})
	}
	return out, nil
}

// LookupSubjects lists the subjects of a type that have a permission on a
// resource.
func (p *Permissions) LookupSubjects(ctx context.Context, in wire.LookupSubjectsRequest) (wire.LookupSubjectsResponse, error) {
	var out wire.LookupSubjectsResponse
	res, err := parseObject("resource", in.Resource)
	if err != nil {
		return out, err
	}
	if err := requireName("permission", in.Permission); err != nil {
		return out, err
	}
	if in.SubjectType == "" {
		return out, argErr("subject_type", "subject_type is required")
	}
	if err := tuple.ValidateTypeName(in.SubjectType); err != nil {
		return out, argErr("subject_type", "subject_type: %v", err)
	}
	if in.SubjectRelation == tuple.Ellipsis {
		in.SubjectRelation = "" // SpiceDB's explicit "no relation"
	}
	if in.SubjectRelation != "" {
		if err := requireName("subject_relation", in.SubjectRelation); err != nil {
			return out, err
		}
	}
	v, cctx, limit, err := p.lookupStart(ctx, "resource", res.Type, in.Permission, in.Context, in.Limit, in.Consistency)
	if err != nil {
		return out, err
	}
	defer v.snap.Close()
	if _, err := schemaType(v.schema, "subject_type", in.SubjectType); err != nil {
		return out, err
	}
	if in.SubjectRelation != "" {
		if err := schemaMember(v.schema, "subject_relation", in.SubjectType, in.SubjectRelation); err != nil {
			return out, err
		}
	}
	r, err := p.engine.LookupSubjects(ctx, view(v), engine.LookupSubjectsRequest{
		Resource: res, Permission: in.Permission, SubjectType: in.SubjectType, SubjectRelation: in.SubjectRelation,
		Context: cctx, Limit: limit, Cursor: in.Cursor,
	})
	if err != nil {
		return out, err
	}
	out = wire.LookupSubjectsResponse{Subjects: make([]wire.LookupSubject, 0, len(r.Subjects)), NextCursor: r.NextCursor, ReadAt: v.token}
	for _, x := range r.Subjects {
		out.Subjects = append(out.Subjects, wire.LookupSubject{ID: x.ID, Result: x.Result.String(), MissingContext: x.MissingContext, Excluded: x.Excluded})
	}
	return out, nil
}

// lookupStart does what both lookups share once their own fields parsed:
// the caveat context and the page size, the read's revision, and the
// resource type, permission and context keys against the schema in force
// there. The caller closes v.snap.
func (p *Permissions) lookupStart(ctx context.Context, typeField, resType, permission string, rawCtx json.RawMessage, limit int, cons *wire.Consistency) (v *readView, cctx map[string]any, pageSize int, err error) {
	if cctx, err = parseContext(p.cfg, "context", rawCtx); err != nil {
		return nil, nil, 0, err
	}
	if pageSize, err = pageLimit(p.cfg, limit); err != nil {
		return nil, nil, 0, err
	}
	if v, err = p.reads.resolve(ctx, cons); err != nil {
		return nil, nil, 0, err
	}
	if _, err = schemaType(v.schema, typeField, resType); err == nil {
		if err = schemaMember(v.schema, "permission", resType, permission); err == nil {
			err = contextKeysKnown(v.schema, "context", cctx)
		}
	}
	if err != nil {
		v.snap.Close()
		return nil, nil, 0, err
	}
	return v, cctx, pageSize, nil
}
