package wire

import "github.com/trellis-authz/trellis/tuple"

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
	// Chunks is set when the delete was too large for one transaction and
	// was applied in this many atomic chunks (not atomically as a whole).
	Chunks int `json:"chunks,omitempty"`
}

// ImportResponse answers POST /v1/relationships/import.
type ImportResponse struct {
	WrittenAt string `json:"written_at"`
	Imported  int    `json:"imported"`
}
