package driver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trellis-authz/trellis/bench/workload"
)

// prepared is a query with its request body encoded once.
type prepared struct {
	q    *workload.Query
	body []byte // check body, or lookup body without cursor
	desc string // for mismatch reports
	rpc  any    // TransportGRPC: the request message, built once (grpc.go)
}

type checkBody struct {
	Resource    string          `json:"resource"`
	Permission  string          `json:"permission"`
	Subject     string          `json:"subject"`
	Context     map[string]any  `json:"context,omitempty"`
	Consistency json.RawMessage `json:"consistency,omitempty"`
}

type lookupBody struct {
	ResourceType string          `json:"resource_type"`
	Permission   string          `json:"permission"`
	Subject      string          `json:"subject"`
	Context      map[string]any  `json:"context,omitempty"`
	Limit        int             `json:"limit"`
	Cursor       string          `json:"cursor,omitempty"`
	Consistency  json.RawMessage `json:"consistency,omitempty"`
}

type checkResponse struct {
	Result string `json:"result"`
}

type lookupResponse struct {
	Resources []struct {
		ID     string `json:"id"`
		Result string `json:"result"`
	} `json:"resources"`
	NextCursor string `json:"next_cursor"`
}

type errorResponse struct {
	Error struct {
		Code string `json:"code"`
	} `json:"error"`
}

// queryError is a failed query, classified by kind for the report.
type queryError struct {
	kind string
	err  error
}

func (e *queryError) Error() string { return e.kind + ": " + e.err.Error() }

// runner holds what every client of one run shares.
type runner struct {
	cfg      Config
	base     string
	client   *http.Client
	prepared []prepared
	consist  json.RawMessage
	grpc     *grpcTransport // nil: HTTP
}

// Run runs the load described by cfg until cfg.Duration passes, cfg.MaxRequests
// queries are done, or ctx ends, and reports what it measured. An error means
// the run could not start; failed requests are counted in the report instead.
func Run(ctx context.Context, cfg Config) (Report, error) {
	if cfg.MaxMismatchExamples == 0 {
		cfg.MaxMismatchExamples = DefaultConfig().MaxMismatchExamples
	}
	if cfg.WriteClients == 0 {
		cfg.WriteClients = DefaultConfig().WriteClients
	}
	if cfg.Transport == "" {
		cfg.Transport = TransportHTTP
	}
	if cfg.GRPCConns == 0 {
		cfg.GRPCConns = 1
	}
	if err := cfg.Validate(); err != nil {
		return Report{}, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &runner{cfg: cfg, base: strings.TrimSuffix(cfg.Endpoint, "/")}
	if cfg.Consistency != "" {
		r.consist, _ = json.Marshal(cfg.Consistency)
	}
	if cfg.Transport == TransportGRPC {
		g, err := dialGRPC(cfg)
		if err != nil {
			return Report{}, err
		}
		defer g.close()
		r.grpc = g
	}
	if err := r.prepare(); err != nil {
		return Report{}, err
	}
	conns := cfg.Clients + cfg.WriteClients
	transport := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conns * 2,
		MaxIdleConnsPerHost: conns * 2,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	defer transport.CloseIdleConnections()
	r.client = &http.Client{Transport: transport, Timeout: cfg.RequestTimeout}

	rep := Report{
		Config:  cfg,
		Errors:  map[string]int64{},
		Classes: map[string]*ClassReport{},
	}
	runCtx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	log.Info("bench run starting", "transport", cfg.Transport, "endpoint", cfg.Endpoint, "grpc_endpoint", cfg.GRPCEndpoint, "mode", cfg.Mode, "clients", cfg.Clients,
		"duration", cfg.Duration, "max_requests", cfg.MaxRequests, "queries", len(r.prepared), "write_rate", cfg.WriteRate)

	start := time.Now()
	rep.StartedAt = start.UTC()
	var issued atomic.Int64
	all := make([]*stats, cfg.Clients)
	var readers sync.WaitGroup
	for i := range cfg.Clients {
		all[i] = newStats()
		readers.Go(func() { r.client1(runCtx, i, all[i], &issued) })
	}
	var writes *writeStats
	var writer sync.WaitGroup
	if cfg.WriteRate > 0 {
		writes = newWriteStats()
		writer.Go(func() { r.writeMix(runCtx, writes) })
	}
	readers.Wait()
	cancel() // the reads are done (MaxRequests): stop the write mix too
	writer.Wait()
	rep.Elapsed = time.Since(start).Seconds()

	var h histogram
	for _, s := range all {
		rep.merge(s, cfg.MaxMismatchExamples)
		h.merge(&s.hist)
	}
	rep.finish(&h)
	if writes != nil {
		rep.Writes = writes.report(cfg.WriteRate, rep.Elapsed)
	}
	log.Info("bench run done", "queries", rep.Queries, "throughput_qps", rep.Throughput,
		"p99_ms", rep.Latency.P99, "errors", rep.ErrorCount, "mismatches", rep.Mismatches)
	return rep, nil
}

func (r *runner) prepare() error {
	if r.cfg.Mode == ModeNoop {
		r.prepared = []prepared{{desc: "GET " + r.cfg.NoopPath}}
		return nil
	}
	r.prepared = make([]prepared, len(r.cfg.Queries))
	order := make([]int, len(r.cfg.Queries))
	for i := range order {
		order[i] = i
	}
	if r.cfg.ShuffleSeed != 0 {
		rand.New(rand.NewPCG(r.cfg.ShuffleSeed, 0)).Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	}
	for i, k := range order {
		q := &r.cfg.Queries[k]
		var body any
		if q.IsLookup() {
			body = lookupBody{ResourceType: q.ResourceType, Permission: q.Permission, Subject: q.Subject,
				Context: q.Context, Limit: r.cfg.LookupLimit, Consistency: r.consist}
		} else {
			body = checkBody{Resource: q.Resource, Permission: q.Permission, Subject: q.Subject,
				Context: q.Context, Consistency: r.consist}
		}
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("%w: query %d: %v", ErrBadQueryFile, k+1, err)
		}
		r.prepared[i] = prepared{q: q, body: b, desc: string(b)}
		if r.grpc != nil {
			if r.prepared[i].rpc, err = r.grpc.request(q); err != nil {
				return fmt.Errorf("%w: query %d: %v", ErrBadQueryFile, k+1, err)
			}
		}
	}
	return nil
}

