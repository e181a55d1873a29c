package consensus

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/trellis-authz/trellis/verdict"
	"log/slog"
	"time"

	"github.com/trellis-authz/trellis/schema"
	"github.com/trellis-authz/trellis/storage"
	"github.com/trellis-authz/trellis/tuple"
)

// Store is what the applier needs from the storage layer. *storage.Store
// implements it.
type Store interface {
	Apply(rev uint64, b storage.Batch) (storage.Result, error)
	AppliedRevision() uint64
	Extra(key []byte) ([]byte, bool, error)
	Schema() (storage.SchemaRecord, uint64, bool, error)
}

// RelationshipCounter counts the relationships matching a filter (and match,
// when not nil) at a revision; the applier uses it to refuse unsafe schema
// changes. It must count every stored relationship, expired or not, and read
// no clock, so that every replica reaches the same verdict.
type RelationshipCounter interface {
	CountRelationships(ctx context.Context, rev uint64, f tuple.Filter, match func(tuple.Relationship) bool) (int, error)
}

// SchemaCompiler compiles schema text. It must be deterministic.
type SchemaCompiler func(text string) (*schema.Schema, error)

// AuditRecord describes one applied command for the audit log.
type AuditRecord struct {
	Revision       uint64
	Time           time.Time // leader-chosen
	Kind           string    // the command type: write, delete, import, schema
	Principal      string
	Reason         string
	RequestID      string
	IdempotencyKey string
	SchemaHash     string // for schema writes: the new schema's hash
	// Suspension is set for a suspend or unsuspend record: the one change
	// string its digest covers (SuspendCommand.SuspensionLine).
	Suspension string
	// Alerts is set for an alerts record: its one change string
	// (AlertsCommand.AlertsLine), which holds no secret.
	Alerts string
	// Anchor is set for a decision_anchor record (Kind "decision_anchor"):
	// the entry's change_count and change_digest are its Size and Head
	// instead of a digest of changes.
	Anchor *DecisionAnchor
}

// DecisionAnchor is the decision-chain head an AnchorCommand carries.
type DecisionAnchor struct {
	Node string
	Size uint64
	Head []byte // SHA-256
}

// AuditHook appends audit entries inside the write transaction. Append returns
// extra key/values to write with the batch and a commit function, called only
// after the batch committed; when the batch fails, commit is never called and
// the hook must forget the pending entry.
type AuditHook interface {
	Append(rec AuditRecord, changes []storage.Change) ([]storage.KV, func(), error)
}

// AuditReloader is implemented by audit hooks that keep state derived from the
// store (tree size, root): Reload is called after a raft snapshot replaced the
// store's contents.
type AuditReloader interface {
	Reload() error
}

// WriteResult is the answer to a command, carried back through raft.
type WriteResult struct {
	// Revision is the revision at which the write is visible (written_at).
	Revision uint64 `json:"revision"`
	// Changed counts relationships written or deleted; for a delete by filter
	// or an import, how many were deleted or imported.
	Changed int `json:"changed"`
	// SchemaHash is set by schema writes.
	SchemaHash string `json:"schema_hash,omitempty"`
	// Replayed is true when an idempotency key matched an earlier request:
	// nothing was written and the fields above are the first answer's.
	Replayed bool `json:"replayed,omitempty"`
}

// Extra-key namespaces inside the store.
var (
	idemPrefix   = []byte("consensus/idem/")
	memberPrefix = []byte("consensus/member/")
)

// fatalError marks an error after which the state machine must not go on.
type fatalError struct{ err error }

func (e *fatalError) Error() string { return "fatal: " + e.err.Error() }
func (e *fatalError) Unwrap() error { return e.err }

// IsFatal reports whether err halted the state machine.
func IsFatal(err error) bool {
	var f *fatalError
	return errors.As(err, &f) || errors.Is(err, ErrHalted)
}

// applier turns decoded commands into store batches. Its only state is a cache
// of the compiled schema in force, derived from the store, and the member map.
// It is driven by one goroutine (the FSM's).
type applier struct {
	store   Store
	counter RelationshipCounter
	compile SchemaCompiler
	audit   AuditHook
	window  time.Duration
	log     *slog.Logger

	schema *schema.Schema // nil before the first schema write
}

