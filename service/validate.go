package service

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/trellis-authz/trellis/schema"
	"github.com/trellis-authz/trellis/tuple"
)

func parseObject(field, v string) (tuple.ObjectRef, error) {
	if v == "" {
		return tuple.ObjectRef{}, argErr(field, "%s is required: an object such as \"dataset:claims\"", field)
	}
	o, err := tuple.ParseObject(v)
	if err != nil {
		return o, argErr(field, "%s: %v", field, err)
	}
	return o, nil
}

func parseSubject(field, v string) (tuple.SubjectRef, error) {
	if v == "" {
		return tuple.SubjectRef{}, argErr(field, "%s is required: a subject such as \"user:ana\" or \"team:ml#member\"", field)
	}
	o, err := tuple.ParseSubject(v)
	if err != nil {
		return o, argErr(field, "%s: %v", field, err)
	}
	return o, nil
}

func requireName(field, v string) error {
	if v == "" {
		return argErr(field, "%s is required", field)
	}
	if err := tuple.ValidateName(v); err != nil {
		return argErr(field, "%s: %v", field, err)
	}
	return nil
}

// parseContext decodes a request's caveat context, bounded in size.
func parseContext(cfg Config, field string, raw json.RawMessage) (map[string]any, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if len(raw) > cfg.MaxContextBytes {
		return nil, fail(ErrInvalidContext, map[string]any{"field": field, "limit_bytes": cfg.MaxContextBytes},
			"%s is %d bytes of JSON; at most %d are allowed", field, len(raw), cfg.MaxContextBytes)
	}
	if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '{' {
		return nil, fail(ErrInvalidContext, map[string]any{"field": field},
			"%s must be a JSON object of caveat parameters such as {\"purpose\": \"fraud-model\"}, not %s", field, truncate(string(raw), 40))
	}
	ctx, err := tuple.ParseContext(raw)
	if err != nil {
		return nil, fail(ErrInvalidContext, map[string]any{"field": field}, "%s must be a JSON object: %v", field, err)
	}
	return ctx, nil
}

// pageLimit checks a page size: 0 means the default (MaxPageSize).
func pageLimit(cfg Config, limit int) (int, error) {
	if limit < 0 || limit > cfg.MaxPageSize {
		return 0, argErr("limit", "limit is %d; it must be between 0 (the default, %d) and %d", limit, cfg.MaxPageSize, cfg.MaxPageSize)
	}
	if limit == 0 {
		return cfg.MaxPageSize, nil
	}
	return limit, nil
}

func checkIdempotencyKey(k string) error {
	if k == "" {
		return nil
	}
	if _, err := uuid.Parse(k); err != nil || len(k) != 36 {
		return argErr("idempotency_key", "idempotency_key %q is not a UUID; send e.g. %s", truncate(k, 64), uuid.NewString())
	}
	return nil
}

const maxReasonLen = 1024

func checkReason(r string) error {
	if len(r) > maxReasonLen {
		return argErr("reason", "reason is %d bytes; at most %d are allowed", len(r), maxReasonLen)
	}
	return nil
}

func definedTypes(sch *schema.Schema) string {
	names := slices.Clone(sch.Order)
	if len(names) > 20 {
		names = append(names[:20], "...")
	}
	return strings.Join(names, ", ")
}

// schemaType returns the definition of typ, or ErrUnknownType.
func schemaType(sch *schema.Schema, field, typ string) (*schema.Definition, error) {
	if sch == nil {
		return nil, fail(ErrNoSchema, nil, "no schema is stored at this revision; PUT /v1/schema first")
	}
	d, ok := sch.Definitions[typ]
	if !ok {
		return nil, fail(ErrUnknownType, map[string]any{"field": field, "type": typ},
			"%s: type %q is not defined in the schema (defined: %s)", field, typ, definedTypes(sch))
	}
	return d, nil
}

// schemaMember checks that typ has a relation or permission called name.
func schemaMember(sch *schema.Schema, field, typ, name string) error {
	d, err := schemaType(sch, field, typ)
	if err != nil {
		return err
	}
	if _, _, ok := d.Lookup(name); !ok {
		return fail(ErrUnknownRelation, map[string]any{"field": field, "type": typ, "name": name},
			"%s: %s has no relation or permission %q (it has: %s)", field, typ, name, strings.Join(d.Order, ", "))
	}
	return nil
}

