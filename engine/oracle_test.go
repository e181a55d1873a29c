package engine_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/trellis-authz/trellis/engine"
	"github.com/trellis-authz/trellis/tuple"
)

// TestOracle checks, for every fixture, that Check on every (resource,
// permission, subject) pair over the fixture's objects agrees with
// LookupResources, LookupSubjects (also page by page) and an evaluation of
// the leaves of Expand.
func TestOracle(t *testing.T) {
	ctx := context.Background()
	for _, path := range fixturePaths(t) {
		fx := loadFixture(t, path)
		t.Run(strings.TrimSuffix(fx.name, ".yaml"), func(t *testing.T) {
			e := newTestEngine(t, func(c *engine.Config) { c.CacheEntries = 0 })
			objects, subjects := fx.universe()
			for _, res := range objects {
				def := fx.schema.Definitions[res.Type]
				for _, perm := range def.Order {
					ex := &expandEval{t: t, e: e, fx: fx, trees: map[string]*engine.ExpandNode{}}
					for _, sub := range subjects {
						got, err := e.Check(ctx, fx.view, engine.CheckRequest{Resource: res, Permission: perm, Subject: sub})
						if err != nil {
							t.Fatalf("check %s#%s@%s: %v", res, perm, sub, err)
						}
						if sub.Relation == "" && !sub.IsWildcard() {
							v := ex.eval(res, perm, sub, map[string]bool{})
							if v != maybe && v != got.Result {
								t.Errorf("%s#%s@%s: check got %s, expand leaves say %s", res, perm, sub, describe(got), v)
							}
						}
					}
				}
			}
			// LookupResources against Check, per (type, permission, subject).
			for _, typ := range fx.schema.Order {
				def := fx.schema.Definitions[typ]
				for _, perm := range def.Order {
					for _, sub := range subjects {
						fx.compareLookupResources(t, e, typ, perm, sub, objects)
					}
				}
			}
			// LookupSubjects against Check, per (resource, permission, subject kind).
			for _, res := range objects {
				def := fx.schema.Definitions[res.Type]
				for _, perm := range def.Order {
					fx.compareLookupSubjects(t, e, res, perm, subjects)
				}
			}
		})
	}
}

// universe returns every object of the fixture (resources and subjects of
// relationships and assertions, plus an unknown one per type), and every
// subject to ask about: those objects, and the subject sets of the data.
func (fx *fixture) universe() (objects []tuple.ObjectRef, subjects []tuple.SubjectRef) {
	seenO := map[tuple.ObjectRef]bool{}
	seenS := map[tuple.SubjectRef]bool{}
	addO := func(o tuple.ObjectRef) {
		if o.ID == tuple.Wildcard || seenO[o] || fx.schema.Definitions[o.Type] == nil {
			return
		}
		seenO[o] = true
		objects = append(objects, o)
	}
	addS := func(s tuple.SubjectRef) {
		if !seenS[s] {
			seenS[s] = true
			subjects = append(subjects, s)
		}
	}
	for _, r := range fx.rels {
		addO(r.Resource)
		addO(r.Subject.Object())
		if r.Subject.Relation != "" {
			addS(r.Subject)
		}
	}
	for _, a := range fx.file.Assertions {
		addO(a.Resource)
		addO(a.Subject.Object())
		if a.Subject.Relation != "" {
			addS(a.Subject)
		}
	}
	for _, name := range fx.schema.Order {
		addO(tuple.ObjectRef{Type: name, ID: "oracle_unknown"})
	}
	for _, o := range objects {
		addS(tuple.SubjectRef{Type: o.Type, ID: o.ID})
	}
	return objects, subjects
}

