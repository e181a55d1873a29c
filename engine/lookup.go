package engine

import (
	"context"
	"encoding/base64"
	"fmt"
	"hash/fnv"
	"iter"
	"slices"
	"strings"
	"time"

	"github.com/trellis-authz/trellis/schema"
	"github.com/trellis-authz/trellis/tuple"
)

// LookupResources returns one page of the resources of req.ResourceType on
// which req.Subject has req.Permission, sorted by ID. Conditional grants are
// included and marked. Pass the page's NextCursor to get the next page.
func (e *Engine) LookupResources(ctx context.Context, v View, req LookupResourcesRequest) (LookupResourcesResult, error) {
	var out LookupResourcesResult
	for r, err := range e.LookupResourcesSeq(ctx, v, req) {
		if err != nil {
			return LookupResourcesResult{}, err
		}
		if req.Limit > 0 && len(out.Resources) == req.Limit {
			// There is at least one more: the page ends here.
			out.NextCursor = encodeCursor(lookupResourcesFingerprint(req), out.Resources[len(out.Resources)-1].ID)
			break
		}
		out.Resources = append(out.Resources, r)
	}
	return out, nil
}

// LookupResourcesSeq yields the same resources as LookupResources, in ID
// order, one at a time as Check confirms them. It starts after req.Cursor and
// ignores req.Limit; stop the iteration to stop the work.
func (e *Engine) LookupResourcesSeq(ctx context.Context, v View, req LookupResourcesRequest) iter.Seq2[LookupResource, error] {
	return func(yield func(LookupResource, error) bool) {
		after, err := e.startLookupResources(v, req)
		if err != nil {
			yield(LookupResource{}, err)
			return
		}
		q := e.newQuery(v, req.Context, false)
		q.memo = newMemo()
		if q.susp.err != nil {
			yield(LookupResource{}, q.susp.err)
			return
		}
		if q.subjectSuspended(req.Subject) {
			e.suspDenials.Add(1)
			return // a suspended subject has nothing
		}
		ids, err := q.reverseCandidates(ctx, req.Subject, req.ResourceType, req.Permission)
		if err != nil {
			yield(LookupResource{}, err)
			return
		}
		if q.susp.sets {
			q.walked = nil // the walk went through suspended sets: let Check decide
		}
		for _, id := range ids {
			if id <= after && after != "" {
				continue
			}
			q.root = tuple.ObjectRef{Type: req.ResourceType, ID: id}
			o, err := q.check(ctx, q.root, req.Permission, req.Subject, 0, nil)
			if err != nil {
				yield(LookupResource{}, err)
				return
			}
			if o.res == Denied {
				continue
			}
			if !yield(LookupResource{ID: id, Result: o.res, MissingContext: o.missing}, nil) {
				return
			}
		}
	}
}

func (e *Engine) startLookupResources(v View, req LookupResourcesRequest) (after string, err error) {
	if err := checkView(v); err != nil {
		return "", err
	}
	if req.Limit < 0 {
		return "", fmt.Errorf("engine: limit is %d; give 0 (no limit) or more", req.Limit)
	}
	if err := checkPermission(v.Schema, req.ResourceType, req.Permission, "resource"); err != nil {
		return "", err
	}
	if err := checkSubject(v.Schema, req.Subject); err != nil {
		return "", err
	}
	return decodeCursor(req.Cursor, lookupResourcesFingerprint(req))
}

// fact is "object type:id has relation rel" (possibly; see reverseGraph).
type fact struct {
	typ, id, rel string
}

// walked is what a reverse walk from a plain subject learned: every fact it
// reached. A certain fact holds (until the earliest expiry on its path). And
// a relation without subject-set types can only hold for the subject through
// relationships naming it (or its wildcard), and the walk read all of those,
// so a fact of such a relation that the walk did not reach is false. check
// answers both kinds without reading the store.
type walked struct {
	subject tuple.SubjectRef
	facts   map[fact]state
}

