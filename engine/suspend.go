package engine

import (
	"time"

	"github.com/trellis-authz/trellis/tuple"
)

// Suspensions is implemented by Readers that store suspended subjects
// (storage.Snapshot; docs/suspension.md). Every query consults them before
// anything else:
//
//   - a suspended subject (user:eve, or a subject set team:ml#member asked
//     about as the subject) has no permission at all: Check denies,
//     LookupResources finds nothing, LookupSubjects leaves it out (and lists
//     it among a wildcard's exclusions);
//   - a suspended subject set grants nothing through itself: every check of
//     membership in it, at any depth (a relationship pointing at the set, an
//     arrow or computed relation reaching it), is denied, so paths through
//     it are cut; Expand shows it as a "suspended" node and leaves it out of
//     the leaves.
//
// Suspensions returns the set stored at the Reader's revision (nil when
// empty); a suspension is in force while tuple.Suspension.Active at the
// query's clock.
type Suspensions interface {
	Suspensions() (*tuple.SuspensionSet, error)
}

// suspensions is what one query knows of them.
type suspensions struct {
	set  *tuple.SuspensionSet // nil: none
	err  error                // reading them failed: every query fails
	sets bool                 // some subject set is suspended: cut paths through it
}

// loadSuspensions reads the view's suspensions. While a subject set is
// suspended, results depend on it everywhere, so the query neither uses the
// cache nor the nested-group index (which would answer through the set) nor
// a lookup's reverse-walk facts; a suspension of plain subjects only is
// decided at the root, before any of them.
func (q *query) loadSuspensions() {
	sr, ok := q.v.Reader.(Suspensions)
	if !ok {
		return
	}
	q.susp.set, q.susp.err = sr.Suspensions()
	if q.susp.set.HasSets(q.now) {
		q.susp.sets = true
		q.uncached = true
		q.gi = nil
	}
}

// SuspendedDenials counts the answers a suspension denied so far.
func (e *Engine) SuspendedDenials() uint64 { return e.suspDenials.Load() }

// suspendedAt decides check(res#rel, subj) by suspension: at the root, subj
// itself suspended; anywhere, res#rel a suspended subject set. It returns
// ok false when no suspension applies.
func (q *query) suspendedAt(res tuple.ObjectRef, rel string, subj tuple.SubjectRef, root bool) (outcome, bool, error) {
	if q.susp.set == nil && q.susp.err == nil {
		return outcome{}, false, nil
	}
	if q.susp.err != nil {
		return outcome{}, false, q.susp.err
	}
	var s tuple.Suspension
	found := false
	if root {
		s, found = q.susp.set.Lookup(subj, q.now)
	}
	if !found && q.susp.sets {
		s, found = q.susp.set.Lookup(tuple.SubjectRef{Type: res.Type, ID: res.ID, Relation: rel}, q.now)
	}
	if !found {
		return outcome{}, false, nil
	}
	q.e.suspDenials.Add(1)
	o := denied
	if q.explain {
		o.trace = suspendedTrace(res, rel, subj, s)
	}
	return o, true, nil
}

func suspendedTrace(res tuple.ObjectRef, rel string, subj tuple.SubjectRef, s tuple.Suspension) *Trace {
	d := map[string]string{"suspended": s.Subject.String(), "reason": s.Reason, "since": s.Since.UTC().Format(time.RFC3339)}
	if s.Principal != "" {
		d["by"] = s.Principal
	}
	if s.Until != nil {
		d["until"] = s.Until.UTC().Format(time.RFC3339)
	}
	return &Trace{Kind: "suspended", Resource: res.String(), Relation: rel, Subject: subj.String(), Result: Denied.String(), Detail: d}
}

// subjectSuspended reports whether subj has a suspension in force (a
// lookup's subject, or a subject LookupSubjects found).
func (q *query) subjectSuspended(subj tuple.SubjectRef) bool {
	_, ok := q.susp.set.Lookup(subj, q.now)
	return ok
}

// suspendedOfType lists the IDs of subjects of typ (with relation rel)
// suspended now, for a wildcard's exclusions.
func (q *query) suspendedOfType(typ, rel string) []string {
	var ids []string
	for _, s := range q.susp.set.All() {
		if s.Subject.Type == typ && s.Subject.Relation == rel && s.Active(q.now) {
			ids = append(ids, s.Subject.ID)
		}
	}
	return ids
}
