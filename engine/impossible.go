package engine

import (
	"context"
	"slices"

	"github.com/trellis-authz/trellis/schema"
	"github.com/trellis-authz/trellis/tuple"
)

// An arrow fans out: project->barred reads the dataset's projects, then each
// project's organizations, then asks whether the subject is suspended in
// each. When the subject has no suspension anywhere, all of that finds
// nothing. So before an arrow is followed, the query asks whether the
// arrow's target could hold for the subject at all: a permission can only
// hold through the relations its expression names (through arrows too), and
// a relation of plain subjects only holds for a subject through a
// relationship naming it (or its type's wildcard). When every relation the
// target can hold through is of plain subjects, and none of the subject's
// own relationships (memberships, read once per query) is of one of them,
// the arrow is denied without a read. A relation that holds subject sets
// (team#member) may hold through nesting, so a target that reaches one is
// always followed.

// leafInfo is what a relation or permission can hold through: the relations
// of plain subjects it depends on (rels), or open when it depends on a
// relation that holds subject sets (or on a cycle, or a wildcard link).
type leafInfo struct {
	open bool
	rels []typeRel
}

func (l *leafInfo) merge(o leafInfo) {
	if o.open {
		l.open, l.rels = true, nil
	}
	if l.open {
		return
	}
	for _, r := range o.rels {
		if !slices.Contains(l.rels, r) {
			l.rels = append(l.rels, r)
		}
	}
}

// arrowLeaves returns what the target of arrow a (on objects of typ) can
// hold through, computed once per schema: the relations reachable from it
// through expressions and arrows. Reachability is exact on recursive
// permissions (a folder's view through its parent's view holds only
// through the viewers somewhere up the chain).
func (c *closedRelations) arrowLeaves(typ string, a *schema.Arrow) leafInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	if l, ok := c.arrows[a]; ok {
		return l
	}
	if c.arrows == nil {
		c.arrows = map[*schema.Arrow]leafInfo{}
	}
	var l leafInfo
	c.exprLeaves(typ, a, map[typeRel]bool{}, &l)
	c.arrows[a] = l
	return l
}

// leavesOf adds to l what typ#name can hold through; seen holds the names
// already visited. c.mu is held.
func (c *closedRelations) leavesOf(typ, name string, seen map[typeRel]bool, l *leafInfo) {
	k := typeRel{typ, name}
	if seen[k] || l.open {
		return
	}
	seen[k] = true
	d := c.s.Definitions[typ]
	if d == nil {
		return
	}
	switch r, p, ok := d.Lookup(name); {
	case !ok:
		// Holds nothing: the arrow's target has no such relation.
	case r != nil && holdsSubjectSets(r):
		l.merge(leafInfo{open: true})
	case r != nil:
		l.merge(leafInfo{rels: []typeRel{k}})
	default:
		c.exprLeaves(typ, p.Expr, seen, l)
	}
}

// exprLeaves adds to l what expression x on objects of typ can hold
// through. An intersection is treated as a union (it cannot hold where no
// operand can) and an exclusion as its base.
func (c *closedRelations) exprLeaves(typ string, x schema.Expr, seen map[typeRel]bool, l *leafInfo) {
	switch x := x.(type) {
	case *schema.Union:
		for _, ch := range x.Children {
			c.exprLeaves(typ, ch, seen, l)
		}
	case *schema.Intersection:
		for _, ch := range x.Children {
			c.exprLeaves(typ, ch, seen, l)
		}
	case *schema.Exclusion:
		c.exprLeaves(typ, x.Base, seen, l)
	case *schema.RelationRef:
		c.leavesOf(typ, x.Name, seen, l)
	case *schema.Arrow:
		d := c.s.Definitions[typ]
		if d == nil || d.Relations[x.Tupleset] == nil {
			return
		}
		for _, a := range d.Relations[x.Tupleset].Allowed {
			if a.Wildcard {
				l.merge(leafInfo{open: true})
				continue
			}
			c.leavesOf(a.Type, x.Computed, seen, l)
		}
	default:
		l.merge(leafInfo{open: true}) // an expression kind this analysis does not know
	}
}

// arrowCannotHold reports whether arrow a on res cannot hold for subj: its
// target can hold only through relations of plain subjects, and none of
// subj's relationships is of one of them. It reads the subject's
// relationships (once per query) and answers false whenever it cannot be
// sure: the arrow is then evaluated.
func (q *query) arrowCannotHold(ctx context.Context, a *schema.Arrow, res tuple.ObjectRef, subj tuple.SubjectRef, path *pathNode) (bool, error) {
	if q.gi == nil || q.explain || q.watch != nil || subj.Relation != "" || subj.IsWildcard() {
		return false, nil
	}
	l := q.e.closedOf(q.v.Schema).arrowLeaves(res.Type, a)
	if l.open {
		return false, nil
	}
	m := &q.members
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := q.relsOf(ctx, subj); err != nil || !m.full {
		return false, err
	}
	for _, r := range m.rels {
		if slices.Contains(l.rels, typeRel{r.Resource.Type, r.Relation}) {
			return false, nil
		}
	}
	q.noteSubjectReads(path, subj, false)
	q.e.arrowsDenied.Add(1)
	return true, nil
}