// state is what the walk knows of a fact: certain when it holds for sure.
// depth counts the relationships from the subject to it; a fact further
// than the depth budget is never certain, so confirming it meets the same
// depth_exceeded a Check does.
type state struct {
	certain bool
	exp     time.Time
	depth   int
}

// reverseCandidates walks the reverse index from subj and returns, sorted, the
// IDs of resType objects that may have rel: a superset of the answer.
//
// Some facts are certain on the way: a relation reached from the subject only
// through relationships without caveats holds, whatever else the schema says.
// The walk leaves what it learned in q.walked, so confirming the candidates
// re-reads only what the walk could not decide (the subtracted side of an
// exclusion, say).
func (q *query) reverseCandidates(ctx context.Context, subj tuple.SubjectRef, resType, rel string) ([]string, error) {
	g := q.e.reverseOf(q.v.Schema)
	reach := g.reaching(typeRel{resType, rel})
	seen := make(map[fact]state, 256)
	if subj.Relation == "" && !subj.IsWildcard() {
		q.walked = &walked{subject: subj, facts: seen}
	}
	var queue []fact
	push := func(f fact, st state) {
		old, ok := seen[f]
		if !ok {
			queue = append(queue, f)
		}
		if !ok || st.certain && !old.certain {
			seen[f] = st
		}
	}
	// take pushes the fact a live relationship r (read for edge e) makes:
	// (e.resType, r's resource, e.result); from is the state of the fact
	// that led here. An edgeSet's result is a stored relation, which the
	// walk can be sure of; an arrow's is a permission, which it cannot.
	take := func(r tuple.Relationship, e revEdge, from state, computed string) {
		clean := from.certain && r.Caveat == nil
		st := state{certain: (e.kind == edgeSet || e.mono) && clean, exp: from.exp, depth: from.depth + 1}
		if st.depth > q.e.cfg.MaxDepth {
			st.certain, clean = false, false
		}
		if r.Expiration != nil {
			st.exp = minExp(st.exp, *r.Expiration)
		}
		if e.kind == edgeArrow && !e.all && clean {
			// The arrow itself holds on this object, whatever the
			// permission around it (an exclusion, say) makes of it.
			k := fact{e.resType, r.Resource.ID, arrowFact(e.relation, computed)}
			if _, ok := seen[k]; !ok { // only sure ones are recorded: the first stays
				seen[k] = state{certain: true, exp: st.exp, depth: st.depth}
			}
		}
		push(fact{e.resType, r.Resource.ID, e.result}, st)
	}
	// read takes the relationships naming s; computed is the relation or
	// permission of the fact being expanded (what an arrow's link leads to).
	read := func(s tuple.SubjectRef, targets map[typeRel][]revEdge, from state, computed string) error {
		return q.naming(ctx, s, targets, func(r tuple.Relationship, edges []revEdge) error {
			for _, e := range edges {
				take(r, e, from, computed)
			}
			return nil
		})
	}
	sure := state{certain: true}
	// Seeds: the relationships naming the subject itself (or, for a plain
	// subject, its type's wildcard); a subject set is a member of itself.
	if subj.Relation != "" {
		push(fact{subj.Type, subj.ID, subj.Relation}, state{})
	} else {
		seeds := g.seeds[subj.Type]
		if subj.IsWildcard() {
			if err := read(subj, seeds.wild, sure, ""); err != nil {
				return nil, err
			}
		} else {
			if err := read(subj, seeds.plain, sure, ""); err != nil {
				return nil, err
			}
			if err := read(tuple.SubjectRef{Type: subj.Type, ID: tuple.Wildcard}, seeds.wild, sure, ""); err != nil {
				return nil, err
			}
		}
	}
	var ids []string
	for len(queue) > 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		f := queue[0]
		queue = queue[1:]
		st := seen[f]
		if f.typ == resType && f.rel == rel {
			if st.depth > q.e.cfg.MaxDepth {
				// The walk is breadth first: no path from the subject is
				// shorter, so a Check of this resource runs out of depth too.
				return nil, fmt.Errorf("%w: %s:%s#%s is more than %d nested steps from %s", ErrDepthExceeded, f.typ, f.id, f.rel, q.e.cfg.MaxDepth, subj)
			}
			ids = append(ids, f.id)
		}
		k := typeRel{f.typ, f.rel}
		if !reach[k] {
			continue
		}
		for _, e := range g.from[k] {
			if e.kind == edgeComputed {
				// A permission holds where a relation or permission it
				// names through unions only does.
				next := state{certain: e.mono && st.certain, exp: st.exp, depth: st.depth + 1}
				if next.depth > q.e.cfg.MaxDepth {
					next.certain = false
				}
				push(fact{f.typ, f.id, e.result}, next)
			}
		}
		for _, sg := range g.scans[k] {
			if err := read(tuple.SubjectRef{Type: f.typ, ID: f.id, Relation: sg.subjRel}, sg.targets, st, f.rel); err != nil {
				return nil, err
			}
		}
	}
	slices.Sort(ids)
	return ids, nil
}

