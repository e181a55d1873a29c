package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/trellis-authz/trellis/schema"
	"github.com/trellis-authz/trellis/schema/compile"
	"github.com/trellis-authz/trellis/storage"
	"github.com/trellis-authz/trellis/tuple"
)

// parseRelationship parses and bounds one relationship string.
func (s *Server) parseRelationship(field, v string) (tuple.Relationship, error) {
	if v == "" {
		return tuple.Relationship{}, argErr(field, "%s is empty; write resource_type:id#relation@subject_type:id", field)
	}
	if len(v) > s.cfg.MaxRelationshipLen {
		return tuple.Relationship{}, argErr(field, "%s is %d bytes; at most %d are allowed", field, len(v), s.cfg.MaxRelationshipLen)
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

func (s *Server) mutationMeta(c echo.Context, m *Mutation, reason, key string) error {
	if err := checkReason(reason); err != nil {
		return err
	}
	if err := checkIdempotencyKey(key); err != nil {
		return err
	}
	m.Principal = principalOf(c).Name
	m.Reason = reason
	m.IdempotencyKey = key
	m.RequestID = requestID(c)
	return nil
}

func (s *Server) handleWrite(c echo.Context) error {
	var in WriteRelationshipsRequest
	if err := s.decode(c, &in); err != nil {
		return err
	}
	if len(in.Updates) == 0 {
		return argErr("updates", "updates is empty; send at least one {\"op\": ..., \"relationship\": ...}")
	}
	if n := len(in.Updates) + len(in.Preconditions); n > s.cfg.MaxUpdatesPerWrite {
		return fail(ErrTooManyUpdates, map[string]any{"field": "updates", "limit": s.cfg.MaxUpdatesPerWrite},
			"the write has %d updates and preconditions; at most %d are allowed (split it, or use /v1/relationships/import)", n, s.cfg.MaxUpdatesPerWrite)
	}
	var m Mutation
	if err := s.mutationMeta(c, &m, in.Reason, in.IdempotencyKey); err != nil {
		return err
	}
	ctx := c.Request().Context()
	v, err := s.latestSchema(ctx)
	if err != nil {
		return err
	}
	defer v.snap.Close()
	seen := make(map[tuple.Ident]int, len(in.Updates))
	for i, u := range in.Updates {
		field := fmt.Sprintf("updates[%d]", i)
		op, err := tuple.ParseOp(u.Op)
		if err != nil {
			return argErr(field+".op", "%s.op: %v", field, err)
		}
		r, err := s.parseRelationship(field+".relationship", u.Relationship)
		if err != nil {
			return err
		}
		if j, dup := seen[r.Ident()]; dup {
			return argErr(field, "updates[%d] and updates[%d] both change %s; name each relationship once per write", j, i, r.Key())
		}
		seen[r.Ident()] = i
		if op == tuple.OpDelete {
			if err := schemaMember(v.schema, field+".relationship", r.Resource.Type, r.Relation); err != nil {
				return err
			}
		} else if err := s.validateRelationship(v.schema, field+".relationship", r); err != nil {
			return err
		}
		m.Updates = append(m.Updates, tuple.Update{Op: op, Relationship: r})
	}
	for i, p := range in.Preconditions {
		field := fmt.Sprintf("preconditions[%d]", i)
		op, err := tuple.ParsePreconditionOp(p.Op)
		if err != nil {
			return argErr(field+".op", "%s.op: %v", field, err)
		}
		if err := validateFilter(v.schema, field+".filter", p.Filter); err != nil {
			return err
		}
		m.Preconditions = append(m.Preconditions, tuple.Precondition{Op: op, Filter: p.Filter})
	}
	res, err := s.deps.Writer.Write(ctx, m)
	if err != nil {
		return s.writeError(err)
	}
	return ok(c, WriteResponse{WrittenAt: s.tokens.Encode(res.Revision)})
}

// writeError adds advice to the errors a write can meet.
func (s *Server) writeError(err error) error {
	var re *requestError
	if errors.As(err, &re) {
		return err
	}
	status, body := httpError(err)
	switch body.Code {
	case "already_exists":
		return fail(err, nil, "%v; use op \"touch\" to write it whether or not it exists", err)
	case "precondition_failed":
		return fail(err, nil, "%v; nothing was written", err)
	case "outcome_unknown":
		return fail(err, nil, "%v; retry with the same idempotency_key", err)
	}
	if status == http.StatusGatewayTimeout {
		return fail(ErrDeadlineExceeded, nil, "the write did not commit before the request deadline; its outcome is unknown, retry with the same idempotency_key")
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fail(ErrDeadlineExceeded, nil, "the write did not commit before the request deadline; its outcome is unknown, retry with the same idempotency_key")
	}
	return err
}

func (s *Server) handleDelete(c echo.Context) error {
	var in DeleteRelationshipsRequest
	if err := s.decode(c, &in); err != nil {
		return err
	}
	if in.Limit < 0 {
		return argErr("limit", "limit is %d; use 0 for no limit or a positive bound", in.Limit)
	}
	var m Mutation
	if err := s.mutationMeta(c, &m, in.Reason, in.IdempotencyKey); err != nil {
		return err
	}
	if err := validateFilter(nil, "filter", in.Filter); err != nil {
		return err
	}
	ctx := c.Request().Context()
	v, err := s.latestSchema(ctx)
	if err != nil {
		return err
	}
	defer v.snap.Close()
	if err := validateFilter(v.schema, "filter", in.Filter); err != nil {
		return err
	}
	f := in.Filter
	m.DeleteFilter, m.DeleteLimit = &f, in.Limit
	res, err := s.deps.Writer.Write(ctx, m)
	if err != nil {
		if errors.Is(err, storage.ErrLimitExceeded) || errors.Is(err, ErrLimitExceeded) {
			return fail(err, map[string]any{"limit": in.Limit}, "more than %d relationships match %s; nothing was deleted (raise limit or narrow the filter)", in.Limit, in.Filter)
		}
		return s.writeError(err)
	}
	return ok(c, DeleteRelationshipsResponse{WrittenAt: s.tokens.Encode(res.Revision), Deleted: res.Deleted})
}

// handleImport streams NDJSON lines and writes them in chunks of
// ImportBatchSize, each one raft command that touches its relationships (so a
// retried chunk changes nothing). Each chunk's idempotency key is derived from
// the request's, so retrying a whole import with the same key is safe.
func (s *Server) handleImport(c echo.Context) error {
	q := c.QueryParams()
	var meta Mutation
	if err := s.mutationMeta(c, &meta, q.Get("reason"), q.Get("idempotency_key")); err != nil {
		return err
	}
	ctx := c.Request().Context()
	v, err := s.latestSchema(ctx)
	if err != nil {
		return err
	}
	defer v.snap.Close()
	sc := bufio.NewScanner(c.Request().Body)
	sc.Buffer(make([]byte, 0, 64<<10), s.cfg.MaxRelationshipLen+64)
	var (
		chunk    []tuple.Relationship
		seen     = map[tuple.Ident]int{}
		imported int
		lastRev  = v.rev
		line     int
		chunkNo  int
		// chunkBytes approximates what the chunk adds to one store
		// transaction (forward and reverse key per relationship), so a chunk
		// of long relationships is cut before it could exceed the store's
		// transaction limit.
		chunkBytes int
	)
	// Chunks are written while the next is parsed, so parsing and validating
	// overlap with consensus and the store. Chunks always apply in order. A
	// writer that can submit without waiting (the leader's consensus node)
	// gets up to two chunks in flight, submitted from this goroutine one after
	// the other, so raft appends the next while the state machine applies the
	// previous. Any other writer gets one. imported counts the chunks before
	// the first failure; chunks after it that were already in flight are
	// waited for and counted in afterFailure.
	submitter, canSubmit := s.deps.Writer.(Submitter)
	inFlight := 1
	if canSubmit {
		inFlight = 2
	}
	var (
		queue        []*importChunk
		failed       error
		afterFailure int
	)
	settle := func(p *importChunk) {
		rev, err := p.wait()
		switch {
		case failed != nil:
			if err == nil {
				afterFailure += p.n
			}
		case err != nil:
			failed = err
			line = p.lastLine // report the line the failed chunk ended at
		default:
			imported += p.n
			lastRev = rev
		}
	}
	// wait settles chunks, oldest first, until at most keep are in flight.
	wait := func(keep int) error {
		for len(queue) > keep {
			p := queue[0]
			queue = queue[1:]
			settle(p)
		}
		return failed
	}
	flush := func() error {
		if len(chunk) == 0 {
			return nil
		}
		if err := wait(inFlight - 1); err != nil {
			return err
		}
		m := meta
		m.Import = chunk
		if meta.IdempotencyKey != "" {
			base := uuid.MustParse(meta.IdempotencyKey)
			m.IdempotencyKey = uuid.NewSHA1(base, fmt.Appendf(nil, "chunk-%d", chunkNo)).String()
		}
		p := &importChunk{n: len(chunk), lastLine: line}
		wctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
		if canSubmit {
			w, err := submitter.Submit(wctx, m)
			if err != nil {
				// Nothing was proposed: settle the chunks before this one,
				// then fail here (unless one of them failed first).
				cancel()
				if werr := wait(0); werr != nil {
					return werr
				}
				failed, line = err, p.lastLine
				return err
			}
			p.wait = func() (uint64, error) {
				defer cancel()
				res, err := w()
				return res.Revision, err
			}
		} else {
			done := make(chan struct{})
			var res MutationResult
			var err error
			go func() {
				defer close(done)
				defer cancel()
				res, err = s.deps.Writer.Write(wctx, m)
			}()
			p.wait = func() (uint64, error) {
				<-done
				return res.Revision, err
			}
		}
		queue = append(queue, p)
		chunk, chunkNo, chunkBytes = nil, chunkNo+1, 0
		clear(seen)
		return nil
	}
	partial := func(err error) error {
		// The chunks in flight settle first: imported counts them, and when
		// one failed, its error is the one to report (it came first).
		if werr := wait(0); werr != nil {
			err = s.writeError(werr)
		}
		status, body := httpError(err)
		if status == http.StatusInternalServerError {
			return err
		}
		d := map[string]any{"imported": imported, "line": line}
		if afterFailure > 0 {
			d["applied_after_failure"] = afterFailure
		}
		for k, x := range body.Details {
			d[k] = x
		}
		also := ""
		if afterFailure > 0 {
			also = fmt.Sprintf(", and %d of the chunk in flight after it", afterFailure)
		}
		return fail(err, d, "line %d: %s (the %d relationships before this chunk were imported%s; fix the line and import again from it, the retry is safe)", line, body.Message, imported, also)
	}
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
			var l ExportLine
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&l); err != nil {
				return partial(fail(ErrInvalidJSON, nil, "not a {\"relationship\": \"...\"} object: %v", err))
			}
			text = l.Relationship
		}
		r, err := s.parseRelationship("relationship", text)
		if err != nil {
			return partial(err)
		}
		if err := s.validateRelationship(v.schema, "relationship", r); err != nil {
			return partial(err)
		}
		if j, dup := seen[r.Ident()]; dup {
			return partial(argErr("relationship", "%s repeats line %d of the same chunk", r.Key(), j))
		}
		seen[r.Ident()] = line
		chunk = append(chunk, r)
		chunkBytes += 2*len(text) + 64
		if len(chunk) >= s.cfg.ImportBatchSize || chunkBytes >= importChunkBytes {
			if err := flush(); err != nil {
				return partial(s.writeError(err))
			}
		}
	}
	if err := sc.Err(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return partial(fail(ErrBodyTooLarge, map[string]any{"limit_bytes": mbe.Limit}, "import body is larger than %d bytes", mbe.Limit))
		}
		if errors.Is(err, bufio.ErrTooLong) {
			line++
			return partial(argErr("relationship", "line is longer than %d bytes", s.cfg.MaxRelationshipLen))
		}
		return partial(fail(ErrInvalidArgument, nil, "reading the body: %v", err))
	}
	if err := flush(); err != nil {
		return partial(s.writeError(err))
	}
	if err := wait(0); err != nil {
		return partial(s.writeError(err))
	}
	return ok(c, ImportResponse{WrittenAt: s.tokens.Encode(lastRev), Imported: imported})
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

