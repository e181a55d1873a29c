package wire

import "time"

// SuspendRequest is the body of POST /v1/suspensions: suspend Subject
// ("user:eve", "service_account:etl", or a subject set "team:ml#member")
// until Until (RFC 3339; empty: until unsuspended). Suspending a suspended
// subject replaces its reason and until.
type SuspendRequest struct {
	Subject        string `json:"subject"`
	Reason         string `json:"reason"`
	Until          string `json:"until,omitempty"`
	IdempotencyKey string `json:"idempotency_key,omitempty"`
}

// UnsuspendRequest is the body of POST /v1/suspensions/delete (the reason is
// also accepted as ?reason= on DELETE /v1/suspensions/{subject}).
type UnsuspendRequest struct {
	Subject        string `json:"subject"`
	Reason         string `json:"reason"`
	IdempotencyKey string `json:"idempotency_key,omitempty"`
}

// SuspensionWriteResponse is the answer to a suspend or unsuspend: the token
// of the revision from which every node's evaluation sees it.
type SuspensionWriteResponse struct {
	WrittenAt string `json:"written_at"`
}

// Suspension is one stored suspension. Active is false once Until has
// passed (it stays listed until unsuspended).
type Suspension struct {
	Subject   string     `json:"subject"`
	Reason    string     `json:"reason"`
	Principal string     `json:"principal,omitempty"`
	Since     time.Time  `json:"since"`
	Until     *time.Time `json:"until,omitempty"`
	Active    bool       `json:"active"`
	WrittenAt string     `json:"written_at"`
}

// SuspensionsResponse is the answer to GET /v1/suspensions.
type SuspensionsResponse struct {
	Suspensions []Suspension `json:"suspensions"`
	ReadAt      string       `json:"read_at"`
}
