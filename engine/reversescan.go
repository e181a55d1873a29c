package engine

import (
	"context"
	"iter"

	"github.com/trellis-authz/trellis/tuple"
)

// The reverse walk of a lookup reads, for each fact it reaches, the
// relationships that name the fact's object (or subject set) in several
// relations: a user is named by a dozen relations of the schema, a team's
// members by every relation that allows team#member. Read one by one, that
// is a store iterator (and a seek) per relation; a reader that can list
// every relationship naming a subject in one scan (storage.Snapshot: one
// reverse-index prefix) is read once per subject instead, and the
// relationships are sent to the edges that want them.

// subjectScanner lists every live relationship naming a subject, in one
// scan. storage.Snapshot implements it.
type subjectScanner interface {
	SubjectRelationships(ctx context.Context, subject tuple.SubjectRef) iter.Seq2[tuple.Relationship, error]
}

// scanGroup is the edges of one fact kind that read relationships naming
// the same subject (the fact's object with subjRel): targets maps each
// (resource type, relation) they read to the edges reading it.
type scanGroup struct {
	subjRel string
	targets map[typeRel][]revEdge
}

// groupScans groups the reading edges (edgeSet, edgeArrow) of facts of
// relation rel by the subject they read.
func groupScans(edges []revEdge, rel string) []scanGroup {
	var groups []scanGroup
	for _, e := range edges {
		var subjRel string
		switch e.kind {
		case edgeSet:
			subjRel = rel
		case edgeArrow:
			subjRel = e.subjRel
		default:
			continue
		}
		i := 0
		for i < len(groups) && groups[i].subjRel != subjRel {
			i++
		}
		if i == len(groups) {
			groups = append(groups, scanGroup{subjRel: subjRel, targets: map[typeRel][]revEdge{}})
		}
		k := typeRel{e.resType, e.relation}
		groups[i].targets[k] = append(groups[i].targets[k], e)
	}
	return groups
}

// seedTargets lists, for a subject type, the relations that allow it plain
// (plain) and as a wildcard (wild), as seeds of a walk from a subject of
// that type: each maps to itself as the fact it makes.
type seedTargets struct {
	plain, wild map[typeRel][]revEdge
}

// naming feeds fn every live relationship naming subj whose (resource type,
// relation) is one of targets, with the edges that want it: one scan of
// the subject when the reader can and more than one target is wanted,
// else one scan per target.
func (q *query) naming(ctx context.Context, subj tuple.SubjectRef, targets map[typeRel][]revEdge, fn func(r tuple.Relationship, edges []revEdge) error) error {
	if len(targets) == 0 {
		return nil
	}
	if sc, ok := q.v.Reader.(subjectScanner); ok && len(targets) > 1 {
		for r, err := range sc.SubjectRelationships(ctx, subj) {
			if err != nil {
				return err
			}
			if edges, ok := targets[typeRel{r.Resource.Type, r.Relation}]; ok && !r.ExpiredAt(q.now) {
				if err := fn(r, edges); err != nil {
					return err
				}
			}
		}
		return nil
	}
	for k, edges := range targets {
		for r, err := range q.v.Reader.Resources(ctx, subj, k.typ, k.rel) {
			if err != nil {
				return err
			}
			if r.ExpiredAt(q.now) {
				continue
			}
			if err := fn(r, edges); err != nil {
				return err
			}
		}
	}
	return nil
}

// reaching returns the fact kinds (type, relation or permission) from which
// the walk can reach target: only their facts are worth expanding in a
// lookup of target. Facts of other kinds are still recorded (the confirming
// checks use what the walk learned) but not followed: in a lookup of
// dataset#read, the facts about fields, models and deployments that the
// user's teams lead to would cost a store scan each and find nothing.
func (g *reverseGraph) reaching(target typeRel) map[typeRel]bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if r, ok := g.reach[target]; ok {
		return r
	}
	pred := map[typeRel][]typeRel{}
	for k, edges := range g.from {
		for _, e := range edges {
			to := typeRel{e.resType, e.result}
			pred[to] = append(pred[to], k)
		}
	}
	// The target itself is expanded only when it can reach itself (a
	// folder's view through its parent's view): in a lookup of
	// dataset#read, a dataset's read leads to its fields' reads, a scan per
	// dataset that finds nothing the lookup wants.
	r := map[typeRel]bool{}
	queue := []typeRel{target}
	for len(queue) > 0 {
		k := queue[0]
		queue = queue[1:]
		for _, p := range pred[k] {
			if !r[p] {
				r[p] = true
				queue = append(queue, p)
			}
		}
	}
	if g.reach == nil {
		g.reach = map[typeRel]map[typeRel]bool{}
	}
	g.reach[target] = r
	return r
}
