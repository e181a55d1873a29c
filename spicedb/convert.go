package spicedb

import (
	"encoding/json"
	"fmt"
	"time"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/trellis-authz/trellis/service"
	"github.com/trellis-authz/trellis/tuple"
	"github.com/trellis-authz/trellis/wire"
)

// Conversions between SpiceDB's messages and Trellis's wire types. What a
// request means (names, limits, tokens) is the service's to check; these
// only change the shape, and a message that has no Trellis shape (a missing
// required message) is refused here with the field it lacks.

// ellipsis is SpiceDB's explicit "no relation" subject relation.
const ellipsis = "..."

func argErr(field, format string, args ...any) error {
	return service.Fail(service.ErrInvalidArgument, map[string]any{"field": field}, format, args...)
}

// object renders a reference as "type:id"; field names it in errors.
func object(o *v1.ObjectReference, field string) (string, error) {
	if o == nil {
		return "", argErr(field, "%s is required: give {object_type, object_id}", field)
	}
	return o.GetObjectType() + ":" + o.GetObjectId(), nil
}

// subject renders a subject reference as "type:id" or "type:id#relation"
// (SpiceDB's "..." relation is the plain subject).
func subject(s *v1.SubjectReference, field string) (string, error) {
	if s == nil {
		return "", argErr(field, "%s is required: give {object: {object_type, object_id}, optional_relation}", field)
	}
	o, err := object(s.GetObject(), field+".object")
	if err != nil {
		return "", err
	}
	if r := s.GetOptionalRelation(); r != "" && r != ellipsis {
		return o + "#" + r, nil
	}
	return o, nil
}

// contextJSON renders a caveat context struct as JSON (nil for none).
func contextJSON(s *structpb.Struct) (json.RawMessage, error) {
	if s == nil || len(s.GetFields()) == 0 {
		return nil, nil
	}
	b, err := s.MarshalJSON()
	if err != nil {
		return nil, argErr("context", "context is not valid JSON: %v", err)
	}
	return b, nil
}

// consistency converts SpiceDB's consistency (nil: minimize latency).
func consistency(c *v1.Consistency) *wire.Consistency {
	switch r := c.GetRequirement().(type) {
	case *v1.Consistency_FullyConsistent:
		return &wire.Consistency{Mode: wire.FullyConsistent}
	case *v1.Consistency_AtLeastAsFresh:
		return &wire.Consistency{Mode: wire.AtLeastAsFresh, Token: r.AtLeastAsFresh.GetToken()}
	case *v1.Consistency_AtExactSnapshot:
		return &wire.Consistency{Mode: wire.AtExactSnapshot, Token: r.AtExactSnapshot.GetToken()}
	}
	return &wire.Consistency{Mode: wire.MinimizeLatency}
}

func zedToken(t string) *v1.ZedToken {
	if t == "" {
		return nil
	}
	return &v1.ZedToken{Token: t}
}

// relationship converts a SpiceDB relationship to Trellis's.
func relationship(r *v1.Relationship, field string) (tuple.Relationship, error) {
	if r == nil {
		return tuple.Relationship{}, argErr(field, "%s is required", field)
	}
	res := r.GetResource()
	if res == nil {
		return tuple.Relationship{}, argErr(field+".resource", "%s.resource is required: give {object_type, object_id}", field)
	}
	sub := r.GetSubject()
	if sub == nil {
		return tuple.Relationship{}, argErr(field+".subject", "%s.subject is required: give {object: {object_type, object_id}, optional_relation}", field)
	}
	if sub.GetObject() == nil {
		return tuple.Relationship{}, argErr(field+".subject.object", "%s.subject.object is required: give {object_type, object_id}", field)
	}
	rel := tuple.Relationship{
		Resource: tuple.ObjectRef{Type: res.GetObjectType(), ID: res.GetObjectId()},
		Relation: r.GetRelation(),
		Subject:  tuple.SubjectRef{Type: sub.GetObject().GetObjectType(), ID: sub.GetObject().GetObjectId(), Relation: sub.GetOptionalRelation()},
	}
	if rel.Subject.Relation == ellipsis {
		rel.Subject.Relation = ""
	}
	if c := r.GetOptionalCaveat(); c != nil {
		rel.Caveat = &tuple.Caveat{Name: c.GetCaveatName()}
		if ctx := c.GetContext(); ctx != nil && len(ctx.GetFields()) > 0 {
			b, err := ctx.MarshalJSON()
			if err != nil {
				return tuple.Relationship{}, argErr(field+".optional_caveat.context", "caveat context is not valid JSON: %v", err)
			}
			m, err := tuple.ParseContext(b)
			if err != nil {
				return tuple.Relationship{}, argErr(field+".optional_caveat.context", "%v", err)
			}
			rel.Caveat.Context = m
		}
	}
	if e := r.GetOptionalExpiresAt(); e != nil {
		if err := e.CheckValid(); err != nil {
			return tuple.Relationship{}, argErr(field+".optional_expires_at", "%s.optional_expires_at is not a valid time: %v; send a timestamp with nanos in [0, 1e9) between years 1 and 9999", field, err)
		}
		t := e.AsTime().UTC()
		rel.Expiration = &t
	}
	return rel, nil
}

// toRelationship converts a Trellis relationship to SpiceDB's.
func toRelationship(r tuple.Relationship) *v1.Relationship {
	out := &v1.Relationship{
		Resource: &v1.ObjectReference{ObjectType: r.Resource.Type, ObjectId: r.Resource.ID},
		Relation: r.Relation,
		Subject: &v1.SubjectReference{
			Object:           &v1.ObjectReference{ObjectType: r.Subject.Type, ObjectId: r.Subject.ID},
			OptionalRelation: r.Subject.Relation,
		},
	}
	if r.Caveat != nil {
		c := &v1.ContextualizedCaveat{CaveatName: r.Caveat.Name}
		if len(r.Caveat.Context) > 0 {
			if s, err := structpb.NewStruct(r.Caveat.Context); err == nil {
				c.Context = s
			}
		}
		out.OptionalCaveat = c
	}
	if r.Expiration != nil {
		out.OptionalExpiresAt = timestamppb.New(*r.Expiration)
	}
	return out
}

