package tuple

import (
	"fmt"

	"github.com/trellis-authz/trellis/verdict"
)

// UpdateError says which update of a write is wrong: Index is its position,
// Other the earlier position of the same relationship for a duplicate (-1
// otherwise). Every layer that checks a write (the service, the raft
// command's validation, the store) calls CheckUpdates or CheckDistinct and
// adds its own field names, so they cannot disagree about what a valid
// write is. It is a verdict.
type UpdateError struct {
	Index, Other int
	Msg          string
}

func (e *UpdateError) Error() string { return e.Msg }

// Is makes an UpdateError a verdict.
func (e *UpdateError) Is(target error) bool { return target == verdict.Err }

// Duplicate reports whether the error is a relationship named twice.
func (e *UpdateError) Duplicate() bool { return e.Other >= 0 }

// CheckUpdates checks the updates of one write: each op is create, touch or
// delete, each relationship is valid, and no relationship is named twice (by
// identity: resource, relation and subject; a different caveat or expiration
// does not make it another relationship). It returns nil or an *UpdateError.
func CheckUpdates(updates []Update) error {
	seen := make(map[Ident]int, len(updates))
	for i := range updates {
		u := &updates[i]
		if u.Op != OpCreate && u.Op != OpTouch && u.Op != OpDelete {
			return &UpdateError{Index: i, Other: -1, Msg: fmt.Sprintf("updates[%d]: unknown op %v; use create, touch or delete", i, u.Op)}
		}
		if err := dup(seen, "updates", i, &u.Relationship); err != nil {
			return err
		}
	}
	return nil
}

// CheckDistinct checks a list of relationships to be written together (an
// import chunk): each is valid and none is named twice. It returns nil or an
// *UpdateError.
func CheckDistinct(rels []Relationship) error {
	seen := make(map[Ident]int, len(rels))
	for i := range rels {
		if err := dup(seen, "relationships", i, &rels[i]); err != nil {
			return err
		}
	}
	return nil
}

func dup(seen map[Ident]int, list string, i int, r *Relationship) error {
	if err := r.Validate(); err != nil {
		return &UpdateError{Index: i, Other: -1, Msg: fmt.Sprintf("%s[%d]: %v", list, i, err)}
	}
	id := r.Ident()
	if j, ok := seen[id]; ok {
		return &UpdateError{Index: i, Other: j, Msg: fmt.Sprintf("%s[%d] and %s[%d] both change %s; name each relationship once per write", list, j, list, i, r.Key())}
	}
	seen[id] = i
	return nil
}
