package engine

import (
	"context"
	"iter"
	"sync"

	"github.com/trellis-authz/trellis/schema"
	"github.com/trellis-authz/trellis/tuple"
)

// GroupIndex is what the engine uses of a store's nested-group index (ADR
// 0010; storage.Snapshot implements it). When the View's Reader implements it
// and GroupIndexed is true, a check of a relation that holds subject sets
// (team#member in team#member, at any depth) is answered from the subject's
// own relationships and one index read for each of them, instead of a walk
// down every nested group.
type GroupIndex interface {
	// GroupIndexed reports whether the index is complete at the Reader's revision.
	GroupIndexed() bool
	// GroupCovers reports whether the index keeps group's closure (it does
	// for sets that are members of some set, such as team#member) and
	// whether group holds any subject set.
	GroupCovers(ctx context.Context, group tuple.SubjectRef) (covered, holdsSets bool, err error)
	// GroupContains reports whether subject set member is inside subject set
	// group at some depth of subject-set relationships (found), and whether a
	// path without caveats or expirations joins them (clean); complete for a
	// group GroupCovers.
	GroupContains(ctx context.Context, group, member tuple.SubjectRef) (found, clean bool, err error)
	// SubjectRelationships yields every live relationship naming subject.
	SubjectRelationships(ctx context.Context, subject tuple.SubjectRef) iter.Seq2[tuple.Relationship, error]
	// EachGroupAncestor calls fn with every subject set that holds member
	// at some depth, and whether a clean path joins them, until fn returns
	// false: the pairs GroupContains answers, from member's side.
	EachGroupAncestor(ctx context.Context, member tuple.SubjectRef, fn func(set tuple.SubjectRef, clean bool) bool) error
}

// maxIndexedMemberships bounds the relationships of a subject the index path
// reads one by one: a subject named by more (a user in 5,000 groups) is
// checked by the walk, which reads only the groups on the way.
const maxIndexedMemberships = 64

// GroupIndexStats returns how many relation checks the nested-group index
// answered and how many it left to the walk (a caveated or expiring
// relationship on the way, a relation whose subject sets reach a permission,
// a subject named by too many relationships).
func (e *Engine) GroupIndexStats() (answered, fallbacks uint64) {
	return e.idxAnswered.Load(), e.idxFallbacks.Load()
}

// indexed returns the group index of v when the engine may use it.
func (e *Engine) indexed(v View) GroupIndex {
	if e.cfg.NoGroupIndex {
		return nil
	}
	gi, ok := v.Reader.(GroupIndex)
	if !ok || !gi.GroupIndexed() {
		return nil
	}
	return gi
}

// directIndexed answers whether a plain subject is in res#r through the
// subject sets res#r holds (direct has read the relationship naming the
// subject and the wildcard): through exactly those of the subject's
// relationships whose subject set lies inside res#r. Each contributes its caveat when a
// clean path joins it (other paths to the same set only add that caveat and
// more, so they change nothing); one reached only through caveated or
// expiring relationships leaves the answer to the walk unless another one
// already allows. A denied or conditional answer is only given for a relation
// whose subject sets reach relations alone (a permission in between is
// evaluated by its expression, which the index does not see). decided is
// false when the walk must answer.
func (q *query) directIndexed(ctx context.Context, res tuple.ObjectRef, r *schema.Relation, subj tuple.SubjectRef, path *pathNode) (o outcome, decided bool, err error) {
	if !q.e.closedOf(q.v.Schema).nested(res.Type, r.Name) {
		// No relation allows res.Type#r as a subject set, so nothing holds
		// it and it has no closure: no need to ask.
		return outcome{}, false, nil
	}
	group := tuple.SubjectRef{Type: res.Type, ID: res.ID, Relation: r.Name}
	anc, rels, full, known, err := q.ancestors(ctx, subj, false)
	switch {
	case err != nil:
		return outcome{}, false, err
	case !full:
		// A subject named by this many relationships is checked by the
		// walk, which reads only the groups on the way.
		q.e.idxFallbacks.Add(1)
		return outcome{}, false, nil
	}
	if known && len(anc[group]) > 0 {
		// The subject is inside group through some of its relationships
		// (group is then covered): no index read.
		return q.indexedVia(ctx, res, r, subj, path, rels, anc[group])
	}
	if !q.held(path) {
		covered, holdsSets, err := q.gi.GroupCovers(ctx, group)
		switch {
		case err != nil:
			return outcome{}, false, err
		case !holdsSets:
			// res#r holds no subject set (a team without subteams): the reads
			// direct made decide, as the walk's empty read of its sets would.
			q.readSets(path, res, r.Name)
			q.e.idxAnswered.Add(1)
			return denied, true, nil
		case !covered:
			// No closure (nothing holds res#r): the walk takes the step to the
			// sets it holds, which have one.
			return outcome{}, false, nil
		}
	}
	if known {
		// Covered, and none of the subject's groups is inside it.
		return q.indexedVia(ctx, res, r, subj, path, rels, nil)
	}
	// Too many groups to keep: ask the index pair by pair.
	var vias []ancestorVia
	for i, m := range rels {
		set := tuple.SubjectRef{Type: m.Resource.Type, ID: m.Resource.ID, Relation: m.Relation}
		if set == group || m.ExpiredAt(q.now) {
			continue
		}
		found, clean, err := q.gi.GroupContains(ctx, group, set)
		if err != nil {
			return outcome{}, false, err
		}
		if found {
			vias = append(vias, ancestorVia{rel: i, clean: clean})
		}
	}
	return q.indexedVia(ctx, res, r, subj, path, rels, vias)
}

