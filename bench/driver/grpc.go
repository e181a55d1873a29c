package driver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"
	authzed "github.com/authzed/authzed-go/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/trellis-authz/trellis/bench/workload"
	"github.com/trellis-authz/trellis/tuple"
)

// grpcTransport replays a run over SpiceDB's gRPC API with the authzed-go
// client, as a service using Trellis through SpiceDB's client would: checks
// are CheckPermission, lookups LookupResources (a stream, cursors followed
// like REST's pages), writes WriteRelationships. The clients share
// cfg.GRPCConns connections, client i the (i mod n)-th; HTTP/2 multiplexes
// their calls.
type grpcTransport struct {
	cfg     Config
	conns   []*authzed.Client
	consist *v1.Consistency    // nil: none sent (the server minimizes latency)
	writes  []*v1.Relationship // cfg.WritePool, parsed once
}

// bearerToken is per-RPC credentials over a plaintext connection: the
// authorization metadata a SpiceDB client sends with its preshared key.
type bearerToken string

func (b bearerToken) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

func (bearerToken) RequireTransportSecurity() bool { return false }

// dialGRPC opens the run's connections (lazily: a node that is down shows
// as transport errors in the report, as over HTTP) and parses the write
// pool.
func dialGRPC(cfg Config) (*grpcTransport, error) {
	g := &grpcTransport{cfg: cfg}
	switch cfg.Consistency {
	case "minimize_latency":
		g.consist = &v1.Consistency{Requirement: &v1.Consistency_MinimizeLatency{MinimizeLatency: true}}
	case "fully_consistent":
		g.consist = &v1.Consistency{Requirement: &v1.Consistency_FullyConsistent{FullyConsistent: true}}
	}
	for i, line := range cfg.WritePool {
		rel, err := grpcRelationship(line)
		if err != nil {
			return nil, fmt.Errorf("%w: write pool line %d: %v", ErrInvalidConfig, i+1, err)
		}
		g.writes = append(g.writes, rel)
	}
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if cfg.Token != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(bearerToken(cfg.Token)))
	}
	for range max(cfg.GRPCConns, 1) {
		c, err := authzed.NewClient(cfg.GRPCEndpoint, opts...)
		if err != nil {
			g.close()
			return nil, fmt.Errorf("%w: GRPCEndpoint %q: %v", ErrInvalidConfig, cfg.GRPCEndpoint, err)
		}
		g.conns = append(g.conns, c)
	}
	return g, nil
}

func (g *grpcTransport) close() {
	for _, c := range g.conns {
		_ = c.Close()
	}
}

func (g *grpcTransport) conn(id int) *authzed.Client { return g.conns[id%len(g.conns)] }

// request builds the message of one query, once before the run.
func (g *grpcTransport) request(q *workload.Query) (any, error) {
	sub, err := tuple.ParseSubject(q.Subject)
	if err != nil {
		return nil, err
	}
	subject := &v1.SubjectReference{Object: &v1.ObjectReference{ObjectType: sub.Type, ObjectId: sub.ID}, OptionalRelation: sub.Relation}
	var cctx *structpb.Struct
	if len(q.Context) > 0 {
		if cctx, err = structpb.NewStruct(q.Context); err != nil {
			return nil, fmt.Errorf("context: %v", err)
		}
	}
	if q.IsLookup() {
		return &v1.LookupResourcesRequest{Consistency: g.consist, ResourceObjectType: q.ResourceType, Permission: q.Permission,
			Subject: subject, Context: cctx, OptionalLimit: uint32(g.cfg.LookupLimit)}, nil
	}
	res, err := tuple.ParseObject(q.Resource)
	if err != nil {
		return nil, err
	}
	return &v1.CheckPermissionRequest{Consistency: g.consist, Resource: &v1.ObjectReference{ObjectType: res.Type, ObjectId: res.ID},
		Permission: q.Permission, Subject: subject, Context: cctx}, nil
}

// query runs one query for client id and returns what REST's would.
func (g *grpcTransport) query(ctx context.Context, id int, p *prepared) (string, []workload.LookupItem, error) {
	if in, ok := p.rpc.(*v1.LookupResourcesRequest); ok {
		return g.lookup(ctx, id, p, in)
	}
	in, ok := p.rpc.(*v1.CheckPermissionRequest)
	if !ok {
		return "", nil, &queryError{"request", fmt.Errorf("query %s has no gRPC request", p.desc)}
	}
	cctx, cancel := context.WithTimeout(ctx, g.cfg.RequestTimeout)
	defer cancel()
	resp, err := g.conn(id).CheckPermission(cctx, in)
	if err != nil {
		return "", nil, grpcError(ctx, err)
	}
	switch resp.GetPermissionship() {
	case v1.CheckPermissionResponse_PERMISSIONSHIP_HAS_PERMISSION:
		return "allowed", nil, nil
	case v1.CheckPermissionResponse_PERMISSIONSHIP_NO_PERMISSION:
		return "denied", nil, nil
	case v1.CheckPermissionResponse_PERMISSIONSHIP_CONDITIONAL_PERMISSION:
		return "conditional", nil, nil
	}
	return "", nil, &queryError{"bad_result", fmt.Errorf("permissionship %s is not has, no or conditional permission", resp.GetPermissionship())}
}

