package api

import (
	"encoding/json"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/trellis-authz/trellis/schema"
	"github.com/trellis-authz/trellis/tuple"
)

func argErr(field string, format string, args ...any) error {
	return fail(ErrInvalidArgument, map[string]any{"field": field}, format, args...)
}

func (s *Server) parseObject(field, v string) (tuple.ObjectRef, error) {
	if v == "" {
		return tuple.ObjectRef{}, argErr(field, "%s is required: an object such as \"dataset:claims\"", field)
	}
	o, err := tuple.ParseObject(v)
	if err != nil {
		return o, argErr(field, "%s: %v", field, err)
	}
	return o, nil
}

func (s *Server) parseSubject(field, v string) (tuple.SubjectRef, error) {
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
func (s *Server) parseContext(field string, raw json.RawMessage) (map[string]any, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if len(raw) > s.cfg.MaxContextBytes {
		return nil, fail(ErrInvalidContext, map[string]any{"field": field, "limit_bytes": s.cfg.MaxContextBytes},
			"%s is %d bytes of JSON; at most %d are allowed", field, len(raw), s.cfg.MaxContextBytes)
	}
	ctx, err := tuple.ParseContext(raw)
	if err != nil {
		return nil, fail(ErrInvalidContext, map[string]any{"field": field}, "%s must be a JSON object: %v", field, err)
	}
	return ctx, nil
}

// pageLimit checks a page size: 0 means the default (MaxPageSize).
func (s *Server) pageLimit(limit int) (int, error) {
	if limit < 0 || limit > s.cfg.MaxPageSize {
		return 0, argErr("limit", "limit is %d; it must be between 0 (the default, %d) and %d", limit, s.cfg.MaxPageSize, s.cfg.MaxPageSize)
	}
	if limit == 0 {
		return s.cfg.MaxPageSize, nil
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
func (s *Server) validateRelationship(sch *schema.Schema, field string, r tuple.Relationship) error {
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
		case errors.Is(err, schema.ErrUnknownCaveatParameter):
			details["caveat"] = r.Caveat.Name
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
		if n := len(tuple.FormatContext(r.Caveat.Context)); n > s.cfg.MaxContextBytes {
			return fail(ErrInvalidContext, map[string]any{"field": field, "limit_bytes": s.cfg.MaxContextBytes},
				"%s: caveat context is %d bytes; at most %d are allowed", field, n, s.cfg.MaxContextBytes)
		}
		// ValidateRelationship checked that the caveat exists and knows each
		// key; the value types are the API's to check (schema has no JSON).
		if err := checkContextTypes(field, sch.Caveats[r.Caveat.Name], r.Caveat.Context); err != nil {
			return err
		}
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

// checkContextTypes checks each context value against the caveat's declared
// parameter type.
func checkContextTypes(field string, cav *schema.Caveat, ctx map[string]any) error {
	keys := make([]string, 0, len(ctx))
	for k := range ctx {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		pt, ok := cav.Params[k]
		if !ok {
			return fail(ErrInvalidContext, map[string]any{"field": field, "caveat": cav.Name, "parameter": k},
				"%s: caveat %s has no parameter %q (parameters: %s)", field, cav.Name, k, strings.Join(cav.ParamOrder, ", "))
		}
		if !valueFits(pt, ctx[k]) {
			return fail(ErrInvalidContext, map[string]any{"field": field, "caveat": cav.Name, "parameter": k, "type": pt.String()},
				"%s: caveat %s parameter %q must be a %s; got %s", field, cav.Name, k, pt.String(), jsonKind(ctx[k]))
		}
	}
	return nil
}

// valueFits reports whether the JSON value v fits the parameter type t. A
// null fits only "any": stored, it would make every check reaching the
// relationship fail.
func valueFits(t schema.ParamType, v any) bool {
	if v == nil {
		return t.Name == "any"
	}
	switch t.Name {
	case "any":
		return true
	case "bool":
		_, ok := v.(bool)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "int":
		_, ok := v.(int64)
		return ok
	case "uint":
		i, ok := v.(int64)
		return ok && i >= 0
	case "double":
		switch v.(type) {
		case int64, float64:
			return true
		}
		return false
	case "bytes":
		_, ok := v.(string)
		return ok
	case "duration":
		s, ok := v.(string)
		if !ok {
			return false
		}
		_, err := time.ParseDuration(s)
		return err == nil
	case "timestamp":
		s, ok := v.(string)
		if !ok {
			return false
		}
		_, err := time.Parse(time.RFC3339Nano, s)
		return err == nil
	case "ipaddress":
		s, ok := v.(string)
		if !ok {
			return false
		}
		_, err := netip.ParseAddr(s)
		return err == nil
	case "list":
		l, ok := v.([]any)
		if !ok {
			return false
		}
		for _, e := range l {
			if t.Elem != nil && !valueFits(*t.Elem, e) {
				return false
			}
		}
		return true
	case "map":
		m, ok := v.(map[string]any)
		if !ok {
			return false
		}
		for _, e := range m {
			if t.Elem != nil && !valueFits(*t.Elem, e) {
				return false
			}
		}
		return true
	}
	return true
}

func jsonKind(v any) string {
	switch x := v.(type) {
	case bool:
		return "a boolean"
	case string:
		return "the string " + truncate(`"`+x+`"`, 40)
	case int64, float64:
		return "a number"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return "null"
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
