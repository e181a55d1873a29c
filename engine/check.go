package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/trellis-authz/trellis/schema"
	"github.com/trellis-authz/trellis/tuple"
)

// Check answers whether req.Subject has req.Permission on req.Resource.
func (e *Engine) Check(ctx context.Context, v View, req CheckRequest) (CheckResult, error) {
	if err := checkView(v); err != nil {
		return CheckResult{}, err
	}
	if err := validateCheck(v.Schema, req); err != nil {
		return CheckResult{}, err
	}
	q := e.newQuery(v, req.Context, req.Explain)
	q.root = req.Resource
	q.watching(req.Watch)
	o, err := q.check(ctx, req.Resource, req.Permission, req.Subject, 0, nil)
	if err != nil {
		return CheckResult{}, err
	}
	r := o.result()
	if req.Watch != nil && o.res != Denied {
		r.Watched = req.Watch.specBits(o.via)
	}
	return r, nil
}

func validateCheck(s *schema.Schema, req CheckRequest) error {
	if err := checkPermission(s, req.Resource.Type, req.Permission, "resource"); err != nil {
		return err
	}
	return checkSubject(s, req.Subject)
}

func (o outcome) result() CheckResult {
	r := CheckResult{Result: o.res, Trace: o.trace}
	if o.res == Conditional {
		r.MissingContext = o.missing
	}
	if !o.exp.IsZero() {
		t := o.exp
		r.ExpiresAt = &t
	}
	return r
}

// pathNode is one step of the current evaluation path; the subject is the same
// along a path, so (resource, relation) identifies a sub-problem on it. A node
// with negation set marks instead the entry into the subtracted side of an
// exclusion; it names no sub-problem.
type pathNode struct {
	resource tuple.ObjectRef
	relation string
	negation bool
	parent   *pathNode

	// What the sub-problem read (see Changes), filled while it is evaluated
	// when the query tracks reads; its branches may add concurrently.
	mu   sync.Mutex
	deps deps
}

// frame returns the nearest sub-problem on the path: p itself, or the one a
// negation marker sits under.
func (p *pathNode) frame() *pathNode {
	for p != nil && p.negation {
		p = p.parent
	}
	return p
}

// The things a check reads, recorded for the sub-problem at path when the
// query tracks reads: one exact relationship, the subject sets of res#rel,
// all subjects of res#rel (see Changes).
func (q *query) readExact(path *pathNode, res tuple.ObjectRef, rel string, subj tuple.SubjectRef) {
	if q.track {
		q.noteRead(path, q.e.changes.exactKey(res, rel, subj))
	}
}

func (q *query) readSets(path *pathNode, res tuple.ObjectRef, rel string) {
	if q.track {
		q.noteRead(path, q.e.changes.setKey(kindSubjectSets, res, rel))
	}
}

func (q *query) readAll(path *pathNode, res tuple.ObjectRef, rel string) {
	if q.track {
		q.noteRead(path, q.e.changes.setKey(kindAll, res, rel))
	}
}

func (q *query) noteRead(path *pathNode, key uint64) {
	f := path.frame()
	if f == nil {
		return
	}
	f.mu.Lock()
	f.deps.keys = append(f.deps.keys, key)
	f.mu.Unlock()
}

// noteDeps adds what a sub-problem below path read to the sub-problem at path.
func (q *query) noteDeps(path *pathNode, keys []uint64, exact bool) {
	f := path.frame()
	if !q.track || f == nil {
		return
	}
	f.mu.Lock()
	f.deps.keys = append(f.deps.keys, keys...)
	f.deps.exact = f.deps.exact || exact
	f.mu.Unlock()
}

func (p *pathNode) contains(res tuple.ObjectRef, rel string) bool {
	found, _ := p.cycle(res, rel)
	return found
}

// cycle reports whether res#rel is on the path and, if so, whether the path
// from it to here enters the subtracted side of an exclusion.
func (p *pathNode) cycle(res tuple.ObjectRef, rel string) (found, negated bool) {
	for ; p != nil; p = p.parent {
		if p.negation {
			negated = true
		} else if p.relation == rel && p.resource == res {
			return true, negated
		}
	}
	return false, false
}

