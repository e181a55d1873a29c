package service

import (
	"context"
	"strings"

	"github.com/trellis-authz/trellis/schema"
	"github.com/trellis-authz/trellis/schema/compile"
	"github.com/trellis-authz/trellis/schema/syntax"
	"github.com/trellis-authz/trellis/storage"
	"github.com/trellis-authz/trellis/wire"
)

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

// Schemas reads, replaces and compares the schema.
type Schemas struct {
	reads  *Reads
	writer Writer
}

// Get returns the schema in force at the requested revision.
func (s *Schemas) Get(ctx context.Context, cons *wire.Consistency) (wire.SchemaResponse, error) {
	v, err := s.reads.resolve(ctx, cons)
	if err != nil {
		return wire.SchemaResponse{}, err
	}
	defer v.snap.Close()
	if v.schema == nil {
		return wire.SchemaResponse{}, fail(ErrNoSchema, nil, "no schema is stored at revision %d; PUT /v1/schema first", v.rev)
	}
	return wire.SchemaResponse{Schema: v.schema.Text, Hash: v.schema.Hash, ReadAt: v.token}, nil
}

// Put replaces the schema, refusing a change that would orphan stored
// relationships.
func (s *Schemas) Put(ctx context.Context, c Caller, in wire.WriteSchemaRequest) (wire.WriteSchemaResponse, error) {
	var out wire.WriteSchemaResponse
	var m Mutation
	if err := mutationMeta(c, &m, in.Reason, in.IdempotencyKey); err != nil {
		return out, err
	}
	next, warnings, err := compileSchema(in.Schema)
	if err != nil {
		return out, err
	}
	v, err := s.reads.latest(ctx)
	if err != nil {
		return out, err
	}
	defer v.snap.Close()
	if v.schema != nil {
		inUse, err := orphansInUse(ctx, v.snap, v.schema, next)
		if err != nil {
			return out, err
		}
		if len(inUse) > 0 {
			return out, fail(ErrUnsafeSchemaChange, map[string]any{"in_use": inUse},
				"the new schema would orphan stored relationships: %s; delete those relationships first (POST /v1/relationships/delete), then apply the schema",
				strings.Join(inUse, ", "))
		}
	}
	m.Schema = &storage.SchemaRecord{Text: next.Text, Hash: next.Hash}
	res, err := s.writer.Write(ctx, m)
	if err != nil {
		return out, writeError(err)
	}
	return wire.WriteSchemaResponse{WrittenAt: s.reads.tokens.Encode(res.Revision), Hash: next.Hash, Warnings: warnings}, nil
}

// Diff compares a proposed schema with the stored one.
func (s *Schemas) Diff(ctx context.Context, in wire.DiffSchemaRequest) (wire.DiffSchemaResponse, error) {
	next, warnings, err := compileSchema(in.Schema)
	if err != nil {
		return wire.DiffSchemaResponse{}, err
	}
	v, err := s.reads.latest(ctx)
	if err != nil {
		return wire.DiffSchemaResponse{}, err
	}
	defer v.snap.Close()
	return wire.DiffSchemaResponse{Changes: diffSchemas(v.schema, next), Warnings: warnings, ReadAt: v.token}, nil
}

// Format returns a schema in the canonical layout (tabs, one member per
// line, comments kept; package syntax), as `trellis schema fmt` writes it.
// Only syntax errors stop it, each with its line and column; a schema that
// parses but would not compile (an unknown type, say) is formatted all the
// same, so a proposal can be tidied before it is fixed.
func (s *Schemas) Format(in wire.FormatSchemaRequest) (wire.FormatSchemaResponse, error) {
	if strings.TrimSpace(in.Schema) == "" {
		return wire.FormatSchemaResponse{}, argErr("schema", "schema is empty; send the schema text")
	}
	f, errs := syntax.Parse("schema.zed", []byte(in.Schema))
	if err := errs.Err(); err != nil {
		var problems []map[string]any
		for _, e := range errs {
			if e.Severity == syntax.SeverityError {
				problems = append(problems, map[string]any{"line": e.Pos.Line, "column": e.Pos.Col, "message": e.Msg})
			}
		}
		return wire.FormatSchemaResponse{}, fail(ErrInvalidSchema, map[string]any{"errors": problems},
			"schema does not parse, so it cannot be formatted; fix these and send it again:\n%v", err)
	}
	out := string(syntax.Format(f))
	return wire.FormatSchemaResponse{Formatted: out, Changed: out != in.Schema}, nil
}

// Stored reports whether a schema is stored at this node's newest applied
// revision; err says why no snapshot could be read.
func (s *Schemas) Stored(ctx context.Context) (bool, error) {
	v, err := s.reads.latest(ctx)
	if err != nil {
		return false, err
	}
	defer v.snap.Close()
	return v.schema != nil, nil
}
