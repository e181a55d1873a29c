package engine

import (
	"context"
	"sync"

	"github.com/trellis-authz/trellis/tuple"
)

// A check asks many questions about one subject: is user:u the reader of the
// dataset, its steward, blocked from it, the admin of its project, suspended
// in its organization, in this team, in that one? Read one by one, each is a
// store read (a point read, or an index read per team the subject is in).
// Most subjects are named by a few dozen relationships at most. When the
// nested-group index needs them (or an arrow's target is to be ruled out,
// impossible.go), the query reads them all in one reverse scan and answers
// later point reads naming the subject from them too; after two groups
// asked about pair by pair it also reads, once, every group those
// relationships put the subject in at any depth (one up-closure scan per
// group the subject is directly in), so "is the subject in team T" costs no
// read either, and a relation holding several teams is answered in one pass
// (setsFromGroups).
//
// Both are bounded (maxIndexedMemberships relationships, maxAncestors
// groups); a subject named by more is read one question at a time, as
// before. Nothing here outlives the query: it reads one snapshot.

// ancAfter is how many groups a query asks the index about pair by pair
// (one point read for each of the subject's groups) before it reads every
// group of the subject instead (one scan for each of them): a check that
// asks about one or two groups costs no more than before, one that goes
// through many teams costs a scan per group of the subject in all.
const ancAfter = 2

// maxAncestors bounds the groups a query keeps for its subject (every group
// its direct groups are inside, at any depth).
const maxAncestors = 4096

// memberships is what a query has read of one subject: the relationships
// naming it (and its type's wildcard, when some relation allows one) and,
// with the index, the groups it is in at any depth.
type memberships struct {
	mu   sync.Mutex
	subj tuple.SubjectRef
	ok   bool // rels were read for subj
	asks int  // groups asked about pair by pair before anc was read
	rels []tuple.Relationship
	full bool // rels holds every one (not cut at maxIndexedMemberships)
	wild bool // rels includes those naming subj's type wildcard

	ancOK   bool // anc was read
	ancFull bool // anc is complete (not cut at maxAncestors)
	// anc maps a group (a subject set) to the relationships of rels that put
	// the subject in it through nested groups, each with whether a path
	// without caveats or expirations joins them.
	anc map[tuple.SubjectRef][]ancestorVia
}

type ancestorVia struct {
	rel   int // index into rels
	clean bool
}

// reset starts over for subj (CheckBulk and LookupSubjects ask about more
// than one subject in one query).
// m.mu is held.
func (m *memberships) reset(subj tuple.SubjectRef) {
	if m.subj != subj {
		m.subj, m.ok, m.rels, m.full, m.wild = subj, false, nil, false, false
		m.asks, m.ancOK, m.ancFull, m.anc = 0, false, false, nil
	}
}

// loadRels reads every live relationship naming m.subj (and its type's
// wildcard), at most maxIndexedMemberships of them (full false when there
// are more). m.mu is held.
func (q *query) loadRels(ctx context.Context, m *memberships, sc GroupIndex) error {
	subj := m.subj
	var rels []tuple.Relationship
	subjects := []tuple.SubjectRef{subj, {Type: subj.Type, ID: tuple.Wildcard}}
	wild := q.e.closedOf(q.v.Schema).wildcard(subj.Type)
	if !wild {
		subjects = subjects[:1] // no relation allows subj.Type:*
	}
	full := true
	for _, s := range subjects {
		for r, err := range sc.SubjectRelationships(ctx, s) {
			if err != nil {
				return err
			}
			if len(rels) == maxIndexedMemberships {
				full = false
				break
			}
			rels = append(rels, r)
		}
		if !full {
			break
		}
	}
	m.rels, m.full, m.wild, m.ok = rels, full, wild, true
	q.e.subjRelReads.Add(1)
	return nil
}

// relsOf makes q.members hold subj's relationships, reading them if the
// query has not. q.members.mu is held.
func (q *query) relsOf(ctx context.Context, subj tuple.SubjectRef) error {
	m := &q.members
	m.reset(subj)
	if m.ok {
		return nil
	}
	return q.loadRels(ctx, m, q.gi)
}

// exact reads res#rel@subj: from the subject's relationships when the query
// has read them all for another reason (the nested groups, an arrow's
// target), else from the store. It does not read them itself: on a store
// in SSTables a point read that misses is a bloom filter, and a scan of the
// subject's relationships a seek in every table (on the wide preset that
// made checks a third slower). Only with the nested-group index: without
// it (an old revision, Config.NoGroupIndex) every question is its own read,
// the reference the differential tests compare with.
func (q *query) exact(ctx context.Context, res tuple.ObjectRef, rel string, subj tuple.SubjectRef) (tuple.Relationship, bool, error) {
	if subj.Relation != "" || q.gi == nil {
		// Without the index at this revision (or with Config.NoGroupIndex)
		// the reference path: one read per question.
		return q.v.Reader.Relationship(ctx, res, rel, subj)
	}
	m := &q.members
	m.mu.Lock()
	// The relationships read for m.subj hold its wildcard's too (m.wild).
	kept := m.ok && m.full && (subj == m.subj || subj.IsWildcard() && m.wild && m.subj.Type == subj.Type && m.subj.Relation == "")
	if !kept {
		m.mu.Unlock()
		return q.v.Reader.Relationship(ctx, res, rel, subj)
	}
	defer m.mu.Unlock()
	for _, r := range m.rels {
		if r.Relation == rel && r.Resource == res && r.Subject == subj {
			return r, true, nil
		}
	}
	return tuple.Relationship{}, false, nil
}

