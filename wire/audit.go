package wire

import "time"

// Audit endpoint limits.
const (
	DefaultAuditLimit = 100
	MaxAuditLimit     = 1000
)

// AuditEntry is one entry of the audit log as GET /v1/audit/entries and the
// export show it: the time in RFC 3339 UTC, the change digest in hex.
// Package audit's Entry reads and writes the same JSON and recomputes an
// entry's leaf hash from it.
type AuditEntry struct {
	Seq            uint64    `json:"seq"`
	Revision       uint64    `json:"revision"`
	Time           time.Time `json:"time"`
	Kind           string    `json:"kind"` // write, delete, import, schema, decision_anchor, suspend, unsuspend, alerts
	Principal      string    `json:"principal"`
	Reason         string    `json:"reason"`
	RequestID      string    `json:"request_id"`
	IdempotencyKey string    `json:"idempotency_key"`
	ChangeCount    int       `json:"change_count"`
	ChangeDigest   string    `json:"change_digest"` // hex
}

// AuditEntriesResponse is the answer of GET /v1/audit/entries.
type AuditEntriesResponse struct {
	Entries []AuditEntry `json:"entries"`
	// Next is the sequence to continue from (pass it as from=); it equals
	// Size when the scan reached the end of the log.
	Next uint64 `json:"next"`
	// Size is the log's size when the page was read.
	Size uint64 `json:"size"`
}

// Checkpoint is a signed statement of the audit log's size and Merkle root.
// Note is the signed text itself; a verifier parses that (audit.ParseCheckpoint)
// and checks its signature against a key it pinned, and the other fields
// repeat it for reading.
type Checkpoint struct {
	Origin   string    `json:"origin"`
	Size     uint64    `json:"size"`
	Root     []byte    `json:"root"`
	Revision uint64    `json:"revision"`
	Time     time.Time `json:"time"`
	// KeyName names the signing key; KeyID is the first four bytes of
	// SHA-256(KeyName || "\n" || 0x01 || public key), big-endian.
	KeyName   string `json:"key_name"`
	KeyID     uint32 `json:"key_id"`
	Signature []byte `json:"signature"` // Ed25519 over the note's body
	Note      string `json:"note"`
}

// AuditCheckpointResponse is the answer of GET /v1/audit/checkpoint. The
// public key is for convenience only: a verifier pins the keys it trusts
// (trellis audit pubkey) and never takes one from the server it checks.
type AuditCheckpointResponse struct {
	Checkpoint *Checkpoint `json:"checkpoint"`
	PublicKey  string      `json:"public_key"` // standard base64 Ed25519
}

// AuditInclusionResponse is the answer of GET /v1/audit/proof/inclusion.
type AuditInclusionResponse struct {
	Seq      uint64   `json:"seq"`
	Size     uint64   `json:"size"`
	LeafHash []byte   `json:"leaf_hash"`
	Root     []byte   `json:"root"`
	Proof    [][]byte `json:"proof"`
}

// AuditConsistencyResponse is the answer of GET /v1/audit/proof/consistency.
type AuditConsistencyResponse struct {
	From     uint64   `json:"from"`
	To       uint64   `json:"to"`
	FromRoot []byte   `json:"from_root"`
	ToRoot   []byte   `json:"to_root"`
	Proof    [][]byte `json:"proof"`
}