// check evaluates subj on res#rel. depth counts the steps taken so far.
func (q *query) check(ctx context.Context, res tuple.ObjectRef, rel string, subj tuple.SubjectRef, depth int, path *pathNode) (outcome, error) {
	if err := ctx.Err(); err != nil {
		return outcome{}, err
	}
	// Suspensions come before anything else (suspend.go).
	if o, ok, err := q.suspendedAt(res, rel, subj, path == nil); ok || err != nil {
		return o, err
	}
	// A subject set always has its own relation.
	if subj.Relation == rel && subj.ID == res.ID && subj.Type == res.Type {
		o := allowed
		if q.explain {
			o.trace = q.node("check", res, rel, subj, o)
			o.trace.Detail = map[string]string{"reason": "the subject is this subject set"}
		}
		return o, nil
	}
	if found, negated := path.cycle(res, rel); negated {
		// The cycle runs through a negation: res#rel would depend on its own
		// complement, and cutting it (as denied) could turn into a wrong
		// allow. There is no answer to give.
		return outcome{}, fmt.Errorf("%w: %s#%s for %s is reached again from inside the subtracted side of an exclusion, so it would depend on its own negation; remove a relationship of the cycle", ErrCycle, res, rel, subj)
	} else if found {
		// A cycle of unions, intersections and arrows adds nothing a shorter
		// path does not: cut it, and keep the results that depended on the
		// cut out of the cache.
		o := outcome{res: Denied, cut: true}
		if q.explain {
			o.trace = q.node("check", res, rel, subj, o)
			o.trace.Detail = map[string]string{"reason": "cycle"}
		}
		return o, nil
	}
	if depth > q.e.cfg.MaxDepth {
		return outcome{}, fmt.Errorf("%w: more than %d nested steps at %s#%s", ErrDepthExceeded, q.e.cfg.MaxDepth, res, rel)
	}
	if o, ok := q.walked.known(res, rel, subj); ok {
		// A fact of the reverse walk: what the walk read is not tracked.
		q.noteDeps(path, nil, true)
		if q.explain {
			o.trace = q.node("check", res, rel, subj, o)
			o.trace.Detail = map[string]string{"reason": "decided by the lookup's reverse walk"}
		}
		return o, nil
	}
	def := q.v.Schema.Definitions[res.Type]
	if def == nil {
		return outcome{}, fmt.Errorf("%w: type %q of %s is not defined in the schema", ErrUnknownType, res.Type, res)
	}
	r, p, ok := def.Lookup(rel)
	if !ok {
		return outcome{}, fmt.Errorf("%w: type %q has no relation or permission %q", ErrUnknownPermission, res.Type, rel)
	}
	// Results are cached for permissions and for relations that hold
	// subject sets (a walk, when the group index cannot answer); a relation
	// of plain subjects is one point read, which costs what a cache lookup
	// and store cost, so caching it only adds work (and garbage) on a miss.
	cacheable := r == nil || holdsSubjectSets(r)
	key := cacheKey{ctxHash: q.ctxHash, resource: res, relation: rel, subject: subj}
	if q.e.changes == nil {
		key.revision = q.v.Revision // a result is valid at its revision only
	}
	// An explained question is always evaluated at the top, so the trace shows
	// why; sub-problems may still be answered (and marked) from the cache.
	if cacheable {
		if c, ok := q.lookup(key); ok && !(q.explain && path == nil) {
			q.noteDeps(path, c.deps, c.exact)
			o := outcome{res: c.res, missing: c.missing, exp: c.exp, via: c.via}
			if q.explain {
				o.trace = q.node("check", res, rel, subj, o)
				o.trace.Cached = true
			}
			return o, nil
		}
	}
	here := &pathNode{resource: res, relation: rel, parent: path}
	var o outcome
	var err error
	if r != nil && q.walked.excludes(res, r, subj) {
		o = denied
		here.deps.exact = true
	} else if r != nil {
		o, err = q.direct(ctx, res, r, subj, depth, here)
		if q.watch != nil && o.res != Denied {
			o.via |= q.watch.relation(r.Name, o.via)
		}
	} else {
		o, err = q.expr(ctx, p.Expr, res, subj, depth, here)
	}
	if err != nil {
		return outcome{}, err
	}
	var d deps
	if q.track {
		here.mu.Lock() // branches ran concurrently; all have returned (combine waits for them)
		d = here.deps
		here.deps = deps{}
		here.mu.Unlock()
		d.compact()
		q.noteDeps(path, d.keys, d.exact)
	}
	if !o.cut && cacheable {
		q.store(key, o, d)
	}
	if q.explain {
		t := q.node("check", res, rel, subj, o)
		if o.trace != nil {
			t.Children = []*Trace{o.trace}
		}
		o.trace = t
	}
	return o, nil
}

