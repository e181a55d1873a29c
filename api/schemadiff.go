package api

import (
	"context"
	"fmt"
	"reflect"
	"slices"

	"github.com/trellis-authz/trellis/schema"
	"github.com/trellis-authz/trellis/tuple"
)

// removal is something a new schema drops that stored relationships may use.
type removal struct {
	name   string       // "dataset#reader", "team", "dataset#reader@team#member"
	filter tuple.Filter // selects the relationships that use it
	// trait, when set, further narrows matches (caveat or expiration traits).
	trait func(tuple.Relationship) bool
}

func (r removal) used(ctx context.Context, snap Snapshot) (bool, error) {
	for rel, err := range snap.ReadAll(ctx, r.filter) {
		if err != nil {
			return false, err
		}
		if r.trait == nil || r.trait(rel) {
			return true, nil
		}
	}
	return false, nil
}

// removals lists the types, relations and allowed subjects of old that next
// drops.
func removals(old, next *schema.Schema) []removal {
	var out []removal
	for _, name := range old.Order {
		od := old.Definitions[name]
		nd, kept := next.Definitions[name]
		if !kept {
			out = append(out,
				removal{name: name, filter: tuple.Filter{ResourceType: name}},
				removal{name: name + " (as a subject)", filter: tuple.Filter{Subject: &tuple.SubjectFilter{Type: name}}})
			continue
		}
		for _, rn := range od.Order {
			or, ok := od.Relations[rn]
			if !ok {
				continue
			}
			nr, ok := nd.Relations[rn]
			if !ok {
				out = append(out, removal{name: name + "#" + rn, filter: tuple.Filter{ResourceType: name, Relation: rn}})
				continue
			}
			for _, a := range or.Allowed {
				if slices.Contains(nr.Allowed, a) {
					continue
				}
				sf := &tuple.SubjectFilter{Type: a.Type}
				rel := a.Relation
				sf.Relation = &rel
				if a.Wildcard {
					sf.ID = tuple.Wildcard
				}
				a := a
				out = append(out, removal{
					name:   fmt.Sprintf("%s#%s allowing %s", name, rn, a.String()),
					filter: tuple.Filter{ResourceType: name, Relation: rn, Subject: sf},
					trait: func(r tuple.Relationship) bool {
						if a.Wildcard != r.Subject.IsWildcard() {
							return false
						}
						// Still allowed by another alternative of the new relation?
						for _, b := range nr.Allowed {
							if b.Type == r.Subject.Type && b.Wildcard == r.Subject.IsWildcard() && b.Relation == r.Subject.Relation &&
								((r.Caveat == nil && b.Caveat == "") || (r.Caveat != nil && r.Caveat.Name == b.Caveat)) &&
								(r.Expiration == nil || b.Expiration) {
								return false
							}
						}
						return true
					},
				})
			}
		}
	}
	return out
}

// diffSchemas lists the changes from old (nil: none stored) to next.
func diffSchemas(old, next *schema.Schema) []SchemaChange {
	out := []SchemaChange{}
	if old == nil {
		old = &schema.Schema{Definitions: map[string]*schema.Definition{}, Caveats: map[string]*schema.Caveat{}}
	}
	add := func(kind, target, desc string, breaking bool) {
		out = append(out, SchemaChange{Kind: kind, Target: target, Description: desc, Breaking: breaking})
	}
	for _, name := range old.Order {
		if _, ok := next.Definitions[name]; !ok {
			add("type_removed", name, "definition "+name+" is removed", true)
		}
	}
	for _, name := range next.Order {
		nd := next.Definitions[name]
		od, ok := old.Definitions[name]
		if !ok {
			add("type_added", name, "definition "+name+" is added", false)
			continue
		}
		for _, m := range od.Order {
			if _, _, ok := nd.Lookup(m); ok {
				continue
			}
			if _, isRel := od.Relations[m]; isRel {
				add("relation_removed", name+"#"+m, "relation "+name+"#"+m+" is removed", true)
			} else {
				add("permission_removed", name+"#"+m, "permission "+name+"#"+m+" is removed", true)
			}
		}
		for _, m := range nd.Order {
			orel, operm, had := od.Lookup(m)
			nrel, nperm, _ := nd.Lookup(m)
			target := name + "#" + m
			switch {
			case !had && nrel != nil:
				add("relation_added", target, "relation "+target+" is added", false)
			case !had:
				add("permission_added", target, "permission "+target+" is added", false)
			case orel != nil && nrel != nil:
				for _, a := range orel.Allowed {
					if !slices.Contains(nrel.Allowed, a) {
						add("allowed_subject_removed", target, fmt.Sprintf("relation %s no longer allows %s", target, a.String()), true)
					}
				}
				for _, a := range nrel.Allowed {
					if !slices.Contains(orel.Allowed, a) {
						add("allowed_subject_added", target, fmt.Sprintf("relation %s now allows %s", target, a.String()), false)
					}
				}
			case operm != nil && nperm != nil:
				if !reflect.DeepEqual(operm.Expr, nperm.Expr) {
					add("permission_changed", target, "permission "+target+" has a new expression", false)
				}
			case orel != nil:
				add("relation_became_permission", target, target+" changes from a relation to a permission", true)
			default:
				add("permission_became_relation", target, target+" changes from a permission to a relation", false)
			}
		}
	}
	for _, name := range old.CaveatOrder {
		if _, ok := next.Caveats[name]; !ok {
			add("caveat_removed", name, "caveat "+name+" is removed", true)
		}
	}
	for _, name := range next.CaveatOrder {
		oc, ok := old.Caveats[name]
		nc := next.Caveats[name]
		switch {
		case !ok:
			add("caveat_added", name, "caveat "+name+" is added", false)
		case oc.Expression != nc.Expression || !reflect.DeepEqual(oc.Params, nc.Params):
			add("caveat_changed", name, "caveat "+name+" has new parameters or a new expression", !reflect.DeepEqual(oc.Params, nc.Params))
		}
	}
	return out
}
