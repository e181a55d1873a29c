package engine_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trellis-authz/trellis/engine"
	"github.com/trellis-authz/trellis/schema"
	"github.com/trellis-authz/trellis/schema/compile"
	"github.com/trellis-authz/trellis/tuple"
)

// TestDifferential evaluates random schemas and data with the engine and with
// refEval, a deliberately simple evaluator (plain recursion over a slice, no
// cache, no concurrency, its own caveat logic instead of CEL), and requires
// the same answers, including the missing parameters.
func TestDifferential(t *testing.T) {
	const cases = 300
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(20261122, 7))
	compiled, checks, depthSkips, found, cycles := 0, 0, 0, 0, 0
	byResult := map[engine.Result]int{}
	for c := range cases {
		g := genCase(rng)
		s, errs := compile.CompileText(fmt.Sprintf("case%d.zed", c), g.schema)
		if errs.Err() != nil {
			t.Fatalf("case %d: generated schema does not compile:\n%s\n%v", c, g.schema, errs)
		}
		compiled++
		var rels []tuple.Relationship
		for _, r := range g.rels {
			if err := s.ValidateRelationship(r); err != nil {
				t.Fatalf("case %d: generated relationship %s: %v", c, r, err)
			}
			rels = append(rels, r)
		}
		view := engine.View{Schema: s, Reader: newMemReader(rels), Revision: uint64(c + 1)}
		ref := &refEval{s: s, rels: rels, now: fixtureNow}
		e := newTestEngine(t, func(cfg *engine.Config) { cfg.Concurrency = 1 + c%4 })
		var reqs []engine.CheckRequest
		var wants []string
		for range 25 {
			req := g.request(rng)
			want, werr := ref.check(req.Resource, req.Permission, req.Subject, req.Context, nil)
			got, err := e.Check(ctx, view, req)
			gotS := describe(got)
			if errors.Is(err, engine.ErrCycle) {
				// The reference must find the answer depends on such a cycle too.
				gotS, err = "cycle", nil
				cycles++
			}
			if errors.Is(err, engine.ErrDepthExceeded) {
				depthSkips++
				continue
			}
			if err != nil || werr != nil {
				t.Fatalf("case %d: %s#%s@%s: engine error %v, reference error %v", c, req.Resource, req.Permission, req.Subject, err, werr)
			}
			checks++
			if gotS != "cycle" {
				byResult[got.Result]++
			}
			if gotS != want.String() {
				t.Fatalf("case %d: %s#%s@%s with %v: engine says %s, reference says %s\nschema:\n%s\nrelationships:\n%s",
					c, req.Resource, req.Permission, req.Subject, req.Context, gotS, want, g.schema, joinRels(rels))
			}
			if want.res == refCycle {
				continue // CheckBulk reports the error; compared above
			}
			reqs = append(reqs, req)
			wants = append(wants, want.String())
		}
		// LookupResources for one subject agrees with the reference on every object.
		sub := tuple.SubjectRef{Type: "user", ID: fmt.Sprintf("u%d", rng.IntN(4))}
		for _, typ := range g.types {
			for _, perm := range append(slices.Clone(diffRelations), diffPermissions...) {
				res, err := e.LookupResources(ctx, view, engine.LookupResourcesRequest{ResourceType: typ, Permission: perm, Subject: sub})
				if errors.Is(err, engine.ErrCycle) {
					// Some candidate depends on a cycle through an exclusion:
					// the reference must say so for at least one object.
					if !refHasCycle(ref, typ, perm, sub, g.ids) {
						t.Fatalf("case %d: LookupResources(%s#%s, %s): %v, but the reference finds no such cycle\nschema:\n%s\nrelationships:\n%s", c, typ, perm, sub, err, g.schema, joinRels(rels))
					}
					cycles++
					continue
				}
				if errors.Is(err, engine.ErrDepthExceeded) {
					depthSkips++
					continue
				}
				if err != nil {
					t.Fatalf("case %d: LookupResources(%s#%s, %s): %v", c, typ, perm, sub, err)
				}
				got := map[string]string{}
				found += len(res.Resources)
				for _, r := range res.Resources {
					got[r.ID] = refResult{res: r.Result, missing: r.MissingContext}.String()
				}
				for _, id := range g.ids {
					want, err := ref.check(tuple.ObjectRef{Type: typ, ID: id}, perm, sub, nil, nil)
					if err != nil {
						t.Fatal(err)
					}
					w := ""
					if want.res != engine.Denied {
						w = want.String()
					}
					if got[id] != w {
						t.Fatalf("case %d: LookupResources(%s#%s, %s) for %s: got %q, reference says %q\nschema:\n%s\nrelationships:\n%s",
							c, typ, perm, sub, id, got[id], w, g.schema, joinRels(rels))
					}
				}
			}
		}
		for i, b := range e.CheckBulk(ctx, view, reqs) {
			if b.Err != nil || describe(b.Result) != wants[i] {
				t.Fatalf("case %d: bulk item %d %s#%s@%s: got %s (err %v), want %s", c, i, reqs[i].Resource, reqs[i].Permission, reqs[i].Subject, describe(b.Result), b.Err, wants[i])
			}
		}
	}
	t.Logf("%d schemas, %d checks agreed, %d resources looked up, %d skipped for depth, %d cycles through exclusions", compiled, checks, found, depthSkips, cycles)
	t.Logf("results: %d allowed, %d conditional, %d denied", byResult[engine.Allowed], byResult[engine.Conditional], byResult[engine.Denied])
	if byResult[engine.Allowed] < checks/20 || byResult[engine.Conditional] < checks/100 {
		t.Errorf("the generator is too one-sided: %v", byResult)
	}
	if checks < cases*10 {
		t.Errorf("only %d checks compared; the generator is too often out of budget", checks)
	}
}

