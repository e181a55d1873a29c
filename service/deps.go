package service

import (
	"context"
	"errors"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/trellis-authz/trellis/alerts"
	"github.com/trellis-authz/trellis/consensus"
	"iter"
	"log/slog"
	"time"

	"github.com/trellis-authz/trellis/engine"
	"github.com/trellis-authz/trellis/storage"
	"github.com/trellis-authz/trellis/tuple"
)

// Revisions is what the API needs of the replication layer to pick a revision
// for a read. consensus.Node satisfies it.
type Revisions interface {
	// AppliedRevision is the newest revision this node has applied.
	AppliedRevision() uint64
	// WaitApplied blocks until the node has applied rev or ctx ends.
	WaitApplied(ctx context.Context, rev uint64) error
	// ReadIndex returns a revision that a linearizable read must wait for.
	ReadIndex(ctx context.Context) (uint64, error)
}

// Snapshot is the store as of one revision. storage.Snapshot satisfies it.
type Snapshot interface {
	engine.Reader
	// Read returns up to limit relationships matching f after cursor, and the
	// cursor of the next page ("" at the end).
	Read(ctx context.Context, f tuple.Filter, limit int, cursor string) ([]tuple.Relationship, string, error)
	// ReadAll yields every relationship matching f.
	ReadAll(ctx context.Context, f tuple.Filter) iter.Seq2[tuple.Relationship, error]
	// Schema returns the schema stored at the snapshot's revision; ok is false
	// when none is.
	Schema() (rec storage.SchemaRecord, ok bool, err error)
	// Close releases the snapshot.
	Close()
}

// Snapshots opens snapshots. Use SnapshotsOf to adapt a store whose Snapshot
// method returns a concrete type.
type Snapshots interface {
	Snapshot(rev uint64) (Snapshot, error)
}

// SnapshotsOf adapts a store whose Snapshot returns a concrete snapshot type S
// (such as *storage.Store) to Snapshots:
//
//	api.SnapshotsOf[*storage.Snapshot](store)
func SnapshotsOf[S Snapshot](src interface {
	Snapshot(rev uint64) (S, error)
}) Snapshots {
	return snapshotsOf[S]{src}
}

type snapshotsOf[S Snapshot] struct {
	src interface {
		Snapshot(rev uint64) (S, error)
	}
}

func (s snapshotsOf[S]) Snapshot(rev uint64) (Snapshot, error) {
	snap, err := s.src.Snapshot(rev)
	if err != nil {
		return nil, err
	}
	return snap, nil
}

// Checker answers checks. engine.Engine satisfies it.
type Checker interface {
	Check(ctx context.Context, v engine.View, req engine.CheckRequest) (engine.CheckResult, error)
	CheckBulk(ctx context.Context, v engine.View, reqs []engine.CheckRequest) []engine.BulkResult
}

// Expander expands permissions into subject trees. engine.Engine satisfies it.
type Expander interface {
	Expand(ctx context.Context, v engine.View, resource tuple.ObjectRef, permission string) (*engine.ExpandNode, error)
}

// Lookuper answers reverse lookups. engine.Engine satisfies it.
type Lookuper interface {
	LookupResources(ctx context.Context, v engine.View, req engine.LookupResourcesRequest) (engine.LookupResourcesResult, error)
	LookupSubjects(ctx context.Context, v engine.View, req engine.LookupSubjectsRequest) (engine.LookupSubjectsResult, error)
}

// Engine is every query the API serves.
type Engine interface {
	Checker
	Expander
	Lookuper
}

// CacheStater reports engine cache counters; the metrics use it when the
// Engine has it.
type CacheStater interface {
	CacheStats() (hits, misses uint64)
}

// Mutation is one all-or-nothing write, as the API hands it to the Writer.
type Mutation struct {
	Updates       []tuple.Update
	Preconditions []tuple.Precondition
	// DeleteFilter, when set, deletes up to DeleteLimit matching relationships
	// (0: no limit; more matches fail the write with ErrLimitExceeded).
	DeleteFilter *tuple.Filter
	DeleteLimit  int
	// Import, when set, touches these relationships (one import chunk).
	Import []tuple.Relationship
	// Schema, when set, replaces the stored schema.
	Schema *storage.SchemaRecord
	// Suspend, when set, suspends a subject or lifts its suspension.
	Suspend *storage.SuspensionChange
	// Alerts, when set, replaces the alert rule set.
	Alerts *alerts.RuleSet
	// AlertLetter adds a dead letter or removes one by id.
	AlertLetter *AlertLetter
	// For the audit log and idempotency.
	Principal      string
	Reason         string
	RequestID      string
	IdempotencyKey string
}

