package spicedb

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"
	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/test/bufconn"

	"github.com/trellis-authz/trellis/api"
	"github.com/trellis-authz/trellis/service"
)

// Gate is what the gRPC transport shares with the REST API (api.Server
// implements it): who a bearer token is, the admission pools and the
// penalty for misbehaving callers, so that one token and one limit hold on
// every transport.
type Gate interface {
	Authenticate(header string) (name string, role api.Role, err error)
	Admit(name string, need api.Role, stream bool) (release func(), err error)
	Penalize(ctx context.Context, err error)
	RequestTimeout() time.Duration
}

// Leader says whether this node leads (consensus.Node implements it); nil
// means a single node that always does.
type Leader interface{ IsLeader() bool }

// Config is what a Server is built from.
type Config struct {
	Services *service.Services
	Watch    *service.Watch // nil: Watch answers Unimplemented
	Gate     Gate
	Leader   Leader
	// HTTP is this node's HTTP handler (the REST API with the gateway
	// mounted): a write that reaches a follower over gRPC is sent through
	// it, as a gateway request, which forwards it to the leader.
	HTTP   http.Handler
	Logger *slog.Logger
	// Options are extra gRPC server options (TLS credentials).
	Options []grpc.ServerOption
}

// Server serves authzed.api.v1 over gRPC, and its HTTP gateway.
type Server struct {
	cfg  Config
	grpc *grpc.Server
	log  *slog.Logger

	gwLn  *bufconn.Listener // the gateway's in-process connection
	gwMux http.Handler
	stop  func()
}

// New builds the server; Serve starts it on a listener.
func New(cfg Config) (*Server, error) {
	if cfg.Services == nil || cfg.Gate == nil {
		return nil, errors.New("spicedb: Config.Services and Config.Gate are required")
	}
	s := &Server{cfg: cfg, log: cfg.Logger}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.grpc = s.newGRPC(cfg.Options...)
	if err := s.openGateway(); err != nil {
		return nil, err
	}
	return s, nil
}

// newGRPC builds a gRPC server with the services and interceptors, and
// extra options (the external one's TLS; the gateway's in-process one has
// none).
func (s *Server) newGRPC(extra ...grpc.ServerOption) *grpc.Server {
	opts := append([]grpc.ServerOption{
		grpc.ChainUnaryInterceptor(s.unary),
		grpc.ChainStreamInterceptor(s.stream),
		grpc.MaxRecvMsgSize(8 << 20),
	}, extra...)
	g := grpc.NewServer(opts...)
	v1.RegisterPermissionsServiceServer(g, &permissions{s: s})
	v1.RegisterSchemaServiceServer(g, &schemas{s: s})
	v1.RegisterWatchServiceServer(g, &watch{s: s})
	return g
}

// Serve serves gRPC on ln until Stop.
func (s *Server) Serve(ln net.Listener) error { return s.grpc.Serve(ln) }

// Stop ends every call and closes the listeners.
func (s *Server) Stop() {
	s.grpc.Stop()
	if s.stop != nil {
		s.stop()
	}
}

// SetHTTP sets the handler follower writes are forwarded through (the
// REST API is built after this server, since it mounts the gateway).
func (s *Server) SetHTTP(h http.Handler) { s.cfg.HTTP = h }

// callInfo is what the interceptors learned about a call, for its handler.
type callInfo struct {
	principal string
	requestID string
	reason    string
	idemKey   string
	auth      string // the caller's authorization metadata, for forwarding
}

type callKey struct{}

func infoOf(ctx context.Context) callInfo {
	ci, _ := ctx.Value(callKey{}).(callInfo)
	return ci
}

func (ci callInfo) caller() service.Caller {
	return service.Caller{Principal: ci.principal, RequestID: ci.requestID}
}

// Metadata keys Trellis reads besides authorization. Over the HTTP gateway
// they are the headers wire.ReasonHeader, wire.IdempotencyKeyHeader and
// wire.RequestIDHeader.
const (
	mdReason    = "trellis-reason"
	mdIdemKey   = "trellis-idempotency-key"
	mdRequestID = "trellis-request-id"
)