func joinRels(rels []tuple.Relationship) string {
	var b strings.Builder
	for _, r := range rels {
		b.WriteString(r.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// genned is one random case.
type genned struct {
	schema  string
	types   []string
	rels    []tuple.Relationship
	ids     []string
	allowed map[string][]string // "type#rel" → allowed subjects as written
}

var (
	diffRelations   = []string{"rel_a", "rel_b", "rel_c"}
	diffPermissions = []string{"perm_x", "perm_y"}
)

// genCase makes a schema where every resource type has the same relation and
// permission names (so any arrow resolves), random allowed subjects, random
// permission expressions, and random relationships over a few objects.
func genCase(rng *rand.Rand) *genned {
	g := &genned{ids: []string{"id0", "id1", "id2"}}
	n := 1 + rng.IntN(3)
	for i := range n {
		g.types = append(g.types, fmt.Sprintf("res%d", i))
	}
	var b strings.Builder
	b.WriteString("use expiration\n\ncaveat cav_a(param_a int) {\n  param_a > 0\n}\n\ndefinition user {}\n")
	allowed := map[string][]string{} // "type#rel" → allowed entries as written
	for _, typ := range g.types {
		fmt.Fprintf(&b, "\ndefinition %s {\n", typ)
		for _, rel := range diffRelations {
			var opts []string
			if rel == "rel_c" {
				// The arrow relation: links to resource objects.
				for _, other := range g.types {
					opts = append(opts, other)
					if rng.IntN(3) == 0 {
						opts = append(opts, other+" with cav_a")
					}
				}
			} else {
				pool := []string{"user", "user:*", "user with cav_a", "user with expiration", "user:* with cav_a"}
				for _, other := range g.types {
					pool = append(pool, other+"#rel_a", other+"#perm_x")
				}
				rng.Shuffle(len(pool), func(i, j int) { pool[i], pool[j] = pool[j], pool[i] })
				opts = pool[:1+rng.IntN(4)]
				if !slices.Contains(opts, "user") {
					opts = append(opts, "user")
				}
			}
			slices.Sort(opts)
			opts = slices.Compact(opts)
			allowed[typ+"#"+rel] = opts
			fmt.Fprintf(&b, "  relation %s: %s\n", rel, strings.Join(opts, " | "))
		}
		fmt.Fprintf(&b, "  permission perm_x = %s\n", genExpr(rng, 2, false))
		fmt.Fprintf(&b, "  permission perm_y = %s\n", genExpr(rng, 2, true))
		b.WriteString("}\n")
	}
	g.schema = b.String()
	// Relationships.
	g.allowed = allowed
	seen := map[string]bool{}
	for range 10 + rng.IntN(20) {
		r := g.randRel(rng)
		if seen[r.Key()] {
			continue
		}
		seen[r.Key()] = true
		g.rels = append(g.rels, r)
	}
	return g
}

// randRel returns a random relationship the schema of g admits.
func (g *genned) randRel(rng *rand.Rand) tuple.Relationship {
	past, future := fixtureNow.Add(-time.Hour), fixtureNow.Add(time.Hour)
	typ := g.types[rng.IntN(len(g.types))]
	rel := diffRelations[rng.IntN(len(diffRelations))]
	opts := g.allowed[typ+"#"+rel]
	opt := opts[rng.IntN(len(opts))]
	r := tuple.Relationship{Resource: tuple.ObjectRef{Type: typ, ID: g.ids[rng.IntN(len(g.ids))]}, Relation: rel}
	form, trait, _ := strings.Cut(opt, " with ")
	switch {
	case form == "user:*":
		r.Subject = tuple.SubjectRef{Type: "user", ID: tuple.Wildcard}
	case form == "user":
		r.Subject = tuple.SubjectRef{Type: "user", ID: fmt.Sprintf("u%d", rng.IntN(4))}
	case strings.Contains(form, "#"):
		st, sr, _ := strings.Cut(form, "#")
		r.Subject = tuple.SubjectRef{Type: st, ID: g.ids[rng.IntN(len(g.ids))], Relation: sr}
	default:
		r.Subject = tuple.SubjectRef{Type: form, ID: g.ids[rng.IntN(len(g.ids))]}
	}
	switch trait {
	case "cav_a":
		r.Caveat = &tuple.Caveat{Name: "cav_a"}
		switch rng.IntN(4) {
		case 0:
			r.Caveat.Context = map[string]any{"param_a": int64(1)}
		case 1:
			r.Caveat.Context = map[string]any{"param_a": int64(-1)}
		}
	case "expiration":
		if rng.IntN(2) == 0 {
			r.Expiration = &past
		} else {
			r.Expiration = &future
		}
	}
	return r
}

// genExpr returns a random permission expression. perm_y may use perm_x.
func genExpr(rng *rand.Rand, depth int, mayUseX bool) string {
	leaf := func() string {
		switch k := rng.IntN(10); {
		case k < 4:
			return diffRelations[rng.IntN(2)] // rel_a, rel_b
		case k < 5:
			return "rel_c"
		case k < 7:
			return "rel_c->" + []string{"rel_a", "perm_x", "perm_y"}[rng.IntN(3)]
		case k < 8:
			return "rel_c.all(" + []string{"rel_a", "rel_b", "perm_x"}[rng.IntN(3)] + ")"
		case k < 9 && mayUseX:
			return "perm_x"
		case k < 9:
			return "nil"
		default:
			return "rel_b"
		}
	}
	if depth == 0 || rng.IntN(3) == 0 {
		return leaf()
	}
	op := []string{" + ", " & ", " - "}[rng.IntN(3)]
	return "(" + genExpr(rng, depth-1, mayUseX) + op + genExpr(rng, depth-1, mayUseX) + ")"
}

func (g *genned) request(rng *rand.Rand) engine.CheckRequest {
	typ := g.types[rng.IntN(len(g.types))]
	names := append(slices.Clone(diffRelations), diffPermissions...)
	req := engine.CheckRequest{
		Resource:   tuple.ObjectRef{Type: typ, ID: g.ids[rng.IntN(len(g.ids))]},
		Permission: names[rng.IntN(len(names))],
		Subject:    tuple.SubjectRef{Type: "user", ID: fmt.Sprintf("u%d", rng.IntN(4))},
	}
	if rng.IntN(5) == 0 {
		st := g.types[rng.IntN(len(g.types))]
		req.Subject = tuple.SubjectRef{Type: st, ID: g.ids[rng.IntN(len(g.ids))], Relation: []string{"rel_a", "perm_x"}[rng.IntN(2)]}
	}
	switch rng.IntN(4) {
	case 0:
		req.Context = map[string]any{"param_a": int64(5)}
	case 1:
		req.Context = map[string]any{"param_a": int64(-5)}
	}
	return req
}

// refCycle is the reference's fourth value: the answer depends on a cycle
// through the subtracted side of an exclusion (engine.ErrCycle). It is
// unknown in Kleene's sense: allowed still wins a union, denied an
// intersection, and an allowed subtracted side denies an exclusion.
const refCycle engine.Result = 255

// refHasCycle reports whether some object of typ has refCycle for perm.
func refHasCycle(ref *refEval, typ, perm string, sub tuple.SubjectRef, ids []string) bool {
	for _, id := range ids {
		if v, err := ref.check(tuple.ObjectRef{Type: typ, ID: id}, perm, sub, nil, nil); err == nil && v.res == refCycle {
			return true
		}
	}
	return false
}

// refResult is the reference evaluator's three-valued answer.
type refResult struct {
	res     engine.Result
	missing []string
}

func (r refResult) String() string {
	if r.res == refCycle {
		return "cycle"
	}
	if r.res == engine.Conditional {
		return fmt.Sprintf("%s%v", r.res, r.missing)
	}
	return r.res.String()
}

// refEval is the reference: the semantics written as directly as possible.
type refEval struct {
	s    *schema.Schema
	rels []tuple.Relationship
	now  time.Time
}

type refStep struct {
	obj tuple.ObjectRef
	rel string
	neg bool // marks entering the subtracted side of an exclusion
}

func (r *refEval) live() []tuple.Relationship {
	var out []tuple.Relationship
	for _, x := range r.rels {
		if x.Expiration == nil || r.now.Before(*x.Expiration) {
			out = append(out, x)
		}
	}
	return out
}

func (r *refEval) check(obj tuple.ObjectRef, rel string, sub tuple.SubjectRef, ctx map[string]any, path []refStep) (refResult, error) {
	if sub.Relation != "" && sub.Object() == obj && sub.Relation == rel {
		return refResult{res: engine.Allowed}, nil
	}
	if i := slices.Index(path, refStep{obj: obj, rel: rel}); i >= 0 {
		if slices.Contains(path[i:], refStep{neg: true}) {
			return refResult{res: refCycle}, nil
		}
		return refResult{res: engine.Denied}, nil
	}
	path = append(slices.Clip(path), refStep{obj: obj, rel: rel})
	def := r.s.Definitions[obj.Type]
	if def == nil {
		return refResult{}, fmt.Errorf("no type %s", obj.Type)
	}
	if _, ok := def.Relations[rel]; ok {
		out := refResult{res: engine.Denied}
		for _, x := range r.live() {
			if x.Resource != obj || x.Relation != rel {
				continue
			}
			var v refResult
			switch {
			case x.Subject == sub:
				v = refResult{res: engine.Allowed}
			case x.Subject.IsWildcard() && sub.Relation == "" && x.Subject.Type == sub.Type:
				v = refResult{res: engine.Allowed}
			case x.Subject.Relation != "" && !x.Subject.IsWildcard():
				var err error
				if v, err = r.check(x.Subject.Object(), x.Subject.Relation, sub, ctx, path); err != nil {
					return refResult{}, err
				}
			default:
				continue
			}
			out = refOr(out, refAnd(r.caveat(x, ctx), v))
		}
		return out, nil
	}
	p, ok := def.Permissions[rel]
	if !ok {
		return refResult{}, fmt.Errorf("no relation %s#%s", obj.Type, rel)
	}
	return r.expr(p.Expr, obj, sub, ctx, path)
}

// caveat evaluates cav_a (param_a > 0) by hand, relationship context first.
func (r *refEval) caveat(x tuple.Relationship, ctx map[string]any) refResult {
	if x.Caveat == nil {
		return refResult{res: engine.Allowed}
	}
	v, ok := x.Caveat.Context["param_a"]
	if !ok {
		v, ok = ctx["param_a"]
	}
	if !ok {
		return refResult{res: engine.Conditional, missing: []string{"param_a"}}
	}
	if v.(int64) > 0 {
		return refResult{res: engine.Allowed}
	}
	return refResult{res: engine.Denied}
}

func (r *refEval) expr(x schema.Expr, obj tuple.ObjectRef, sub tuple.SubjectRef, ctx map[string]any, path []refStep) (refResult, error) {
	switch x := x.(type) {
	case *schema.Union:
		out := refResult{res: engine.Denied}
		for _, c := range x.Children {
			v, err := r.expr(c, obj, sub, ctx, path)
			if err != nil {
				return refResult{}, err
			}
			out = refOr(out, v)
		}
		return out, nil
	case *schema.Intersection:
		out := refResult{res: engine.Allowed}
		for _, c := range x.Children {
			v, err := r.expr(c, obj, sub, ctx, path)
			if err != nil {
				return refResult{}, err
			}
			out = refAnd(out, v)
		}
		return out, nil
	case *schema.Exclusion:
		b, err := r.expr(x.Base, obj, sub, ctx, path)
		if err != nil {
			return refResult{}, err
		}
		s, err := r.expr(x.Subtract, obj, sub, ctx, append(slices.Clip(path), refStep{neg: true}))
		if err != nil {
			return refResult{}, err
		}
		return refAnd(b, refNot(s)), nil
	case *schema.RelationRef:
		return r.check(obj, x.Name, sub, ctx, path)
	case *schema.Nil:
		return refResult{res: engine.Denied}, nil
	case *schema.Arrow:
		// any: some link's caveat and target hold; all: there is a link,
		// and every link's caveat and target hold (a link whose caveat is
		// false fails the all, as in SpiceDB).
		some, every, links := refResult{res: engine.Denied}, refResult{res: engine.Allowed}, 0
		for _, l := range r.live() {
			if l.Resource != obj || l.Relation != x.Tupleset || l.Subject.IsWildcard() {
				continue
			}
			h := refResult{res: engine.Denied}
			if d := r.s.Definitions[l.Subject.Type]; d != nil {
				if _, _, ok := d.Lookup(x.Computed); ok {
					var err error
					if h, err = r.check(l.Subject.Object(), x.Computed, sub, ctx, path); err != nil {
						return refResult{}, err
					}
				}
			}
			m := r.caveat(l, ctx)
			some = refOr(some, refAnd(m, h))
			every = refAnd(every, refAnd(m, h))
			links++
		}
		if x.Mode == schema.ArrowAny {
			return some, nil
		}
		if links == 0 {
			return refResult{res: engine.Denied}, nil
		}
		return every, nil
	}
	return refResult{}, fmt.Errorf("unknown expression %T", x)
}

func refOr(a, b refResult) refResult {
	switch {
	case a.res == engine.Allowed || b.res == engine.Allowed:
		return refResult{res: engine.Allowed}
	case a.res == refCycle || b.res == refCycle:
		return refResult{res: refCycle}
	case a.res == engine.Conditional || b.res == engine.Conditional:
		return refResult{res: engine.Conditional, missing: refMissing(a, b)}
	}
	return refResult{res: engine.Denied}
}

func refAnd(a, b refResult) refResult {
	switch {
	case a.res == engine.Denied || b.res == engine.Denied:
		return refResult{res: engine.Denied}
	case a.res == refCycle || b.res == refCycle:
		return refResult{res: refCycle}
	case a.res == engine.Conditional || b.res == engine.Conditional:
		return refResult{res: engine.Conditional, missing: refMissing(a, b)}
	}
	return refResult{res: engine.Allowed}
}

func refNot(a refResult) refResult {
	switch a.res {
	case engine.Allowed:
		return refResult{res: engine.Denied}
	case engine.Denied:
		return refResult{res: engine.Allowed}
	}
	return a
}

func refMissing(a, b refResult) []string {
	var m []string
	for _, x := range []refResult{a, b} {
		if x.res == engine.Conditional {
			m = append(m, x.missing...)
		}
	}
	slices.Sort(m)
	return slices.Compact(m)
}
