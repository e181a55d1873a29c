package wire

import (
	"encoding/json"
	"time"
)

// PlanRequest is the body of POST /v1/plan: for one subject and a set of
// resources, which of an ordered list of permissions (tiers, e.g. read_raw
// then read_masked) is the first that holds on each resource. The resources
// are listed (Resources) or selected (ResourcesOf), never both.
type PlanRequest struct {
	Subject string `json:"subject"`
	// Resources lists the resources, e.g. ["field:claims_ssn", "field:claims_region"].
	Resources []string `json:"resources,omitempty"`
	// ResourcesOf selects every resource of a type whose relation points at
	// an object, e.g. every field whose dataset is dataset:claims.
	ResourcesOf *ResourceSelector `json:"resources_of,omitempty"`
	// Permissions are the tiers, best first; each must be defined on every
	// resource's type.
	Permissions []string        `json:"permissions"`
	Context     json.RawMessage `json:"context,omitempty"`
	Consistency *Consistency    `json:"consistency,omitempty"`
	// Limit and Cursor page a ResourcesOf selection.
	Limit  int    `json:"limit,omitempty"`
	Cursor string `json:"cursor,omitempty"`
}

// ResourceSelector names the resources of Type that have a stored
// relationship Type:*#Relation@Object.
type ResourceSelector struct {
	Type     string `json:"type"`     // "field"
	Relation string `json:"relation"` // a relation of Type: "dataset"
	Object   string `json:"object"`   // "dataset:claims", or a subject set such as "team:ml#member"
}

// PlanEntry is one resource's tier.
type PlanEntry struct {
	Resource string `json:"resource"`
	// Permission is the first permission that holds; "" when none does. When
	// Conditional is set it is the first that may hold, given MissingContext.
	Permission     string   `json:"permission"`
	Conditional    bool     `json:"conditional"`
	MissingContext []string `json:"missing_context,omitempty"`
	// ExpiresAt is the earliest expiration among the checks that decided
	// this entry: the entry may change then.
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	// Error is set when this resource could not be evaluated (Permission is
	// then "").
	Error *Error `json:"error,omitempty"`
}

// PlanResponse answers POST /v1/plan, entries in request (or selection) order.
type PlanResponse struct {
	Plan []PlanEntry `json:"plan"`
	// Permissions repeats the request's tiers, best first.
	Permissions []string `json:"permissions"`
	CheckedAt   string   `json:"checked_at"`
	NextCursor  string   `json:"next_cursor,omitempty"`
}
