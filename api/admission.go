package api

import (
	"context"
	"errors"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/trellis-authz/trellis/service"
)

// Admission: which requests may run now. Each class of route has a pool of
// its own, so no class can starve another: data traffic (checks, reads,
// writes) cannot take the slots of streams, admin calls or health, and
// health, metrics and the OpenAPI document take no slot at all. Within
// data and admin traffic, each principal has a concurrency bound and,
// optionally, a request rate, so one token holder cannot take the whole
// pool.

// routeClass is the admission class of a route.
type routeClass uint8

const (
	classData   routeClass = iota // checks, lookups, reads, writes
	classOpen                     // health, metrics, OpenAPI: no slot
	classStream                   // long-lived streams (NoTimeout routes)
	classAdmin                    // admin-role routes
)

func classOf(r Route) routeClass {
	switch {
	case r.Role == "":
		return classOpen
	case r.NoTimeout:
		return classStream
	case r.Role == RoleAdmin:
		return classAdmin
	}
	return classData
}

// admission holds the pools and the per-principal state.
type admission struct {
	cfg      Config
	pools    map[routeClass]pool
	rejected *prometheus.CounterVec // by reason

	mu         sync.Mutex
	principals map[string]*principalState
}

type pool struct {
	slots chan struct{} // nil: no bound
	limit int
	what  string
}

type principalState struct {
	inflight int
	limiter  *rate.Limiter // nil without a rate
}

func newAdmission(cfg Config, rejected *prometheus.CounterVec) *admission {
	mk := func(n int, what string) pool {
		p := pool{limit: n, what: what}
		if n > 0 {
			p.slots = make(chan struct{}, n)
		}
		return p
	}
	return &admission{cfg: cfg, rejected: rejected, principals: map[string]*principalState{}, pools: map[routeClass]pool{
		classData:   mk(cfg.MaxInFlight, "requests"),
		classStream: mk(cfg.MaxStreams, "streams"),
		classAdmin:  mk(cfg.MaxAdminInFlight, "admin requests"),
	}}
}

// enter takes a slot of the class's pool; release gives it back.
func (a *admission) enter(class routeClass) (release func(), err error) {
	p, ok := a.pools[class]
	if !ok || p.slots == nil {
		return func() {}, nil
	}
	select {
	case p.slots <- struct{}{}:
		return func() { <-p.slots }, nil
	default:
		a.rejected.WithLabelValues(p.what).Inc()
		return nil, fail(service.ErrOverloaded, map[string]any{"limit": p.limit, "retry_after_seconds": 1},
			"too many %s in flight (%d); retry with backoff", p.what, p.limit)
	}
}

// enterPrincipal applies the principal's concurrency bound and rate.
func (a *admission) enterPrincipal(name string) (release func(), err error) {
	if a.cfg.MaxInFlightPerPrincipal <= 0 && a.cfg.RatePerPrincipal <= 0 {
		return func() {}, nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	st := a.principals[name]
	if st == nil {
		st = &principalState{}
		if a.cfg.RatePerPrincipal > 0 {
			st.limiter = rate.NewLimiter(rate.Limit(a.cfg.RatePerPrincipal), max(1, a.cfg.BurstPerPrincipal))
		}
		a.principals[name] = st
	}
	if n := a.cfg.MaxInFlightPerPrincipal; n > 0 && st.inflight >= n {
		a.rejected.WithLabelValues("principal in flight").Inc()
		return nil, fail(principalOverloaded, map[string]any{"principal": name, "limit": n, "retry_after_seconds": 1},
			"principal %q has %d requests in flight, its limit; retry with backoff", name, n)
	}
	if st.limiter != nil {
		now := time.Now()
		r := st.limiter.ReserveN(now, 1)
		if d := r.DelayFrom(now); d > 0 {
			r.CancelAt(now)
			a.rejected.WithLabelValues("principal rate").Inc()
			secs := int(math.Ceil(d.Seconds()))
			return nil, fail(service.ErrOverloaded, map[string]any{"principal": name, "rate_per_second": a.cfg.RatePerPrincipal, "retry_after_seconds": secs},
				"principal %q is over its rate of %g requests/s; retry in %d s", name, a.cfg.RatePerPrincipal, secs)
		}
	}
	st.inflight++
	return func() {
		a.mu.Lock()
		st.inflight--
		a.mu.Unlock()
	}, nil
}

// errPrincipalLimit marks the 429s of a principal's own bounds;
// principalOverloaded is such a 429 (it is also service.ErrOverloaded).
var (
	errPrincipalLimit   = errors.New("principal over its limit")
	principalOverloaded = errors.Join(service.ErrOverloaded, errPrincipalLimit)
)

// penalize holds the answer to a request that only a misbehaving caller
// sends (over its own concurrency or rate, or naming a revision the cluster
// never committed) for PenaltyDelay before it goes out, holding no slot: a
// caller that retries in a loop is slowed to one attempt per delay and
// connection, so it cannot spend the node's CPU on being refused. A
// legitimate caller never meets it.
func (a *admission) penalize(ctx context.Context, err error) {
	if a.cfg.PenaltyDelay <= 0 || !(errors.Is(err, errPrincipalLimit) || errors.Is(err, service.ErrTokenFromFuture)) {
		return
	}
	t := time.NewTimer(a.cfg.PenaltyDelay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// setRetryAfter sets Retry-After on a 429 or 503 answer from the error's
// details (1 s when it names none).
func setRetryAfter(c echo.Context, status int, details map[string]any) {
	if status != 429 && status != 503 && status != 507 {
		return
	}
	secs := 1
	if v, ok := details["retry_after_seconds"].(int); ok && v > 0 {
		secs = v
	}
	c.Response().Header().Set("Retry-After", strconv.Itoa(secs))
}