// validateRelationship checks a relationship to be written against the schema:
// the relation exists and is not a permission (with API error codes naming
// what exists), then schema.ValidateRelationship (the applier's own rule:
// subject form, caveat and expiration traits, context keys), then the size and
// value types of the caveat context.
func validateRelationship(cfg Config, sch *schema.Schema, field string, r tuple.Relationship) error {
	d, err := schemaType(sch, field, r.Resource.Type)
	if err != nil {
		return err
	}
	rel, ok := d.Relations[r.Relation]
	if !ok {
		if _, isPerm := d.Permissions[r.Relation]; isPerm {
			return argErr(field, "%s: %s#%s is a permission; relationships are written to relations (%s has: %s)",
				field, d.Name, r.Relation, d.Name, strings.Join(relationNames(d), ", "))
		}
		return fail(ErrUnknownRelation, map[string]any{"field": field, "type": d.Name, "name": r.Relation},
			"%s: %s has no relation %q (relations: %s)", field, d.Name, r.Relation, strings.Join(relationNames(d), ", "))
	}
	if _, err := schemaType(sch, field+" subject", r.Subject.Type); err != nil {
		return err
	}
	// One rule for what may be stored: the applier runs the same
	// schema.ValidateRelationship, so the API never accepts what raft refuses.
	if err := sch.ValidateRelationship(r); err != nil {
		details := map[string]any{"field": field, "relation": d.Name + "#" + rel.Name}
		switch {
		case errors.Is(err, schema.ErrUnknownCaveat):
			details["caveat"] = r.Caveat.Name
			return fail(ErrUnknownType, details, "%s: %v", field, err)
		case errors.Is(err, schema.ErrUnknownCaveatParameter), errors.Is(err, schema.ErrInvalidContext):
			details["caveat"] = r.Caveat.Name
			var ce *schema.ContextError
			if errors.As(err, &ce) {
				details["parameter"], details["type"] = ce.Param, ce.Type
			}
			return fail(ErrInvalidContext, details, "%s: %v", field, err)
		}
		allowed := make([]string, len(rel.Allowed))
		for i, a := range rel.Allowed {
			allowed[i] = a.String()
		}
		details["allowed"] = allowed
		return fail(ErrSubjectNotAllowed, details, "%s: %s: %v", field, r.String(), err)
	}
	if r.Caveat != nil && len(r.Caveat.Context) > 0 {
		if n := len(tuple.FormatContext(r.Caveat.Context)); n > cfg.MaxContextBytes {
			return fail(ErrInvalidContext, map[string]any{"field": field, "limit_bytes": cfg.MaxContextBytes},
				"%s: caveat context is %d bytes; at most %d are allowed", field, n, cfg.MaxContextBytes)
		}
		// The value types were checked by ValidateRelationship (the one rule,
		// schema.Caveat.CheckContext); only the size is the service's limit.
	}
	return nil
}

func relationNames(d *schema.Definition) []string {
	var out []string
	for _, n := range d.Order {
		if _, ok := d.Relations[n]; ok {
			out = append(out, n)
		}
	}
	return out
}

// validateFilter checks a filter's syntax and, given a schema, its type and
// relation names.
func validateFilter(sch *schema.Schema, field string, f tuple.Filter) error {
	if err := f.Validate(); err != nil {
		return fail(ErrInvalidArgument, map[string]any{"field": field}, "%s: %v", field, err)
	}
	if sch == nil {
		return nil
	}
	if f.ResourceType != "" {
		if _, err := schemaType(sch, field+".resource_type", f.ResourceType); err != nil {
			return err
		}
		if f.Relation != "" {
			if err := schemaMember(sch, field+".relation", f.ResourceType, f.Relation); err != nil {
				return err
			}
		}
	}
	if f.Subject != nil {
		if _, err := schemaType(sch, field+".subject.type", f.Subject.Type); err != nil {
			return err
		}
	}
	return nil
}

// contextKeysKnown checks that every key of a request's caveat context is a
// parameter of some caveat in the schema: a misspelt key would otherwise be
// ignored, and the answer silently conditional or denied.
func contextKeysKnown(sch *schema.Schema, field string, ctx map[string]any) error {
	if len(ctx) == 0 || sch == nil {
		return nil
	}
	for _, k := range tuple.SortedContextKeys(ctx) {
		known := false
		for _, cv := range sch.Caveats {
			if _, ok := cv.Params[k]; ok {
				known = true
				break
			}
		}
		if !known {
			var params []string
			for _, name := range slices.Sorted(maps.Keys(sch.Caveats)) {
				params = append(params, sch.Caveats[name].ParamOrder...)
			}
			return fail(ErrInvalidContext, map[string]any{"field": field, "parameter": k},
				"%s: %q is not a parameter of any caveat in the schema (parameters: %s); check its spelling", field, k, strings.Join(params, ", "))
		}
	}
	return nil
}