// audited reports whether a command gets an audit entry: every schema
// write and decision anchor, and every relationship write, delete or import
// that changed something. A write that changed nothing (deleting what does
// not exist, touching what is already there) leaves no entry: there is
// nothing to account for. Membership is in raft's own configuration, and the
// cluster's id is written once by its first leader.
func audited(c Command, changes []storage.Change) bool {
	switch c.Type() {
	case TypeMember, TypeCluster, TypeAlertCursor, TypeAlertLetter, TypeAuditRoot:
		return false
	case TypeWrite, TypeDelete, TypeImport:
		return len(changes) > 0
	}
	return true
}

// handler applies one command type at index.
type handler func(a *applier, index uint64, c Command) (WriteResult, error)

// handlers is the dispatch table: every decodable command type has one entry.
var handlers = map[CommandType]handler{
	TypeNoop:        (*applier).applyNoop,
	TypeWrite:       (*applier).applyWrite,
	TypeDelete:      (*applier).applyDelete,
	TypeImport:      (*applier).applyImport,
	TypeSchema:      (*applier).applySchema,
	TypeMember:      (*applier).applyMember,
	TypeAnchor:      (*applier).applyAnchor,
	TypeCluster:     (*applier).applyCluster,
	TypeSuspend:     (*applier).applySuspend,
	TypeAlerts:      (*applier).applyAlerts,
	TypeAlertCursor: (*applier).applyAlertCursor,
	TypeAlertLetter: (*applier).applyAlertLetter,
	TypeAuditRoot:   (*applier).applyAuditRoot,
}

// loadSchema (re)reads and compiles the schema in force from the store.
func (a *applier) loadSchema() error {
	rec, _, ok, err := a.store.Schema()
	if err != nil {
		return fmt.Errorf("reading the stored schema: %w", err)
	}
	if !ok {
		a.schema = nil
		return nil
	}
	if a.schema != nil && a.schema.Hash == rec.Hash && rec.Hash != "" {
		return nil
	}
	s, err := a.compile(rec.Text)
	if err != nil {
		return fmt.Errorf("compiling the stored schema (hash %s): %w", rec.Hash, err)
	}
	a.schema = s
	return nil
}

// apply decodes and applies one log entry. It returns the command's answer or a
// rejection error (deterministic: every replica rejects it the same way), or a
// *fatalError when the state machine must stop.
func (a *applier) apply(index uint64, data []byte) (WriteResult, error) {
	if applied := a.store.AppliedRevision(); index <= applied {
		return WriteResult{Revision: applied}, nil // replay after restart
	}
	c, err := Decode(data)
	if errors.Is(err, ErrUnknownCommand) {
		return WriteResult{}, &fatalError{fmt.Errorf("log index %d: %w", index, err)}
	}
	if err != nil {
		return WriteResult{}, err
	}
	h, ok := handlers[c.Type()]
	if !ok {
		return WriteResult{}, &fatalError{fmt.Errorf("log index %d: %w %d has no handler", index, ErrUnknownCommand, c.Type())}
	}
	key := c.Header().IdempotencyKey
	var hash string
	if key != "" {
		if hash, err = requestHash(c); err != nil {
			return WriteResult{}, err
		}
		if prev, found, err := a.lookupIdempotency(key, hash, c.Header().Time); err != nil || found {
			return prev, err
		}
	}
	res, err := h(a, index, c)
	// A verdict (bad input, a failed precondition, a schema rule) is the
	// same on every replica: the command is rejected. Anything else is a
	// failure of this replica's store, after which it must not go on.
	if err != nil && !IsFatal(err) && !verdict.Is(err) {
		return res, &fatalError{fmt.Errorf("log index %d: applying %s: %w", index, c.Type(), err)}
	}
	return res, err
}

type idemRecord struct {
	Hash   string      `json:"hash"`
	Time   time.Time   `json:"time"`
	Result WriteResult `json:"result"`
}

func (a *applier) lookupIdempotency(key, hash string, now time.Time) (WriteResult, bool, error) {
	raw, ok, err := a.store.Extra(append(append([]byte{}, idemPrefix...), key...))
	if err != nil {
		return WriteResult{}, false, &fatalError{fmt.Errorf("reading idempotency key %s: %w", key, err)}
	}
	if !ok {
		return WriteResult{}, false, nil
	}
	var rec idemRecord
	if err := json.Unmarshal(raw, &rec); err != nil {
		return WriteResult{}, false, &fatalError{fmt.Errorf("decoding idempotency record %s: %w", key, err)}
	}
	if !now.Before(rec.Time.Add(a.window)) {
		return WriteResult{}, false, nil // expired: the key may be used again
	}
	if rec.Hash != hash {
		return WriteResult{}, true, fmt.Errorf("%w: key %s was first used at %s (revision %d) for another request; use a new UUID for a new request",
			ErrIdempotencyKeyReused, key, rec.Time.UTC().Format(time.RFC3339), rec.Result.Revision)
	}
	r := rec.Result
	r.Replayed = true
	return r, true, nil
}

