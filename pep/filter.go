package pep

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/trellis-authz/trellis/tuple"
	"github.com/trellis-authz/trellis/wire"
)

// Retrieval filtering: which of the documents a vector search (or any
// retrieval step) found may one subject read. A Filter either lists what the
// subject may read (POST /v1/lookup/resources) and intersects that with the
// candidates — a pre-filter, cheap when the allowed set is small — or checks
// every candidate (POST /v1/check/bulk) — a post-filter, whose cost follows
// the number of candidates, not the size of the allowed set.

// Strategies of a filter, as FilterResult.Strategy names them.
const (
	FilterByLookup    = "lookup"     // the allowed set was listed and intersected with the candidates
	FilterByCheckBulk = "check_bulk" // every candidate was checked
)

const (
	// MaxFilterBudget bounds FilterConfig.Budget: ten lookup pages.
	MaxFilterBudget = 10_000
	// MaxFilterCandidates bounds the candidates of one request.
	MaxFilterCandidates = 100_000
	// bulkChunk is the most items Trellis takes in one bulk check (its
	// default limit), lookupPage the most resources in one lookup page.
	bulkChunk  = 1000
	lookupPage = 1000
)

// FilterConfig configures a Filter. Start from DefaultFilterConfig.
type FilterConfig struct {
	// Budget is the largest allowed set a filter lists (it is lowered to
	// the number of candidates of each request); -1: never list, always
	// check. At most MaxFilterBudget.
	Budget int
	// ProbeMin: a request with fewer distinct candidates is checked without
	// trying a lookup first, unless an estimate says the lookup fits.
	ProbeMin int
	// EstimateTTL is how long a lookup's size is remembered as the estimate
	// for its (subject, type, permission); Estimates bounds how many are
	// kept (0 keeps none: every eligible request tries a lookup).
	EstimateTTL time.Duration
	Estimates   int
}

// DefaultFilterConfig lists allowed sets up to one page (1000), probes
// from 100 candidates on, and remembers 10,000 estimates for a minute.
func DefaultFilterConfig() FilterConfig {
	return FilterConfig{Budget: 1000, ProbeMin: 100, EstimateTTL: time.Minute, Estimates: 10_000}
}

// Validate reports every field out of bounds, naming the field and the limit.
func (c FilterConfig) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("pep filter config: "+format, args...))
	}
	if c.Budget < -1 || c.Budget == 0 || c.Budget > MaxFilterBudget {
		bad("Budget is %d; want -1 (always check) or 1 up to %d", c.Budget, MaxFilterBudget)
	}
	if c.ProbeMin < 1 {
		bad("ProbeMin is %d; want at least 1 (1: try a lookup for every request)", c.ProbeMin)
	}
	if c.Estimates < 0 || c.Estimates > 10_000_000 {
		bad("Estimates is %d; want 0 (none) up to 10000000", c.Estimates)
	}
	if c.Estimates > 0 && (c.EstimateTTL <= 0 || c.EstimateTTL > 24*time.Hour) {
		bad("EstimateTTL is %v; want more than 0 and at most 24h", c.EstimateTTL)
	}
	return errors.Join(errs...)
}

// Filter filters retrieval candidates for one client. It is safe for
// concurrent use.
type Filter struct {
	c   *Client
	cfg FilterConfig

	mu        sync.Mutex
	estimates map[estimateKey]estimate
}

// estimateKey is what an allowed set's size is remembered for.
type estimateKey struct{ subject, resourceType, permission string }

// estimate is what a lookup learned: the allowed set has size resources
// (complete), or more than size (not complete).
type estimate struct {
	size     int
	complete bool
	until    time.Time
}

// NewFilter returns a filter that asks Trellis through c.
func NewFilter(c *Client, cfg FilterConfig) (*Filter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Filter{c: c, cfg: cfg, estimates: make(map[estimateKey]estimate)}, nil
}

// FilterRequest asks which candidates Subject has Permission on.
type FilterRequest struct {
	Subject      string // "user:ana", "team:ml#member"
	ResourceType string // "document"
	Permission   string // "read"
	// Candidates are object ids of ResourceType ("q3-report", not
	// "document:q3-report"), e.g. a vector search's hits. Duplicates are
	// answered once.
	Candidates []string
	// Context is the caveat context of every check; nil when none.
	Context map[string]any
}

