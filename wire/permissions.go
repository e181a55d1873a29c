package wire

import (
	"encoding/json"
	"time"
)

// CheckRequest is the body of POST /v1/check.
type CheckRequest struct {
	Resource    string          `json:"resource"`
	Permission  string          `json:"permission"`
	Subject     string          `json:"subject"`
	Context     json.RawMessage `json:"context,omitempty"`
	Consistency *Consistency    `json:"consistency,omitempty"`
	Explain     bool            `json:"explain,omitempty"`
}

// CheckResponse answers POST /v1/check.
type CheckResponse struct {
	Result         string     `json:"result"` // allowed | denied | conditional
	MissingContext []string   `json:"missing_context,omitempty"`
	ExpiresAt      *time.Time `json:"expires_at,omitempty"`
	CheckedAt      string     `json:"checked_at"`
	Trace          *Trace     `json:"trace,omitempty"`
}

// CheckItem is one check in a bulk request.
type CheckItem struct {
	Resource   string          `json:"resource"`
	Permission string          `json:"permission"`
	Subject    string          `json:"subject"`
	Context    json.RawMessage `json:"context,omitempty"`
}

// CheckBulkRequest is the body of POST /v1/check/bulk.
type CheckBulkRequest struct {
	Items       []CheckItem  `json:"items"`
	Consistency *Consistency `json:"consistency,omitempty"`
}

// CheckBulkResult is one item's answer: a result, or an error.
type CheckBulkResult struct {
	Result         string     `json:"result,omitempty"`
	MissingContext []string   `json:"missing_context,omitempty"`
	ExpiresAt      *time.Time `json:"expires_at,omitempty"`
	Error          *Error     `json:"error,omitempty"`
}

// CheckBulkResponse answers POST /v1/check/bulk, results in request order.
type CheckBulkResponse struct {
	Results   []CheckBulkResult `json:"results"`
	CheckedAt string            `json:"checked_at"`
}

// ExpandRequest is the body of POST /v1/expand.
type ExpandRequest struct {
	Resource    string       `json:"resource"`
	Permission  string       `json:"permission"`
	Consistency *Consistency `json:"consistency,omitempty"`
}

// ExpandResponse answers POST /v1/expand.
type ExpandResponse struct {
	Tree   *ExpandNode `json:"tree"`
	ReadAt string      `json:"read_at"`
}

// LookupResourcesRequest is the body of POST /v1/lookup/resources.
type LookupResourcesRequest struct {
	ResourceType string          `json:"resource_type"`
	Permission   string          `json:"permission"`
	Subject      string          `json:"subject"`
	Context      json.RawMessage `json:"context,omitempty"`
	Limit        int             `json:"limit,omitempty"`
	Cursor       string          `json:"cursor,omitempty"`
	Consistency  *Consistency    `json:"consistency,omitempty"`
}

// LookupResource is one resource found.
type LookupResource struct {
	ID             string   `json:"id"`
	Result         string   `json:"result"`
	MissingContext []string `json:"missing_context,omitempty"`
}

// LookupResourcesResponse answers POST /v1/lookup/resources.
type LookupResourcesResponse struct {
	Resources  []LookupResource `json:"resources"`
	NextCursor string           `json:"next_cursor,omitempty"`
	ReadAt     string           `json:"read_at"`
}

// LookupSubjectsRequest is the body of POST /v1/lookup/subjects.
type LookupSubjectsRequest struct {
	Resource        string          `json:"resource"`
	Permission      string          `json:"permission"`
	SubjectType     string          `json:"subject_type"`
	SubjectRelation string          `json:"subject_relation,omitempty"`
	Context         json.RawMessage `json:"context,omitempty"`
	Limit           int             `json:"limit,omitempty"`
	Cursor          string          `json:"cursor,omitempty"`
	Consistency     *Consistency    `json:"consistency,omitempty"`
}

// LookupSubject is one subject found; a wildcard "*" lists its exclusions.
type LookupSubject struct {
	ID             string   `json:"id"`
	Result         string   `json:"result"`
	MissingContext []string `json:"missing_context,omitempty"`
	Excluded       []string `json:"excluded,omitempty"`
}

// LookupSubjectsResponse answers POST /v1/lookup/subjects.
type LookupSubjectsResponse struct {
	Subjects   []LookupSubject `json:"subjects"`
	NextCursor string          `json:"next_cursor,omitempty"`
	ReadAt     string          `json:"read_at"`
}

// Trace explains how a check was decided (POST /v1/check with "explain":
// true): one node per evaluated expression, children in evaluation order.
type Trace struct {
	// Kind: "check", "union", "intersection", "exclusion", "arrow", "arrow_all"
	// (.all()), "relation", "via" (a subject set a relationship points at:
	// its Relationships name the relationship, its children the membership
	// check), "caveat", "nil".
	Kind          string            `json:"kind"`
	Resource      string            `json:"resource,omitempty"`      // "dataset:claims"
	Relation      string            `json:"relation,omitempty"`      // relation or permission evaluated
	Subject       string            `json:"subject,omitempty"`       // the subject asked about
	Result        string            `json:"result"`                  // allowed, denied, conditional
	Missing       []string          `json:"missing,omitempty"`       // missing caveat parameters
	Relationships []string          `json:"relationships,omitempty"` // relationships that decided this node
	Cached        bool              `json:"cached,omitempty"`
	Children      []*Trace          `json:"children,omitempty"`
	Detail        map[string]string `json:"detail,omitempty"` // e.g. caveat name and expression
}

// ExpandNode is a node of the tree POST /v1/expand returns: an operation over
// children, or a leaf listing the direct subjects of one relation.
type ExpandNode struct {
	// Kind: "union", "intersection", "exclusion", "leaf", "nil". For an arrow
	// the node is a union over the arrow's targets ("all" for .all()).
	// "cycle" marks a relation met again on the same path, which adds nothing.
	Kind     string          `json:"kind"`
	Resource string          `json:"resource"` // object#relation this node expands
	Relation string          `json:"relation"`
	Subjects []ExpandSubject `json:"subjects,omitempty"` // for leaves
	Children []*ExpandNode   `json:"children,omitempty"`
	// Via is, for a child of an arrow node, the relationship (subject,
	// caveat, expiration) of the arrow's relation that led to this target.
	Via *ExpandSubject `json:"via,omitempty"`
}

// ExpandSubject is a subject found at a leaf, with the caveat or expiration
// of the relationship that put it there.
type ExpandSubject struct {
	Subject    string     `json:"subject"` // "user:ana", "team:ml#member", "user:*"
	Caveat     string     `json:"caveat,omitempty"`
	Expiration *time.Time `json:"expires_at,omitempty"`
}
