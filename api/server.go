package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/trellis-authz/trellis/service"
	"github.com/trellis-authz/trellis/wire"
)

// Headers of the API (defined in package wire, where clients find them).
const (
	RequestIDHeader      = wire.RequestIDHeader
	ReadAtHeader         = wire.ReadAtHeader
	LastEventIDHeader    = wire.LastEventIDHeader
	ExportExcludesHeader = wire.ExportExcludesHeader
	AuditSizeHeader      = wire.AuditSizeHeader
	ForwardedHeader      = wire.ForwardedHeader
	ServedByHeader       = wire.ServedByHeader
)

// Route is one endpoint: what it does, who may call it, and the shapes of its
// request and response, from which the OpenAPI document is generated.
type Route struct {
	Method  string
	Path    string
	Summary string
	// Role is the least role allowed to call it; "" means no authentication
	// (health, metrics, the OpenAPI document).
	Role Role
	// Request and Response are zero values of the JSON body types (nil: none).
	Request  any
	Response any
	// Example is an example request body (for POST and PUT).
	Example any
	// ExampleStatus is the status Example answers on a node with no data,
	// when not 200 (retrying a dead letter that does not exist: 404).
	ExampleStatus int
	// StreamIn and StreamOut name the content type of a streamed body.
	StreamIn  string
	StreamOut string
	// Query lists the query parameters; QueryExample is an example query
	// string for them ("resource_type=dataset&consistency=minimize_latency"),
	// shown in the OpenAPI document and sent by the example tests.
	Query        []QueryParam
	QueryExample string
	// NoTimeout exempts streaming routes from the request deadline.
	NoTimeout bool
	Handler   echo.HandlerFunc
}

// QueryParam documents one query parameter.
type QueryParam struct {
	Name, Description string
}

// Server is the HTTP API: a thin transport over the services.
type Server struct {
	cfg     Config
	svc     *service.Services
	stats   func() NodeStats
	e       *echo.Echo
	tokens  service.Tokens
	auth    *authenticator
	log     *slog.Logger
	metrics *metrics
	admit   *admission
	// classes holds the admission class of each "METHOD path".
	classes sync.Map

	cluster *clusterState // set by EnableCluster (cluster.go)

	mu     sync.Mutex
	routes []Route
	// gateway lists the routes of another API mounted with MountGateway.
	gateway []Route
}

// New builds a server over svc. stats reports the node's replication state
// for /readyz and /metrics; when nil the node is taken to have a leader.
func New(cfg Config, svc *service.Services, stats func() NodeStats) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if svc == nil {
		return nil, errors.New("api: no services")
	}
	// Every request gets a random UUID; drawing them from a pool of random
	// bytes avoids a getrandom system call per request.
	uuid.EnableRandPool()
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	reg := cfg.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	s := &Server{
		cfg:    cfg,
		svc:    svc,
		stats:  stats,
		e:      echo.New(),
		tokens: svc.Reads.Tokens(),
		auth:   newAuthenticator(cfg.Auth),
		log:    log,
	}
	m, err := newMetrics(reg, stats)
	if err != nil {
		return nil, err
	}
	s.metrics = m
	s.admit = newAdmission(cfg, m.rejected)
	s.e.HideBanner = true
	s.e.HidePort = true
	s.e.HTTPErrorHandler = s.handleEchoError
	s.e.Use(s.requestMiddleware)
	for _, r := range s.coreRoutes() {
		s.Handle(r)
	}
	s.Handle(Route{Method: http.MethodGet, Path: "/metrics", Summary: "Prometheus metrics",
		StreamOut: "text/plain",
		Handler:   echo.WrapHandler(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))})
	s.Handle(Route{Method: http.MethodGet, Path: "/openapi.json", Summary: "This API's OpenAPI 3 document",
		Handler: s.handleOpenAPI})
	s.mountConsole() // the web console at /console/ and GET /v1/whoami (console.go)
	return s, nil
}

// Handler returns the HTTP handler serving every route.
func (s *Server) Handler() http.Handler { return s.e }

// Tokens returns the server's consistency-token codec.
func (s *Server) Tokens() service.Tokens { return s.tokens }

