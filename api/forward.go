package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/trellis-authz/trellis/service"
	"github.com/trellis-authz/trellis/wire"
	"io"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/trellis-authz/trellis/consensus"
)

type authHeaderKey struct{}

// WithCallerAuth returns ctx carrying the caller's Authorization header, for
// the node-to-node calls made on its behalf (another transport's reads on a
// follower ask the leader for a read index with it).
func WithCallerAuth(ctx context.Context, header string) context.Context {
	return context.WithValue(ctx, authHeaderKey{}, header)
}

// authHeaderFrom returns the caller's Authorization header, which the cluster
// middleware puts in the request context so that node-to-node calls made on
// the caller's behalf (a follower asking the leader for a read index) carry
// the caller's credentials.
func authHeaderFrom(ctx context.Context) string {
	h, _ := ctx.Value(authHeaderKey{}).(string)
	return h
}

// mustLead reports whether a route changes state and so has to run on the
// leader: every non-GET route that needs the writer or admin role.
func mustLead(r Route) bool {
	return r.Method != http.MethodGet && (r.Role == RoleWriter || r.Role == RoleAdmin)
}

// routeFor finds the registered route of a method and an echo path pattern.
func (s *Server) routeFor(method, path string) (Route, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range append(s.routes[:len(s.routes):len(s.routes)], s.gateway...) {
		if r.Method == method && r.Path == path {
			return r, true
		}
	}
	return Route{}, false
}

// clusterMiddleware runs before every route once EnableCluster was called. It
// carries the caller's credentials in the context and sends state-changing
// requests that reach a follower to the leader.
func (s *Server) clusterMiddleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		hdr := req.Header.Get(echo.HeaderAuthorization)
		c.SetRequest(req.WithContext(context.WithValue(req.Context(), authHeaderKey{}, hdr)))
		r, found := s.routeFor(req.Method, c.Path())
		if !found || !mustLead(r) || s.cluster.node.IsLeader() {
			return next(c)
		}
		// Check the caller here first, so that a bad token never travels; the
		// leader checks it again.
		p, err := s.auth.authenticate(hdr)
		if err != nil {
			return err
		}
		if !p.Role.Allows(r.Role) {
			return fail(service.ErrForbidden, map[string]any{"principal": p.Name, "role": string(p.Role), "required_role": string(r.Role)},
				"principal %q has role %q; %s %s needs role %q or higher", p.Name, p.Role, r.Method, r.Path, r.Role)
		}
		c.Set(ctxPrincipal, p)
		if by := req.Header.Get(ForwardedHeader); by != "" {
			return s.noLeader(c, "node %s forwarded this request here as the leader, but this node (%s) is not the leader (leadership changed); retry", by, s.cluster.id)
		}
		leader, err := s.cluster.waitLeaderAPI(req.Context())
		if err != nil {
			if s.cluster.node.IsLeader() {
				return next(c)
			}
			return s.noLeader(c, "%v; retry", err)
		}
		return s.forward(c, r, leader)
	}
}

// noLeader answers 503 no_leader: retryable, nothing was done.
func (s *Server) noLeader(_ echo.Context, format string, args ...any) error {
	return fail(service.ErrNoLeader, map[string]any{"retryable": true, "node": s.cluster.id}, format, args...)
}

