package validation

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/trellis-authz/trellis/engine"
	"github.com/trellis-authz/trellis/schema"
	"github.com/trellis-authz/trellis/tuple"
)

// Compute returns the complete validation entry of resource#permission: every
// subject that has it, in canonical order.
//
// The subjects are found with LookupSubjects over every subject form the
// schema allows anywhere (plain types and subject sets such as team#member),
// so the set agrees with Check. A subject is conditional ("[user:x[...]]")
// when, without request context, the engine answers conditional. A wildcard
// lists the subjects it does not cover: those denied, and those only
// conditional (marked "[...]").
//
// The sources ("is <dataset:claims#reader>") come from Expand: the relations
// on the permission's tree, outside the subtracted side of exclusions, whose
// own relationships name the subject (following subject sets and arrows). A
// subject that holds the permission only through a wildcard is not listed
// apart from the wildcard unless the tree also names it.
func Compute(ctx context.Context, ev Evaluator, s *schema.Schema, resource tuple.ObjectRef, permission string) ([]ExpectedSubject, error) {
	tree, err := ev.Expand(ctx, resource, permission)
	if err != nil {
		return nil, fmt.Errorf("expand %s: %w", key(resource, permission), err)
	}
	src := &sourceFinder{ctx: ctx, ev: ev, sets: map[string]*engine.ExpandNode{}}
	var out []ExpectedSubject
	for _, form := range subjectForms(s) {
		subs, err := lookupAll(ctx, ev, engine.LookupSubjectsRequest{Resource: resource, Permission: permission, SubjectType: form.Type, SubjectRelation: form.Relation})
		if err != nil {
			return nil, fmt.Errorf("lookup subjects of %s (%s): %w", key(resource, permission), form, err)
		}
		cond := map[string]bool{}
		wildcard := -1
		for i, ls := range subs {
			if ls.Result == engine.Conditional {
				cond[ls.ID] = true
			}
			if ls.ID == tuple.Wildcard {
				wildcard = i
			}
		}
		for _, ls := range subs {
			sub := tuple.SubjectRef{Type: form.Type, ID: ls.ID, Relation: form.Relation}
			es := ExpectedSubject{Subject: sub, Conditional: ls.Result == engine.Conditional}
			for _, x := range ls.Excluded {
				es.Excluded = append(es.Excluded, ExcludedSubject{Subject: tuple.SubjectRef{Type: form.Type, ID: x}, Conditional: cond[x]})
			}
			sources, err := src.find(tree, sub)
			if err != nil {
				return nil, err
			}
			if len(sources) == 0 && !sub.IsWildcard() && wildcard >= 0 {
				w := subs[wildcard]
				if !slices.Contains(w.Excluded, ls.ID) && w.Result == ls.Result {
					continue // covered by the wildcard entry
				}
				if sources, err = src.find(tree, tuple.SubjectRef{Type: form.Type, ID: tuple.Wildcard}); err != nil {
					return nil, err
				}
			}
			es.Sources = sources
			out = append(out, es)
		}
	}
	slices.SortFunc(out, func(a, b ExpectedSubject) int { return cmp.Compare(a.subjectText(), b.subjectText()) })
	return out, nil
}

// subjectText is the bracketed part of the subject without its sources.
func (s ExpectedSubject) subjectText() string {
	c := s
	c.Sources = nil
	return c.String()
}

// subjectForms lists every (type, subject relation) a relation of s allows,
// sorted; wildcards are found through their plain type.
func subjectForms(s *schema.Schema) []tuple.SubjectRef {
	seen := map[tuple.SubjectRef]bool{}
	var out []tuple.SubjectRef
	for _, dn := range s.Order {
		d := s.Definitions[dn]
		for _, rn := range d.Order {
			r, ok := d.Relations[rn]
			if !ok {
				continue
			}
			for _, a := range r.Allowed {
				f := tuple.SubjectRef{Type: a.Type, Relation: a.Relation}
				if !seen[f] {
					seen[f] = true
					out = append(out, f)
				}
			}
		}
	}
	slices.SortFunc(out, func(a, b tuple.SubjectRef) int {
		return cmp.Or(cmp.Compare(a.Type, b.Type), cmp.Compare(a.Relation, b.Relation))
	})
	return out
}

func lookupAll(ctx context.Context, ev Evaluator, req engine.LookupSubjectsRequest) ([]engine.LookupSubject, error) {
	var out []engine.LookupSubject
	for {
		page, err := ev.LookupSubjects(ctx, req)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Subjects...)
		if page.NextCursor == "" {
			return out, nil
		}
		req.Cursor = page.NextCursor
	}
}

// sourceFinder walks Expand trees, expanding the subject sets met on the way
// (each once per run).
type sourceFinder struct {
	ctx  context.Context
	ev   Evaluator
	sets map[string]*engine.ExpandNode
}

func (f *sourceFinder) find(tree *engine.ExpandNode, sub tuple.SubjectRef) ([]Source, error) {
	wild := ""
	if sub.Relation == "" && !sub.IsWildcard() {
		wild = tuple.SubjectRef{Type: sub.Type, ID: tuple.Wildcard}.String()
	}
	_, found, err := f.walk(tree, sub.String(), wild, map[string]bool{})
	if err != nil {
		return nil, err
	}
	out := make([]Source, 0, len(found))
	for s := range found {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b Source) int { return cmp.Compare(a.String(), b.String()) })
	return out, nil
}