// FilterResult is the answer of Apply.
type FilterResult struct {
	// Allowed are the candidates the subject may read, in the order of the
	// request's candidates, each once.
	Allowed []string
	// Conditional are candidates whose answer was conditional (the context
	// lacked a caveat parameter): they are not in Allowed.
	Conditional []string
	// Strategy is FilterByCheckBulk when candidates were checked (after a
	// lookup that overflowed its budget, or without one), FilterByLookup
	// when the allowed set was listed, "" when there were no candidates
	// (nothing was asked).
	Strategy string
	// CheckedAt is the token of the revision every read of the filter was
	// at.
	CheckedAt string
	// RequestIDs are the X-Request-Id of the requests sent, in order; a bulk
	// check's item i is "<id>#<i>" in Trellis's decision log.
	RequestIDs []string
}

// ErrFilterItem: Trellis answered an error for one candidate of a bulk
// check (the whole filter fails closed with it).
var ErrFilterItem = errors.New("trellis could not check a candidate")

// Apply returns the candidates of req that its subject may read. It never
// returns a candidate Trellis did not answer "allowed" for: a conditional
// answer is not readable, and every error — a malformed request (nothing is
// asked), a timeout, an error answer, an error for one item, an answer that
// is not one Trellis gives — returns no candidate with the error (the result
// then holds only the RequestIDs sent, to find them in Trellis's logs).
//
// The rule, for n distinct candidates and b = min(Budget, n):
//
//  1. n = 0: nothing is asked.
//  2. List (step 4) when an estimate of this subject, type and permission
//     says the allowed set fits in b; check (step 5) when one says it does
//     not, or when Budget is -1; without an estimate, list when n >=
//     ProbeMin and check otherwise.
//  3. Why: a lookup page costs Trellis a walk over the subject's whole
//     allowed set, whatever the page's limit (it gathers the set to list
//     it in ID order), about 1.5 us per resource, where a bulk check costs
//     about 4.5 us per candidate (bench/RESULTS.md, "Retrieval filter").
//     Listing pays when the set is not much larger than the candidates, and
//     b keeps it to sets no larger. A lookup that overflows has walked a
//     set larger than b, maybe much larger; its estimate spares the
//     requests after it that walk for EstimateTTL. Below ProbeMin
//     candidates one bulk check is cheap (well under a millisecond for
//     100), so no walk is risked on a guess.
//  4. List the allowed set in pages (of at most 1000, with cursors) until it
//     ends or holds b resources, and remember its size. If it ended within
//     b, the answer is its intersection with the candidates (Strategy
//     "lookup"); otherwise go on with step 5.
//  5. Check the candidates in bulk checks of at most 1000 (Strategy
//     "check_bulk").
//
// Every read is at one revision: the first request reads at what Decide
// would ask (the token of WithAtLeastAsFresh, the newest one the client's
// watch knows, or fully_consistent while the watch is down), every later one
// at {"at_exact_snapshot": the first answer's token}, and an answer at any
// other revision is refused. Each request is bounded by Config.Timeout.
func (f *Filter) Apply(ctx context.Context, req FilterRequest) (FilterResult, error) {
	c := f.c
	if c.closed.Load() {
		return FilterResult{}, ErrClosed
	}
	ids, err := req.validate()
	if err != nil || len(ids) == 0 {
		return FilterResult{}, err
	}
	raw, err := contextJSON(req.Context)
	if err != nil {
		return FilterResult{}, fmt.Errorf("%w: context does not encode as JSON: %v", ErrInvalidQuestion, err)
	}
	r := &filterRun{c: c, req: &req, raw: raw, cons: c.consistency(freshness(ctx))}
	key := estimateKey{req.Subject, req.ResourceType, req.Permission}
	budget := min(f.cfg.Budget, len(ids))
	res, err := r.run(ctx, ids, budget, f.shouldList(key, budget, len(ids)), func(e estimate) { f.remember(key, e) })
	if err != nil {
		return FilterResult{RequestIDs: r.requestIDs}, err
	}
	res.CheckedAt, res.RequestIDs = r.token, r.requestIDs
	return res, nil
}

