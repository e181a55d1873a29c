package spicedb

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"
	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/trellis-authz/trellis/api"
	"github.com/trellis-authz/trellis/service"
	"github.com/trellis-authz/trellis/wire"
)

// The HTTP gateway: SpiceDB's HTTP/JSON API (POST /v1/permissions/check,
// ...), made of the gateway handlers authzed-go ships, calling this
// server's gRPC service over an in-process connection. Its routes are
// mounted on the REST API's HTTP server (api.Server.MountGateway), which
// authenticates, admits and, in a cluster, forwards writes to the leader
// before the gateway sees them; the gRPC interceptor then takes no second
// admission slot for them (fromGateway).

// headerToMetadata maps the Trellis headers a gateway caller may send to
// the gRPC metadata the services read; others follow the gateway's rules
// (Authorization is passed as "authorization").
func headerToMetadata(key string) (string, bool) {
	switch strings.ToLower(key) {
	case strings.ToLower(wire.RequestIDHeader):
		return mdRequestID, true
	case strings.ToLower(wire.ReasonHeader):
		return mdReason, true
	case strings.ToLower(wire.IdempotencyKeyHeader):
		return mdIdemKey, true
	}
	return runtime.DefaultHeaderMatcher(key)
}

func (s *Server) openGateway() error {
	s.gwLn = bufconn.Listen(1 << 20)
	inproc := s.newGRPC()
	go func() { _ = inproc.Serve(s.gwLn) }()
	conn, err := grpc.NewClient("passthrough:///trellis-gateway",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return s.gwLn.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)))
	if err != nil {
		return err
	}
	mux := runtime.NewServeMux(
		runtime.WithIncomingHeaderMatcher(headerToMetadata),
		runtime.WithErrorHandler(gatewayError),
		runtime.WithMarshalerOption(runtime.MIMEWildcard, &runtime.JSONPb{
			MarshalOptions:   protojson.MarshalOptions{EmitUnpopulated: false},
			UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
		}),
	)
	ctx := context.Background()
	if err := v1.RegisterPermissionsServiceHandlerClient(ctx, mux, v1.NewPermissionsServiceClient(conn)); err != nil {
		return err
	}
	if err := v1.RegisterSchemaServiceHandlerClient(ctx, mux, v1.NewSchemaServiceClient(conn)); err != nil {
		return err
	}
	if err := v1.RegisterWatchServiceHandlerClient(ctx, mux, v1.NewWatchServiceClient(conn)); err != nil {
		return err
	}
	s.gwMux = mux
	s.stop = func() { _ = conn.Close(); inproc.Stop() }
	return nil
}

// Gateway is the HTTP gateway's handler, to mount with GatewayRoutes.
func (s *Server) Gateway() http.Handler { return s.gwMux }

// GatewayRoutes are the gateway's routes, each with the role of its RPC.
func GatewayRoutes() []api.Route {
	paths := []struct{ path, rpc string }{
		{"/v1/permissions/check", permissionsSvc + "CheckPermission"},
		{"/v1/permissions/checkbulk", permissionsSvc + "CheckBulkPermissions"},
		{"/v1/permissions/expand", permissionsSvc + "ExpandPermissionTree"},
		{"/v1/permissions/resources", permissionsSvc + "LookupResources"},
		{"/v1/permissions/subjects", permissionsSvc + "LookupSubjects"},
		{"/v1/relationships/read", permissionsSvc + "ReadRelationships"},
		{"/v1/relationships/write", permissionsSvc + "WriteRelationships"},
		{"/v1/relationships/delete", permissionsSvc + "DeleteRelationships"},
		{"/v1/relationships/importbulk", permissionsSvc + "ImportBulkRelationships"},
		{"/v1/relationships/exportbulk", permissionsSvc + "ExportBulkRelationships"},
		{"/v1/schema/read", schemaSvc + "ReadSchema"},
		{"/v1/schema/write", schemaSvc + "WriteSchema"},
		{"/v1/watch", watchSvc + "Watch"},
	}
	out := make([]api.Route, 0, len(paths))
	for _, p := range paths {
		m := methods[p.rpc]
		out = append(out, api.Route{Method: http.MethodPost, Path: p.path, Role: m.role, NoTimeout: m.long,
			Summary: "SpiceDB HTTP gateway: " + m.name, StreamIn: streamIn(m)})
	}
	return out
}

// spiceKeys are top-level request fields only SpiceDB's JSON has, on the
// paths both APIs serve (relationships read, write and delete).
var spiceKeys = map[string]bool{
	"relationshipFilter": true, "relationship_filter": true,
	"optionalLimit": true, "optional_limit": true,
	"optionalCursor": true, "optional_cursor": true,
	"optionalPreconditions": true, "optional_preconditions": true,
	"optionalTransactionMetadata": true, "optional_transaction_metadata": true,
	"optionalAllowPartialDeletions": true, "optional_allow_partial_deletions": true,
}