func (fx *fixture) compareLookupResources(t *testing.T, e *engine.Engine, typ, perm string, sub tuple.SubjectRef, objects []tuple.ObjectRef) {
	t.Helper()
	ctx := context.Background()
	req := engine.LookupResourcesRequest{ResourceType: typ, Permission: perm, Subject: sub}
	all, err := e.LookupResources(ctx, fx.view, req)
	if err != nil {
		t.Fatalf("LookupResources(%s#%s, %s): %v", typ, perm, sub, err)
	}
	got := map[string]string{}
	for _, r := range all.Resources {
		got[r.ID] = fmt.Sprint(r.Result, r.MissingContext)
	}
	for _, o := range objects {
		if o.Type != typ {
			continue
		}
		c, err := e.Check(ctx, fx.view, engine.CheckRequest{Resource: o, Permission: perm, Subject: sub})
		if err != nil {
			t.Fatal(err)
		}
		want := ""
		if c.Result != engine.Denied {
			want = fmt.Sprint(c.Result, c.MissingContext)
		}
		if got[o.ID] != want {
			t.Errorf("LookupResources(%s#%s, %s) for %s: got %q, check says %q", typ, perm, sub, o.ID, got[o.ID], want)
		}
		delete(got, o.ID)
	}
	for id := range got {
		t.Errorf("LookupResources(%s#%s, %s) returned %s, which is not an object of the fixture", typ, perm, sub, id)
	}
	// Page by page, one at a time, gives the same sequence.
	var paged []engine.LookupResource
	req.Limit = 1
	for range len(all.Resources) + 2 {
		page, err := e.LookupResources(ctx, fx.view, req)
		if err != nil {
			t.Fatalf("LookupResources page: %v", err)
		}
		paged = append(paged, page.Resources...)
		if page.NextCursor == "" {
			break
		}
		req.Cursor = page.NextCursor
	}
	if fmt.Sprint(paged) != fmt.Sprint(all.Resources) {
		t.Errorf("LookupResources(%s#%s, %s) paged: got %v, want %v", typ, perm, sub, paged, all.Resources)
	}
}

func (fx *fixture) compareLookupSubjects(t *testing.T, e *engine.Engine, res tuple.ObjectRef, perm string, subjects []tuple.SubjectRef) {
	t.Helper()
	ctx := context.Background()
	type kind struct{ typ, rel string }
	byKind := map[kind][]tuple.SubjectRef{}
	for _, s := range subjects {
		k := kind{s.Type, s.Relation}
		byKind[k] = append(byKind[k], s)
	}
	for k, subs := range byKind {
		req := engine.LookupSubjectsRequest{Resource: res, Permission: perm, SubjectType: k.typ, SubjectRelation: k.rel}
		all, err := e.LookupSubjects(ctx, fx.view, req)
		if err != nil {
			t.Fatalf("LookupSubjects(%s#%s, %s#%s): %v", res, perm, k.typ, k.rel, err)
		}
		listed := map[string]engine.LookupSubject{}
		var wild *engine.LookupSubject
		for _, s := range all.Subjects {
			if s.ID == tuple.Wildcard {
				wild = &s
				continue
			}
			listed[s.ID] = s
		}
		for _, sub := range subs {
			c, err := e.Check(ctx, fx.view, engine.CheckRequest{Resource: res, Permission: perm, Subject: sub})
			if err != nil {
				t.Fatal(err)
			}
			want := fmt.Sprint(c.Result, c.MissingContext)
			var got string
			switch s, ok := listed[sub.ID]; {
			case ok:
				got = fmt.Sprint(s.Result, s.MissingContext)
			case wild != nil && !slices.Contains(wild.Excluded, sub.ID):
				got = fmt.Sprint(wild.Result, wild.MissingContext)
			default:
				got = fmt.Sprint(engine.Denied, []string(nil))
			}
			if got != want {
				t.Errorf("LookupSubjects(%s#%s) for %s: got %s, check says %s (listed %v)", res, perm, sub, got, want, all.Subjects)
			}
		}
		var paged []engine.LookupSubject
		req.Limit = 1
		for range len(all.Subjects) + 2 {
			page, err := e.LookupSubjects(ctx, fx.view, req)
			if err != nil {
				t.Fatalf("LookupSubjects page: %v", err)
			}
			paged = append(paged, page.Subjects...)
			if page.NextCursor == "" {
				break
			}
			req.Cursor = page.NextCursor
		}
		if fmt.Sprint(paged) != fmt.Sprint(all.Subjects) {
			t.Errorf("LookupSubjects(%s#%s, %s) paged: got %v, want %v", res, perm, k.typ, paged, all.Subjects)
		}
	}
}

