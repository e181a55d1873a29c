package wire

import "time"

// Decision record endpoint limits.
const (
	DefaultDecisionLimit = 100
	MaxDecisionLimit     = 1000
)

// DecisionRecord is one record of a node's decision log (a check it
// answered), as GET /v1/decisions and the "decision" events of GET
// /v1/decisions/stream show it: the same fields, and the same JSON, as the
// record's line in the node's chain file (trellis serve --decision-log), so
// prev and hash can be checked against the file or recomputed with package
// audit's rule.
type DecisionRecord struct {
	Index      uint64    `json:"index"`
	Prev       string    `json:"prev"` // hex SHA-256 of the previous record
	Time       time.Time `json:"time"`
	Principal  string    `json:"principal"`
	RequestID  string    `json:"request_id"`
	Resource   string    `json:"resource"`
	Permission string    `json:"permission"`
	Subject    string    `json:"subject"`
	Result     string    `json:"result"` // allowed, denied, conditional
	Token      string    `json:"token"`  // the check's checked_at
	Hash       string    `json:"hash"`   // hex SHA-256 of this record
}

// DecisionsResponse answers GET /v1/decisions: the latest records this node
// appended, oldest first.
type DecisionsResponse struct {
	Records []DecisionRecord `json:"records"`
	// Next is the index the node's next record will have: stream from it
	// (GET /v1/decisions/stream?from=Next) to see every later record once.
	Next uint64 `json:"next"`
	// Kept is how many of its latest records the node keeps in memory: the
	// stream can resume from at most that far back.
	Kept int `json:"kept"`
	// Node is the id of the node whose log this is; each node keeps its own.
	Node string `json:"node"`
}