// LookupSubjects returns one page of the subjects of req.SubjectType (with
// req.SubjectRelation, for subject sets) that have req.Permission on
// req.Resource, sorted by ID. A wildcard grant is reported as ID "*" (first),
// with Excluded listing the IDs it does not cover: those denied, or only
// conditional while the wildcard is allowed. Subjects that have the
// permission in their own right are listed too, with their own result.
func (e *Engine) LookupSubjects(ctx context.Context, v View, req LookupSubjectsRequest) (LookupSubjectsResult, error) {
	if err := checkView(v); err != nil {
		return LookupSubjectsResult{}, err
	}
	if req.Limit < 0 {
		return LookupSubjectsResult{}, fmt.Errorf("engine: limit is %d; give 0 (no limit) or more", req.Limit)
	}
	if err := checkPermission(v.Schema, req.Resource.Type, req.Permission, "resource"); err != nil {
		return LookupSubjectsResult{}, err
	}
	if req.SubjectRelation != "" {
		if err := checkPermission(v.Schema, req.SubjectType, req.SubjectRelation, "subject"); err != nil {
			return LookupSubjectsResult{}, err
		}
	} else if _, err := definition(v.Schema, req.SubjectType, "subject"); err != nil {
		return LookupSubjectsResult{}, err
	}
	fp := lookupSubjectsFingerprint(req)
	after, err := decodeCursor(req.Cursor, fp)
	if err != nil {
		return LookupSubjectsResult{}, err
	}
	q := e.newQuery(v, req.Context, false)
	q.memo = newMemo()
	ids, err := q.forwardCandidates(ctx, req.Resource, req.Permission, req.SubjectType, req.SubjectRelation)
	if err != nil {
		return LookupSubjectsResult{}, err
	}
	subject := func(id string) tuple.SubjectRef {
		return tuple.SubjectRef{Type: req.SubjectType, ID: id, Relation: req.SubjectRelation}
	}
	var found []LookupSubject
	wild := -1 // index of "*" in found
	var denied []string
	for _, id := range ids {
		q.root = req.Resource
		o, err := q.check(ctx, req.Resource, req.Permission, subject(id), 0, nil)
		if err != nil {
			return LookupSubjectsResult{}, err
		}
		s := LookupSubject{ID: id, Result: o.res, MissingContext: o.missing}
		switch {
		case o.res == Denied:
			denied = append(denied, id)
		case id == tuple.Wildcard:
			wild = len(found)
			found = append(found, s)
		default:
			found = append(found, s)
		}
	}
	if wild >= 0 {
		w := &found[wild]
		w.Excluded = denied
		if q.susp.set != nil {
			// Suspended subjects get nothing through the wildcard either.
			w.Excluded = append(w.Excluded, q.suspendedOfType(req.SubjectType, req.SubjectRelation)...)
			slices.Sort(w.Excluded)
			w.Excluded = slices.Compact(w.Excluded)
		}
		if w.Result == Allowed {
			for _, s := range found {
				if s.ID != tuple.Wildcard && s.Result == Conditional {
					w.Excluded = append(w.Excluded, s.ID)
				}
			}
			slices.Sort(w.Excluded)
		}
	}
	var out LookupSubjectsResult
	for _, s := range found {
		if after != "" && s.ID <= after {
			continue
		}
		if req.Limit > 0 && len(out.Subjects) == req.Limit {
			out.NextCursor = encodeCursor(fp, out.Subjects[len(out.Subjects)-1].ID)
			break
		}
		out.Subjects = append(out.Subjects, s)
	}
	return out, nil
}