func (q *query) lookup(k cacheKey) (cached, bool) {
	if q.uncached {
		return cached{}, false
	}
	if q.memo != nil {
		if c, ok := q.memo.get(k, q.now); ok && (q.watch == nil || c.watch == q.watch) {
			return c, true // the memo lives inside one call, at one revision
		}
	}
	if q.e.cache == nil {
		return cached{}, false
	}
	c, ok := q.e.cache.get(k, q.now)
	// A watching query needs the via bits of its own Watch: an entry stored
	// by a query without it (or with another) does not have them.
	ok = ok && q.fresh(c) && (q.watch == nil || c.watch == q.watch)
	if ok {
		q.e.hits.Add(1)
	} else {
		q.e.misses.Add(1)
	}
	return c, ok
}

// fresh reports whether a cached result holds at the query's revision: it
// was computed there, or nothing it read changed between its revision and
// the query's.
func (q *query) fresh(c cached) bool {
	switch {
	case q.e.changes == nil:
		return true // the key holds the revision
	case c.epoch != q.e.changes.epoch.Load():
		return false
	case c.rev == q.v.Revision:
		return true
	case c.exact:
		return false
	}
	return q.e.changes.unchangedSince(c.deps, min(c.rev, q.v.Revision))
}

func (q *query) store(k cacheKey, o outcome, d deps) {
	if q.uncached {
		return
	}
	c := cached{res: o.res, missing: o.missing, exp: o.exp, rev: q.v.Revision, deps: d.keys, exact: d.exact, epoch: q.epoch, via: o.via, watch: q.watch}
	// The memo shares results between the items of one call; a sub-problem on
	// the item's own resource is rarely shared, so it is not worth a slot.
	if q.memo != nil && k.resource != q.root {
		q.memo.put(k, c)
	}
	if q.e.cache != nil {
		q.e.cache.put(k, c)
	}
}

func (q *query) node(kind string, res tuple.ObjectRef, rel string, subj tuple.SubjectRef, o outcome) *Trace {
	return &Trace{Kind: kind, Resource: res.String(), Relation: rel, Subject: subj.String(),
		Result: o.res.String(), Missing: o.missing}
}

// expr evaluates a permission expression on res for subj.
func (q *query) expr(ctx context.Context, x schema.Expr, res tuple.ObjectRef, subj tuple.SubjectRef, depth int, path *pathNode) (outcome, error) {
	switch x := x.(type) {
	case *schema.Union:
		if o, ok := q.walkedUnion(x, res, subj, path); ok {
			return o, nil
		}
		return q.combine(ctx, "union", len(x.Children), Allowed, func(ctx context.Context, i int) (outcome, error) {
			return q.expr(ctx, x.Children[i], res, subj, depth, path)
		})
	case *schema.Intersection:
		return q.combine(ctx, "intersection", len(x.Children), Denied, func(ctx context.Context, i int) (outcome, error) {
			return q.expr(ctx, x.Children[i], res, subj, depth, path)
		})
	case *schema.Exclusion:
		// An ErrCycle is an unknown value, as in a union or intersection,
		// where a decisive sibling wins over it: a subtracted side that is
		// allowed denies whatever the base is.
		base, berr := q.expr(ctx, x.Base, res, subj, depth, path)
		if berr != nil && !errors.Is(berr, ErrCycle) {
			return outcome{}, berr
		}
		o := base
		var sub outcome
		if berr != nil || base.res != Denied {
			var err error
			sub, err = q.expr(ctx, x.Subtract, res, subj, depth, &pathNode{negation: true, parent: path})
			switch {
			case err != nil && (berr == nil || !errors.Is(err, ErrCycle)):
				return outcome{}, err
			case berr != nil && (err != nil || sub.res != Allowed):
				return outcome{}, berr
			case berr != nil:
				o = not(sub)
			default:
				o = and(base, not(sub))
			}
		}
		if q.explain {
			t := &Trace{Kind: "exclusion", Result: o.res.String(), Missing: o.missing}
			t.Children = appendTrace(appendTrace(nil, base.trace), sub.trace)
			o.trace = t
		}
		return o, nil
	case *schema.RelationRef:
		return q.check(ctx, res, x.Name, subj, depth+1, path)
	case *schema.Arrow:
		return q.arrow(ctx, x, res, subj, depth, path)
	case *schema.Nil:
		o := denied
		if q.explain {
			o.trace = &Trace{Kind: "nil", Result: o.res.String()}
		}
		return o, nil
	case nil:
		return outcome{}, fmt.Errorf("engine: permission on %s has no expression", res.Type)
	}
	return outcome{}, fmt.Errorf("engine: unknown expression node %T", x)
}

