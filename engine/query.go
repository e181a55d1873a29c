package engine

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
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
	ctxHash uint64
	explain bool
	sem     chan struct{}   // tokens for extra goroutines; nil: evaluate in line
	memo    *cache          // CheckBulk, lookups: results shared between items; may be nil
	root    tuple.ObjectRef // the resource of the item being checked
	walked  *walked         // LookupResources: what the reverse walk found
}

func (e *Engine) newQuery(v View, reqCtx map[string]any, explain bool) *query {
	q := &query{e: e, v: v, now: e.clock(), reqCtx: reqCtx, explain: explain}
	if len(reqCtx) > 0 {
		h := fnv.New64a()
		h.Write([]byte(tuple.FormatContext(reqCtx)))
		q.ctxHash = h.Sum64()
	}
	if e.cfg.Concurrency > 1 {
		q.sem = make(chan struct{}, e.cfg.Concurrency-1)
	}
	return q
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
		return outcome{}, fmt.Errorf("%w: caveat %q on %s: %w", kind, name, rel.String(), err)
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