// forwardCandidates walks forward from res#rel through every relation,
// subject set and arrow the permission may use (both sides of exclusions, so
// that subjects a wildcard excludes are found too) and returns, sorted, the
// IDs of subjects of type subjType (with relation subjRel) met on the way,
// "*" for a wildcard.
//
// The walk is breadth first over (object, relation) nodes with an explicit
// queue, so a long chain of nested subject sets cannot exhaust the stack, and
// it counts steps as Check does: a node first reached more than
// Config.MaxDepth steps away fails the lookup with ErrDepthExceeded, since
// confirming a subject found there would need as deep a check.
func (q *query) forwardCandidates(ctx context.Context, res tuple.ObjectRef, rel, subjType, subjRel string) ([]string, error) {
	type node struct {
		obj   tuple.ObjectRef
		rel   string
		depth int
	}
	type key struct {
		obj tuple.ObjectRef
		rel string
	}
	seen := map[key]bool{}
	ids := map[string]bool{}
	var queue []node
	push := func(obj tuple.ObjectRef, name string, depth int) error {
		k := key{obj, name}
		if seen[k] {
			return nil
		}
		if depth > q.e.cfg.MaxDepth {
			return fmt.Errorf("%w: more than %d nested steps at %s#%s looking up subjects", ErrDepthExceeded, q.e.cfg.MaxDepth, obj, name)
		}
		seen[k] = true
		queue = append(queue, node{obj, name, depth})
		return nil
	}
	// walkExpr pushes what a permission's expression names; it recurses over
	// the expression only, which the schema bounds.
	var walkExpr func(obj tuple.ObjectRef, x schemaExpr, depth int) error
	walkExpr = func(obj tuple.ObjectRef, x schemaExpr, depth int) error {
		for _, c := range exprChildren(x) {
			if err := walkExpr(obj, c, depth); err != nil {
				return err
			}
		}
		switch x := x.(type) {
		case *relationRef:
			return push(obj, x.Name, depth+1)
		case *arrowExpr:
			for rel, err := range q.v.Reader.Subjects(ctx, obj, x.Tupleset, "") {
				if err != nil {
					return err
				}
				if rel.ExpiredAt(q.now) || rel.Subject.IsWildcard() {
					continue
				}
				if err := push(rel.Subject.Object(), x.Computed, depth+1); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := push(res, rel, 0); err != nil {
		return nil, err
	}
	for len(queue) > 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n := queue[0]
		queue = queue[1:]
		if n.obj.Type == subjType && n.rel == subjRel {
			ids[n.obj.ID] = true
		}
		d := q.v.Schema.Definitions[n.obj.Type]
		if d == nil {
			continue
		}
		r, p, ok := d.Lookup(n.rel)
		switch {
		case !ok:
			continue
		case p != nil:
			if err := walkExpr(n.obj, p.Expr, n.depth); err != nil {
				return nil, err
			}
			continue
		}
		for rel, err := range q.v.Reader.Subjects(ctx, n.obj, r.Name, "") {
			if err != nil {
				return nil, err
			}
			if rel.ExpiredAt(q.now) {
				continue
			}
			s := rel.Subject
			if s.Type == subjType && s.Relation == subjRel {
				ids[s.ID] = true
			}
			if s.Relation != "" {
				if err := push(s.Object(), s.Relation, n.depth+1); err != nil {
					return nil, err
				}
			}
		}
	}
	if subjRel != "" {
		delete(ids, tuple.Wildcard)
	}
	out := make([]string, 0, len(ids))
	for id := range ids {
		out = append(out, id)
	}
	slices.Sort(out)
	return out, nil
}

// Cursors are "v1:<fingerprint of the query>:<last ID returned>", base64url.
// The fingerprint stops a cursor being used with a different query.

func encodeCursor(fp, last string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("v1:" + fp + ":" + last))
}

func decodeCursor(c, fp string) (string, error) {
	if c == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return "", fmt.Errorf("%w: not a cursor this server issued (%v)", ErrInvalidCursor, err)
	}
	rest, ok := strings.CutPrefix(string(b), "v1:")
	if !ok {
		return "", fmt.Errorf("%w: not a cursor of this lookup (unknown version); pass the next cursor of the previous page unchanged, or start again without one", ErrInvalidCursor)
	}
	got, last, ok := strings.Cut(rest, ":")
	if !ok || last == "" {
		return "", fmt.Errorf("%w: malformed cursor; pass the next cursor of the previous page unchanged, or start again without one", ErrInvalidCursor)
	}
	if got != fp {
		return "", fmt.Errorf("%w: the cursor belongs to a different query; repeat the same request with it", ErrInvalidCursor)
	}
	return last, nil
}