func appendTrace(ts []*Trace, t *Trace) []*Trace {
	if t == nil {
		return ts
	}
	return append(ts, t)
}

// direct evaluates a stored relation: the exact relationship, a wildcard, and
// every subject set the relation holds.
func (q *query) direct(ctx context.Context, res tuple.ObjectRef, r *schema.Relation, subj tuple.SubjectRef, depth int, path *pathNode) (outcome, error) {
	o := denied
	var tuples []string
	var children []*Trace
	consider := func(rel tuple.Relationship) (bool, error) {
		if rel.ExpiredAt(q.now) {
			return false, nil
		}
		c, err := q.caveat(ctx, rel)
		if err != nil {
			return false, err
		}
		o = or(o, c)
		if q.explain && c.res != Denied {
			tuples = append(tuples, rel.String())
			children = appendTrace(children, c.trace)
		}
		return o.res == Allowed, nil
	}
	q.readExact(path, res, r.Name, subj)
	rel, ok, err := q.exact(ctx, res, r.Name, subj)
	if err != nil {
		return outcome{}, err
	}
	done := false
	if ok {
		if done, err = consider(rel); err != nil {
			return outcome{}, err
		}
	}
	if !done && subj.Relation == "" && subj.ID != tuple.Wildcard && allowsWildcard(r, subj.Type) {
		wild := tuple.SubjectRef{Type: subj.Type, ID: tuple.Wildcard}
		q.readExact(path, res, r.Name, wild)
		rel, ok, err := q.exact(ctx, res, r.Name, wild)
		if err != nil {
			return outcome{}, err
		}
		if ok {
			if done, err = consider(rel); err != nil {
				return outcome{}, err
			}
		}
	}
	if !done && q.gi != nil && !q.explain && subj.Relation == "" && !subj.IsWildcard() && holdsSets(r) {
		// The nested groups, from the index: what the reads above did not
		// decide.
		s, ok, err := q.directIndexed(ctx, res, r, subj, path)
		if err != nil {
			return outcome{}, err
		}
		if ok {
			return or(o, s), nil
		}
	}
	if !done {
		q.readSets(path, res, r.Name)
		sets, err := q.subjectSets(ctx, res, r)
		if err != nil {
			return outcome{}, err
		}
		if len(sets) > 0 {
			s, ok, err := q.setsFromGroups(ctx, sets, subj, path)
			if err == nil && !ok {
				s, err = q.combine(ctx, "union", len(sets), Allowed, func(ctx context.Context, i int) (outcome, error) {
					return q.through(ctx, sets[i], subj, depth, path)
				})
			}
			if err != nil {
				return outcome{}, err
			}
			o = or(o, s)
			if q.explain && s.trace != nil {
				children = append(children, s.trace.Children...)
			}
		}
	}
	if q.explain {
		o.trace = &Trace{Kind: "relation", Resource: res.String(), Relation: r.Name, Subject: subj.String(),
			Result: o.res.String(), Missing: o.missing, Tuples: tuples, Children: children}
	}
	return o, nil
}

// through evaluates one relationship res#rel@set#r: its caveat and whether
// subj is in set#r.
func (q *query) through(ctx context.Context, rel tuple.Relationship, subj tuple.SubjectRef, depth int, path *pathNode) (outcome, error) {
	c, err := q.caveat(ctx, rel)
	if err != nil || c.res == Denied {
		return c, err
	}
	sub, err := q.check(ctx, rel.Subject.Object(), rel.Subject.Relation, subj, depth+1, path)
	if err != nil {
		return outcome{}, err
	}
	o := and(c, sub)
	if q.explain {
		// A "via" node: the subject set one relationship points at, and whether
		// the subject is in it.
		o.trace = &Trace{Kind: "via", Relation: rel.Subject.Relation, Resource: rel.Subject.Object().String(), Subject: subj.String(),
			Result: o.res.String(), Missing: o.missing, Tuples: []string{rel.String()},
			Children: appendTrace(appendTrace(nil, c.trace), sub.trace)}
	}
	return o, nil
}