// shouldList is step 2 of the rule.
func (f *Filter) shouldList(key estimateKey, budget, n int) bool {
	if budget < 0 {
		return false
	}
	f.mu.Lock()
	e, ok := f.estimates[key]
	f.mu.Unlock()
	if ok && time.Now().Before(e.until) {
		// A complete size that fits lists; an overflow at or above this
		// budget checks; an overflow of a smaller budget says nothing of
		// this one.
		if e.complete || e.size >= budget {
			return e.complete && e.size <= budget
		}
	}
	return n >= f.cfg.ProbeMin
}

// remember keeps a lookup's size as the estimate for key.
func (f *Filter) remember(key estimateKey, e estimate) {
	if f.cfg.Estimates == 0 {
		return
	}
	e.until = time.Now().Add(f.cfg.EstimateTTL)
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.estimates[key]; !ok && len(f.estimates) >= f.cfg.Estimates {
		clear(f.estimates) // estimates only steer the cost: start over
	}
	f.estimates[key] = e
}

// validate checks the request and returns its distinct candidates in order.
func (req *FilterRequest) validate() ([]string, error) {
	if _, err := tuple.ParseSubject(req.Subject); err != nil {
		return nil, fmt.Errorf("%w: subject: %v", ErrInvalidQuestion, err)
	}
	if err := tuple.ValidateTypeName(req.ResourceType); err != nil {
		return nil, fmt.Errorf("%w: resource type %q: %v", ErrInvalidQuestion, req.ResourceType, err)
	}
	if err := tuple.ValidateName(req.Permission); err != nil {
		return nil, fmt.Errorf("%w: permission %q: %v", ErrInvalidQuestion, req.Permission, err)
	}
	if len(req.Candidates) > MaxFilterCandidates {
		return nil, fmt.Errorf("%w: %d candidates; at most %d in one request, split them", ErrInvalidQuestion, len(req.Candidates), MaxFilterCandidates)
	}
	seen := make(map[string]bool, len(req.Candidates))
	ids := make([]string, 0, len(req.Candidates))
	for i, id := range req.Candidates {
		if seen[id] {
			continue
		}
		if err := tuple.ValidateID(id); err != nil {
			return nil, fmt.Errorf("%w: candidates[%d] %q: %v (pass object ids without the type)", ErrInvalidQuestion, i, id, err)
		}
		seen[id] = true
		ids = append(ids, id)
	}
	return ids, nil
}

// filterRun is one Filter call: its reads' consistency and what it sent.
type filterRun struct {
	c          *Client
	req        *FilterRequest
	raw        json.RawMessage
	cons       *wire.Consistency // of the next request
	token      string            // the revision of every answer, from the first one on
	requestIDs []string
}

// run lists (when list is set) and else, or when the listing overflows
// budget, checks; learned receives the size a listing found.
func (f *filterRun) run(ctx context.Context, ids []string, budget int, list bool, learned func(estimate)) (FilterResult, error) {
	if list {
		found, complete, err := f.lookup(ctx, budget)
		if err != nil {
			return FilterResult{}, err
		}
		learned(estimate{size: len(found), complete: complete})
		if complete {
			res := FilterResult{Strategy: FilterByLookup}
			for _, id := range ids {
				switch found[id] {
				case "allowed":
					res.Allowed = append(res.Allowed, id)
				case "conditional":
					res.Conditional = append(res.Conditional, id)
				}
			}
			return res, nil
		}
	}
	res := FilterResult{Strategy: FilterByCheckBulk}
	for start := 0; start < len(ids); start += bulkChunk {
		chunk := ids[start:min(start+bulkChunk, len(ids))]
		results, err := f.checkBulk(ctx, chunk)
		if err != nil {
			return FilterResult{}, err
		}
		for i, r := range results {
			switch r {
			case "allowed":
				res.Allowed = append(res.Allowed, chunk[i])
			case "conditional":
				res.Conditional = append(res.Conditional, chunk[i])
			}
		}
	}
	return res, nil
}