// ancestors returns, for a plain subject, its relationships (full: all of
// them) and the groups they put it in at any depth through nested groups
// (see memberships.anc), reading the index once per query: one up-closure
// scan for each relationship whose subject set some relation allows as a
// subject set. known is false when the groups are too many to keep, or
// (unless now) before ancAfter groups were asked about: ask the index pair
// by pair.
func (q *query) ancestors(ctx context.Context, subj tuple.SubjectRef, now bool) (anc map[tuple.SubjectRef][]ancestorVia, rels []tuple.Relationship, full, known bool, err error) {
	m := &q.members
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := q.relsOf(ctx, subj); err != nil || !m.full {
		return nil, m.rels, false, false, err
	}
	if !m.ancOK && m.asks < ancAfter && !now {
		// Pair by pair first: a point read that misses is cheap (a bloom
		// filter), and most checks ask about a group or two.
		m.asks++
		return nil, m.rels, true, false, nil
	}
	if !m.ancOK {
		closed := q.e.closedOf(q.v.Schema)
		anc := map[tuple.SubjectRef][]ancestorVia{}
		n, complete := 0, true
		for i, r := range m.rels {
			if !closed.nested(r.Resource.Type, r.Relation) {
				continue // nothing holds this relation as a subject set: no closure
			}
			set := tuple.SubjectRef{Type: r.Resource.Type, ID: r.Resource.ID, Relation: r.Relation}
			err := q.gi.EachGroupAncestor(ctx, set, func(a tuple.SubjectRef, clean bool) bool {
				if n == maxAncestors {
					complete = false
					return false
				}
				n++
				anc[a] = append(anc[a], ancestorVia{rel: i, clean: clean})
				return true
			})
			if err != nil {
				return nil, nil, false, false, err
			}
			if !complete {
				break
			}
		}
		m.anc, m.ancFull, m.ancOK = anc, complete, true
		q.e.ancReads.Add(1)
	}
	return m.anc, m.rels, true, m.ancFull, nil
}

// setsFromGroups answers whether subj is in any of sets' subject sets (the
// subject-set relationships of one relation, two or more, as direct read
// them) from the subject's relationships and groups, read once per query:
// no check, and no index read, per set. Each set contributes its
// relationship's caveat and the subject's membership: its own relationship
// in the set, or one in a group inside it (through clean edges only). ok
// is false when it cannot answer exactly (a set through a permission, a
// path with a caveat or an expiration, too many groups, suspended sets):
// the sets are then checked one by one.
func (q *query) setsFromGroups(ctx context.Context, sets []tuple.Relationship, subj tuple.SubjectRef, path *pathNode) (outcome, bool, error) {
	if q.gi == nil || q.explain || q.watch != nil || q.susp.sets || subj.Relation != "" || subj.IsWildcard() || len(sets) < 2 {
		return outcome{}, false, nil
	}
	anc, rels, full, known, err := q.ancestors(ctx, subj, true)
	if err != nil || !full || !known {
		return outcome{}, false, err
	}
	closed := q.e.closedOf(q.v.Schema)
	o := denied
	for _, sr := range sets {
		set := sr.Subject
		d := q.v.Schema.Definitions[set.Type]
		if d == nil || d.Relations[set.Relation] == nil || !closed.pure(set.Type, set.Relation) {
			return outcome{}, false, nil
		}
		c, err := q.caveat(ctx, sr)
		if err != nil {
			return outcome{}, false, err
		}
		if c.res == Denied {
			continue
		}
		in := denied
		for _, m := range rels {
			if m.Resource.Type != set.Type || m.Resource.ID != set.ID || m.Relation != set.Relation || m.ExpiredAt(q.now) {
				continue
			}
			if m.Subject.IsWildcard() && !allowsWildcard(d.Relations[set.Relation], subj.Type) {
				continue
			}
			mc, err := q.caveat(ctx, m)
			if err != nil {
				return outcome{}, false, err
			}
			in = or(in, mc)
		}
		via, ambiguous, err := q.throughVias(ctx, set, subj, rels, anc[set])
		switch {
		case err != nil:
			return outcome{}, false, err
		case ambiguous && via.res != Allowed:
			return outcome{}, false, nil
		}
		in = or(in, via)
		if o = or(o, and(c, in)); o.res == Allowed {
			break
		}
	}
	q.noteSubjectReads(path, subj, true)
	q.e.setsAnswered.Add(1)
	q.e.idxAnswered.Add(1)
	return o, true, nil
}