// held reports whether the set being checked at path was reached through a
// relationship naming it as a subject set (a relation's frame above it:
// dataset:d#reader@team:t#member leads to team:t#member). Such a set is held
// by a stored relationship at this revision, so the index keeps its
// closure: no need to read its counts (GroupCovers).
func (q *query) held(path *pathNode) bool {
	if path == nil || path.parent == nil {
		return false
	}
	up := path.parent.frame()
	if up == nil || up.relation == "" {
		return false
	}
	d := q.v.Schema.Definitions[up.resource.Type]
	return d != nil && d.Relations[up.relation] != nil
}

// indexedVia answers directIndexed for a covered group from vias, the
// subject's relationships (of rels) whose subject set is inside it.
func (q *query) indexedVia(ctx context.Context, res tuple.ObjectRef, r *schema.Relation, subj tuple.SubjectRef, path *pathNode, rels []tuple.Relationship, vias []ancestorVia) (o outcome, decided bool, err error) {
	q.noteSubjectReads(path, subj, true)
	group := tuple.SubjectRef{Type: res.Type, ID: res.ID, Relation: r.Name}
	o, ambiguous, err := q.throughVias(ctx, group, subj, rels, vias)
	switch {
	case err != nil:
		return outcome{}, false, err
	case o.res != Allowed && (ambiguous || !q.e.closedOf(q.v.Schema).pure(res.Type, r.Name)):
		q.e.idxFallbacks.Add(1)
		return outcome{}, false, nil
	}
	q.e.idxAnswered.Add(1)
	return o, true, nil
}

// throughVias is what vias (relationships of rels whose subject set lies
// inside group) make of subj's membership in group: each one joined by a
// clean path contributes its caveat; ambiguous reports one joined only
// through caveated or expiring edges (which the walk must follow unless
// another allowed). It stops at the first allow.
func (q *query) throughVias(ctx context.Context, group, subj tuple.SubjectRef, rels []tuple.Relationship, vias []ancestorVia) (o outcome, ambiguous bool, err error) {
	o = denied
	for _, v := range vias {
		m := rels[v.rel]
		if m.ExpiredAt(q.now) {
			continue
		}
		if m.Subject.IsWildcard() {
			d := q.v.Schema.Definitions[m.Resource.Type]
			if d == nil || d.Relations[m.Relation] == nil || !allowsWildcard(d.Relations[m.Relation], subj.Type) {
				continue // the walk reads a wildcard only where it is allowed
			}
		}
		if (tuple.SubjectRef{Type: m.Resource.Type, ID: m.Resource.ID, Relation: m.Relation}) == group {
			continue // the subject's own relationship in group: read directly
		}
		if !v.clean {
			ambiguous = true
			continue
		}
		c, err := q.caveat(ctx, m)
		if err != nil {
			return outcome{}, false, err
		}
		if o = or(o, c); o.res == Allowed {
			return o, ambiguous, nil
		}
	}
	return o, ambiguous, nil
}

// noteSubjectReads records, for the cache, that the answer at path came from
// all of subj's relationships (and its type wildcard's) and, with groups,
// from the nested-group index.
func (q *query) noteSubjectReads(path *pathNode, subj tuple.SubjectRef, groups bool) {
	if !q.track {
		return
	}
	q.noteRead(path, q.e.changes.subjectKey(subj))
	q.noteRead(path, q.e.changes.subjectKey(tuple.SubjectRef{Type: subj.Type, ID: tuple.Wildcard}))
	if groups {
		q.noteRead(path, q.e.changes.groupsKey())
	}
}

// closedRelations records, per schema, which relations' subject sets reach
// only relations (never a permission), at any depth, and which relations
// some relation allows as a subject set.
type closedRelations struct {
	s      *schema.Schema
	mu     sync.Mutex
	m      map[typeRel]bool
	asSets map[typeRel]bool
	wild   map[string]bool // types some relation allows as T:*
	// arrows: what an arrow's target can hold through (impossible.go).
	arrows map[*schema.Arrow]leafInfo
}

// wildcard reports whether some relation allows typ:*.
func (c *closedRelations) wildcard(typ string) bool {
	c.nested("", "") // fills wild
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.wild[typ]
}

// nested reports whether some relation of the schema allows typ#rel as a
// subject set.
func (c *closedRelations) nested(typ, rel string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.asSets == nil {
		c.asSets, c.wild = map[typeRel]bool{}, map[string]bool{}
		for _, d := range c.s.Definitions {
			for _, r := range d.Relations {
				for _, a := range r.Allowed {
					if a.Relation != "" {
						c.asSets[typeRel{a.Type, a.Relation}] = true
					}
					if a.Wildcard {
						c.wild[a.Type] = true
					}
				}
			}
		}
	}
	return c.asSets[typeRel{typ, rel}]
}

func (c *closedRelations) pure(typ, rel string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := typeRel{typ, rel}
	if v, ok := c.m[k]; ok {
		return v
	}
	seen := map[typeRel]bool{k: true}
	queue := []typeRel{k}
	ok := true
	for len(queue) > 0 && ok {
		n := queue[0]
		queue = queue[1:]
		d := c.s.Definitions[n.typ]
		r := d.Relations[n.rel]
		if d == nil || r == nil {
			ok = false
			break
		}
		for _, a := range r.Allowed {
			if a.Relation == "" {
				continue
			}
			next := typeRel{a.Type, a.Relation}
			if !seen[next] {
				seen[next] = true
				queue = append(queue, next)
			}
		}
	}
	c.m[k] = ok
	return ok
}

// closedOf returns the closedRelations of s, building it on first use.
func (e *Engine) closedOf(s *schema.Schema) *closedRelations {
	e.closedMu.Lock()
	defer e.closedMu.Unlock()
	if e.closed == nil || e.closed.s != s {
		e.closed = &closedRelations{s: s, m: map[typeRel]bool{}}
	}
	return e.closed
}