// MutationResult says where a write landed.
type MutationResult struct {
	Revision uint64
	Deleted  int
}

// Writer proposes writes through consensus. Use ConsensusWriter to adapt a
// consensus node.
type Writer interface {
	Write(ctx context.Context, m Mutation) (MutationResult, error)
}

// Deps are the parts the services run on. Engine, Revisions, Snapshots and
// Writer are required; the others enable their service when set.
type Deps struct {
	Engine    Engine
	Revisions Revisions
	Snapshots Snapshots
	Writer    Writer
	// Decisions, when set, is offered every answered check (the decision
	// log, see DecisionRecorder). When nil, nothing is recorded.
	Decisions DecisionRecorder
	// Registry, when set, receives the services' metrics: check outcomes and
	// (when the engine reports them) its cache counters.
	Registry *prometheus.Registry
	// Logger receives what the services log (a failed decision record);
	// nil means slog.Default().
	Logger *slog.Logger
	// Extras, when set, reads the store's extra keys (the alert rules).
	Extras consensus.ExtraReader
	// DecisionAlerts, when set, is offered every answered check (decision
	// alert rules, docs/alerts.md).
	DecisionAlerts *alerts.Watcher
	// LocalAlertLetters, when set, lists this node's own dead letters.
	LocalAlertLetters func() []alerts.Letter
	// AlertRulesStored, when set, is called after this node stored a new
	// rule set (so its decision watcher takes it at once; other nodes poll).
	AlertRulesStored func()
}

// AlertLetter is a change to the alert dead-letter list: Add or Remove.
type AlertLetter struct {
	Add    *alerts.Letter
	Remove string
}

// Services are the per-area services of one node, sharing one read resolver.
type Services struct {
	Reads         *Reads
	Permissions   *Permissions
	Relationships *Relationships
	Schema        *Schemas
	Suspensions   *Suspensions
	Alerts        *Alerts
}

// New builds the services from cfg and deps.
func New(cfg Config, deps Deps) (*Services, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	switch {
	case deps.Engine == nil:
		return nil, errors.New("service: Deps.Engine is nil")
	case deps.Revisions == nil:
		return nil, errors.New("service: Deps.Revisions is nil")
	case deps.Snapshots == nil:
		return nil, errors.New("service: Deps.Snapshots is nil")
	case deps.Writer == nil:
		return nil, errors.New("service: Deps.Writer is nil")
	}
	log := deps.Logger
	if log == nil {
		log = slog.Default()
	}
	onCheck, err := registerMetrics(deps.Registry, deps.Engine)
	if err != nil {
		return nil, err
	}
	reads := NewReads(cfg, deps.Revisions, deps.Snapshots)
	return &Services{
		Reads:         reads,
		Permissions:   &Permissions{cfg: cfg, reads: reads, engine: deps.Engine, decisions: deps.Decisions, alerts: deps.DecisionAlerts, onCheck: onCheck, log: log},
		Relationships: &Relationships{cfg: cfg, reads: reads, writer: deps.Writer},
		Schema:        &Schemas{reads: reads, writer: deps.Writer},
		Suspensions:   &Suspensions{reads: reads, writer: deps.Writer, now: time.Now},
		Alerts: &Alerts{reads: reads, writer: deps.Writer, extras: deps.Extras, local: deps.LocalAlertLetters, stored: deps.AlertRulesStored,
			sender: &alerts.Sender{Backoff: alerts.Backoff{Attempts: 1}}},
	}, nil
}

// Caller is who makes a request, as the transport authenticated it.
type Caller struct {
	Principal string
	RequestID string
}

func isSnapshotExpired(err error) bool {
	return errors.Is(err, storage.ErrSnapshotExpired) || errors.Is(err, ErrSnapshotExpired)
}
