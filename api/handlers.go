package api

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"iter"
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"github.com/trellis-authz/trellis/service"
	"github.com/trellis-authz/trellis/tuple"
	"github.com/trellis-authz/trellis/wire"
)

// Each handler decodes the request, calls one service method and encodes
// the answer; what the request means is the service's to decide.

// handle adapts a service method that takes a JSON body of type In and
// answers Out into an echo handler.
func handle[In, Out any](s *Server, call func(c echo.Context, in In) (Out, error)) echo.HandlerFunc {
	return func(c echo.Context) error {
		var in In
		if err := s.decode(c, &in); err != nil {
			return err
		}
		out, err := call(c, in)
		if err != nil {
			return err
		}
		return ok(c, out)
	}
}

func (s *Server) handleCheck(c echo.Context, in wire.CheckRequest) (wire.CheckResponse, error) {
	return s.svc.Permissions.Check(c.Request().Context(), caller(c), in)
}

func (s *Server) handleCheckBulk(c echo.Context, in wire.CheckBulkRequest) (wire.CheckBulkResponse, error) {
	return s.svc.Permissions.CheckBulk(c.Request().Context(), caller(c), in, describe)
}

func (s *Server) handlePlan(c echo.Context, in wire.PlanRequest) (wire.PlanResponse, error) {
	return s.svc.Permissions.Plan(c.Request().Context(), caller(c), in, describe)
}

func (s *Server) handleExpand(c echo.Context, in wire.ExpandRequest) (wire.ExpandResponse, error) {
	return s.svc.Permissions.Expand(c.Request().Context(), in)
}

func (s *Server) handleLookupResources(c echo.Context, in wire.LookupResourcesRequest) (wire.LookupResourcesResponse, error) {
	return s.svc.Permissions.LookupResources(c.Request().Context(), in)
}

func (s *Server) handleLookupSubjects(c echo.Context, in wire.LookupSubjectsRequest) (wire.LookupSubjectsResponse, error) {
	return s.svc.Permissions.LookupSubjects(c.Request().Context(), in)
}

func (s *Server) handleReadRelationships(c echo.Context, in wire.ReadRelationshipsRequest) (wire.ReadRelationshipsResponse, error) {
	return s.svc.Relationships.Read(c.Request().Context(), in)
}

func (s *Server) handleWrite(c echo.Context, in wire.WriteRelationshipsRequest) (wire.WriteResponse, error) {
	return s.svc.Relationships.Write(c.Request().Context(), caller(c), in)
}

func (s *Server) handleDelete(c echo.Context, in wire.DeleteRelationshipsRequest) (wire.DeleteRelationshipsResponse, error) {
	return s.svc.Relationships.Delete(c.Request().Context(), caller(c), in)
}

func (s *Server) handlePutSchema(c echo.Context, in wire.WriteSchemaRequest) (wire.WriteSchemaResponse, error) {
	return s.svc.Schema.Put(c.Request().Context(), caller(c), in)
}

func (s *Server) handleDiffSchema(c echo.Context, in wire.DiffSchemaRequest) (wire.DiffSchemaResponse, error) {
	return s.svc.Schema.Diff(c.Request().Context(), in)
}

func (s *Server) handleFormatSchema(c echo.Context, in wire.FormatSchemaRequest) (wire.FormatSchemaResponse, error) {
	return s.svc.Schema.Format(in)
}

func (s *Server) handleGetSchema(c echo.Context) error {
	cons, err := consistencyFromQuery(c.QueryParams())
	if err != nil {
		return err
	}
	out, err := s.svc.Schema.Get(c.Request().Context(), cons)
	if err != nil {
		return err
	}
	return ok(c, out)
}

// filterFromQuery reads a relationship filter from query parameters.
func filterFromQuery(c echo.Context) *tuple.Filter {
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
	if f == (tuple.Filter{}) {
		return nil
	}
	return &f
}

// handleExport streams the relationships as NDJSON.
func (s *Server) handleExport(c echo.Context) error {
	cons, err := consistencyFromQuery(c.QueryParams())
	if err != nil {
		return err
	}
	token, rels, done, err := s.svc.Relationships.Export(c.Request().Context(), filterFromQuery(c), cons)
	if err != nil {
		return err
	}
	defer done()
	c.Response().Header().Set(ReadAtHeader, token)
	// Expired relationships grant nothing and are not read; say so.
	c.Response().Header().Set(ExportExcludesHeader, "expired")
	writeNDJSON(c, rels)
	return nil
}

