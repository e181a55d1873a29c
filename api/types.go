package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/trellis-authz/trellis/engine"
	"github.com/trellis-authz/trellis/tuple"
)

// Consistency modes.
const (
	MinimizeLatency = "minimize_latency"
	AtLeastAsFresh  = "at_least_as_fresh"
	AtExactSnapshot = "at_exact_snapshot"
	FullyConsistent = "fully_consistent"
)

// Consistency says which revision a read sees. In JSON it is either the string
// "minimize_latency" or "fully_consistent", or an object
// {"at_least_as_fresh": TOKEN} or {"at_exact_snapshot": TOKEN}.
type Consistency struct {
	Mode  string // one of the four modes; "" means minimize_latency
	Token string // for at_least_as_fresh and at_exact_snapshot
}

// MarshalJSON writes the string or object form.
func (c Consistency) MarshalJSON() ([]byte, error) {
	switch c.Mode {
	case "", MinimizeLatency, FullyConsistent:
		m := c.Mode
		if m == "" {
			m = MinimizeLatency
		}
		return json.Marshal(m)
	case AtLeastAsFresh, AtExactSnapshot:
		return json.Marshal(map[string]string{c.Mode: c.Token})
	}
	return nil, fmt.Errorf("unknown consistency mode %q", c.Mode)
}

// UnmarshalJSON reads the string or object form.
func (c *Consistency) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		switch s {
		case MinimizeLatency, FullyConsistent:
			*c = Consistency{Mode: s}
			return nil
		case AtLeastAsFresh, AtExactSnapshot:
			return fmt.Errorf("consistency %q needs a token: write {%q: TOKEN}", s, s)
		}
		return fmt.Errorf("unknown consistency %q; use \"minimize_latency\", \"fully_consistent\", {\"at_least_as_fresh\": TOKEN} or {\"at_exact_snapshot\": TOKEN}", s)
	}
	if string(b) == "null" {
		*c = Consistency{}
		return nil
	}
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("consistency must be a string or an object with one token: %v", err)
	}
	if len(m) != 1 {
		return fmt.Errorf("consistency object must have exactly one key, at_least_as_fresh or at_exact_snapshot; got %d", len(m))
	}
	for k, v := range m {
		if k != AtLeastAsFresh && k != AtExactSnapshot {
			return fmt.Errorf("unknown consistency %q; use at_least_as_fresh or at_exact_snapshot", k)
		}
		*c = Consistency{Mode: k, Token: v}
	}
	return nil
}

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
	Result         string        `json:"result"` // allowed | denied | conditional
	MissingContext []string      `json:"missing_context,omitempty"`
	ExpiresAt      *time.Time    `json:"expires_at,omitempty"`
	CheckedAt      string        `json:"checked_at"`
	Trace          *engine.Trace `json:"trace,omitempty"`
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
	Tree   *engine.ExpandNode `json:"tree"`
	ReadAt string             `json:"read_at"`
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

// ReadRelationshipsRequest is the body of POST /v1/relationships/read.
type ReadRelationshipsRequest struct {
	Filter      tuple.Filter `json:"filter"`
	Limit       int          `json:"limit,omitempty"`
	Cursor      string       `json:"cursor,omitempty"`
	Consistency *Consistency `json:"consistency,omitempty"`
}

// ReadRelationshipsResponse answers POST /v1/relationships/read. Relationships
// are in the string syntax of package tuple.
type ReadRelationshipsResponse struct {
	Relationships []string `json:"relationships"`
	NextCursor    string   `json:"next_cursor,omitempty"`
	ReadAt        string   `json:"read_at"`
}

// ExportLine is one line of GET /v1/relationships/export and of the body of
// POST /v1/relationships/import.
type ExportLine struct {
	Relationship string `json:"relationship"`
}

// Update is one change of a write.
type Update struct {
	Op           string `json:"op"` // create | touch | delete
	Relationship string `json:"relationship"`
}

// Precondition must hold against the current state for a write to apply.
type Precondition struct {
	Op     string       `json:"op"` // must_match | must_not_match
	Filter tuple.Filter `json:"filter"`
}

// WriteRelationshipsRequest is the body of POST /v1/relationships/write.
type WriteRelationshipsRequest struct {
	Updates        []Update       `json:"updates"`
	Preconditions  []Precondition `json:"preconditions,omitempty"`
	Reason         string         `json:"reason,omitempty"`
	IdempotencyKey string         `json:"idempotency_key,omitempty"`
}

// WriteResponse answers a write.
type WriteResponse struct {
	WrittenAt string `json:"written_at"`
}

// DeleteRelationshipsRequest is the body of POST /v1/relationships/delete.
type DeleteRelationshipsRequest struct {
	Filter         tuple.Filter `json:"filter"`
	Limit          int          `json:"limit,omitempty"`
	Reason         string       `json:"reason,omitempty"`
	IdempotencyKey string       `json:"idempotency_key,omitempty"`
}

// DeleteRelationshipsResponse answers POST /v1/relationships/delete.
type DeleteRelationshipsResponse struct {
	WrittenAt string `json:"written_at"`
	Deleted   int    `json:"deleted"`
}

// ImportResponse answers POST /v1/relationships/import.
type ImportResponse struct {
	WrittenAt string `json:"written_at"`
	Imported  int    `json:"imported"`
}

// SchemaResponse answers GET /v1/schema.
type SchemaResponse struct {
	Schema string `json:"schema"`
	Hash   string `json:"hash"`
	ReadAt string `json:"read_at"`
}

// WriteSchemaRequest is the body of PUT /v1/schema.
type WriteSchemaRequest struct {
	Schema         string `json:"schema"`
	Reason         string `json:"reason,omitempty"`
	IdempotencyKey string `json:"idempotency_key,omitempty"`
}

// WriteSchemaResponse answers PUT /v1/schema.
type WriteSchemaResponse struct {
	WrittenAt string   `json:"written_at"`
	Hash      string   `json:"hash"`
	Warnings  []string `json:"warnings,omitempty"`
}

// DiffSchemaRequest is the body of POST /v1/schema/diff.
type DiffSchemaRequest struct {
	Schema string `json:"schema"`
}

// SchemaChange is one difference between the stored schema and a proposed one.
type SchemaChange struct {
	Kind        string `json:"kind"`        // e.g. "relation_removed"
	Target      string `json:"target"`      // e.g. "dataset#reader"
	Description string `json:"description"` // for a person
	Breaking    bool   `json:"breaking"`
	// AccessChange marks a change that alters who has access without breaking
	// stored data or callers (a permission's expression, a caveat's body).
	AccessChange bool `json:"access_change,omitempty"`
}

// DiffSchemaResponse answers POST /v1/schema/diff.
type DiffSchemaResponse struct {
	Changes  []SchemaChange `json:"changes"`
	Warnings []string       `json:"warnings,omitempty"`
	ReadAt   string         `json:"read_at"`
}

// HealthResponse answers /healthz and /readyz.
type HealthResponse struct {
	Status string `json:"status"` // "ok" or "not_ready"
	Reason string `json:"reason,omitempty"`
}
