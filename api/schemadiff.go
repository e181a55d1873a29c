package api

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/trellis-authz/trellis/schema"
	"github.com/trellis-authz/trellis/schema/compile"
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

// diffSchemas lists the changes from old (nil: none stored) to next, as the
// CLI's `trellis schema diff` does (both use compile.Diff).
func diffSchemas(old, next *schema.Schema) []SchemaChange {
	out := []SchemaChange{}
	for _, c := range compile.Diff(old, next) {
		out = append(out, SchemaChange{
			Kind:         strings.ReplaceAll(c.Kind.String(), " ", "_"),
			Target:       c.Path,
			Description:  c.Description,
			Breaking:     c.Breaking,
			AccessChange: c.AccessChange,
		})
	}
	return out
}
