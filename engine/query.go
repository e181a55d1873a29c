package engine

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/trellis-authz/trellis/schema"
	"github.com/trellis-authz/trellis/tuple"
)

// query is the state shared by every sub-problem of one request (or of one
// CheckBulk call).
type query struct {
	e       *Engine
	v       View
	now     time.Time
	reqCtx  map[string]any
	ctxHash ctxDigest // of reqCtx; zero when it is empty
	explain bool
	// uncached: the context could not be digested; use neither cache nor memo.
	uncached bool
	// track: record what each sub-problem reads, so its cached result can
	// outlive its revision (the engine has Changes).
	track   bool
	epoch   uint64          // Changes.epoch when the query began
	sem     chan struct{}   // tokens for extra goroutines; nil: evaluate in line
	memo    *cache          // CheckBulk, lookups: results shared between items; may be nil
	root    tuple.ObjectRef // the resource of the item being checked
	walked  *walked         // LookupResources: what the reverse walk found
	gi      GroupIndex      // the Reader's nested-group index; nil: walk
	susp    suspensions     // the suspensions at the view's revision
	members memberships     // what the index path read of the subject
	watch   *Watch          // what the check reports it went through (watch.go); nil: nothing

	// links keeps the tupleset relationships arrows read (res#tupleset),
	// so a permission that follows one tupleset twice (project->manage in
	// the grant, project->barred in the exclusion) reads it once. One
	// query reads one snapshot, so they cannot change.
	linksMu sync.Mutex
	links   map[linkKey][]tuple.Relationship
}

type linkKey struct {
	res      tuple.ObjectRef
	tupleset string
}

func (e *Engine) newQuery(v View, reqCtx map[string]any, explain bool) *query {
	q := &query{e: e, v: v, now: e.clock(), explain: explain, gi: e.indexed(v)}
	if len(reqCtx) > 0 {
		// Numbers follow one rule however the caller built the map (see
		// tuple.NormalizeContext), so equal JSON means equal caveat input.
		q.reqCtx, q.uncached = reqCtx, true
		if shallow(reqCtx, 0) {
			q.reqCtx = tuple.NormalizeContext(reqCtx)
			q.ctxHash, q.uncached = digestContext(q.reqCtx), false
		}
	}
	q.loadSuspensions()
	q.track = e.changes != nil && e.cache != nil && !q.uncached
	if e.changes != nil {
		q.epoch = e.changes.epoch.Load()
	}
	if e.cfg.Concurrency > 1 {
		q.sem = make(chan struct{}, e.cfg.Concurrency-1)
	}
	return q
}

// ctxDigest identifies a request context in cache keys: the SHA-256 of its
// canonical, type-tagged encoding. A caller who controls the context cannot
// aim for a collision with another context, and values that JSON writes alike
// but a caveat tells apart (int64 1 and float64 1, a time.Time and its RFC
// 3339 string) get different keys.
type ctxDigest [sha256.Size]byte

func digestContext(ctx map[string]any) ctxDigest {
	b, _ := appendCanonical(nil, ctx, 0)
	return sha256.Sum256(b)
}

// maxContextNesting bounds the nesting of a request context that is
// normalized and cached; a deeper one (or one that holds itself, which only a
// Go caller can build) is used as given and its query bypasses the cache.
const maxContextNesting = 64

// shallow reports whether v nests at most maxContextNesting-depth levels.
func shallow(v any, depth int) bool {
	if depth > maxContextNesting {
		return false
	}
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			if !shallow(e, depth+1) {
				return false
			}
		}
	case map[string]any:
		for _, e := range x {
			if !shallow(e, depth+1) {
				return false
			}
		}
	}
	return true
}

// appendCanonical encodes v with a tag per Go type and lengths before every
// variable-size part, map keys sorted, so distinct values encode distinctly.
// Types other than JSON's are tagged with their Go type name and printed
// with %#v; that is exact for the scalar types callers pass.
func appendCanonical(b []byte, v any, depth int) ([]byte, bool) {
	str := func(b []byte, s string) []byte {
		b = binary.AppendUvarint(b, uint64(len(s)))
		return append(b, s...)
	}
	if depth > maxContextNesting {
		return nil, false
	}
	ok := true
	switch x := v.(type) {
	case nil:
		return append(b, 'n'), true
	case bool:
		if x {
			return append(b, 't'), true
		}
		return append(b, 'f'), true
	case int64:
		return binary.AppendVarint(append(b, 'i'), x), true
	case float64:
		return binary.BigEndian.AppendUint64(append(b, 'd'), math.Float64bits(x)), true
	case string:
		return str(append(b, 's'), x), true
	case []any:
		b = binary.AppendUvarint(append(b, 'l'), uint64(len(x)))
		for _, e := range x {
			if b, ok = appendCanonical(b, e, depth+1); !ok {
				return nil, false
			}
		}
		return b, true
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = binary.AppendUvarint(append(b, 'm'), uint64(len(keys)))
		for _, k := range keys {
			if b, ok = appendCanonical(str(b, k), x[k], depth+1); !ok {
				return nil, false
			}
		}
		return b, true
	}
	return str(str(append(b, 'o'), fmt.Sprintf("%T", v)), fmt.Sprintf("%#v", v)), true
}