// walk reports whether the subject sub is a member of node n's subjects
// (directly, through a wildcard wild, or through a subject set), and the
// relations whose own relationships name sub on the paths that make it one.
// An intersection contributes only when every branch has the subject; an
// exclusion only through its base (the subtracted side never grants).
func (f *sourceFinder) walk(n *engine.ExpandNode, sub, wild string, visiting map[string]bool) (bool, map[Source]bool, error) {
	found := map[Source]bool{}
	if n == nil {
		return false, found, nil
	}
	member := false
	switch n.Kind {
	case "leaf":
		for _, es := range n.Subjects {
			if es.Subject == sub {
				obj, err := tuple.ParseObject(n.Resource)
				if err != nil {
					return false, nil, fmt.Errorf("expand tree names resource %q: %w", n.Resource, err)
				}
				found[Source{Object: obj, Relation: n.Relation}] = true
				member = true
				continue
			}
			if wild != "" && es.Subject == wild {
				member = true
				continue
			}
			set, err := tuple.ParseSubject(es.Subject)
			if err != nil || set.Relation == "" || visiting[es.Subject] {
				continue
			}
			child, err := f.expandSet(set)
			if err != nil {
				return false, nil, err
			}
			visiting[es.Subject] = true
			m, srcs, err := f.walk(child, sub, wild, visiting)
			delete(visiting, es.Subject)
			if err != nil {
				return false, nil, err
			}
			if m {
				member = true
				maps.Copy(found, srcs)
			}
		}
	case "exclusion":
		if len(n.Children) > 0 {
			return f.walk(n.Children[0], sub, wild, visiting)
		}
	case "intersection", "all":
		if len(n.Children) == 0 {
			return false, found, nil
		}
		for _, c := range n.Children {
			m, srcs, err := f.walk(c, sub, wild, visiting)
			if err != nil {
				return false, nil, err
			}
			if !m {
				return false, map[Source]bool{}, nil
			}
			maps.Copy(found, srcs)
		}
		member = true
	default: // union (also over an arrow's targets), cycle, nil
		for _, c := range n.Children {
			m, srcs, err := f.walk(c, sub, wild, visiting)
			if err != nil {
				return false, nil, err
			}
			if m {
				member = true
				maps.Copy(found, srcs)
			}
		}
	}
	return member, found, nil
}

func (f *sourceFinder) expandSet(set tuple.SubjectRef) (*engine.ExpandNode, error) {
	k := set.String()
	if n, ok := f.sets[k]; ok {
		return n, nil
	}
	n, err := f.ev.Expand(f.ctx, set.Object(), set.Relation)
	if err != nil {
		return nil, fmt.Errorf("expand %s: %w", k, err)
	}
	f.sets[k] = n
	return n, nil
}

// runExpected compares one validation entry with what the engine computes.
func runExpected(ctx context.Context, ev Evaluator, file string, s *schema.Schema, e ExpectedRelation) (ExpectedResult, error) {
	r := ExpectedResult{Line: e.Line, Key: key(e.Resource, e.Permission), Want: []string{}, Got: []string{}}
	for _, w := range e.Subjects {
		r.Want = append(r.Want, strings.TrimSpace(w.Text))
	}
	got, err := Compute(ctx, ev, s, e.Resource, e.Permission)
	if err != nil {
		if errors.Is(err, engine.ErrDepthExceeded) {
			r.Error = err.Error()
			return r, nil
		}
		return r, fmt.Errorf("%s:%d: validation %s: %w", file, e.Line, r.Key, err)
	}
	byKey := map[string]ExpectedSubject{}
	for _, g := range got {
		r.Got = append(r.Got, g.String())
		byKey[g.subjectText()] = g
	}
	matched := map[string]bool{}
	for _, w := range e.Subjects {
		k := canonicalSubject(w)
		g, ok := byKey[k]
		if ok && (len(w.Sources) == 0 || sameSources(w.Sources, g.Sources)) {
			matched[k] = true
			continue
		}
		r.Missing = append(r.Missing, MissingLine{Line: w.Line, Text: strings.TrimSpace(w.Text)})
	}
	for _, g := range got {
		if !matched[g.subjectText()] {
			r.Unexpected = append(r.Unexpected, g.String())
		}
	}
	r.Passed = len(r.Missing) == 0 && len(r.Unexpected) == 0
	return r, nil
}

// canonicalSubject is the subject text of w with its exclusions sorted, to
// compare with computed subjects.
func canonicalSubject(w ExpectedSubject) string {
	c := w
	c.Sources = nil
	c.Excluded = slices.Clone(w.Excluded)
	slices.SortFunc(c.Excluded, func(a, b ExcludedSubject) int { return cmp.Compare(a.Subject.String(), b.Subject.String()) })
	return c.String()
}

func sameSources(a, b []Source) bool {
	if len(a) != len(b) {
		return false
	}
	as, bs := make([]string, len(a)), make([]string, len(b))
	for i := range a {
		as[i], bs[i] = a[i].String(), b[i].String()
	}
	slices.Sort(as)
	slices.Sort(bs)
	return slices.Equal(as, bs)
}