// importChunk is an import chunk being written.
type importChunk struct {
	n        int                    // relationships in the chunk
	lastLine int                    // the body line the chunk ended at
	wait     func() (uint64, error) // blocks until written: its revision or error
}

// importChunkBytes caps the approximate size of one import chunk (two keys
// per relationship; the change record adds about half again); the store's
// transaction limit (15% of its 32 MiB memtable, ~4.8 MB) is above it.
const importChunkBytes = 2 << 20

// compileSchema compiles proposed schema text into a schema and its warnings,
// or an ErrInvalidSchema error listing every problem with its position.
func compileSchema(text string) (*schema.Schema, []string, error) {
	if strings.TrimSpace(text) == "" {
		return nil, nil, argErr("schema", "schema is empty; send the schema text")
	}
	sch, errs := compile.CompileText("schema.zed", text)
	var warnings []string
	var problems []map[string]any
	for _, e := range errs {
		if e.Severity == 1 {
			warnings = append(warnings, e.Error())
			continue
		}
		problems = append(problems, map[string]any{"line": e.Pos.Line, "column": e.Pos.Col, "message": e.Msg})
	}
	if errs.Err() != nil || sch == nil {
		return nil, warnings, fail(ErrInvalidSchema, map[string]any{"errors": problems}, "schema does not compile:\n%v", errs.Err())
	}
	return sch, warnings, nil
}