// admit authenticates a call, checks its role, takes its admission slots
// (unless it came through the gateway, whose HTTP route took them) and
// builds its context.
func (s *Server) admit(ctx context.Context, fullMethod string) (context.Context, func(), error) {
	m, ok := methods[fullMethod]
	if !ok {
		return nil, nil, service.Fail(service.ErrMethodNotAllowed, map[string]any{"method": fullMethod},
			"%s is not served by Trellis; see docs/spicedb-compatibility.md for the methods it serves", fullMethod)
	}
	md, _ := metadata.FromIncomingContext(ctx)
	get := func(k string) string {
		if v := md.Get(k); len(v) > 0 {
			return v[0]
		}
		return ""
	}
	ci := callInfo{auth: get("authorization"), reason: get(mdReason), idemKey: get(mdIdemKey), requestID: get(mdRequestID)}
	if _, err := uuid.Parse(ci.requestID); err != nil || len(ci.requestID) != 36 {
		ci.requestID = uuid.NewString()
	}
	name, role, err := s.cfg.Gate.Authenticate(ci.auth)
	if err != nil {
		return nil, nil, err
	}
	if err := api.Allow(name, role, m.role, m.name); err != nil {
		return nil, nil, err
	}
	ci.principal = name
	release := func() {}
	if !fromGateway(ctx) {
		if release, err = s.cfg.Gate.Admit(name, m.role, m.long); err != nil {
			return nil, nil, err
		}
	}
	ctx = api.WithCallerAuth(context.WithValue(ctx, callKey{}, ci), ci.auth)
	if !m.long {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.cfg.Gate.RequestTimeout())
		r := release
		release = func() { cancel(); r() }
	}
	return ctx, release, nil
}

// fromGateway reports whether a call came over the in-process connection of
// the HTTP gateway (its listener's address; no remote caller can have it).
func fromGateway(ctx context.Context) bool {
	p, ok := peer.FromContext(ctx)
	return ok && p.Addr != nil && p.Addr.Network() == "bufconn"
}

func (s *Server) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	start := time.Now()
	cctx, release, err := s.admit(ctx, info.FullMethod)
	var resp any
	if err == nil {
		resp, err = handler(cctx, req)
		release()
	}
	return resp, s.finish(ctx, info.FullMethod, start, err)
}

func (s *Server) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	start := time.Now()
	ctx := ss.Context()
	cctx, release, err := s.admit(ctx, info.FullMethod)
	if err == nil {
		err = handler(srv, &ctxStream{ServerStream: ss, ctx: cctx})
		release()
	}
	return s.finish(ctx, info.FullMethod, start, err)
}

// finish logs the call and maps its error to a gRPC status.
func (s *Server) finish(ctx context.Context, method string, start time.Time, err error) error {
	st := toStatus(err)
	if err != nil {
		s.cfg.Gate.Penalize(ctx, err)
	}
	// A gateway call is logged by the HTTP layer already.
	if !fromGateway(ctx) && s.log.Enabled(ctx, slog.LevelInfo) {
		s.log.LogAttrs(ctx, slog.LevelInfo, "grpc request",
			slog.String("method", method[strings.LastIndexByte(method, '/')+1:]),
			slog.String("code", st.Code().String()),
			slog.Duration("duration", time.Since(start)))
	}
	if err != nil && st.Code().String() == "Internal" {
		s.log.Error("grpc request failed", slog.String("method", method), slog.Any("error", err))
	}
	if err == nil {
		return nil
	}
	return st.Err()
}

// ctxStream is a server stream whose context is the interceptor's.
type ctxStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (c *ctxStream) Context() context.Context { return c.ctx }

// method is what Trellis needs to know of one RPC.
type method struct {
	name string
	role api.Role
	long bool // a stream without the request deadline (export, import, watch)
}

const (
	permissionsSvc = "/authzed.api.v1.PermissionsService/"
	schemaSvc      = "/authzed.api.v1.SchemaService/"
	watchSvc       = "/authzed.api.v1.WatchService/"
)

// methods lists every RPC served, with the least role that may call it: the
// one table of who may call what over gRPC and the gateway.
var methods = map[string]method{
	permissionsSvc + "CheckPermission":         {"CheckPermission", api.RoleReader, false},
	permissionsSvc + "CheckBulkPermissions":    {"CheckBulkPermissions", api.RoleReader, false},
	permissionsSvc + "ExpandPermissionTree":    {"ExpandPermissionTree", api.RoleReader, false},
	permissionsSvc + "LookupResources":         {"LookupResources", api.RoleReader, false},
	permissionsSvc + "LookupSubjects":          {"LookupSubjects", api.RoleReader, false},
	permissionsSvc + "ReadRelationships":       {"ReadRelationships", api.RoleReader, false},
	permissionsSvc + "WriteRelationships":      {"WriteRelationships", api.RoleWriter, false},
	permissionsSvc + "DeleteRelationships":     {"DeleteRelationships", api.RoleWriter, false},
	permissionsSvc + "ImportBulkRelationships": {"ImportBulkRelationships", api.RoleWriter, true},
	permissionsSvc + "ExportBulkRelationships": {"ExportBulkRelationships", api.RoleReader, true},
	schemaSvc + "ReadSchema":                   {"ReadSchema", api.RoleReader, false},
	schemaSvc + "WriteSchema":                  {"WriteSchema", api.RoleAdmin, false},
	watchSvc + "Watch":                         {"Watch", api.RoleReader, true},
}