func fingerprint(parts ...string) string {
	h := fnv.New64a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return fmt.Sprintf("%016x", h.Sum64())
}

func lookupResourcesFingerprint(r LookupResourcesRequest) string {
	return fingerprint("lr", r.ResourceType, r.Permission, r.Subject.String(), tuple.FormatContext(r.Context))
}

func lookupSubjectsFingerprint(r LookupSubjectsRequest) string {
	return fingerprint("ls", r.Resource.String(), r.Permission, r.SubjectType, r.SubjectRelation, tuple.FormatContext(r.Context))
}

// known returns a certain fact of the walk as an Allowed outcome.
func (w *walked) known(res tuple.ObjectRef, rel string, subj tuple.SubjectRef) (outcome, bool) {
	if w == nil || subj != w.subject {
		return outcome{}, false
	}
	st, ok := w.facts[fact{res.Type, res.ID, rel}]
	if !ok || !st.certain {
		return outcome{}, false
	}
	return outcome{res: Allowed, exp: st.exp}, true
}

// walkedUnion answers a union from a certain fact of the lookup's reverse
// walk about one of its operands, before any operand is evaluated: the
// operands are evaluated in order, and the first may cost reads (a team
// walk) that the third (an arrow the walk went through) does not.
func (q *query) walkedUnion(x *schema.Union, res tuple.ObjectRef, subj tuple.SubjectRef, path *pathNode) (outcome, bool) {
	if q.walked == nil || q.explain {
		return outcome{}, false
	}
	for _, c := range x.Children {
		var o outcome
		ok := false
		switch c := c.(type) {
		case *schema.RelationRef:
			o, ok = q.walked.known(res, c.Name, subj)
		case *schema.Arrow:
			o, ok = q.walked.knownArrow(res, c, subj)
		}
		if ok {
			q.noteDeps(path, nil, true) // as for a known fact in check
			return o, true
		}
	}
	return outcome{}, false
}

// knownArrow returns a certain any-arrow fact of the walk (arrowFact) as an
// Allowed outcome: a link the walk followed, without caveat, to an object
// where the computed relation certainly holds.
func (w *walked) knownArrow(res tuple.ObjectRef, a *schema.Arrow, subj tuple.SubjectRef) (outcome, bool) {
	if w == nil || subj != w.subject || a.Mode == schema.ArrowAll {
		return outcome{}, false
	}
	st, ok := w.facts[fact{res.Type, res.ID, arrowFact(a.Tupleset, a.Computed)}]
	if !ok || !st.certain {
		return outcome{}, false
	}
	return outcome{res: Allowed, exp: st.exp}, true
}

// excludes reports whether the reverse walk proved that subj does not have
// relation r on res (see walked).
func (w *walked) excludes(res tuple.ObjectRef, r *schema.Relation, subj tuple.SubjectRef) bool {
	if w == nil || subj != w.subject {
		return false
	}
	for _, a := range r.Allowed {
		if a.Relation != "" {
			return false
		}
	}
	_, found := w.facts[fact{res.Type, res.ID, r.Name}]
	return !found
}
