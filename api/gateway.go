package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/trellis-authz/trellis/service"
	"github.com/trellis-authz/trellis/wire"
)

// This file lets another API be served on this server's HTTP port (SpiceDB's
// HTTP gateway, package spicedb) and lets that API's gRPC transport share
// this server's authentication, admission and error table, so that one
// token, one limit and one error code hold on every transport.

// MountGateway serves h on routes (their Method, Path, Role and NoTimeout
// matter): each gets this server's authentication for its role, admission,
// request deadline, body limit and, in a cluster, forwarding to the leader.
// The routes are not part of this API's OpenAPI document. Where a route has
// the method and path of a Trellis route (POST /v1/relationships/read, write
// and delete exist in both APIs), the body decides: isGateway reports
// whether a body is the other API's, and gets it; otherwise the Trellis
// handler does.
func (s *Server) MountGateway(h http.Handler, routes []Route, isGateway func(body []byte) bool) {
	for _, r := range routes {
		r.Handler = echo.WrapHandler(h)
		if own, found := s.routeFor(r.Method, r.Path); found {
			r.Handler = s.sniffBody(isGateway, r.Handler, own.Handler)
			s.replaceHandler(own, r)
			continue
		}
		s.mu.Lock()
		s.gateway = append(s.gateway, r)
		s.mu.Unlock()
		s.register(r)
	}
}

// replaceHandler swaps the handler of an already registered route (the role
// must agree: one endpoint, one rule for who may call it).
func (s *Server) replaceHandler(own, r Route) {
	if own.Role != r.Role {
		panic("api: gateway route " + r.Method + " " + r.Path + " needs role " + string(r.Role) + " but the Trellis route needs " + string(own.Role))
	}
	own.Handler = r.Handler
	s.mu.Lock()
	for i := range s.routes {
		if s.routes[i].Method == own.Method && s.routes[i].Path == own.Path {
			s.routes[i].Handler = own.Handler
		}
	}
	s.mu.Unlock()
	s.register(own)
}

// sniffBody reads the body (Handle bounds it), puts it back, and sends the
// request to gateway when isGateway says the body is the gateway's.
func (s *Server) sniffBody(isGateway func([]byte) bool, gateway, own echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if req.Body == nil {
			return own(c)
		}
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return s.jsonError(err)
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		if isGateway(body) {
			return gateway(c)
		}
		return own(c)
	}
}

// TopLevelKeys returns the keys of a JSON object body (nil when it is not
// one), for a gateway's isGateway.
func TopLevelKeys(body []byte) []string {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}

// Authenticate resolves an Authorization header value ("Bearer TOKEN") to
// the principal's name and role, as every route of this server does.
func (s *Server) Authenticate(header string) (name string, role Role, err error) {
	p, err := s.auth.authenticate(header)
	return p.Name, p.Role, err
}

// Allow checks that a principal's role may call an endpoint needing need
// (what names it in the error: "WriteRelationships", "POST /v1/...").
func Allow(name string, role, need Role, what string) error {
	if role.Allows(need) {
		return nil
	}
	return fail(service.ErrForbidden, map[string]any{"principal": name, "role": string(role), "required_role": string(need)},
		"principal %q has role %q; %s needs role %q or higher", name, role, what, need)
}

// Admit takes the admission slots a call of another transport needs: the
// pool of its class (from its role and whether it is a long-lived stream)
// and the principal's own bound and rate. release gives them back.
func (s *Server) Admit(name string, need Role, stream bool) (release func(), err error) {
	class := classOf(Route{Role: need, NoTimeout: stream})
	releaseClass, err := s.admit.enter(class)
	if err != nil {
		return nil, err
	}
	releasePrincipal, err := s.admit.enterPrincipal(name)
	if err != nil {
		releaseClass()
		return nil, err
	}
	return func() { releasePrincipal(); releaseClass() }, nil
}

// Penalize holds the answer to a misbehaving caller's request (see
// admission.penalize); other transports call it before they answer err.
func (s *Server) Penalize(ctx context.Context, err error) { s.admit.penalize(ctx, err) }

// RequestTimeout is the deadline of a request that is not a stream.
func (s *Server) RequestTimeout() time.Duration { return s.cfg.RequestTimeout }

// ErrorBody maps an error to the HTTP status and error body this API
// answers with (the error table, errors.go); other transports map the code.
func ErrorBody(err error) (status int, body wire.Error) { return httpError(err) }
