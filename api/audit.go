package api

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/trellis-authz/trellis/audit"
)

// AuditLog is what the audit endpoints read. *audit.Log satisfies it.
type AuditLog interface {
	Size() uint64
	Entries(from uint64, limit int, f audit.Filter) ([]audit.Entry, uint64, error)
	Checkpoint(signer *audit.Signer) (*audit.Checkpoint, error)
	InclusionProof(seq, size uint64) ([][]byte, error)
	ConsistencyProof(from, to uint64) ([][]byte, error)
	RootAt(size uint64) ([]byte, error)
	LeafHash(seq uint64) ([]byte, error)
	Export(w io.Writer, size uint64) error
}

var _ AuditLog = (*audit.Log)(nil)

// Audit endpoint limits.
const (
	DefaultAuditLimit = 100
	MaxAuditLimit     = 1000
)

// AuditEntriesResponse is the answer of GET /v1/audit/entries.
type AuditEntriesResponse struct {
	Entries []audit.Entry `json:"entries"`
	// Next is the sequence to continue from (pass it as from=); it equals
	// Size when the scan reached the end of the log.
	Next uint64 `json:"next"`
	// Size is the log's size when the page was read.
	Size uint64 `json:"size"`
}

// AuditCheckpointResponse is the answer of GET /v1/audit/checkpoint. The
// public key is for convenience only: a verifier pins the keys it trusts
// (trellis audit pubkey) and never takes one from the server it checks.
type AuditCheckpointResponse struct {
	Checkpoint *audit.Checkpoint `json:"checkpoint"`
	PublicKey  string            `json:"public_key"` // standard base64 Ed25519
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

// AuditSizeHeader carries the number of entries in an audit export.
const AuditSizeHeader = "Trellis-Audit-Size"

// RegisterAudit adds the audit endpoints to s, serving log (an *audit.Log)
// and signing checkpoints with signer.
//
// Roles: the checkpoint and the proofs reveal only hashes and are open to
// readers; entries and the export name principals and reasons and need
// admin.
func RegisterAudit(s *Server, log AuditLog, signer *audit.Signer) {
	h := auditHandlers{log: log, signer: signer}
	s.Handle(Route{Method: http.MethodGet, Path: "/v1/audit/entries", Summary: "Audit log entries, paged and filtered",
		Role: RoleAdmin, Response: AuditEntriesResponse{},
		Query: []QueryParam{
			{"from", "first sequence number (default 0)"},
			{"limit", "entries per page (default 100, at most 1000)"},
			{"principal", "only entries by this principal"},
			{"kind", "only entries of this kind: write, delete, import, schema, decision_anchor"},
			{"since", "only entries at or after this time (RFC 3339)"},
			{"until", "only entries before this time (RFC 3339)"},
		},
		QueryExample: "from=0&limit=10&kind=schema&since=2026-01-01T00:00:00Z",
		Handler:      h.entries})
	s.Handle(Route{Method: http.MethodGet, Path: "/v1/audit/checkpoint", Summary: "The latest signed audit checkpoint",
		Role: RoleReader, Response: AuditCheckpointResponse{}, Handler: h.checkpoint})
	s.Handle(Route{Method: http.MethodGet, Path: "/v1/audit/proof/inclusion", Summary: "RFC 6962 inclusion proof of an entry in a tree size",
		Role: RoleReader, Response: AuditInclusionResponse{},
		Query:        []QueryParam{{"seq", "the entry's sequence number"}, {"size", "the tree size (default: the current size)"}},
		QueryExample: "seq=0&size=1",
		Handler:      h.inclusion})
	s.Handle(Route{Method: http.MethodGet, Path: "/v1/audit/proof/consistency", Summary: "RFC 6962 consistency proof between two tree sizes",
		Role: RoleReader, Response: AuditConsistencyResponse{},
		Query:        []QueryParam{{"from", "the older tree size"}, {"to", "the newer tree size (default: the current size)"}},
		QueryExample: "from=1&to=2",
		Handler:      h.consistency})
	s.Handle(Route{Method: http.MethodGet, Path: "/v1/audit/export", Summary: "The audit log as NDJSON, for trellis audit verify",
		Role: RoleAdmin, StreamOut: "application/x-ndjson", NoTimeout: true,
		Query:        []QueryParam{{"size", "export the first size entries (default: the current size)"}},
		QueryExample: "size=1",
		Handler:      h.export})
}

type auditHandlers struct {
	log    AuditLog
	signer *audit.Signer
}

// auditError translates the audit package's sentinels for httpError.
func auditError(err error) error {
	switch {
	case errors.Is(err, audit.ErrBadRange):
		return fail(ErrInvalidArgument, nil, "%v", err)
	case errors.Is(err, audit.ErrNotFound):
		return fail(ErrNotFound, nil, "%v", err)
	}
	return err
}

func queryUint(c echo.Context, name string, def uint64) (uint64, error) {
	v := c.QueryParam(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, fail(ErrInvalidArgument, map[string]any{"param": name},
			"query parameter %s=%q is not a non-negative integer", name, v)
	}
	return n, nil
}

func queryTime(c echo.Context, name string) (time.Time, error) {
	v := c.QueryParam(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fail(ErrInvalidArgument, map[string]any{"param": name},
			"query parameter %s=%q is not an RFC 3339 time such as 2026-11-22T10:00:00Z", name, v)
	}
	return t, nil
}

func (h auditHandlers) entries(c echo.Context) error {
	from, err := queryUint(c, "from", 0)
	if err != nil {
		return err
	}
	limit, err := queryUint(c, "limit", DefaultAuditLimit)
	if err != nil {
		return err
	}
	if limit == 0 || limit > MaxAuditLimit {
		return fail(ErrInvalidArgument, map[string]any{"param": "limit"}, "limit=%d is out of range; use 1..%d", limit, MaxAuditLimit)
	}
	f := audit.Filter{Principal: c.QueryParam("principal"), Kind: c.QueryParam("kind")}
	if f.Since, err = queryTime(c, "since"); err != nil {
		return err
	}
	if f.Until, err = queryTime(c, "until"); err != nil {
		return err
	}
	size := h.log.Size()
	entries, next, err := h.log.Entries(from, int(limit), f)
	if err != nil {
		return auditError(err)
	}
	if entries == nil {
		entries = []audit.Entry{}
	}
	return ok(c, AuditEntriesResponse{Entries: entries, Next: next, Size: max(size, next)})
}

func (h auditHandlers) checkpoint(c echo.Context) error {
	cp, err := h.log.Checkpoint(h.signer)
	if err != nil {
		return auditError(err)
	}
	return ok(c, AuditCheckpointResponse{Checkpoint: cp, PublicKey: base64.StdEncoding.EncodeToString(h.signer.Public())})
}

func (h auditHandlers) inclusion(c echo.Context) error {
	if c.QueryParam("seq") == "" {
		return fail(ErrInvalidArgument, map[string]any{"param": "seq"}, "query parameter seq is required")
	}
	seq, err := queryUint(c, "seq", 0)
	if err != nil {
		return err
	}
	size, err := queryUint(c, "size", h.log.Size())
	if err != nil {
		return err
	}
	if seq >= size || size > h.log.Size() {
		return fail(ErrInvalidArgument, map[string]any{"seq": seq, "size": size, "log_size": h.log.Size()},
			"seq %d must be below size %d, and size at most the log size %d", seq, size, h.log.Size())
	}
	proof, err := h.log.InclusionProof(seq, size)
	if err != nil {
		return auditError(err)
	}
	leaf, err := h.log.LeafHash(seq)
	if err != nil {
		return auditError(err)
	}
	root, err := h.log.RootAt(size)
	if err != nil {
		return auditError(err)
	}
	return ok(c, AuditInclusionResponse{Seq: seq, Size: size, LeafHash: leaf, Root: root, Proof: nonNil(proof)})
}

func (h auditHandlers) consistency(c echo.Context) error {
	if c.QueryParam("from") == "" {
		return fail(ErrInvalidArgument, map[string]any{"param": "from"}, "query parameter from is required")
	}
	from, err := queryUint(c, "from", 0)
	if err != nil {
		return err
	}
	to, err := queryUint(c, "to", h.log.Size())
	if err != nil {
		return err
	}
	if from > to || to > h.log.Size() {
		return fail(ErrInvalidArgument, map[string]any{"from": from, "to": to, "log_size": h.log.Size()},
			"want from <= to <= log size, got from=%d to=%d log size %d", from, to, h.log.Size())
	}
	proof, err := h.log.ConsistencyProof(from, to)
	if err != nil {
		return auditError(err)
	}
	fromRoot, err := h.log.RootAt(from)
	if err != nil {
		return auditError(err)
	}
	toRoot, err := h.log.RootAt(to)
	if err != nil {
		return auditError(err)
	}
	return ok(c, AuditConsistencyResponse{From: from, To: to, FromRoot: fromRoot, ToRoot: toRoot, Proof: nonNil(proof)})
}

func nonNil(p [][]byte) [][]byte {
	if p == nil {
		return [][]byte{}
	}
	return p
}

func (h auditHandlers) export(c echo.Context) error {
	size, err := queryUint(c, "size", h.log.Size())
	if err != nil {
		return err
	}
	if size > h.log.Size() {
		return fail(ErrInvalidArgument, map[string]any{"size": size, "log_size": h.log.Size()},
			"size %d is beyond the log size %d", size, h.log.Size())
	}
	w := c.Response()
	w.Header().Set(echo.HeaderContentType, "application/x-ndjson")
	w.Header().Set(AuditSizeHeader, strconv.FormatUint(size, 10))
	w.WriteHeader(http.StatusOK)
	// A failure after the header is out can only cut the stream short; the
	// verifier then reports the missing entries.
	return h.log.Export(w, size)
}

// AuditPublicKey formats a public key the way `trellis audit pubkey` prints
// it and `trellis audit verify --pubkey` reads it: "<name> <base64 key>".
func AuditPublicKey(name string, pub ed25519.PublicKey) string {
	return name + " " + base64.StdEncoding.EncodeToString(pub)
}