func allowsWildcard(r *schema.Relation, typ string) bool {
	for _, a := range r.Allowed {
		if a.Wildcard && a.Type == typ {
			return true
		}
	}
	return false
}

// subjectSets returns the live relationships of res#r whose subject is a
// subject set of a type the relation allows.
func (q *query) subjectSets(ctx context.Context, res tuple.ObjectRef, r *schema.Relation) ([]tuple.Relationship, error) {
	if !holdsSets(r) {
		return nil, nil // nothing to read, and no iterator to allocate
	}
	return q.readSubjectSets(ctx, res, r)
}

// holdsSets reports whether r allows subject sets.
func holdsSets(r *schema.Relation) bool {
	return slices.ContainsFunc(r.Allowed, func(a schema.AllowedSubject) bool { return a.Relation != "" })
}

func (q *query) readSubjectSets(ctx context.Context, res tuple.ObjectRef, r *schema.Relation) ([]tuple.Relationship, error) {
	var out []tuple.Relationship
	var seen []string
	for _, a := range r.Allowed {
		if a.Relation == "" || slices.Contains(seen, a.Type) {
			continue
		}
		seen = append(seen, a.Type)
		for rel, err := range q.v.Reader.Subjects(ctx, res, r.Name, a.Type) {
			if err != nil {
				return nil, err
			}
			if rel.Subject.Relation == "" || rel.Subject.IsWildcard() || rel.ExpiredAt(q.now) {
				continue
			}
			out = append(out, rel)
		}
	}
	return out, nil
}

// arrow evaluates tupleset->computed (any) or tupleset.all(computed).
func (q *query) arrow(ctx context.Context, a *schema.Arrow, res tuple.ObjectRef, subj tuple.SubjectRef, depth int, path *pathNode) (outcome, error) {
	if o, ok := q.walked.knownArrow(res, a, subj); ok {
		q.noteDeps(path, nil, true) // as for a known fact in check
		return o, nil
	}
	if no, err := q.arrowCannotHold(ctx, a, res, subj, path); err != nil || no {
		return denied, err
	}
	q.readAll(path, res, a.Tupleset)
	links, err := q.tuplesetLinks(ctx, res, a.Tupleset)
	if err != nil {
		return outcome{}, err
	}
	// target evaluates computed on the object a link points at; a type without
	// that relation or permission contributes nothing.
	target := func(ctx context.Context, rel tuple.Relationship) (outcome, error) {
		obj := rel.Subject.Object()
		d := q.v.Schema.Definitions[obj.Type]
		if d == nil {
			return denied, nil
		}
		if _, _, ok := d.Lookup(a.Computed); !ok {
			return denied, nil
		}
		return q.check(ctx, obj, a.Computed, subj, depth+1, path)
	}
	kind := "arrow"
	if a.Mode == schema.ArrowAll {
		kind = "arrow_all"
	}
	// A link's branch is its caveat and its target. Any: some branch holds
	// (union). All: there is a link and every branch holds (intersection),
	// so a link whose caveat is false fails the all rather than dropping
	// out of it, as in SpiceDB; an unknown caveat makes it conditional.
	decisive := Allowed
	if a.Mode == schema.ArrowAll {
		decisive = Denied
	}
	o, err := q.combine(ctx, kind, len(links), decisive, func(ctx context.Context, i int) (outcome, error) {
		c, err := q.caveat(ctx, links[i])
		if err != nil || c.res == Denied {
			return c, err
		}
		t, err := target(ctx, links[i])
		if err != nil {
			return outcome{}, err
		}
		o := and(c, t)
		if q.explain {
			// The link followed and what its target answered (and its
			// caveat, when it has one).
			o.trace = &Trace{Kind: "via", Relation: a.Computed, Resource: links[i].Subject.Object().String(), Subject: subj.String(),
				Result: o.res.String(), Missing: o.missing, Tuples: []string{links[i].String()},
				Children: appendTrace(appendTrace(nil, c.trace), t.trace)}
		}
		return o, nil
	})
	if err != nil {
		return outcome{}, err
	}
	if q.explain && o.trace != nil {
		o.trace.Relation = a.Tupleset
		o.trace.Detail = map[string]string{"computed": a.Computed}
	}
	return o, nil
}

// holdsSubjectSets reports whether a relation allows subject sets
// (team#member), whose check may walk nested groups.
func holdsSubjectSets(r *schema.Relation) bool {
	for _, a := range r.Allowed {
		if a.Relation != "" {
			return true
		}
	}
	return false
}
