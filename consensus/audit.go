package consensus

import (
	"crypto/sha256"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/trellis-authz/trellis/audit"
	"github.com/trellis-authz/trellis/storage"
)

// ExtraReader reads the latest committed value of a store's extra key.
// *storage.Store implements it.
type ExtraReader interface {
	Extra(key []byte) ([]byte, bool, error)
}

// AuditStore adapts a store's extra key/values to audit.Store, which is what
// audit.Open reads the persisted log from.
func AuditStore(s ExtraReader) audit.Store { return auditStore{s} }

type auditStore struct{ s ExtraReader }

func (a auditStore) Get(key []byte) ([]byte, bool, error) { return a.s.Extra(key) }

// AuditLog adapts *audit.Log to AuditHook: each applied write, delete, import
// chunk, schema change and decision anchor becomes one audit entry written in the same storage
// transaction as the change. It is driven by the FSM's goroutine only.
type AuditLog struct {
	log     *audit.Log
	pending bool // an Append whose batch has not been confirmed committed
}

// NewAuditLog returns the hook appending to log.
func NewAuditLog(log *audit.Log) *AuditLog { return &AuditLog{log: log} }

var (
	_ AuditHook     = (*AuditLog)(nil)
	_ AuditReloader = (*AuditLog)(nil)
)

// ChangeStrings returns the canonical change strings an audit entry's
// digest covers: "<op> <relationship>" per change, in order. For a schema
// change (no relationship changes) it is the single string
// "schema <schema hash>". A decision anchor covers no changes (nil).
func ChangeStrings(rec AuditRecord, changes []storage.Change) []string {
	switch rec.Kind {
	case TypeSchema.String():
		return []string{"schema " + rec.SchemaHash}
	case TypeAnchor.String():
		return nil
	case audit.KindSuspend, audit.KindUnsuspend:
		return []string{rec.Suspension}
	case TypeAlerts.String():
		return []string{rec.Alerts}
	}
	out := make([]string, len(changes))
	for i, c := range changes {
		out[i] = string(appendChange(nil, c))
	}
	return out
}

// appendChange appends a change's canonical string, "<op> <relationship>".
func appendChange(b []byte, c storage.Change) []byte {
	b = append(b, c.Op.String()...)
	b = append(b, ' ')
	return c.Relationship.Append(b)
}

// digestChanges returns what audit.DigestChanges(ChangeStrings(rec, changes))
// does, and the number of change strings, without building a string per
// change: an import chunk's entry covers thousands of them, and the state
// machine computes it on the path every chunk waits for.
func digestChanges(rec AuditRecord, changes []storage.Change) (int, []byte) {
	switch rec.Kind {
	case TypeSchema.String(), TypeAnchor.String(), audit.KindSuspend, audit.KindUnsuspend, TypeAlerts.String():
		lines := ChangeStrings(rec, changes)
		return len(lines), audit.DigestChanges(lines)
	}
	h := sha256.New()
	var buf []byte
	for _, c := range changes {
		buf = append(appendChange(buf[:0], c), '\n')
		h.Write(buf)
	}
	return len(changes), h.Sum(nil)
}

// Append stages the entry for rec and returns the key/values to write with
// the batch, and the function that makes the entry visible once the batch
// committed.
func (a *AuditLog) Append(rec AuditRecord, changes []storage.Change) ([]storage.KV, func(), error) {
	if a.pending {
		// The previous batch's commit was never confirmed (its transaction
		// failed, or Finish ran again for a retried transaction): let the log
		// look at the stored size and commit or drop what it staged.
		if err := a.log.Sync(); err != nil {
			return nil, nil, fmt.Errorf("reconciling the audit log with the store: %w", err)
		}
		a.pending = false
	}
	count, digest := digestChanges(rec, changes)
	e := audit.Entry{
		Revision: rec.Revision, Time: rec.Time, Kind: rec.Kind,
		Principal: auditField(rec.Principal), Reason: auditField(rec.Reason), RequestID: auditField(rec.RequestID),
		IdempotencyKey: auditField(rec.IdempotencyKey),
		ChangeCount:    count, ChangeDigest: digest,
	}
	if rec.Anchor != nil {
		e.ChangeCount, e.ChangeDigest = int(rec.Anchor.Size), rec.Anchor.Head
	}
	kvs, _, err := a.log.Append(e)
	if err != nil {
		a.log.Abort()
		return nil, nil, err
	}
	a.pending = true
	out := make([]storage.KV, len(kvs))
	for i, kv := range kvs {
		out[i] = storage.KV{Key: kv.Key, Value: kv.Value}
	}
	return out, func() {
		a.log.Commit()
		a.pending = false
	}, nil
}

// auditField makes s acceptable to the audit log, deterministically: invalid
// UTF-8 becomes U+FFFD and the text is cut to audit.MaxFieldLen bytes at a
// rune boundary. An entry the log refused would fail the batch on every
// replica and halt the state machine, so the hook never passes one on.
func auditField(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= audit.MaxFieldLen {
		return s
	}
	cut := audit.MaxFieldLen
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// Reload re-reads the log's state after a snapshot restore replaced the
// store's contents.
func (a *AuditLog) Reload() error {
	a.pending = false
	return a.log.Sync()
}

// Log returns the underlying audit log (for the API and the CLI).
func (a *AuditLog) Log() *audit.Log { return a.log }
