package wire

// HTTP headers of the API.
const (
	// RequestIDHeader carries the request id in both directions.
	RequestIDHeader = "X-Request-Id"
	// ReadAtHeader carries the read token of a streamed answer (export).
	ReadAtHeader = "Trellis-Read-At"
	// ExportExcludesHeader says what an export left out ("expired": the
	// relationships whose expiration had passed at the read).
	ExportExcludesHeader = "Trellis-Export-Excludes"
	// LastEventIDHeader is the header an SSE watch client resumes with.
	LastEventIDHeader = "Last-Event-ID"
	// AuditSizeHeader carries the number of entries in an audit export.
	AuditSizeHeader = "Trellis-Audit-Size"
	// ForwardedHeader marks a request that a follower forwarded to the
	// leader; its value is the forwarding node's ID.
	ForwardedHeader = "Trellis-Forwarded-By"
	// ServedByHeader names the node that answered a forwarded request.
	ServedByHeader = "Trellis-Served-By"
	// ReasonHeader and IdempotencyKeyHeader carry a write's audit reason
	// and idempotency key on SpiceDB's HTTP gateway (whose bodies have no
	// field for them); over gRPC they are the metadata trellis-reason and
	// trellis-idempotency-key.
	ReasonHeader         = "Trellis-Reason"
	IdempotencyKeyHeader = "Trellis-Idempotency-Key"
)
