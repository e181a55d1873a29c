package alerts

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/trellis-authz/trellis/engine"
)

// Watcher sees every check a node answers and picks out the ones a decision
// rule may select. Offer is on the check path: with no decision rules it is
// one atomic load; otherwise a few comparisons per rule and, for a selected
// check, a non-blocking send. Offers that find the queue full are counted in
// Dropped, never waited for: a flood of checks cannot slow the node.
type Watcher struct {
	set     atomic.Pointer[watchSet]
	queue   chan Candidate
	dropped atomic.Uint64
	now     func() time.Time
}

// Candidate is a check a decision rule selected: for a through/caveat rule,
// one the check itself reported it went through (Confirmed), or else still
// to be confirmed on an explain trace; for a denials rule, the check that
// crossed the threshold (Count denials were seen).
type Candidate struct {
	Rule      Rule
	Decision  Decision
	Denials   int  // denials counted in the window, for a denials rule
	Confirmed bool // a through/caveat rule: the check reported the rule's spec on its deciding branch
}

// watchSet is the compiled decision rules of one rule set.
type watchSet struct {
	rules []*watchRule
	// watch is what checks a through/caveat rule may select are asked to
	// report (engine.Watch): one spec per distinct (through, caveat).
	watch *engine.Watch
}

type watchRule struct {
	rule   Rule
	window time.Duration
	spec   int // the rule's spec in watchSet.watch; -1: none (a denials rule, or past engine.MaxWatchSpecs)

	mu      sync.Mutex
	windows map[string]*denialWindow // by subject
}

// denialWindow counts denials in fixed windows and estimates the sliding
// count as prev·(1 − elapsed/window) + cur, the usual two-bucket rate
// estimate: O(1) memory per subject whatever the count.
type denialWindow struct {
	start     time.Time // of the current window
	prev, cur int
	fired     time.Time // when the rule last fired for this subject
}

// maxTracked bounds the subjects one denials rule counts at once; past it,
// expired windows are swept and new subjects are not counted until room is
// made (each sweep is bounded by this number too).
const maxTracked = 1 << 16

// NewWatcher returns a watcher whose queue holds up to depth candidates.
func NewWatcher(depth int) *Watcher {
	return &Watcher{queue: make(chan Candidate, depth), now: time.Now}
}

// SetRules installs the decision rules of rs (replacing the last set and
// its denial counts).
func (w *Watcher) SetRules(rs RuleSet) {
	ws := &watchSet{}
	var specs []engine.WatchSpec
	index := map[engine.WatchSpec]int{}
	for _, r := range rs.Rules {
		if r.Decision == nil {
			continue
		}
		wr := &watchRule{rule: r, spec: -1}
		if r.Decision.Denials != nil {
			wr.window = r.Decision.Denials.window()
			wr.windows = map[string]*denialWindow{}
		} else {
			sp := engine.WatchSpec{Through: r.Decision.Through, Caveat: r.Decision.Caveat}
			i, ok := index[sp]
			if !ok && len(specs) < engine.MaxWatchSpecs {
				i, ok = len(specs), true
				index[sp] = i
				specs = append(specs, sp)
			}
			if ok {
				wr.spec = i
			}
		}
		ws.rules = append(ws.rules, wr)
	}
	if len(specs) > 0 {
		// Validate refuses a rule naming neither, so NewWatch cannot fail;
		// if it did, every rule would be confirmed by explain.
		if wt, err := engine.NewWatch(specs); err == nil {
			ws.watch = wt
		} else {
			for _, r := range ws.rules {
				r.spec = -1
			}
		}
	}
	if len(ws.rules) == 0 {
		ws = nil
	}
	w.set.Store(ws)
}

// WatchFor returns what a check of permission on a resource of resourceType
// by a subject of subjectType is to report, when a through/caveat rule may
// select it (its resource type, permission and subject type match); nil
// otherwise, and the check is evaluated as if no rule existed.
func (w *Watcher) WatchFor(resourceType, permission, subjectType string) *engine.Watch {
	if w == nil {
		return nil
	}
	ws := w.set.Load()
	if ws == nil || ws.watch == nil {
		return nil
	}
	for _, r := range ws.rules {
		m := r.rule.Decision
		if r.spec >= 0 && (m.ResourceType == "" || m.ResourceType == resourceType) &&
			(m.Permission == "" || m.Permission == permission) && (m.SubjectType == "" || m.SubjectType == subjectType) {
			return ws.watch
		}
	}
	return nil
}

// Active reports whether any decision rule is installed.
func (w *Watcher) Active() bool { return w != nil && w.set.Load() != nil }

// Queue is where selected checks wait for the node's alert worker.
func (w *Watcher) Queue() <-chan Candidate { return w.queue }

// Dropped is how many candidates were lost to a full queue.
func (w *Watcher) Dropped() uint64 { return w.dropped.Load() }

// Offer looks at one answered check.
func (w *Watcher) Offer(d Decision) {
	if w == nil {
		return
	}
	ws := w.set.Load()
	if ws == nil {
		return
	}
	for _, r := range ws.rules {
		if !r.rule.Decision.selects(&d) {
			continue
		}
		if r.windows == nil {
			if r.spec >= 0 && d.Watch != nil && d.Watch == ws.watch {
				// The check reported what it went through: no explain.
				if d.Watch.Has(d.Watched, r.spec) {
					w.push(Candidate{Rule: r.rule, Decision: d, Confirmed: true})
				}
				continue
			}
			w.push(Candidate{Rule: r.rule, Decision: d})
			continue
		}
		if n, fire := r.count(d.Subject.String(), w.now()); fire {
			w.push(Candidate{Rule: r.rule, Decision: d, Denials: n})
		}
	}
}

func (w *Watcher) push(c Candidate) {
	select {
	case w.queue <- c:
	default:
		w.dropped.Add(1)
	}
}

// count adds one denial of subject at now and reports the estimated count
// in the window and whether the rule fires: the estimate is above Count and
// the rule has not fired for this subject within the last window.
func (r *watchRule) count(subject string, now time.Time) (int, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	dw := r.windows[subject]
	if dw == nil {
		if len(r.windows) >= maxTracked && !r.sweep(now) {
			return 0, false
		}
		dw = &denialWindow{start: now}
		r.windows[subject] = dw
	}
	switch el := now.Sub(dw.start); {
	case el >= 2*r.window:
		dw.start, dw.prev, dw.cur = now, 0, 0
	case el >= r.window:
		dw.start, dw.prev, dw.cur = dw.start.Add(r.window), dw.cur, 0
	}
	dw.cur++
	frac := float64(now.Sub(dw.start)) / float64(r.window)
	est := int(float64(dw.prev)*(1-frac)) + dw.cur
	if est <= r.rule.Decision.Denials.Count || !dw.fired.IsZero() && now.Sub(dw.fired) < r.window {
		return est, false
	}
	dw.fired = now
	return est, true
}

// sweep forgets subjects whose windows ended (and that have not fired within
// a window); it reports whether room was made.
func (r *watchRule) sweep(now time.Time) bool {
	for s, dw := range r.windows {
		if now.Sub(dw.start) >= 2*r.window && (dw.fired.IsZero() || now.Sub(dw.fired) >= r.window) {
			delete(r.windows, s)
		}
	}
	return len(r.windows) < maxTracked
}