// commit applies a batch at index with the idempotency record and the audit
// entry written in the same transaction.
func (a *applier) commit(index uint64, c Command, b storage.Batch, result func(storage.Result) WriteResult, schemaHash string) (WriteResult, error) {
	m := c.Header()
	// The change feed's record of this revision: the command's meta, and for
	// a suspension its line, so a watcher (a PEP's cache) learns that any
	// answer may have changed at this revision though no relationship did.
	// Kind and the schema hash let the alert loop tell a schema change.
	rec := struct {
		*Meta
		Kind       string `json:"kind"`
		SchemaHash string `json:"schema_hash,omitempty"`
		Suspension string `json:"suspension,omitempty"`
	}{Meta: m, Kind: c.Type().String(), SchemaHash: schemaHash}
	if sc, ok := c.(*SuspendCommand); ok {
		rec.Suspension = sc.SuspensionLine()
	}
	meta, err := json.Marshal(rec)
	if err != nil {
		return WriteResult{}, err
	}
	b.Meta = meta
	b.Now = m.Time
	var auditCommit func()
	var finishResult WriteResult
	b.Finish = func(changes []storage.Change) ([]storage.KV, error) {
		finishResult = result(storage.Result{Revision: index, Changes: changes})
		var kvs []storage.KV
		if m.IdempotencyKey != "" {
			hash, err := requestHash(c)
			if err != nil {
				return nil, err
			}
			rec, err := json.Marshal(idemRecord{Hash: hash, Time: m.Time, Result: finishResult})
			if err != nil {
				return nil, err
			}
			kvs = append(kvs, storage.KV{Key: append(append([]byte{}, idemPrefix...), m.IdempotencyKey...), Value: rec})
		}
		if a.audit != nil && audited(c, changes) {
			rec := AuditRecord{
				Revision: index, Time: m.Time, Kind: c.Type().String(),
				Principal: m.Principal, Reason: m.Reason, RequestID: m.RequestID,
				IdempotencyKey: m.IdempotencyKey, SchemaHash: schemaHash,
			}
			if an, ok := c.(*AnchorCommand); ok {
				head, _ := hex.DecodeString(an.Head) // checked by applyAnchor
				rec.Principal = "node:" + an.Node
				rec.Anchor = &DecisionAnchor{Node: an.Node, Size: an.Size, Head: head}
			}
			if sc, ok := c.(*SuspendCommand); ok {
				rec.Kind, rec.Suspension = sc.Kind(), sc.SuspensionLine()
			}
			if ac, ok := c.(*AlertsCommand); ok {
				rec.Alerts = ac.AlertsLine()
			}
			extra, commit, err := a.audit.Append(rec, changes)
			if err != nil {
				return nil, fmt.Errorf("audit: %w", err)
			}
			kvs = append(kvs, extra...)
			auditCommit = commit
		}
		return kvs, nil
	}
	// The extra keys some commands leave besides their batch.
	extras := a.alertsExtra(c, index)
	for _, kv := range []func() (storage.KV, bool){
		func() (storage.KV, bool) { return auditRootExtra(c, index) },
		func() (storage.KV, bool) { return a.alertLetterExtra(c) },
		func() (storage.KV, bool) { return a.clusterExtra(c) },
		func() (storage.KV, bool) { return memberExtra(c) },
	} {
		if x, ok := kv(); ok {
			extras = append(extras, x)
		}
	}
	if len(extras) > 0 {
		prev := b.Finish
		b.Finish = func(changes []storage.Change) ([]storage.KV, error) {
			kvs, err := prev(changes)
			return append(kvs, extras...), err
		}
	}
	res, err := a.store.Apply(index, b)
	if err != nil {
		return WriteResult{}, err
	}
	if res.Skipped {
		return WriteResult{Revision: a.store.AppliedRevision()}, nil
	}
	if auditCommit != nil {
		auditCommit()
	}
	return finishResult, nil
}

