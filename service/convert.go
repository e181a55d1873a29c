package service

import (
	"github.com/trellis-authz/trellis/engine"
	"github.com/trellis-authz/trellis/wire"
)

// traceToWire converts an engine trace into its wire shape.
func traceToWire(t *engine.Trace) *wire.Trace {
	if t == nil {
		return nil
	}
	w := &wire.Trace{Kind: t.Kind, Resource: t.Resource, Relation: t.Relation, Subject: t.Subject, Result: t.Result,
		Missing: t.Missing, Relationships: t.Tuples, Cached: t.Cached, Detail: t.Detail}
	if len(t.Children) > 0 {
		w.Children = make([]*wire.Trace, len(t.Children))
		for i, c := range t.Children {
			w.Children[i] = traceToWire(c)
		}
	}
	return w
}

// expandToWire converts an engine expand tree into its wire shape.
func expandToWire(n *engine.ExpandNode) *wire.ExpandNode {
	if n == nil {
		return nil
	}
	w := &wire.ExpandNode{Kind: n.Kind, Resource: n.Resource, Relation: n.Relation, Via: expandSubjectToWire(n.Via)}
	if len(n.Subjects) > 0 {
		w.Subjects = make([]wire.ExpandSubject, len(n.Subjects))
		for i := range n.Subjects {
			w.Subjects[i] = *expandSubjectToWire(&n.Subjects[i])
		}
	}
	if len(n.Children) > 0 {
		w.Children = make([]*wire.ExpandNode, len(n.Children))
		for i, c := range n.Children {
			w.Children[i] = expandToWire(c)
		}
	}
	return w
}

func expandSubjectToWire(s *engine.ExpandSubject) *wire.ExpandSubject {
	if s == nil {
		return nil
	}
	return &wire.ExpandSubject{Subject: s.Subject, Caveat: s.Caveat, Expiration: s.Expiration}
}