func (s *Server) handlePutSchema(c echo.Context) error {
	var in WriteSchemaRequest
	if err := s.decode(c, &in); err != nil {
		return err
	}
	var m Mutation
	if err := s.mutationMeta(c, &m, in.Reason, in.IdempotencyKey); err != nil {
		return err
	}
	next, warnings, err := compileSchema(in.Schema)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	v, err := s.latest(ctx)
	if err != nil {
		return err
	}
	defer v.snap.Close()
	if v.schema != nil {
		inUse, err := orphansInUse(ctx, v.snap, v.schema, next)
		if err != nil {
			return err
		}
		if len(inUse) > 0 {
			return fail(ErrUnsafeSchemaChange, map[string]any{"in_use": inUse},
				"the new schema would orphan stored relationships: %s; delete those relationships first (POST /v1/relationships/delete), then apply the schema",
				strings.Join(inUse, ", "))
		}
	}
	m.Schema = &storage.SchemaRecord{Text: next.Text, Hash: next.Hash}
	res, err := s.deps.Writer.Write(ctx, m)
	if err != nil {
		return s.writeError(err)
	}
	return ok(c, WriteSchemaResponse{WrittenAt: s.tokens.Encode(res.Revision), Hash: next.Hash, Warnings: warnings})
}

func (s *Server) handleDiffSchema(c echo.Context) error {
	var in DiffSchemaRequest
	if err := s.decode(c, &in); err != nil {
		return err
	}
	next, warnings, err := compileSchema(in.Schema)
	if err != nil {
		return err
	}
	v, err := s.latest(c.Request().Context())
	if err != nil {
		return err
	}
	defer v.snap.Close()
	return ok(c, DiffSchemaResponse{Changes: diffSchemas(v.schema, next), Warnings: warnings, ReadAt: v.token})
}