// IsGatewayBody reports whether a body sent to a path both APIs serve is
// SpiceDB's: it has a field only SpiceDB's request has, an update with an
// "operation" (Trellis's have "op"), or a consistency that is an object of
// objects ({"fullyConsistent": true} or {"atLeastAsFresh": {"token": ...}};
// Trellis's is a string or {"at_least_as_fresh": "TOKEN"}).
func IsGatewayBody(body []byte) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return false
	}
	for k := range m {
		if spiceKeys[k] {
			return true
		}
	}
	var updates []map[string]json.RawMessage
	if json.Unmarshal(m["updates"], &updates) == nil {
		for _, u := range updates {
			if _, ok := u["operation"]; ok {
				return true
			}
		}
	}
	var cons map[string]json.RawMessage
	if json.Unmarshal(m["consistency"], &cons) == nil {
		for k, v := range cons {
			if k == "minimizeLatency" || k == "fullyConsistent" || k == "minimize_latency" || k == "fully_consistent" ||
				bytes.HasPrefix(bytes.TrimSpace(v), []byte("{")) {
				return true
			}
		}
	}
	return false
}

// onLeader sends a write that reached this node over gRPC while it follows
// to the leader: as a gateway request through this node's HTTP handler,
// whose cluster layer forwards it (the same path, deadline and "outcome
// unknown" rules as a REST write). done is false when the write is to be
// handled here.
func (s *Server) onLeader(ctx context.Context, path string, in, out proto.Message) (done bool, err error) {
	if s.cfg.Leader == nil || s.cfg.Leader.IsLeader() || fromGateway(ctx) || s.cfg.HTTP == nil {
		return false, nil
	}
	body, err := protojson.Marshal(in)
	if err != nil {
		return true, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, path, bytes.NewReader(body))
	if err != nil {
		return true, err
	}
	ci := infoOf(ctx)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", ci.auth)
	req.Header.Set(wire.RequestIDHeader, ci.requestID)
	if ci.reason != "" {
		req.Header.Set(wire.ReasonHeader, ci.reason)
	}
	if ci.idemKey != "" {
		req.Header.Set(wire.IdempotencyKeyHeader, ci.idemKey)
	}
	rec := &recorder{header: http.Header{}}
	s.cfg.HTTP.ServeHTTP(rec, req)
	if rec.status == 0 || rec.status == http.StatusOK {
		if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(rec.body.Bytes(), out); err != nil {
			return true, service.Fail(service.ErrOutcomeUnknown, nil, "the leader's answer to %s could not be read (%v); its outcome is unknown, retry with the same trellis-idempotency-key", path, err)
		}
		return true, nil
	}
	return true, answerError(rec.body.Bytes())
}

// answerError turns an error answer of the HTTP handler into a status: a
// gateway error (google.rpc.Status in JSON) or a Trellis REST error body
// (from the cluster layer: no leader, outcome unknown).
func answerError(body []byte) error {
	var te wire.ErrorResponse
	if json.Unmarshal(body, &te) == nil && te.Error.Code != "" {
		return statusOf(te.Error.Code, te.Error.Message, te.Error.Details).Err()
	}
	var sp spb.Status
	if (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(body, &sp) == nil && sp.GetCode() != 0 {
		return status.FromProto(&sp).Err()
	}
	return service.Fail(service.ErrOutcomeUnknown, nil, "the leader answered %q; the write's outcome is unknown, retry with the same trellis-idempotency-key", string(body))
}

// recorder is the response writer of a forwarded write.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

// streamIn marks the route whose body is a stream (ImportBulkRelationships:
// one JSON request per line), so the import body limit applies to it.
func streamIn(m method) string {
	if m.name == "ImportBulkRelationships" {
		return "application/x-ndjson"
	}
	return ""
}

// gatewayError answers a gateway error. A status from Trellis (it carries
// Trellis's ErrorInfo) goes out as it is; any other InvalidArgument comes
// from the gateway's own decoding of the body, before Trellis saw the
// request, and gets a message that says what is wrong and how to write it.
func gatewayError(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	if st, ok := status.FromError(err); ok && st.Code() == codes.InvalidArgument && !fromTrellis(st) {
		err = statusOf("invalid_json", fmt.Sprintf("the body of POST %s is not a valid SpiceDB request: %s; write SpiceDB's JSON (field names in camelCase or snake_case, e.g. {\"resource\": {\"objectType\": \"doc\", \"objectId\": \"1\"}}; see docs/spicedb-compatibility.md)",
			r.URL.Path, st.Message()), map[string]any{"path": r.URL.Path}).Err()
	}
	runtime.DefaultHTTPErrorHandler(ctx, mux, m, w, r, err)
}

// fromTrellis reports whether a status carries Trellis's ErrorInfo.
func fromTrellis(st *status.Status) bool {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetDomain() == errorDomain {
			return true
		}
	}
	return false
}
