package wire

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

// FormatSchemaRequest is the body of POST /v1/schema/format.
type FormatSchemaRequest struct {
	Schema string `json:"schema"`
}

// FormatSchemaResponse answers POST /v1/schema/format: the schema in the
// canonical layout (the one `trellis schema fmt` writes), comments kept.
type FormatSchemaResponse struct {
	Formatted string `json:"formatted"`
	// Changed says whether the layout differs from the text sent.
	Changed bool `json:"changed"`
}