// parsedRelationship converts a relationship in Trellis's string syntax (as
// the services answer them) to SpiceDB's.
func parsedRelationship(s string) (*v1.Relationship, error) {
	r, err := tuple.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("relationship %q from the store does not parse: %w", s, err)
	}
	return toRelationship(r), nil
}

// filter converts a relationship filter (nil: every relationship).
func filter(f *v1.RelationshipFilter) tuple.Filter {
	if f == nil {
		return tuple.Filter{}
	}
	out := tuple.Filter{
		ResourceType:     f.GetResourceType(),
		ResourceID:       f.GetOptionalResourceId(),
		ResourceIDPrefix: f.GetOptionalResourceIdPrefix(),
		Relation:         f.GetOptionalRelation(),
	}
	if sf := f.GetOptionalSubjectFilter(); sf != nil {
		out.Subject = &tuple.SubjectFilter{Type: sf.GetSubjectType(), ID: sf.GetOptionalSubjectId()}
		if rf := sf.GetOptionalRelation(); rf != nil {
			rel := rf.GetRelation()
			if rel == ellipsis {
				rel = ""
			}
			out.Subject.Relation = &rel
		}
	}
	return out
}

// preconditions converts write and delete preconditions.
func preconditions(ps []*v1.Precondition) ([]wire.Precondition, error) {
	out := make([]wire.Precondition, 0, len(ps))
	for i, p := range ps {
		field := fmt.Sprintf("optional_preconditions[%d]", i)
		var op string
		switch p.GetOperation() {
		case v1.Precondition_OPERATION_MUST_MATCH:
			op = "must_match"
		case v1.Precondition_OPERATION_MUST_NOT_MATCH:
			op = "must_not_match"
		default:
			return nil, argErr(field+".operation", "%s.operation must be OPERATION_MUST_MATCH or OPERATION_MUST_NOT_MATCH, not %s", field, p.GetOperation())
		}
		if p.GetFilter() == nil {
			return nil, argErr(field+".filter", "%s.filter is required", field)
		}
		out = append(out, wire.Precondition{Op: op, Filter: filter(p.GetFilter())})
	}
	return out, nil
}

// permissionship maps a Trellis result to SpiceDB's check answer.
func permissionship(result string) v1.CheckPermissionResponse_Permissionship {
	switch result {
	case "allowed":
		return v1.CheckPermissionResponse_PERMISSIONSHIP_HAS_PERMISSION
	case "conditional":
		return v1.CheckPermissionResponse_PERMISSIONSHIP_CONDITIONAL_PERMISSION
	}
	return v1.CheckPermissionResponse_PERMISSIONSHIP_NO_PERMISSION
}

func lookupPermissionship(result string) v1.LookupPermissionship {
	if result == "conditional" {
		return v1.LookupPermissionship_LOOKUP_PERMISSIONSHIP_CONDITIONAL_PERMISSION
	}
	return v1.LookupPermissionship_LOOKUP_PERMISSIONSHIP_HAS_PERMISSION
}

func partial(missing []string) *v1.PartialCaveatInfo {
	if len(missing) == 0 {
		return nil
	}
	return &v1.PartialCaveatInfo{MissingRequiredContext: missing}
}

func expiresAt(t *time.Time) *timestamppb.Timestamp {
	if t == nil {
		return nil
	}
	return timestamppb.New(*t)
}

// tree converts an expand tree.
func tree(n *wire.ExpandNode) (*v1.PermissionRelationshipTree, error) {
	if n == nil {
		return nil, nil
	}
	obj, err := tuple.ParseObject(n.Resource)
	if err != nil {
		return nil, fmt.Errorf("expand node resource %q: %w", n.Resource, err)
	}
	out := &v1.PermissionRelationshipTree{
		ExpandedObject:   &v1.ObjectReference{ObjectType: obj.Type, ObjectId: obj.ID},
		ExpandedRelation: n.Relation,
	}
	var op v1.AlgebraicSubjectSet_Operation
	switch n.Kind {
	case "union":
		op = v1.AlgebraicSubjectSet_OPERATION_UNION
	case "intersection":
		op = v1.AlgebraicSubjectSet_OPERATION_INTERSECTION
	case "exclusion":
		op = v1.AlgebraicSubjectSet_OPERATION_EXCLUSION
	default: // leaf, nil, cycle: the direct subjects (none for nil and cycle)
		leaf := &v1.DirectSubjectSet{}
		for _, s := range n.Subjects {
			ref, err := tuple.ParseSubject(s.Subject)
			if err != nil {
				return nil, fmt.Errorf("expand subject %q: %w", s.Subject, err)
			}
			leaf.Subjects = append(leaf.Subjects, &v1.SubjectReference{
				Object: &v1.ObjectReference{ObjectType: ref.Type, ObjectId: ref.ID}, OptionalRelation: ref.Relation})
		}
		out.TreeType = &v1.PermissionRelationshipTree_Leaf{Leaf: leaf}
		return out, nil
	}
	set := &v1.AlgebraicSubjectSet{Operation: op}
	for _, c := range n.Children {
		ct, err := tree(c)
		if err != nil {
			return nil, err
		}
		set.Children = append(set.Children, ct)
	}
	out.TreeType = &v1.PermissionRelationshipTree_Intermediate{Intermediate: set}
	return out, nil
}