// lookup reads LookupResources streams of at most LookupLimit results,
// continuing from the last result's cursor while a stream comes back full.
func (g *grpcTransport) lookup(ctx context.Context, id int, p *prepared, first *v1.LookupResourcesRequest) (string, []workload.LookupItem, error) {
	var items []workload.LookupItem
	in := first
	for page := 0; ; page++ {
		if page == maxLookupPages {
			return "", nil, &queryError{"bad_result", fmt.Errorf("lookup did not end after %d streams", maxLookupPages)}
		}
		n, cursor, err := g.lookupStream(ctx, id, in, &items)
		if err != nil {
			return "", nil, err
		}
		if cursor == nil || n < int(in.GetOptionalLimit()) {
			break
		}
		next := proto.CloneOf(in)
		next.OptionalCursor = cursor
		in = next
	}
	slices.SortFunc(items, func(a, b workload.LookupItem) int { return strings.Compare(a.ID, b.ID) })
	if len(items) == 0 {
		return "denied", items, nil
	}
	return "allowed", items, nil
}

// lookupStream reads one LookupResources stream into items and returns how
// many results it had and the last one's cursor.
func (g *grpcTransport) lookupStream(ctx context.Context, id int, in *v1.LookupResourcesRequest, items *[]workload.LookupItem) (int, *v1.Cursor, error) {
	cctx, cancel := context.WithTimeout(ctx, g.cfg.RequestTimeout)
	defer cancel()
	stream, err := g.conn(id).LookupResources(cctx, in)
	if err != nil {
		return 0, nil, grpcError(ctx, err)
	}
	n := 0
	var cursor *v1.Cursor
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return n, cursor, nil
		}
		if err != nil {
			return 0, nil, grpcError(ctx, err)
		}
		result := "allowed"
		switch msg.GetPermissionship() {
		case v1.LookupPermissionship_LOOKUP_PERMISSIONSHIP_HAS_PERMISSION:
		case v1.LookupPermissionship_LOOKUP_PERMISSIONSHIP_CONDITIONAL_PERMISSION:
			result = "conditional"
		default:
			return 0, nil, &queryError{"bad_result", fmt.Errorf("lookup permissionship %s is not has or conditional permission", msg.GetPermissionship())}
		}
		*items = append(*items, workload.LookupItem{ID: msg.GetResourceObjectId(), Result: result})
		n++
		cursor = msg.GetAfterResultCursor()
	}
}

// write sends the k-th update of the write mix (writeOp) as
// WriteRelationships.
func (g *grpcTransport) write(ctx context.Context, id int, k int64) error {
	u := writeOp(g.cfg.WritePool, k)
	rel := g.writes[k%int64(len(g.writes))]
	op := v1.RelationshipUpdate_OPERATION_TOUCH
	if u.Op == "delete" {
		op = v1.RelationshipUpdate_OPERATION_DELETE
	}
	cctx, cancel := context.WithTimeout(ctx, g.cfg.RequestTimeout)
	defer cancel()
	cctx = metadata.AppendToOutgoingContext(cctx, "trellis-reason", writeReason)
	_, err := g.conn(id).WriteRelationships(cctx, &v1.WriteRelationshipsRequest{
		Updates: []*v1.RelationshipUpdate{{Operation: op, Relationship: rel}}})
	if err != nil {
		return grpcError(ctx, err)
	}
	return nil
}

// grpcRelationship converts a relationship in Trellis's text form to
// SpiceDB's message.
func grpcRelationship(line string) (*v1.Relationship, error) {
	r, err := tuple.Parse(line)
	if err != nil {
		return nil, err
	}
	out := &v1.Relationship{
		Resource: &v1.ObjectReference{ObjectType: r.Resource.Type, ObjectId: r.Resource.ID},
		Relation: r.Relation,
		Subject: &v1.SubjectReference{Object: &v1.ObjectReference{ObjectType: r.Subject.Type, ObjectId: r.Subject.ID},
			OptionalRelation: r.Subject.Relation},
	}
	if r.Caveat != nil {
		out.OptionalCaveat = &v1.ContextualizedCaveat{CaveatName: r.Caveat.Name}
		if len(r.Caveat.Context) > 0 {
			if out.OptionalCaveat.Context, err = structpb.NewStruct(r.Caveat.Context); err != nil {
				return nil, fmt.Errorf("caveat context: %v", err)
			}
		}
	}
	if r.Expiration != nil {
		out.OptionalExpiresAt = timestamppb.New(*r.Expiration)
	}
	return out, nil
}

// grpcError classifies a failed call for the report: "timeout" (the
// client's deadline), "transport" (no connection: refused, reset) or
// grpc_<code>[:<Trellis error code>], e.g. grpc_Unavailable:no_leader,
// grpc_Unauthenticated:unauthenticated, the gRPC twin of http_<status>:<code>.
//
// A call's deadline is the sooner of the run's end and RequestTimeout, and
// its timer may fire a moment before the run context's own: when the run's
// deadline has passed, grpcError waits for ctx to end, so that the caller
// sees a call cut off by the end of the run as such and does not count it.
func grpcError(ctx context.Context, err error) error {
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		<-ctx.Done()
	}
	st, ok := status.FromError(err)
	if !ok {
		return &queryError{"transport", err}
	}
	code := ""
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetMetadata()["code"] != "" {
			code = info.GetMetadata()["code"]
		}
	}
	switch {
	case code == "" && st.Code() == codes.DeadlineExceeded:
		return &queryError{"timeout", err}
	case code == "" && st.Code() == codes.Unavailable:
		return &queryError{"transport", err}
	case code == "":
		return &queryError{"grpc_" + st.Code().String(), err}
	}
	return &queryError{"grpc_" + st.Code().String() + ":" + code, err}
}
