package engine

import (
	"fmt"
	"sync/atomic"

	"github.com/trellis-authz/trellis/schema"
)

// A Watch names relations and caveats whose use a check reports: which of
// them lay on the branch that decided its answer (CheckResult.Watched),
// found while the check is evaluated rather than by a second, explained
// evaluation. The decision alerts use it ("break-glass actually used").
//
// The deciding branch is the one OnDecidingPath (package alerts) reads off
// an explain trace: of a union, its operands with the union's answer; of
// an exclusion, its base; of an intersection, an arrow and a relation,
// every operand that is not denied. A relation is on it when a relationship
// of that relation (direct, or a subject set it holds) is; a caveat, when a
// relationship with that caveat is and the caveat was not false.
//
// A Watch holds at most MaxWatchSpecs specs; NewWatch refuses more.
type Watch struct {
	specs []WatchSpec
	rels  map[string]uint64 // relation name -> the bits of its through-only specs and pair specs
	cavs  map[string]uint64 // caveat name -> its caveat bit
	pairs []watchPair

	// nested memoizes hidesNested for the last schema asked about.
	nested atomic.Pointer[nestedMemo]
}

type nestedMemo struct {
	schema *schema.Schema
	hides  bool
}

// WatchSpec is one thing to watch: a relation (Through), a caveat, or a
// caveat used below a relation (both set).
type WatchSpec struct {
	Through string
	Caveat  string
}

type watchPair struct {
	rel       string
	cav, spec uint64 // the caveat's bit, the pair spec's bit
}

// MaxWatchSpecs is how many specs a Watch holds: with their caveats, they
// fit the bits of one word carried up the evaluation.
const MaxWatchSpecs = 32

// NewWatch compiles specs; spec i is reported as bit i of Watched.
func NewWatch(specs []WatchSpec) (*Watch, error) {
	if len(specs) > MaxWatchSpecs {
		return nil, fmt.Errorf("engine: %d watch specs; at most %d", len(specs), MaxWatchSpecs)
	}
	w := &Watch{specs: specs, rels: map[string]uint64{}, cavs: map[string]uint64{}}
	next := uint(len(specs)) // caveat bits for pairs follow the specs' own
	for i, s := range specs {
		bit := uint64(1) << i
		switch {
		case s.Through == "" && s.Caveat == "":
			return nil, fmt.Errorf("engine: watch spec %d names neither a relation nor a caveat", i)
		case s.Caveat == "":
			w.rels[s.Through] |= bit
		case s.Through == "":
			w.cavs[s.Caveat] |= bit
		}
	}
	for i, s := range specs {
		if s.Through == "" || s.Caveat == "" {
			continue
		}
		cb, ok := w.cavs[s.Caveat]
		if !ok {
			cb = uint64(1) << next
			next++
			w.cavs[s.Caveat] = cb
		}
		w.pairs = append(w.pairs, watchPair{rel: s.Through, cav: cb, spec: uint64(1) << i})
		if _, ok := w.rels[s.Through]; !ok {
			w.rels[s.Through] = 0 // so relation() looks at its pairs
		}
	}
	return w, nil
}

// Has reports whether spec i is among the bits of a CheckResult.Watched.
func (w *Watch) Has(watched uint64, i int) bool { return watched&(1<<i) != 0 }

// Specs returns the specs in their bit order.
func (w *Watch) Specs() []WatchSpec { return w.specs }

// relation returns the bits a non-denied relation adds to the via bits it
// carries up: its through specs, and each pair spec whose caveat is below.
func (w *Watch) relation(name string, below uint64) uint64 {
	bits, ok := w.rels[name]
	if !ok {
		return 0
	}
	for _, p := range w.pairs {
		if p.rel == name && below&p.cav != 0 {
			bits |= p.spec
		}
	}
	return bits
}

// specBits masks the bits that are specs' own (not pairs' caveat helpers).
func (w *Watch) specBits(via uint64) uint64 {
	return via & (uint64(1)<<len(w.specs) - 1)
}

// hidesNested reports whether the nested-group index, which answers "is
// the subject in this group at any depth" without visiting the groups
// between, could step over a watched relation: one that some relation of
// sch allows as a subject set's relation (group#owner, team#member), so
// that it may lie between the group asked about and the subject. Caveats
// cannot hide there: the index answers only over paths without them, and
// the subject's own relationships, caveats included, are evaluated as the
// walk evaluates them.
func (w *Watch) hidesNested(sch *schema.Schema) bool {
	if m := w.nested.Load(); m != nil && m.schema == sch {
		return m.hides
	}
	hides := false
	for _, d := range sch.Definitions {
		for _, r := range d.Relations {
			for _, a := range r.Allowed {
				if _, ok := w.rels[a.Relation]; ok && a.Relation != "" {
					hides = true
				}
			}
		}
	}
	w.nested.Store(&nestedMemo{schema: sch, hides: hides})
	return hides
}

// watching makes q report w's specs. It keeps the nested-group index unless
// the index could step over a watched relation (hidesNested); where the
// index answers, the branch reported is the membership the index settled
// on, which may be another deciding branch than the walk's.
func (q *query) watching(w *Watch) {
	if w == nil {
		return
	}
	q.watch = w
	if q.gi != nil && w.hidesNested(q.v.Schema) {
		q.gi = nil
	}
}