// checkView reports a View that cannot be queried.
func checkView(v View) error {
	if v.Schema == nil {
		return errors.New("engine: view has no schema")
	}
	if v.Reader == nil {
		return errors.New("engine: view has no reader")
	}
	return nil
}

// definition returns the definition of typ or an ErrUnknownType error.
func definition(s *schema.Schema, typ, role string) (*schema.Definition, error) {
	d := s.Definitions[typ]
	if d == nil {
		return nil, fmt.Errorf("%w: %s type %q is not defined in the schema", ErrUnknownType, role, typ)
	}
	return d, nil
}

// checkPermission reports whether typ#name exists.
func checkPermission(s *schema.Schema, typ, name, role string) error {
	d, err := definition(s, typ, role)
	if err != nil {
		return err
	}
	if _, _, ok := d.Lookup(name); !ok {
		return fmt.Errorf("%w: %s type %q has no relation or permission %q", ErrUnknownPermission, role, typ, name)
	}
	return nil
}

// checkSubject validates a subject against the schema.
func checkSubject(s *schema.Schema, sub tuple.SubjectRef) error {
	if sub.Relation != "" {
		return checkPermission(s, sub.Type, sub.Relation, "subject")
	}
	_, err := definition(s, sub.Type, "subject")
	return err
}

// caveat evaluates the caveat of rel: Allowed when it has none or it holds,
// Denied when it is false, Conditional when context is missing. The outcome
// carries rel's expiration.
func (q *query) caveat(ctx context.Context, rel tuple.Relationship) (outcome, error) {
	var o outcome
	if rel.Expiration != nil {
		o.exp = *rel.Expiration
	}
	if rel.Caveat == nil {
		o.res = Allowed
		return o, nil
	}
	name := rel.Caveat.Name
	cav := q.v.Schema.Caveats[name]
	if cav == nil {
		return outcome{}, fmt.Errorf("%w: relationship %s uses caveat %q, which the schema does not define; define it or delete the relationship", ErrCaveatEvaluation, rel.String(), name)
	}
	if cav.Program == nil {
		return outcome{}, fmt.Errorf("%w: caveat %q has no compiled program; compile the schema with schema/compile", ErrCaveatEvaluation, name)
	}
	params := mergeContext(q.reqCtx, rel.Caveat.Context)
	r, err := cav.Program.Eval(ctx, params)
	if err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return outcome{}, err
		}
		kind := ErrCaveatEvaluation
		if isContextError(err) {
			kind = ErrInvalidContext
		}
		// The cause may already start with the kind's words ("invalid
		// caveat context: ..."); say them once.
		cause := strings.TrimPrefix(err.Error(), kind.Error()+": ")
		return outcome{}, &causedError{msg: fmt.Sprintf("%v: caveat %q on %s: %s", kind, name, rel.String(), cause), errs: []error{kind, err}}
	}
	switch {
	case len(r.Missing) > 0:
		o.res = Conditional
		o.missing = sortedUnique(r.Missing)
	case r.Value:
		o.res = Allowed
	default:
		o.res = Denied
	}
	if q.watch != nil && o.res != Denied {
		o.via |= q.watch.cavs[name]
	}
	if q.explain {
		o.trace = &Trace{Kind: "caveat", Result: o.res.String(), Missing: o.missing,
			Tuples: []string{rel.String()},
			Detail: map[string]string{"caveat": name, "expression": cav.Expression}}
	}
	return o, nil
}

// isContextError reports whether a caveat program blamed the context it was
// given (a value that does not fit its parameter type) rather than the
// evaluation.
func isContextError(err error) bool { return errors.Is(err, schema.ErrInvalidContext) }

// mergeContext overlays relationship context on request context: for the same
// parameter the relationship wins.
func mergeContext(req, rel map[string]any) map[string]any {
	if len(rel) == 0 {
		return req
	}
	if len(req) == 0 {
		return rel
	}
	m := make(map[string]any, len(req)+len(rel))
	for k, v := range req {
		m[k] = v
	}
	for k, v := range rel {
		m[k] = v
	}
	return m
}

func sortedUnique(s []string) []string {
	out := append([]string(nil), s...)
	sortStrings(out)
	j := 0
	for i, x := range out {
		if i == 0 || x != out[j-1] {
			out[j] = x
			j++
		}
	}
	return out[:j]
}

// causedError is an error of a kind with its cause, whose message names
// both once; errors.Is and errors.As see both.
type causedError struct {
	msg  string
	errs []error
}

func (e *causedError) Error() string   { return e.msg }
func (e *causedError) Unwrap() []error { return e.errs }