// writeNDJSON writes one {"relationship": ...} line per relationship,
// flushing every 1,000; an error after the header is out is the last line,
// as an error body.
func writeNDJSON(c echo.Context, rels iter.Seq2[tuple.Relationship, error]) {
	w := c.Response()
	w.Header().Set(echo.HeaderContentType, "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	n := 0
	for r, err := range rels {
		if err != nil {
			_, body := httpError(err)
			body.RequestID = requestID(c)
			_ = enc.Encode(wire.ErrorResponse{Error: body})
			break
		}
		if err := enc.Encode(wire.ExportLine{Relationship: r.String()}); err != nil {
			return // the client went away
		}
		if n++; n%1000 == 0 {
			_ = bw.Flush()
			w.Flush()
		}
	}
	_ = bw.Flush()
	w.Flush()
}

// handleImport streams NDJSON lines into the relationships service.
func (s *Server) handleImport(c echo.Context) error {
	q := c.QueryParams()
	out, err := s.svc.Relationships.Import(c.Request().Context(), caller(c), q.Get("reason"), q.Get("idempotency_key"),
		s.importLines(c.Request().Body), describe)
	if err != nil {
		return err
	}
	return ok(c, out)
}

// importLines reads an import body: one {"relationship": "..."} object or
// plain relationship per line, blank lines skipped.
func (s *Server) importLines(body interface{ Read([]byte) (int, error) }) iter.Seq2[service.ImportLine, error] {
	return func(yield func(service.ImportLine, error) bool) {
		sc := bufio.NewScanner(body)
		sc.Buffer(make([]byte, 0, 64<<10), s.cfg.MaxRelationshipLen+64)
		line := 0
		for sc.Scan() {
			line++
			b := bytes.TrimSpace(sc.Bytes())
			if len(b) == 0 {
				continue
			}
			text, plain := plainImportLine(b)
			if !plain {
				text = string(b)
			}
			if !plain && b[0] == '{' {
				var l wire.ExportLine
				dec := json.NewDecoder(bytes.NewReader(b))
				dec.DisallowUnknownFields()
				if err := dec.Decode(&l); err != nil {
					yield(service.ImportLine{Line: line}, fail(service.ErrInvalidJSON, nil, "not a {\"relationship\": \"...\"} object: %v", err))
					return
				}
				text = l.Relationship
			}
			if !yield(service.ImportLine{Line: line, Text: text}, nil) {
				return
			}
		}
		if err := sc.Err(); err != nil {
			var mbe *http.MaxBytesError
			switch {
			case errors.As(err, &mbe):
				err = fail(service.ErrBodyTooLarge, map[string]any{"limit_bytes": mbe.Limit}, "import body is larger than %d bytes", mbe.Limit)
			case errors.Is(err, bufio.ErrTooLong):
				line++
				err = fail(service.ErrInvalidArgument, map[string]any{"field": "relationship"}, "line is longer than %d bytes", s.cfg.MaxRelationshipLen)
			default:
				err = fail(service.ErrInvalidArgument, nil, "reading the body: %v", err)
			}
			yield(service.ImportLine{Line: line}, err)
		}
	}
}

// plainImportLine returns the relationship of a line in the exact form
// `trellis export` writes, {"relationship":"..."} with no escapes and no
// spaces, without a JSON decoder; ok is false for any other line, which the
// caller decodes in full (so both paths accept the same lines).
func plainImportLine(b []byte) (text string, ok bool) {
	const head, tail = `{"relationship":"`, `"}`
	if len(b) < len(head)+len(tail) || !bytes.HasPrefix(b, []byte(head)) || !bytes.HasSuffix(b, []byte(tail)) {
		return "", false
	}
	mid := b[len(head) : len(b)-len(tail)]
	for _, c := range mid {
		if c == '"' || c == '\\' || c < 0x20 || c >= 0x80 {
			return "", false // escapes, control or non-ASCII bytes: let the decoder judge
		}
	}
	return string(mid), true
}

// consistencyFromQuery reads consistency from query parameters for GET
// routes: consistency=minimize_latency|fully_consistent, at_least_as_fresh=T
// or at_exact_snapshot=T.
func consistencyFromQuery(q url.Values) (*wire.Consistency, error) {
	var c *wire.Consistency
	set := func(mode, token string) error {
		if c != nil {
			return fail(service.ErrInvalidArgument, map[string]any{"field": "consistency"}, "give one of consistency, at_least_as_fresh and at_exact_snapshot, not several")
		}
		c = &wire.Consistency{Mode: mode, Token: token}
		return nil
	}
	if m := q.Get("consistency"); m != "" {
		if m != wire.MinimizeLatency && m != wire.FullyConsistent {
			return nil, fail(service.ErrInvalidArgument, map[string]any{"field": "consistency"},
				"consistency=%q is unknown; use minimize_latency or fully_consistent, or pass at_least_as_fresh=TOKEN or at_exact_snapshot=TOKEN", m)
		}
		if err := set(m, ""); err != nil {
			return nil, err
		}
	}
	for _, mode := range []string{wire.AtLeastAsFresh, wire.AtExactSnapshot} {
		if q.Has(mode) {
			if err := set(mode, q.Get(mode)); err != nil {
				return nil, err
			}
		}
	}
	return c, nil
}

// answer writes a service's answer: its error, or 200 with the value.
func answer(c echo.Context) func(any, error) error {
	return func(v any, err error) error {
		if err != nil {
			return err
		}
		return ok(c, v)
	}
}