// lookup lists the allowed set, page by page, until it ends (complete) or
// holds budget resources; found maps each listed id to its result.
func (f *filterRun) lookup(ctx context.Context, budget int) (found map[string]string, complete bool, err error) {
	found = make(map[string]string)
	in := wire.LookupResourcesRequest{ResourceType: f.req.ResourceType, Permission: f.req.Permission, Subject: f.req.Subject, Context: f.raw}
	for {
		in.Limit, in.Consistency = min(lookupPage, budget-len(found)), f.cons
		var out wire.LookupResourcesResponse
		if err := f.send(ctx, "/v1/lookup/resources", &in, &out); err != nil {
			return nil, false, err
		}
		if err := f.pin(out.ReadAt); err != nil {
			return nil, false, err
		}
		for _, r := range out.Resources {
			if err := knownResult(r.Result, r.MissingContext, false); err != nil {
				return nil, false, fmt.Errorf("%w: lookup resource %q: %v", ErrBadResponse, r.ID, err)
			}
			found[r.ID] = r.Result
		}
		switch {
		case out.NextCursor == "":
			return found, true, nil
		case len(out.Resources) == 0:
			return nil, false, fmt.Errorf("%w: a lookup page with a next cursor listed nothing", ErrBadResponse)
		case len(found) >= budget:
			return found, false, nil // more than the budget: check the candidates instead
		}
		in.Cursor = out.NextCursor
	}
}

// checkBulk checks ids (at most bulkChunk) and returns their results.
func (f *filterRun) checkBulk(ctx context.Context, ids []string) ([]string, error) {
	in := wire.CheckBulkRequest{Items: make([]wire.CheckItem, len(ids)), Consistency: f.cons}
	for i, id := range ids {
		in.Items[i] = wire.CheckItem{Resource: f.req.ResourceType + ":" + id, Permission: f.req.Permission, Subject: f.req.Subject, Context: f.raw}
	}
	var out wire.CheckBulkResponse
	if err := f.send(ctx, "/v1/check/bulk", &in, &out); err != nil {
		return nil, err
	}
	if err := f.pin(out.CheckedAt); err != nil {
		return nil, err
	}
	if len(out.Results) != len(ids) {
		return nil, fmt.Errorf("%w: a bulk check of %d items answered %d results", ErrBadResponse, len(ids), len(out.Results))
	}
	results := make([]string, len(ids))
	for i, r := range out.Results {
		if r.Error != nil {
			return nil, fmt.Errorf("%w %q: %s: %s", ErrFilterItem, in.Items[i].Resource, r.Error.Code, r.Error.Message)
		}
		if err := knownResult(r.Result, r.MissingContext, true); err != nil {
			return nil, fmt.Errorf("%w: bulk check of %q: %v", ErrBadResponse, in.Items[i].Resource, err)
		}
		results[i] = r.Result
	}
	return results, nil
}

// send posts one request of the filter under its own request id and
// Config.Timeout.
func (f *filterRun) send(ctx context.Context, path string, in, out any) error {
	id := newID()
	f.requestIDs = append(f.requestIDs, id)
	ctx, cancel := context.WithTimeout(ctx, f.c.cfg.Timeout)
	defer cancel()
	return f.c.post(ctx, path, id, in, out)
}

// pin takes the first answer's token as the revision of every later read,
// and refuses an answer at another revision.
func (f *filterRun) pin(token string) error {
	switch {
	case token == "":
		return fmt.Errorf("%w: the answer has no token", ErrBadResponse)
	case f.token == "":
		f.token = token
		f.cons = &wire.Consistency{Mode: wire.AtExactSnapshot, Token: token}
	case token != f.token:
		return fmt.Errorf("%w: an answer at %s after the first at %s; the filter reads at one revision", ErrBadResponse, token, f.token)
	}
	return nil
}

// knownResult refuses a result Trellis does not give: denied only in a bulk
// check (a lookup lists none), conditional only with its missing context.
func knownResult(result string, missing []string, denied bool) error {
	switch {
	case result == "allowed", result == "denied" && denied:
		return nil
	case result == "conditional" && len(missing) > 0:
		return nil
	case result == "conditional":
		return errors.New("a conditional answer names no missing context")
	}
	return fmt.Errorf("result %q is not an answer Trellis gives here", result)
}