// Handle registers a route: authentication for its role, the request deadline,
// the body limit and the OpenAPI entry. Later packages (audit, cluster, watch)
// add their endpoints with it.
func (s *Server) Handle(r Route) {
	s.mu.Lock()
	s.routes = append(s.routes, r)
	s.mu.Unlock()
	s.register(r)
}

// register serves a route on echo (a second registration of the same
// method and path replaces the first).
func (s *Server) register(r Route) {
	s.classes.Store(r.Method+" "+r.Path, classOf(r))
	h := r.Handler
	route := r
	s.e.Add(r.Method, r.Path, func(c echo.Context) error {
		if route.Role != "" {
			p, err := s.auth.authenticate(c.Request().Header.Get(echo.HeaderAuthorization))
			if err != nil {
				return err
			}
			if !p.Role.Allows(route.Role) {
				return fail(service.ErrForbidden, map[string]any{"principal": p.Name, "role": string(p.Role), "required_role": string(route.Role)},
					"principal %q has role %q; %s %s needs role %q or higher", p.Name, p.Role, route.Method, route.Path, route.Role)
			}
			c.Set(ctxPrincipal, p)
			release, err := s.admit.enterPrincipal(p.Name)
			if err != nil {
				return err
			}
			defer release()
		}
		req := c.Request()
		if !route.NoTimeout {
			ctx, cancel := context.WithTimeout(req.Context(), s.cfg.RequestTimeout)
			defer cancel()
			req = req.WithContext(ctx)
		}
		if route.StreamIn == "" && req.Body != nil {
			req.Body = http.MaxBytesReader(c.Response(), req.Body, s.cfg.MaxBodyBytes)
		} else if s.cfg.MaxImportBytes > 0 && req.Body != nil {
			req.Body = http.MaxBytesReader(c.Response(), req.Body, s.cfg.MaxImportBytes)
		}
		c.SetRequest(req)
		return h(c)
	})
}

// Routes returns every registered route.
func (s *Server) Routes() []Route {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Route(nil), s.routes...)
}

const (
	ctxPrincipal = "trellis.principal"
	ctxRequestID = "trellis.request_id"
	ctxErrorCode = "trellis.error_code"
)

func requestID(c echo.Context) string {
	id, _ := c.Get(ctxRequestID).(string)
	return id
}

func principalOf(c echo.Context) principal {
	p, _ := c.Get(ctxPrincipal).(principal)
	return p
}

// caller is who makes the request, for the services.
func caller(c echo.Context) service.Caller {
	return service.Caller{Principal: principalOf(c).Name, RequestID: requestID(c)}
}

// requestMiddleware assigns the request id, bounds concurrency, and logs and
// counts every request.
func (s *Server) requestMiddleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		id := c.Request().Header.Get(RequestIDHeader)
		if _, err := uuid.Parse(id); err != nil || len(id) != 36 {
			id = uuid.NewString()
		}
		c.Set(ctxRequestID, id)
		c.Response().Header().Set(RequestIDHeader, id)
		class := classData
		if v, ok := s.classes.Load(c.Request().Method + " " + c.Path()); ok {
			class = v.(routeClass)
		}
		var err error
		reqCtx := c.Request().Context() // the handler's own ends when it returns
		if release, aerr := s.admit.enter(class); aerr != nil {
			err = aerr
		} else {
			err = next(c)
			release()
		}
		if err != nil {
			s.admit.penalize(reqCtx, err)
			s.handleEchoError(err, c)
		}
		status := c.Response().Status
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		s.metrics.observe(route, c.Request().Method, status, time.Since(start))
		if ctx := c.Request().Context(); s.log.Enabled(ctx, slog.LevelInfo) {
			attrs := make([]slog.Attr, 0, 7)
			attrs = append(attrs,
				slog.String("request_id", id),
				slog.String("method", c.Request().Method),
				slog.String("route", route),
				slog.Int("status", status),
				slog.Duration("duration", time.Since(start)))
			if p := principalOf(c); p.Name != "" {
				attrs = append(attrs, slog.String("principal", p.Name))
			}
			if code, _ := c.Get(ctxErrorCode).(string); code != "" {
				attrs = append(attrs, slog.String("error_code", code))
			}
			s.log.LogAttrs(ctx, slog.LevelInfo, "request", attrs...)
		}
		return nil
	}
}

