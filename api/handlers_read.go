package api

import (
	"bufio"
	"encoding/json"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/trellis-authz/trellis/engine"
	"github.com/trellis-authz/trellis/tuple"
)

// checkInput parses and validates one check against the schema.
func (s *Server) checkInput(v *readView, prefix string, it CheckItem) (engine.CheckRequest, error) {
	var req engine.CheckRequest
	var err error
	if req.Resource, err = s.parseObject(prefix+"resource", it.Resource); err != nil {
		return req, err
	}
	if err := requireName(prefix+"permission", it.Permission); err != nil {
		return req, err
	}
	req.Permission = it.Permission
	if req.Subject, err = s.parseSubject(prefix+"subject", it.Subject); err != nil {
		return req, err
	}
	if req.Context, err = s.parseContext(prefix+"context", it.Context); err != nil {
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
	return req, nil
}

func (s *Server) view(v *readView) engine.View {
	return engine.View{Schema: v.schema, Reader: v.snap, Revision: v.rev}
}

func (s *Server) handleCheck(c echo.Context) error {
	var in CheckRequest
	if err := s.decode(c, &in); err != nil {
		return err
	}
	ctx := c.Request().Context()
	v, err := s.resolve(ctx, in.Consistency)
	if err != nil {
		return err
	}
	defer v.snap.Close()
	req, err := s.checkInput(v, "", CheckItem{Resource: in.Resource, Permission: in.Permission, Subject: in.Subject, Context: in.Context})
	if err != nil {
		return err
	}
	req.Explain = in.Explain
	res, err := s.deps.Engine.Check(ctx, s.view(v), req)
	if err != nil {
		s.metrics.checkResult("error")
		return err
	}
	s.metrics.checkResult(res.Result.String())
	s.recordDecision(c, requestID(c), req, res.Result.String(), v.token)
	return ok(c, CheckResponse{
		Result:         res.Result.String(),
		MissingContext: res.MissingContext,
		ExpiresAt:      res.ExpiresAt,
		CheckedAt:      v.token,
		Trace:          res.Trace,
	})
}

func (s *Server) handleCheckBulk(c echo.Context) error {
	var in CheckBulkRequest
	if err := s.decode(c, &in); err != nil {
		return err
	}
	if len(in.Items) == 0 {
		return argErr("items", "items is empty; send at least one check")
	}
	if len(in.Items) > s.cfg.MaxBulkItems {
		return fail(ErrTooManyUpdates, map[string]any{"field": "items", "limit": s.cfg.MaxBulkItems},
			"items has %d checks; at most %d are allowed per request", len(in.Items), s.cfg.MaxBulkItems)
	}
	ctx := c.Request().Context()
	v, err := s.resolve(ctx, in.Consistency)
	if err != nil {
		return err
	}
	defer v.snap.Close()
	out := CheckBulkResponse{Results: make([]CheckBulkResult, len(in.Items)), CheckedAt: v.token}
	var reqs []engine.CheckRequest
	var idx []int
	for i, it := range in.Items {
		req, err := s.checkInput(v, "items["+itoa(i)+"].", it)
		if err != nil {
			_, body := httpError(err)
			out.Results[i].Error = &body
			continue
		}
		reqs = append(reqs, req)
		idx = append(idx, i)
	}
	if len(reqs) > 0 {
		for j, r := range s.deps.Engine.CheckBulk(ctx, s.view(v), reqs) {
			i := idx[j]
			if r.Err != nil {
				status, body := httpError(r.Err)
				if status == http.StatusInternalServerError {
					return r.Err
				}
				out.Results[i].Error = &body
				s.metrics.checkResult("error")
				continue
			}
			s.metrics.checkResult(r.Result.Result.String())
			s.recordDecision(c, requestID(c)+"#"+itoa(i), reqs[j], r.Result.Result.String(), v.token)
			out.Results[i] = CheckBulkResult{Result: r.Result.Result.String(), MissingContext: r.Result.MissingContext, ExpiresAt: r.Result.ExpiresAt}
		}
	}
	return ok(c, out)
}

func (s *Server) handleExpand(c echo.Context) error {
	var in ExpandRequest
	if err := s.decode(c, &in); err != nil {
		return err
	}
	res, err := s.parseObject("resource", in.Resource)
	if err != nil {
		return err
	}
	if err := requireName("permission", in.Permission); err != nil {
		return err
	}
	ctx := c.Request().Context()
	v, err := s.resolve(ctx, in.Consistency)
	if err != nil {
		return err
	}
	defer v.snap.Close()
	if err := schemaMember(v.schema, "permission", res.Type, in.Permission); err != nil {
		return err
	}
	tree, err := s.deps.Engine.Expand(ctx, s.view(v), res, in.Permission)
	if err != nil {
		return err
	}
	return ok(c, ExpandResponse{Tree: tree, ReadAt: v.token})
}

func (s *Server) handleLookupResources(c echo.Context) error {
	var in LookupResourcesRequest
	if err := s.decode(c, &in); err != nil {
		return err
	}
	if in.ResourceType == "" {
		return argErr("resource_type", "resource_type is required")
	}
	if err := tuple.ValidateTypeName(in.ResourceType); err != nil {
		return argErr("resource_type", "resource_type: %v", err)
	}
	if err := requireName("permission", in.Permission); err != nil {
		return err
	}
	sub, err := s.parseSubject("subject", in.Subject)
	if err != nil {
		return err
	}
	cctx, err := s.parseContext("context", in.Context)
	if err != nil {
		return err
	}
	limit, err := s.pageLimit(in.Limit)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	v, err := s.resolve(ctx, in.Consistency)
	if err != nil {
		return err
	}
	defer v.snap.Close()
	if err := schemaMember(v.schema, "permission", in.ResourceType, in.Permission); err != nil {
		return err
	}
	if _, err := schemaType(v.schema, "subject", sub.Type); err != nil {
		return err
	}
	res, err := s.deps.Engine.LookupResources(ctx, s.view(v), engine.LookupResourcesRequest{
		ResourceType: in.ResourceType, Permission: in.Permission, Subject: sub, Context: cctx, Limit: limit, Cursor: in.Cursor,
	})
	if err != nil {
		return err
	}
	out := LookupResourcesResponse{Resources: make([]LookupResource, 0, len(res.Resources)), NextCursor: res.NextCursor, ReadAt: v.token}
	for _, r := range res.Resources {
		out.Resources = append(out.Resources, LookupResource{ID: r.ID, Result: r.Result.String(), MissingContext: r.MissingContext})
	}
	return ok(c, out)
}

func (s *Server) handleLookupSubjects(c echo.Context) error {
	var in LookupSubjectsRequest
	if err := s.decode(c, &in); err != nil {
		return err
	}
	res, err := s.parseObject("resource", in.Resource)
	if err != nil {
		return err
	}
	if err := requireName("permission", in.Permission); err != nil {
		return err
	}
	if in.SubjectType == "" {
		return argErr("subject_type", "subject_type is required")
	}
	if err := tuple.ValidateTypeName(in.SubjectType); err != nil {
		return argErr("subject_type", "subject_type: %v", err)
	}
	if in.SubjectRelation != "" {
		if err := requireName("subject_relation", in.SubjectRelation); err != nil {
			return err
		}
	}
	cctx, err := s.parseContext("context", in.Context)
	if err != nil {
		return err
	}
	limit, err := s.pageLimit(in.Limit)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	v, err := s.resolve(ctx, in.Consistency)
	if err != nil {
		return err
	}
	defer v.snap.Close()
	if err := schemaMember(v.schema, "permission", res.Type, in.Permission); err != nil {
		return err
	}
	if _, err := schemaType(v.schema, "subject_type", in.SubjectType); err != nil {
		return err
	}
	if in.SubjectRelation != "" {
		if err := schemaMember(v.schema, "subject_relation", in.SubjectType, in.SubjectRelation); err != nil {
			return err
		}
	}
	r, err := s.deps.Engine.LookupSubjects(ctx, s.view(v), engine.LookupSubjectsRequest{
		Resource: res, Permission: in.Permission, SubjectType: in.SubjectType, SubjectRelation: in.SubjectRelation,
		Context: cctx, Limit: limit, Cursor: in.Cursor,
	})
	if err != nil {
		return err
	}
	out := LookupSubjectsResponse{Subjects: make([]LookupSubject, 0, len(r.Subjects)), NextCursor: r.NextCursor, ReadAt: v.token}
	for _, x := range r.Subjects {
		out.Subjects = append(out.Subjects, LookupSubject{ID: x.ID, Result: x.Result.String(), MissingContext: x.MissingContext, Excluded: x.Excluded})
	}
	return ok(c, out)
}

func (s *Server) handleReadRelationships(c echo.Context) error {
	var in ReadRelationshipsRequest
	if err := s.decode(c, &in); err != nil {
		return err
	}
	limit, err := s.pageLimit(in.Limit)
	if err != nil {
		return err
	}
	if err := validateFilter(nil, "filter", in.Filter); err != nil {
		return err
	}
	ctx := c.Request().Context()
	v, err := s.resolve(ctx, in.Consistency)
	if err != nil {
		return err
	}
	defer v.snap.Close()
	if err := validateFilter(v.schema, "filter", in.Filter); err != nil {
		return err
	}
	rels, next, err := v.snap.Read(ctx, in.Filter, limit, in.Cursor)
	if err != nil {
		return err
	}
	out := ReadRelationshipsResponse{Relationships: make([]string, len(rels)), NextCursor: next, ReadAt: v.token}
	for i, r := range rels {
		out.Relationships[i] = r.String()
	}
	return ok(c, out)
}

// filterFromQuery reads a relationship filter from query parameters.
func filterFromQuery(c echo.Context) (tuple.Filter, bool) {
	q := c.QueryParams()
	f := tuple.Filter{
		ResourceType:     q.Get("resource_type"),
		ResourceID:       q.Get("resource_id"),
		ResourceIDPrefix: q.Get("resource_id_prefix"),
		Relation:         q.Get("relation"),
	}
	if q.Has("subject_type") || q.Has("subject_id") || q.Has("subject_relation") {
		f.Subject = &tuple.SubjectFilter{Type: q.Get("subject_type"), ID: q.Get("subject_id")}
		if q.Has("subject_relation") {
			r := q.Get("subject_relation")
			f.Subject.Relation = &r
		}
	}
	return f, f != (tuple.Filter{})
}

func (s *Server) handleExport(c echo.Context) error {
	cons, err := consistencyFromQuery(c.QueryParams())
	if err != nil {
		return err
	}
	f, filtered := filterFromQuery(c)
	if filtered {
		if err := validateFilter(nil, "filter", f); err != nil {
			return err
		}
	}
	ctx := c.Request().Context()
	v, err := s.resolve(ctx, cons)
	if err != nil {
		return err
	}
	defer v.snap.Close()
	var filters []tuple.Filter
	if filtered {
		if err := validateFilter(v.schema, "filter", f); err != nil {
			return err
		}
		filters = []tuple.Filter{f}
	} else if v.schema != nil {
		for _, t := range v.schema.Order {
			filters = append(filters, tuple.Filter{ResourceType: t})
		}
	}
	w := c.Response()
	w.Header().Set(echo.HeaderContentType, "application/x-ndjson")
	w.Header().Set(ReadAtHeader, v.token)
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	n := 0
	for _, f := range filters {
		for r, err := range v.snap.ReadAll(ctx, f) {
			if err != nil {
				_, body := httpError(err)
				body.RequestID = requestID(c)
				_ = enc.Encode(ErrorResponse{Error: body})
				_ = bw.Flush()
				return nil
			}
			if err := enc.Encode(ExportLine{Relationship: r.String()}); err != nil {
				return nil // the client went away
			}
			if n++; n%1000 == 0 {
				_ = bw.Flush()
				w.Flush()
			}
		}
	}
	_ = bw.Flush()
	w.Flush()
	return nil
}

func (s *Server) handleGetSchema(c echo.Context) error {
	cons, err := consistencyFromQuery(c.QueryParams())
	if err != nil {
		return err
	}
	v, err := s.resolve(c.Request().Context(), cons)
	if err != nil {
		return err
	}
	defer v.snap.Close()
	if v.schema == nil {
		return fail(ErrNoSchema, nil, "no schema is stored at revision %d; PUT /v1/schema first", v.rev)
	}
	return ok(c, SchemaResponse{Schema: v.schema.Text, Hash: v.schema.Hash, ReadAt: v.token})
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}