// appliedMarker is implemented by stores that can advance their applied
// revision without data (storage.Store.MarkApplied).
type appliedMarker interface {
	MarkApplied(rev uint64) error
}

func (a *applier) applyNoop(index uint64, c Command) (WriteResult, error) {
	if m, ok := a.store.(appliedMarker); ok {
		if err := m.MarkApplied(index); err != nil {
			return WriteResult{}, &fatalError{fmt.Errorf("log index %d: marking applied: %w", index, err)}
		}
	}
	return WriteResult{Revision: a.store.AppliedRevision()}, nil
}

func (a *applier) applyWrite(index uint64, c Command) (WriteResult, error) {
	w := c.(*WriteCommand)
	if a.schema == nil {
		return WriteResult{}, fmt.Errorf("%w: write a schema first (PUT /v1/schema)", ErrNoSchema)
	}
	for i, u := range w.Updates {
		if u.Op == tuple.OpDelete {
			continue // deleting what the schema no longer allows is always fine
		}
		if err := a.validate(u.Relationship); err != nil {
			return WriteResult{}, fmt.Errorf("updates[%d] %s: %w", i, u.Relationship, err)
		}
	}
	return a.commit(index, c, storage.Batch{Preconditions: w.Preconditions, Updates: w.Updates},
		func(r storage.Result) WriteResult { return WriteResult{Revision: r.Revision, Changed: len(r.Changes)} }, "")
}

func (a *applier) applyDelete(index uint64, c Command) (WriteResult, error) {
	d := c.(*DeleteCommand)
	if a.schema == nil {
		return WriteResult{}, fmt.Errorf("%w: write a schema first (PUT /v1/schema)", ErrNoSchema)
	}
	return a.commit(index, c, storage.Batch{Preconditions: d.Preconditions, DeleteFilter: &storage.DeleteByFilter{Filter: d.Filter, Limit: d.Limit}},
		func(r storage.Result) WriteResult { return WriteResult{Revision: r.Revision, Changed: len(r.Changes)} }, "")
}

func (a *applier) applyImport(index uint64, c Command) (WriteResult, error) {
	im := c.(*ImportCommand)
	if a.schema == nil {
		return WriteResult{}, fmt.Errorf("%w: write a schema first (PUT /v1/schema)", ErrNoSchema)
	}
	updates := make([]tuple.Update, len(im.Relationships))
	for i, r := range im.Relationships {
		if err := a.validate(r); err != nil {
			return WriteResult{}, fmt.Errorf("relationships[%d] %s: %w", i, r, err)
		}
		updates[i] = tuple.Update{Op: tuple.OpTouch, Relationship: r}
	}
	n := len(updates)
	return a.commit(index, c, storage.Batch{Updates: updates},
		func(r storage.Result) WriteResult { return WriteResult{Revision: r.Revision, Changed: n} }, "")
}

func (a *applier) applyMember(index uint64, c Command) (WriteResult, error) {
	return a.commit(index, c, storage.Batch{},
		func(r storage.Result) WriteResult { return WriteResult{Revision: r.Revision} }, "")
}

// applyAnchor records a decision-chain head: one audit entry (kind
// decision_anchor, principal "node:<Node>"), no relationship changes. A
// malformed anchor is rejected the same way on every replica.
func (a *applier) applyAnchor(index uint64, c Command) (WriteResult, error) {
	if err := validateAnchor(c.(*AnchorCommand)); err != nil {
		return WriteResult{}, err
	}
	return a.commit(index, c, storage.Batch{},
		func(r storage.Result) WriteResult { return WriteResult{Revision: r.Revision} }, "")
}

// Member is a cluster member as this node knows it.
type Member struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raft_addr"`
	APIAddr  string `json:"api_addr,omitempty"`
	Voter    bool   `json:"voter"`
	Leader   bool   `json:"leader"`
}

func memberExtra(c Command) (storage.KV, bool) {
	m, ok := c.(*MemberCommand)
	if !ok {
		return storage.KV{}, false
	}
	rec := Member{ID: m.ID, RaftAddr: m.RaftAddr, APIAddr: m.APIAddr}
	if m.Remove {
		rec = Member{ID: m.ID} // a tombstone: no addresses
	}
	v, _ := json.Marshal(rec)
	return storage.KV{Key: append(append([]byte{}, memberPrefix...), m.ID...), Value: v}, true
}