// client1 is one keep-alive client (number id): it takes the next query,
// runs it, and records the outcome, until the run ends.
func (r *runner) client1(ctx context.Context, id int, s *stats, issued *atomic.Int64) {
	for ctx.Err() == nil {
		n := issued.Add(1)
		if r.cfg.MaxRequests > 0 && n > r.cfg.MaxRequests {
			return
		}
		p := &r.prepared[(n-1)%int64(len(r.prepared))]
		start := time.Now()
		got, items, err := r.query(ctx, id, p)
		elapsed := time.Since(start)
		if err != nil && ctx.Err() != nil {
			return // cut off by the end of the run: neither an answer nor an error
		}
		s.record(p, got, items, err, elapsed, r.cfg.MaxMismatchExamples)
	}
}

func (s *stats) record(p *prepared, got string, items []workload.LookupItem, err error, elapsed time.Duration, maxExamples int) {
	s.queries++
	class := "noop"
	if p.q != nil {
		class = p.q.Class
	}
	c := s.class(class)
	c.Queries++
	if err != nil {
		kind := "transport"
		var qe *queryError
		if errors.As(err, &qe) {
			kind = qe.kind
		}
		s.errors[kind]++
		c.Errors++
		if len(s.errExample) < maxExamples {
			want := ""
			if p.q != nil {
				want = p.q.Expect
			}
			s.errExample = append(s.errExample, Mismatch{Class: class, Query: p.desc, Expected: want, Got: err.Error()})
		}
		return
	}
	s.answered++
	s.hist.record(elapsed)
	if p.q == nil {
		return
	}
	switch got {
	case "allowed":
		c.Allowed++
	case "conditional":
		c.Conditional++
	default:
		c.Denied++
	}
	if p.q.Expect == "allowed" {
		c.expectedAllowed++
	}
	want, have := p.q.Expect, got
	if p.q.IsLookup() {
		want, have = formatItems(p.q.ExpectResources), formatItems(items)
	}
	if p.q.Expect != "" && want != have {
		s.mismatches++
		c.Mismatches++
		if len(s.examples) < maxExamples {
			s.examples = append(s.examples, Mismatch{Class: class, Query: p.desc, Expected: want, Got: have})
		}
	}
}

