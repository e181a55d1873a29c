package service

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"

	"github.com/trellis-authz/trellis/audit"
	"github.com/trellis-authz/trellis/wire"
)

// AuditLog is what the audit service reads. *audit.Log satisfies it.
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

// Audit serves the tamper-evident audit log: entries, signed checkpoints,
// proofs and the export.
type Audit struct {
	log    AuditLog
	signer *audit.Signer
}

// NewAudit returns the audit service over log, signing checkpoints with signer.
func NewAudit(log AuditLog, signer *audit.Signer) *Audit { return &Audit{log: log, signer: signer} }

// auditError translates the audit package's sentinels.
func auditError(err error) error {
	switch {
	case errors.Is(err, audit.ErrBadRange):
		return fail(ErrInvalidArgument, nil, "%v", err)
	case errors.Is(err, audit.ErrNotFound):
		return fail(ErrNotFound, nil, "%v", err)
	}
	return err
}

// Size is the number of entries in the log.
func (a *Audit) Size() uint64 { return a.log.Size() }

// Entries returns a page of entries from seq from.
func (a *Audit) Entries(from uint64, limit uint64, f audit.Filter) (wire.AuditEntriesResponse, error) {
	if limit == 0 || limit > wire.MaxAuditLimit {
		return wire.AuditEntriesResponse{}, fail(ErrInvalidArgument, map[string]any{"param": "limit"}, "limit=%d is out of range; use 1..%d", limit, wire.MaxAuditLimit)
	}
	size := a.log.Size()
	entries, next, err := a.log.Entries(from, int(limit), f)
	if err != nil {
		return wire.AuditEntriesResponse{}, auditError(err)
	}
	out := wire.AuditEntriesResponse{Entries: make([]wire.AuditEntry, len(entries)), Next: next, Size: max(size, next)}
	for i, e := range entries {
		out.Entries[i] = wire.AuditEntry{Seq: e.Seq, Revision: e.Revision, Time: e.Time.UTC(), Kind: e.Kind, Principal: e.Principal,
			Reason: e.Reason, RequestID: e.RequestID, IdempotencyKey: e.IdempotencyKey, ChangeCount: e.ChangeCount,
			ChangeDigest: hex.EncodeToString(e.ChangeDigest)}
	}
	return out, nil
}

// Checkpoint returns the latest signed checkpoint.
func (a *Audit) Checkpoint() (wire.AuditCheckpointResponse, error) {
	cp, err := a.log.Checkpoint(a.signer)
	if err != nil {
		return wire.AuditCheckpointResponse{}, auditError(err)
	}
	return wire.AuditCheckpointResponse{
		Checkpoint: &wire.Checkpoint{Origin: cp.Origin, Size: cp.Size, Root: cp.Root, Revision: cp.Revision, Time: cp.Time.UTC(),
			KeyName: cp.KeyName, KeyID: cp.KeyID, Signature: cp.Signature, Note: cp.String()},
		PublicKey: base64.StdEncoding.EncodeToString(a.signer.Public()),
	}, nil
}

// Inclusion proves entry seq is in the tree of size entries.
func (a *Audit) Inclusion(seq, size uint64) (wire.AuditInclusionResponse, error) {
	if seq >= size || size > a.log.Size() {
		return wire.AuditInclusionResponse{}, fail(ErrInvalidArgument, map[string]any{"seq": seq, "size": size, "log_size": a.log.Size()},
			"seq %d must be below size %d, and size at most the log size %d", seq, size, a.log.Size())
	}
	proof, err := a.log.InclusionProof(seq, size)
	if err != nil {
		return wire.AuditInclusionResponse{}, auditError(err)
	}
	leaf, err := a.log.LeafHash(seq)
	if err != nil {
		return wire.AuditInclusionResponse{}, auditError(err)
	}
	root, err := a.log.RootAt(size)
	if err != nil {
		return wire.AuditInclusionResponse{}, auditError(err)
	}
	return wire.AuditInclusionResponse{Seq: seq, Size: size, LeafHash: leaf, Root: root, Proof: nonNil(proof)}, nil
}

// Consistency proves the tree of size from is a prefix of the tree of size to.
func (a *Audit) Consistency(from, to uint64) (wire.AuditConsistencyResponse, error) {
	if from > to || to > a.log.Size() {
		return wire.AuditConsistencyResponse{}, fail(ErrInvalidArgument, map[string]any{"from": from, "to": to, "log_size": a.log.Size()},
			"want from <= to <= log size, got from=%d to=%d log size %d", from, to, a.log.Size())
	}
	proof, err := a.log.ConsistencyProof(from, to)
	if err != nil {
		return wire.AuditConsistencyResponse{}, auditError(err)
	}
	fromRoot, err := a.log.RootAt(from)
	if err != nil {
		return wire.AuditConsistencyResponse{}, auditError(err)
	}
	toRoot, err := a.log.RootAt(to)
	if err != nil {
		return wire.AuditConsistencyResponse{}, auditError(err)
	}
	return wire.AuditConsistencyResponse{From: from, To: to, FromRoot: fromRoot, ToRoot: toRoot, Proof: nonNil(proof)}, nil
}

func nonNil(p [][]byte) [][]byte {
	if p == nil {
		return [][]byte{}
	}
	return p
}

// CheckExportSize checks that size entries can be exported.
func (a *Audit) CheckExportSize(size uint64) error {
	if size > a.log.Size() {
		return fail(ErrInvalidArgument, map[string]any{"size": size, "log_size": a.log.Size()},
			"size %d is beyond the log size %d", size, a.log.Size())
	}
	return nil
}

// Export writes the first size entries as NDJSON, the input of
// `trellis audit verify`.
func (a *Audit) Export(w io.Writer, size uint64) error { return a.log.Export(w, size) }
