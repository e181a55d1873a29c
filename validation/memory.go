package validation

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/trellis-authz/trellis/engine"
	"github.com/trellis-authz/trellis/schema"
	"github.com/trellis-authz/trellis/storage"
	"github.com/trellis-authz/trellis/tuple"
)

// Evaluator answers the queries a run makes. Memory answers them from a
// temporary in-process store; the CLI's --against adapts a live server's
// client to it.
type Evaluator interface {
	Check(ctx context.Context, req engine.CheckRequest) (engine.CheckResult, error)
	LookupSubjects(ctx context.Context, req engine.LookupSubjectsRequest) (engine.LookupSubjectsResult, error)
	Expand(ctx context.Context, resource tuple.ObjectRef, permission string) (*engine.ExpandNode, error)
}

// Memory is an Evaluator over a temporary in-memory Badger store holding a
// policy file's relationships, evaluated by a real engine.
type Memory struct {
	store *storage.Store
	snap  *storage.Snapshot
	eng   *engine.Engine
	view  engine.View
}

var _ Evaluator = (*Memory)(nil)

// NewMemory loads rels into a fresh in-memory store and returns an evaluator
// over it. Expirations are judged at now (time.Now when zero). Every
// relationship is checked against s first; the error is then an ErrorList
// naming the line of each one that the schema does not allow.
func NewMemory(file string, s *schema.Schema, rels []Relationship, now time.Time) (*Memory, error) {
	var errs ErrorList
	seen := map[string]int{}
	updates := make([]tuple.Update, 0, len(rels))
	for _, r := range rels {
		if err := s.ValidateRelationship(r.Rel); err != nil {
			errs = append(errs, &Error{File: file, Line: r.Line, Msg: fmt.Sprintf("relationship %s: %v", r.Rel, err)})
			continue
		}
		if first, dup := seen[r.Rel.Key()]; dup {
			errs = append(errs, &Error{File: file, Line: r.Line, Msg: fmt.Sprintf("relationship %s is already written at line %d; give each relationship once", r.Rel.Key(), first)})
			continue
		}
		seen[r.Rel.Key()] = r.Line
		updates = append(updates, tuple.Update{Op: tuple.OpTouch, Relationship: r.Rel})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	clock := time.Now
	if !now.IsZero() {
		clock = func() time.Time { return now }
	}
	cfg := storage.DefaultConfig("")
	cfg.InMemory, cfg.SyncWrites, cfg.ValueLogGCInterval, cfg.GCWindow = true, false, 0, 0
	cfg.MemTableSize, cfg.BlockCacheSize = 8<<20, 4<<20
	cfg.Clock = clock
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := storage.Open(cfg)
	if err != nil {
		return nil, fmt.Errorf("open temporary store: %w", err)
	}
	if _, err := st.Apply(1, storage.Batch{Updates: updates}); err != nil {
		st.Close()
		return nil, fmt.Errorf("load relationships: %w", err)
	}
	snap, err := st.Snapshot(1)
	if err != nil {
		st.Close()
		return nil, err
	}
	// No cache and no fan-out: every explain trace is complete and the same
	// from one run to the next.
	ecfg := engine.DefaultConfig()
	ecfg.CacheEntries, ecfg.Concurrency, ecfg.Clock = 0, 1, clock
	eng, err := engine.New(ecfg)
	if err != nil {
		st.Close()
		return nil, err
	}
	return &Memory{store: st, snap: snap, eng: eng, view: engine.View{Schema: s, Reader: snap, Revision: 1}}, nil
}

// Close releases the store.
func (m *Memory) Close() error {
	m.snap.Close()
	return m.store.Close()
}

// Check implements Evaluator.
func (m *Memory) Check(ctx context.Context, req engine.CheckRequest) (engine.CheckResult, error) {
	return m.eng.Check(ctx, m.view, req)
}

// LookupSubjects implements Evaluator.
func (m *Memory) LookupSubjects(ctx context.Context, req engine.LookupSubjectsRequest) (engine.LookupSubjectsResult, error) {
	return m.eng.LookupSubjects(ctx, m.view, req)
}

// Expand implements Evaluator.
func (m *Memory) Expand(ctx context.Context, resource tuple.ObjectRef, permission string) (*engine.ExpandNode, error) {
	return m.eng.Expand(ctx, m.view, resource, permission)
}