func formatItems(items []workload.LookupItem) string {
	if len(items) == 0 {
		return "[]"
	}
	parts := make([]string, len(items))
	for i, it := range items {
		parts[i] = it.ID + "=" + it.Result
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// query runs one query over the run's transport for client id.
func (r *runner) query(ctx context.Context, id int, p *prepared) (string, []workload.LookupItem, error) {
	if r.grpc != nil {
		return r.grpc.query(ctx, id, p)
	}
	return r.do(ctx, p)
}

// do runs one query over HTTP and returns the check result (for a lookup "allowed" when
// something was found, else "denied") and the lookup's resources.
func (r *runner) do(ctx context.Context, p *prepared) (string, []workload.LookupItem, error) {
	switch {
	case p.q == nil:
		return "", nil, r.call(ctx, http.MethodGet, r.cfg.NoopPath, nil, nil)
	case p.q.IsLookup():
		return r.lookup(ctx, p)
	}
	var resp checkResponse
	if err := r.call(ctx, http.MethodPost, "/v1/check", p.body, &resp); err != nil {
		return "", nil, err
	}
	switch resp.Result {
	case "allowed", "denied", "conditional":
		return resp.Result, nil, nil
	}
	return "", nil, &queryError{"bad_result", fmt.Errorf("result %q is not allowed, denied or conditional", resp.Result)}
}

const maxLookupPages = 10000

func (r *runner) lookup(ctx context.Context, p *prepared) (string, []workload.LookupItem, error) {
	var items []workload.LookupItem
	body := p.body
	for page := 0; ; page++ {
		if page == maxLookupPages {
			return "", nil, &queryError{"bad_result", fmt.Errorf("lookup did not end after %d pages", maxLookupPages)}
		}
		var resp lookupResponse
		if err := r.call(ctx, http.MethodPost, "/v1/lookup/resources", body, &resp); err != nil {
			return "", nil, err
		}
		for _, res := range resp.Resources {
			id := strings.TrimPrefix(res.ID, p.q.ResourceType+":")
			items = append(items, workload.LookupItem{ID: id, Result: res.Result})
		}
		if resp.NextCursor == "" {
			break
		}
		q := p.q
		next, err := json.Marshal(lookupBody{ResourceType: q.ResourceType, Permission: q.Permission, Subject: q.Subject,
			Context: q.Context, Limit: r.cfg.LookupLimit, Cursor: resp.NextCursor, Consistency: r.consist})
		if err != nil {
			return "", nil, &queryError{"encode", err}
		}
		body = next
	}
	slices.SortFunc(items, func(a, b workload.LookupItem) int { return strings.Compare(a.ID, b.ID) })
	if len(items) == 0 {
		return "denied", items, nil
	}
	return "allowed", items, nil
}

// call sends one request and decodes a 2xx JSON answer into out (nil: discard).
func (r *runner) call(ctx context.Context, method, path string, body []byte, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.base+path, rd)
	if err != nil {
		return &queryError{"request", err}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.cfg.Token != "" {
		req.Header.Set("Authorization", "Bearer "+r.cfg.Token)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		var ne net.Error
		if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
			return &queryError{"timeout", err}
		}
		return &queryError{"transport", err}
	}
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return &queryError{"transport", err}
	}
	if resp.StatusCode/100 != 2 {
		kind := fmt.Sprintf("http_%d", resp.StatusCode)
		var e errorResponse
		if json.Unmarshal(data, &e) == nil && e.Error.Code != "" {
			kind += ":" + e.Error.Code
		}
		return &queryError{kind, fmt.Errorf("%s %s: status %d: %.200s", method, path, resp.StatusCode, data)}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return &queryError{"decode", fmt.Errorf("%s %s: %v", method, path, err)}
	}
	return nil
}
