package engine

import (
	"context"
	"iter"

	"github.com/trellis-authz/trellis/tuple"
)

// Reader is what the engine needs of a store at one revision. storage.Snapshot
// satisfies it. Implementations hide relationships that have expired at the
// clock the snapshot was opened with.
type Reader interface {
	// Relationship returns the stored relationship resource#relation@subject, or
	// ok=false when there is none.
	Relationship(ctx context.Context, resource tuple.ObjectRef, relation string, subject tuple.SubjectRef) (rel tuple.Relationship, ok bool, err error)
	// Subjects yields the relationships of resource#relation (forward index), in
	// key order. subjectType, when not empty, restricts them to subjects of that type.
	Subjects(ctx context.Context, resource tuple.ObjectRef, relation string, subjectType string) iter.Seq2[tuple.Relationship, error]
	// Resources yields the relationships resourceType:*#relation@subject (reverse
	// index), in key order; subject.Relation must match exactly ("" for plain
	// subjects).
	Resources(ctx context.Context, subject tuple.SubjectRef, resourceType, relation string) iter.Seq2[tuple.Relationship, error]
}
