package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/trellis-authz/trellis/schema"
	"github.com/trellis-authz/trellis/tuple"
)

// Expand returns the tree of permission on resource: the permission's
// expression with every relation it names replaced by a leaf listing that
// relation's direct subjects (subject sets are listed, not expanded), and every
// arrow replaced by a node over the arrow's targets, each expanded in turn.
// Expired relationships are left out. A relation reached again on the same
// path (a cycle in data) becomes a node of kind "cycle" with no children.
func (e *Engine) Expand(ctx context.Context, v View, resource tuple.ObjectRef, permission string) (*ExpandNode, error) {
	if err := checkView(v); err != nil {
		return nil, err
	}
	if err := checkPermission(v.Schema, resource.Type, permission, "resource"); err != nil {
		return nil, err
	}
	x := &expander{e: e, v: v, now: e.clock()}
	if sr, ok := v.Reader.(Suspensions); ok {
		set, err := sr.Suspensions()
		if err != nil {
			return nil, err
		}
		x.susp = set
	}
	return x.expand(ctx, resource, permission, 0, nil)
}

type expander struct {
	e    *Engine
	v    View
	now  time.Time
	susp *tuple.SuspensionSet // nil: none (suspend.go)
}

func (x *expander) expand(ctx context.Context, obj tuple.ObjectRef, name string, depth int, path *pathNode) (*ExpandNode, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	node := &ExpandNode{Resource: obj.String(), Relation: name}
	if path.contains(obj, name) {
		node.Kind = "cycle"
		return node, nil
	}
	if depth > x.e.cfg.MaxDepth {
		return nil, fmt.Errorf("%w: more than %d nested steps expanding %s#%s", ErrDepthExceeded, x.e.cfg.MaxDepth, obj, name)
	}
	def := x.v.Schema.Definitions[obj.Type]
	if def == nil {
		return nil, fmt.Errorf("%w: type %q of %s is not defined in the schema", ErrUnknownType, obj.Type, obj)
	}
	r, p, ok := def.Lookup(name)
	if !ok {
		return nil, fmt.Errorf("%w: type %q has no relation or permission %q", ErrUnknownPermission, obj.Type, name)
	}
	if _, ok := x.susp.Lookup(tuple.SubjectRef{Type: obj.Type, ID: obj.ID, Relation: name}, x.now); ok {
		// A suspended subject set grants nothing: nothing to expand.
		node.Kind = "suspended"
		return node, nil
	}
	here := &pathNode{resource: obj, relation: name, parent: path}
	if r != nil {
		node.Kind = "leaf"
		for rel, err := range x.v.Reader.Subjects(ctx, obj, name, "") {
			if err != nil {
				return nil, err
			}
			if rel.ExpiredAt(x.now) {
				continue
			}
			if _, ok := x.susp.Lookup(rel.Subject, x.now); ok {
				continue // suspended subjects are left out
			}
			node.Subjects = append(node.Subjects, expandSubject(rel))
		}
		return node, nil
	}
	return x.expr(ctx, p.Expr, obj, name, depth, here)
}

func expandSubject(rel tuple.Relationship) ExpandSubject {
	s := ExpandSubject{Subject: rel.Subject.String(), Expiration: rel.Expiration}
	if rel.Caveat != nil {
		s.Caveat = rel.Caveat.Name
	}
	return s
}

func (x *expander) expr(ctx context.Context, ex schema.Expr, obj tuple.ObjectRef, name string, depth int, path *pathNode) (*ExpandNode, error) {
	node := &ExpandNode{Resource: obj.String(), Relation: name}
	var kids []schema.Expr
	switch ex := ex.(type) {
	case *schema.Union:
		node.Kind, kids = "union", ex.Children
	case *schema.Intersection:
		node.Kind, kids = "intersection", ex.Children
	case *schema.Exclusion:
		node.Kind, kids = "exclusion", []schema.Expr{ex.Base, ex.Subtract}
	case *schema.Nil:
		node.Kind = "nil"
		return node, nil
	case *schema.RelationRef:
		return x.expand(ctx, obj, ex.Name, depth+1, path)
	case *schema.Arrow:
		return x.arrow(ctx, ex, obj, depth, path)
	default:
		return nil, fmt.Errorf("engine: unknown expression node %T", ex)
	}
	for _, k := range kids {
		c, err := x.expr(ctx, k, obj, name, depth, path)
		if err != nil {
			return nil, err
		}
		node.Children = append(node.Children, c)
	}
	return node, nil
}

// arrow expands tupleset->computed into a "union" (or, for .all(), an "all")
// over the targets; each child carries the link that reached it in Via.
func (x *expander) arrow(ctx context.Context, a *schema.Arrow, obj tuple.ObjectRef, depth int, path *pathNode) (*ExpandNode, error) {
	node := &ExpandNode{Kind: "union", Resource: obj.String(), Relation: a.Tupleset + "->" + a.Computed}
	if a.Mode == schema.ArrowAll {
		node.Kind = "all"
		node.Relation = a.Tupleset + ".all(" + a.Computed + ")"
	}
	for rel, err := range x.v.Reader.Subjects(ctx, obj, a.Tupleset, "") {
		if err != nil {
			return nil, err
		}
		if rel.Subject.IsWildcard() || rel.ExpiredAt(x.now) {
			continue
		}
		target := rel.Subject.Object()
		d := x.v.Schema.Definitions[target.Type]
		if d == nil {
			continue
		}
		if _, _, ok := d.Lookup(a.Computed); !ok {
			continue
		}
		c, err := x.expand(ctx, target, a.Computed, depth+1, path)
		if err != nil {
			return nil, err
		}
		via := expandSubject(rel)
		c.Via = &via
		node.Children = append(node.Children, c)
	}
	return node, nil
}