// forward sends the request to the leader's API and relays its answer (status,
// headers and body) to the caller.
func (s *Server) forward(c echo.Context, r Route, leader string) error {
	req := c.Request()
	ctx := req.Context()
	if !r.NoTimeout {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.cfg.RequestTimeout)
		defer cancel()
	}
	var body io.Reader
	if req.Body != nil {
		limit := s.cfg.MaxBodyBytes
		if r.StreamIn != "" {
			limit = s.cfg.MaxImportBytes
		}
		if limit > 0 {
			body = http.MaxBytesReader(c.Response(), req.Body, limit)
		} else {
			body = req.Body
		}
	}
	// Stop waiting as soon as this node sees the leadership move away from
	// the leader it forwarded to (a new leader, or none while an election
	// runs): a cut-off leader would otherwise hold the caller until the
	// request deadline.
	leaderID, _ := s.cluster.node.Leader()
	ctx, moved, stop := s.watchLeader(ctx, leaderID)
	defer stop()
	var sent atomic.Bool // the transport's goroutine sets it
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{WroteHeaders: func() { sent.Store(true) }})
	url := strings.TrimRight(leader, "/") + req.URL.RequestURI()
	out, err := http.NewRequestWithContext(ctx, req.Method, url, body)
	if err != nil {
		return fmt.Errorf("building the request to the leader at %s: %w", leader, err)
	}
	for _, h := range []string{echo.HeaderAuthorization, echo.HeaderContentType, echo.HeaderAccept, wire.ReasonHeader, wire.IdempotencyKeyHeader} {
		if v := req.Header.Get(h); v != "" {
			out.Header.Set(h, v)
		}
	}
	out.Header.Set(RequestIDHeader, requestID(c))
	out.Header.Set(ForwardedHeader, s.cluster.id)
	resp, err := s.cluster.client.Do(out)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return s.jsonError(mbe)
		}
		if !sent.Load() {
			return s.noLeader(c, "could not reach the leader at %s: %v; retry", leader, err)
		}
		if to, ok := moved(); ok {
			return fail(service.ErrOutcomeUnknown, map[string]any{"leader": leader, "new_leader": to, "retryable": true},
				"leadership moved away from the leader at %s (now %q) while it handled the request; its outcome is unknown, retry with the same idempotency_key", leader, to)
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return fail(service.ErrDeadlineExceeded, map[string]any{"leader": leader},
				"the leader at %s did not answer before the request deadline; the write's outcome is unknown, retry with the same idempotency_key", leader)
		}
		return fail(service.ErrOutcomeUnknown, map[string]any{"leader": leader},
			"the leader at %s failed while handling the request (%v); its outcome is unknown, retry with the same idempotency_key", leader, err)
	}
	defer resp.Body.Close()
	h := c.Response().Header()
	for k, vs := range resp.Header {
		switch http.CanonicalHeaderKey(k) {
		case "Connection", "Keep-Alive", "Transfer-Encoding", "Content-Length", "Date", "Trailer", "Upgrade":
			continue
		}
		h[k] = vs
	}
	h.Set(ServedByHeader, "leader")
	c.Response().WriteHeader(resp.StatusCode)
	if _, err := io.Copy(c.Response(), resp.Body); err != nil {
		s.log.Warn("relaying the leader's answer failed", "request_id", requestID(c), "leader", leader, "error", err)
	}
	return nil
}

// leaderPoll is how often a forwarded request checks that the leader it went
// to still leads, as this node sees it.
const leaderPoll = 50 * time.Millisecond

// watchLeader returns ctx canceled once this node's view of the leader is no
// longer leaderID, a function that tells whether that happened (and who
// leads now, "" while an election runs), and one that ends the watch.
func (s *Server) watchLeader(ctx context.Context, leaderID string) (context.Context, func() (string, bool), func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	var movedTo atomic.Pointer[string]
	go func() {
		t := time.NewTicker(leaderPoll)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if id, _ := s.cluster.node.Leader(); id != leaderID {
					movedTo.Store(&id)
					cancel(errLeaderMoved)
					return
				}
			}
		}
	}()
	moved := func() (string, bool) {
		if p := movedTo.Load(); p != nil {
			return *p, true
		}
		return "", false
	}
	return ctx, moved, func() { cancel(nil) }
}

var errLeaderMoved = errors.New("leadership moved")

