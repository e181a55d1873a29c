package engine

import (
	"fmt"
	"github.com/trellis-authz/trellis/verdict"
	"time"

	"github.com/trellis-authz/trellis/schema"
	"github.com/trellis-authz/trellis/tuple"
)

// Errors the engine returns. The API maps them to HTTP statuses.
var (
	// ErrUnknownType: the resource or subject type is not defined in the schema.
	ErrUnknownType = verdict.New("unknown object type")
	// ErrUnknownPermission: the definition has no such relation or permission.
	ErrUnknownPermission = verdict.New("unknown relation or permission")
	// ErrDepthExceeded: the check needed more than the depth budget of nested steps.
	ErrDepthExceeded = verdict.New("maximum check depth exceeded")
	// ErrCycle: the answer depends on a cycle in the data that passes through
	// the subtracted side of an exclusion (view = viewer - blocked, where
	// blocked leads back to view), so it would depend on itself. It wraps
	// ErrDepthExceeded, so callers that handle that error handle this one.
	ErrCycle = fmt.Errorf("%w: the answer depends on a cycle through an exclusion", ErrDepthExceeded)
	// ErrInvalidContext: caveat context could not be converted to the parameter types.
	ErrInvalidContext = verdict.New("invalid caveat context")
	// ErrCaveatEvaluation: a caveat failed to evaluate (cost limit, runtime error).
	ErrCaveatEvaluation = verdict.New("caveat evaluation failed")
	// ErrInvalidCursor: a lookup cursor is malformed or from another query.
	ErrInvalidCursor = verdict.New("invalid cursor")
)

// View is what every query reads: a compiled schema and the store as of one
// revision. Revision keys the cache, so it must identify the Reader's state.
type View struct {
	Schema   *schema.Schema
	Reader   Reader
	Revision uint64
}

// Result is the three-valued outcome of a check.
type Result uint8

// Check outcomes.
const (
	Denied Result = iota
	Allowed
	Conditional // a caveat lacks context; see MissingContext
)

func (r Result) String() string {
	switch r {
	case Allowed:
		return "allowed"
	case Conditional:
		return "conditional"
	}
	return "denied"
}

// CheckRequest asks whether Subject has Permission on Resource.
type CheckRequest struct {
	Resource   tuple.ObjectRef
	Permission string // a relation or permission of Resource.Type
	Subject    tuple.SubjectRef
	Context    map[string]any // caveat context given with the request
	Explain    bool           // fill CheckResult.Trace
	// Watch, when set, has the check report which of its relations and
	// caveats lay on the deciding branch (CheckResult.Watched).
	Watch *Watch
}

// CheckResult is the answer to a CheckRequest.
type CheckResult struct {
	Result Result
	// MissingContext names the caveat parameters that were needed but not given
	// (sorted, unique), when Result is Conditional.
	MissingContext []string
	// ExpiresAt is when the earliest expiring relationship on the deciding path
	// ends, if any: the answer may change then.
	ExpiresAt *time.Time
	// Trace explains the answer when the request asked for it.
	Trace *Trace
	// Watched has bit i set when the request's Watch spec i lay on the
	// branch that decided a result other than denied (Watch.Has).
	Watched uint64
}

// Trace is one node of an explain tree.
type Trace struct {
	// Kind: "check", "union", "intersection", "exclusion", "arrow", "arrow_all"
	// (.all()), "relation", "via" (a subject set a relationship points at:
	// its Tuples name the relationship, its children the membership check),
	// "caveat", "nil", "suspended" (a suspension denied it; Detail has the
	// suspended subject, reason, by, since and until).
	Kind     string            `json:"kind"`
	Resource string            `json:"resource,omitempty"`      // "dataset:claims"
	Relation string            `json:"relation,omitempty"`      // relation or permission evaluated
	Subject  string            `json:"subject,omitempty"`       // the subject asked about
	Result   string            `json:"result"`                  // allowed, denied, conditional
	Missing  []string          `json:"missing,omitempty"`       // missing caveat parameters
	Tuples   []string          `json:"relationships,omitempty"` // relationships that decided this node
	Cached   bool              `json:"cached,omitempty"`
	Children []*Trace          `json:"children,omitempty"`
	Detail   map[string]string `json:"detail,omitempty"` // e.g. caveat name and expression
}

// BulkResult is one item's answer in CheckBulk: a result or an error.
type BulkResult struct {
	Result CheckResult
	Err    error
}

// ExpandNode is a node of the tree Expand returns: an operation over children,
// or a leaf listing the direct subjects of one relation.
type ExpandNode struct {
	// Kind: "union", "intersection", "exclusion", "leaf", "nil". For an arrow the
	// node is a union over the arrow's targets ("all" for .all()). "cycle" marks
	// a relation met again on the same path, which adds nothing. "suspended"
	// marks a suspended subject set, which grants nothing; suspended subjects
	// are left out of leaves.
	Kind     string          `json:"kind"`
	Resource string          `json:"resource"` // object#relation this node expands
	Relation string          `json:"relation"`
	Subjects []ExpandSubject `json:"subjects,omitempty"` // for leaves
	Children []*ExpandNode   `json:"children,omitempty"`
	// Via is, for a child of an arrow node, the relationship (subject, caveat,
	// expiration) of the arrow's relation that led to this target; nil otherwise.
	Via *ExpandSubject `json:"via,omitempty"`
}

// ExpandSubject is a subject found at a leaf, with the caveat or expiration of
// the relationship that put it there.
type ExpandSubject struct {
	Subject    string     `json:"subject"` // "user:ana", "team:ml#member", "user:*"
	Caveat     string     `json:"caveat,omitempty"`
	Expiration *time.Time `json:"expires_at,omitempty"`
}

// LookupResourcesRequest asks which resources of a type Subject has Permission on.
type LookupResourcesRequest struct {
	ResourceType string
	Permission   string
	Subject      tuple.SubjectRef
	Context      map[string]any
	Limit        int    // 0: no limit
	Cursor       string // from a previous page's NextCursor
}

// LookupResource is one resource found by LookupResources.
type LookupResource struct {
	ID             string
	Result         Result // Allowed or Conditional
	MissingContext []string
}

// LookupResourcesResult is one page of LookupResources.
type LookupResourcesResult struct {
	Resources  []LookupResource
	NextCursor string // empty when there are no more
}

// LookupSubjectsRequest asks which subjects of a type have Permission on Resource.
type LookupSubjectsRequest struct {
	Resource        tuple.ObjectRef
	Permission      string
	SubjectType     string
	SubjectRelation string // "" for plain subjects
	Context         map[string]any
	Limit           int
	Cursor          string
}

// LookupSubject is one subject found by LookupSubjects. A wildcard is reported
// as ID "*" with the subjects excluded from it.
type LookupSubject struct {
	ID             string
	Result         Result
	MissingContext []string
	Excluded       []string
}

// LookupSubjectsResult is one page of LookupSubjects.
type LookupSubjectsResult struct {
	Subjects   []LookupSubject
	NextCursor string
}
