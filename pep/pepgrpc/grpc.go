package pepgrpc

import (
	"context"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/trellis-authz/trellis/pep"
)

// DecisionIDKey is the metadata key of a denial's decision id.
var DecisionIDKey = strings.ToLower(pep.DecisionIDHeader)

// UnaryMapper turns a unary call into a question.
type UnaryMapper func(ctx context.Context, fullMethod string, req any) (pep.Question, error)

// StreamMapper turns a stream, when it opens, into a question.
type StreamMapper func(ctx context.Context, fullMethod string) (pep.Question, error)

// UnaryServerInterceptor decides every unary call with c. The handler gets
// a context carrying the decision (pep.DecisionFrom).
func UnaryServerInterceptor(c *pep.Client, m UnaryMapper) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		q, err := m(ctx, info.FullMethod, req)
		d, allowed, err := c.Enforce(ctx, q, err)
		if !allowed {
			return nil, deny(ctx, d, err, grpc.SetHeader, grpc.SetTrailer)
		}
		return handler(pep.WithDecision(ctx, d), req)
	}
}

// StreamServerInterceptor decides every stream with c when it opens. The
// handler's stream context carries the decision (pep.DecisionFrom).
func StreamServerInterceptor(c *pep.Client, m StreamMapper) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx := ss.Context()
		q, err := m(ctx, info.FullMethod)
		d, allowed, err := c.Enforce(ctx, q, err)
		if !allowed {
			setHeader := func(_ context.Context, md metadata.MD) error { return ss.SetHeader(md) }
			setTrailer := func(_ context.Context, md metadata.MD) error { ss.SetTrailer(md); return nil }
			return deny(ctx, d, err, setHeader, setTrailer)
		}
		return handler(srv, &decidedStream{ServerStream: ss, ctx: pep.WithDecision(ctx, d)})
	}
}

// deny is the PermissionDenied status of a denial, with its decision id set
// in the header and the trailer metadata.
func deny(ctx context.Context, d pep.Decision, err error, setHeader, setTrailer func(context.Context, metadata.MD) error) error {
	md := metadata.Pairs(DecisionIDKey, d.DecisionID)
	_ = setHeader(ctx, md)
	_ = setTrailer(ctx, md)
	body := pep.Denial(d, err)
	return status.Errorf(codes.PermissionDenied, "%s: %s (decision %s)", body.Error.Code, body.Error.Message, d.DecisionID)
}

// decidedStream is a server stream whose context carries the decision.
type decidedStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *decidedStream) Context() context.Context { return s.ctx }