// remoteReadIndex asks the leader for a read index on a follower's behalf,
// with the caller's credentials.
func (s *Server) remoteReadIndex(ctx context.Context) (uint64, error) {
	cl := s.cluster
	if id, _ := cl.node.Leader(); id == cl.id {
		return 0, fail(service.ErrUnavailable, map[string]any{"retryable": true},
			"this node leads but cannot confirm its leadership with a quorum; a fully_consistent read is not possible now (retry, or read with minimize_latency)")
	}
	leader, err := cl.waitLeaderAPI(ctx)
	if err != nil {
		return 0, fail(service.ErrUnavailable, map[string]any{"retryable": true},
			"%v; a fully_consistent read needs the leader (retry, or read with minimize_latency)", err)
	}
	callCtx, cancel := context.WithTimeout(ctx, cl.cfg.ReadIndexTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(callCtx, http.MethodGet, strings.TrimRight(leader, "/")+"/v1/cluster/read-index", nil)
	if err != nil {
		return 0, err
	}
	if h := authHeaderFrom(ctx); h != "" {
		req.Header.Set(echo.HeaderAuthorization, h)
	}
	req.Header.Set(ForwardedHeader, cl.id)
	resp, err := cl.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return 0, fail(service.ErrDeadlineExceeded, nil, "the leader at %s gave no read index before the request deadline", leader)
		}
		if callCtx.Err() != nil {
			return 0, fail(service.ErrUnavailable, map[string]any{"retryable": true, "leader": leader},
				"the leader at %s gave no read index within %v (it may be cut off from this node); retry, or read with minimize_latency", leader, cl.cfg.ReadIndexTimeout)
		}
		return 0, fail(service.ErrUnavailable, map[string]any{"retryable": true, "leader": leader},
			"could not reach the leader at %s for a read index (%v); retry, or read with minimize_latency", leader, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		var e wire.ErrorResponse
		_ = json.Unmarshal(b, &e)
		switch resp.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden:
			return 0, fail(service.ErrUnavailable, map[string]any{"leader": leader},
				"the leader at %s refused this caller's token for a read index (%s); every node needs the same token file", leader, e.Error.Message)
		}
		return 0, fail(service.ErrUnavailable, map[string]any{"retryable": true, "leader": leader},
			"the leader at %s gave no read index: %d %s %s; retry, or read with minimize_latency", leader, resp.StatusCode, e.Error.Code, e.Error.Message)
	}
	var ri wire.ReadIndexResponse
	if err := json.Unmarshal(b, &ri); err != nil {
		return 0, fmt.Errorf("the leader at %s answered a read index that is not JSON: %w", leader, err)
	}
	return ri.Index, nil
}

// clusterRevisions is the service.Revisions of a node in a cluster: a follower gets
// its read index from the leader.
type clusterRevisions struct {
	service.Revisions
	s *Server
}

// CommitIndex is the node's own commit index, when it knows one.
func (r clusterRevisions) CommitIndex() uint64 {
	if ci, ok := r.Revisions.(service.CommitIndexer); ok {
		return ci.CommitIndex()
	}
	return 0
}

func (r clusterRevisions) ReadIndex(ctx context.Context) (uint64, error) {
	idx, err := r.Revisions.ReadIndex(ctx)
	if err == nil || !errors.Is(err, consensus.ErrNotLeader) {
		return idx, err
	}
	return r.s.remoteReadIndex(ctx)
}

// waitLeaderAPI returns the leader's API URL, waiting up to LeaderWait (and
// ctx) for one to be known: an election takes a moment.
func (cl *clusterState) waitLeaderAPI(ctx context.Context) (string, error) {
	deadline := time.Now().Add(cl.cfg.LeaderWait)
	for {
		id, _ := cl.node.Leader()
		if id != "" && id != cl.id {
			if a := cl.node.LeaderAPIAddr(); a != "" {
				return a, nil
			}
		}
		if id == cl.id && cl.node.IsLeader() {
			return "", errors.New("this node became the leader meanwhile")
		}
		if time.Now().After(deadline) {
			if id == "" {
				return "", errors.New("no leader is known to this node")
			}
			return "", fmt.Errorf("the leader %s has no known API address", id)
		}
		t := time.NewTimer(25 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return "", fmt.Errorf("no leader known before the request deadline: %w", ctx.Err())
		case <-t.C:
		}
	}
}