// handleEchoError writes err as a JSON error body, unless a response was
// already started.
func (s *Server) handleEchoError(err error, c echo.Context) {
	var he *echo.HTTPError
	if errors.As(err, &he) {
		switch he.Code {
		case http.StatusNotFound:
			err = fail(service.ErrNotFound, nil, "no route %s %s; see /openapi.json for the routes", c.Request().Method, c.Request().URL.Path)
		case http.StatusMethodNotAllowed:
			err = fail(service.ErrMethodNotAllowed, nil, "method %s is not allowed on %s; see /openapi.json", c.Request().Method, c.Request().URL.Path)
		case http.StatusRequestEntityTooLarge:
			err = fail(service.ErrBodyTooLarge, nil, "request body is larger than %d bytes", s.cfg.MaxBodyBytes)
		}
	}
	status, body := httpError(err)
	body.RequestID = requestID(c)
	c.Set(ctxErrorCode, body.Code)
	setRetryAfter(c, status, body.Details)
	if status == http.StatusInternalServerError {
		s.log.Error("internal error", slog.String("request_id", body.RequestID), slog.String("error", err.Error()))
	}
	if c.Response().Committed {
		return
	}
	_ = c.JSON(status, wire.ErrorResponse{Error: body})
}

// decode reads a JSON body into v, strictly: unknown fields and trailing data
// are errors, and an oversized body is service.ErrBodyTooLarge.
func (s *Server) decode(c echo.Context, v any) error {
	body := c.Request().Body
	if body == nil {
		return fail(service.ErrInvalidJSON, nil, "request body is empty; send a JSON object")
	}
	raw, err := io.ReadAll(body)
	if err != nil {
		return s.jsonError(err)
	}
	if off := invalidUTF8(raw); off >= 0 {
		return fail(service.ErrInvalidJSON, map[string]any{"offset": off},
			"request body is not valid UTF-8 at byte %d; send UTF-8 text (JSON strings cannot carry raw bytes: encode them, e.g. base64)", off)
	}
	if path, off, dup := duplicateKey(raw); dup {
		return fail(service.ErrInvalidJSON, map[string]any{"field": path, "offset": off},
			"key %q appears twice in one object (at byte %d); send each field once", path, off)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return s.jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return s.jsonError(err)
		}
		return fail(service.ErrInvalidJSON, nil, "unexpected data after the JSON object; send exactly one object")
	}
	return nil
}

func (s *Server) jsonError(err error) error {
	var mbe *http.MaxBytesError
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &mbe):
		return fail(service.ErrBodyTooLarge, map[string]any{"limit_bytes": mbe.Limit},
			"request body is larger than %d bytes; split the request (or stream relationships to /v1/relationships/import)", mbe.Limit)
	case errors.Is(err, io.EOF):
		return fail(service.ErrInvalidJSON, nil, "request body is empty; send a JSON object")
	case errors.As(err, &se):
		return fail(service.ErrInvalidJSON, map[string]any{"offset": se.Offset}, "malformed JSON at byte %d: %v", se.Offset, se)
	case errors.As(err, &te):
		if te.Field == "" {
			return fail(service.ErrInvalidJSON, nil, "the request body must be %s, not JSON %s", jsonShape(te.Type), te.Value)
		}
		return fail(service.ErrInvalidJSON, map[string]any{"field": te.Field}, "field %q must be %s, not JSON %s", te.Field, jsonShape(te.Type), te.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return fail(service.ErrInvalidJSON, nil, "%s; see /openapi.json for this endpoint's fields", strings.TrimPrefix(err.Error(), "json: "))
	}
	return fail(service.ErrInvalidJSON, nil, "malformed JSON: %v", err)
}

// invalidUTF8 returns the offset of the first byte of b that is not valid
// UTF-8, or -1.
func invalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return -1
}

// jsonShape names the JSON a Go type decodes from, for error messages (a
// caller never sees Go type names).
func jsonShape(t reflect.Type) string {
	if t == nil {
		return "a JSON value"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return "a base64 string"
		}
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return "a JSON value of another kind"
}

// ok writes a 200 JSON answer.
func ok(c echo.Context, v any) error { return c.JSON(http.StatusOK, v) }

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}

// Services returns the services the server is a transport for.
func (s *Server) Services() *service.Services { return s.svc }