// maybe is the expand evaluator's "depends on a caveat" value; Expand shows
// caveat names but not their context, so it cannot decide them.
const maybe = engine.Conditional

// expandEval decides a check from Expand trees alone: leaves list subjects,
// subject sets are expanded in turn, and the operators combine the values.
type expandEval struct {
	t     *testing.T
	e     *engine.Engine
	fx    *fixture
	trees map[string]*engine.ExpandNode
}

func (x *expandEval) tree(obj tuple.ObjectRef, rel string) *engine.ExpandNode {
	k := obj.String() + "#" + rel
	if n, ok := x.trees[k]; ok {
		return n
	}
	n, err := x.e.Expand(context.Background(), x.fx.view, obj, rel)
	if err != nil {
		x.t.Fatalf("expand %s: %v", k, err)
	}
	x.trees[k] = n
	return n
}

func (x *expandEval) eval(obj tuple.ObjectRef, rel string, sub tuple.SubjectRef, visiting map[string]bool) engine.Result {
	k := obj.String() + "#" + rel
	if visiting[k] {
		return engine.Denied
	}
	visiting[k] = true
	defer delete(visiting, k)
	return x.node(x.tree(obj, rel), sub, visiting)
}

func (x *expandEval) node(n *engine.ExpandNode, sub tuple.SubjectRef, visiting map[string]bool) engine.Result {
	var v engine.Result
	switch n.Kind {
	case "leaf":
		v = engine.Denied
		for _, s := range n.Subjects {
			v = or3(v, x.leafSubject(s, sub, visiting))
		}
	case "union":
		v = engine.Denied
		for _, c := range n.Children {
			v = or3(v, x.via(c, and3(engine.Allowed, x.node(c, sub, visiting))))
		}
	case "intersection":
		v = engine.Allowed
		for _, c := range n.Children {
			v = and3(v, x.node(c, sub, visiting))
		}
	case "exclusion":
		v = and3(x.node(n.Children[0], sub, visiting), not3(x.node(n.Children[1], sub, visiting)))
	case "all":
		// Every link's caveat and target hold, and there is a link.
		v = engine.Allowed
		if len(n.Children) == 0 {
			v = engine.Denied
		}
		for _, c := range n.Children {
			v = and3(v, x.via(c, x.node(c, sub, visiting)))
		}
	case "nil", "cycle":
		v = engine.Denied
	default:
		x.t.Fatalf("unknown expand node kind %q", n.Kind)
	}
	return v
}

// via applies the caveat of the arrow link that led to c, if any.
func (x *expandEval) via(c *engine.ExpandNode, v engine.Result) engine.Result {
	if c.Via != nil && c.Via.Caveat != "" {
		return and3(v, maybe)
	}
	return v
}

func (x *expandEval) leafSubject(s engine.ExpandSubject, sub tuple.SubjectRef, visiting map[string]bool) engine.Result {
	ls, err := tuple.ParseSubject(s.Subject)
	if err != nil {
		x.t.Fatalf("expand leaf subject %q: %v", s.Subject, err)
	}
	v := engine.Denied
	switch {
	case ls == sub:
		v = engine.Allowed
	case ls.IsWildcard() && sub.Relation == "" && ls.Type == sub.Type:
		v = engine.Allowed
	case ls.Relation != "":
		v = x.eval(ls.Object(), ls.Relation, sub, visiting)
	}
	if s.Caveat != "" {
		v = and3(v, maybe)
	}
	return v
}

func or3(a, b engine.Result) engine.Result {
	switch {
	case a == engine.Allowed || b == engine.Allowed:
		return engine.Allowed
	case a == maybe || b == maybe:
		return maybe
	}
	return engine.Denied
}

func and3(a, b engine.Result) engine.Result {
	switch {
	case a == engine.Denied || b == engine.Denied:
		return engine.Denied
	case a == maybe || b == maybe:
		return maybe
	}
	return engine.Allowed
}

func not3(a engine.Result) engine.Result {
	switch a {
	case engine.Allowed:
		return engine.Denied
	case engine.Denied:
		return engine.Allowed
	}
	return maybe
}
