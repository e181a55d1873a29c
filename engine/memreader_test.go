package engine_test

import (
	"context"
	"iter"
	"slices"
	"strings"

	"github.com/trellis-authz/trellis/engine"
	"github.com/trellis-authz/trellis/tuple"
)

// memReader is a test-only engine.Reader over a slice of relationships. It
// does NOT hide expired relationships, so the tests prove the engine does.
type memReader struct {
	rels []tuple.Relationship // sorted by key
}

var _ engine.Reader = (*memReader)(nil)

func newMemReader(rels []tuple.Relationship) *memReader {
	r := &memReader{rels: slices.Clone(rels)}
	slices.SortFunc(r.rels, func(a, b tuple.Relationship) int { return strings.Compare(a.Key(), b.Key()) })
	return r
}

func (m *memReader) Relationship(_ context.Context, res tuple.ObjectRef, rel string, sub tuple.SubjectRef) (tuple.Relationship, bool, error) {
	for _, r := range m.rels {
		if r.Resource == res && r.Relation == rel && r.Subject == sub {
			return r, true, nil
		}
	}
	return tuple.Relationship{}, false, nil
}

func (m *memReader) Subjects(_ context.Context, res tuple.ObjectRef, rel, subjectType string) iter.Seq2[tuple.Relationship, error] {
	return func(yield func(tuple.Relationship, error) bool) {
		for _, r := range m.rels {
			if r.Resource == res && r.Relation == rel && (subjectType == "" || r.Subject.Type == subjectType) {
				if !yield(r, nil) {
					return
				}
			}
		}
	}
}

func (m *memReader) Resources(_ context.Context, sub tuple.SubjectRef, resType, rel string) iter.Seq2[tuple.Relationship, error] {
	return func(yield func(tuple.Relationship, error) bool) {
		for _, r := range m.rels {
			if r.Subject == sub && r.Resource.Type == resType && r.Relation == rel {
				if !yield(r, nil) {
					return
				}
			}
		}
	}
}
