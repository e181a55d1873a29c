package pepgrpc

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/trellis-authz/trellis/pep"
	"github.com/trellis-authz/trellis/pep/internal/peptest"
)

// user is the caller named in the "x-user" metadata.
func user(ctx context.Context) (string, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get("x-user"); len(v) == 1 {
		return "user:" + v[0], nil
	}
	return "", errors.New("no x-user metadata")
}

// TestInterceptors guards the gRPC health service (a real gRPC server on
// loopback): Check is a unary call on dataset:<service>, Watch a stream on
// dataset:claims.
func TestInterceptors(t *testing.T) {
	tn := peptest.Start(t, peptest.ReadSchema)
	tn.Write(t, peptest.Touch("dataset:claims#reader@user:ana"))
	cfg := pep.DefaultConfig(tn.URL, tn.Reader)
	cfg.Log = peptest.QuietLog()
	c, err := pep.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })

	srv := grpc.NewServer(
		grpc.UnaryInterceptor(UnaryServerInterceptor(c, func(ctx context.Context, method string, req any) (pep.Question, error) {
			sub, err := user(ctx)
			svc := req.(*healthpb.HealthCheckRequest).GetService()
			return pep.Question{Resource: "dataset:" + svc, Permission: "read", Subject: sub}, err
		})),
		grpc.StreamInterceptor(StreamServerInterceptor(c, func(ctx context.Context, method string) (pep.Question, error) {
			sub, err := user(ctx)
			return pep.Question{Resource: "dataset:claims", Permission: "read", Subject: sub}, err
		})))
	hs := health.NewServer()
	hs.SetServingStatus("claims", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(srv, hs)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	hc := healthpb.NewHealthClient(conn)
	as := func(u string) context.Context {
		if u == "" {
			return context.Background()
		}
		return metadata.AppendToOutgoingContext(context.Background(), "x-user", u)
	}

	// wantDenied checks a PermissionDenied status whose message names code
	// and whose header or trailer carries the decision id named in it.
	wantDenied := func(t *testing.T, err error, header, trailer metadata.MD, code string) {
		t.Helper()
		st, _ := status.FromError(err)
		if st.Code() != codes.PermissionDenied || !strings.Contains(st.Message(), code) {
			t.Fatalf("status %v, want PermissionDenied naming %s", st, code)
		}
		ids := append(header.Get(DecisionIDKey), trailer.Get(DecisionIDKey)...)
		if len(ids) == 0 || ids[0] == "" || !strings.Contains(st.Message(), ids[0]) {
			t.Fatalf("decision id metadata %v (header %v, trailer %v) missing or not in the message %q", ids, header, trailer, st.Message())
		}
	}

	t.Run("unary", func(t *testing.T) {
		if _, err := hc.Check(as("ana"), &healthpb.HealthCheckRequest{Service: "claims"}); err != nil {
			t.Fatalf("ana: %v, want allowed", err)
		}
		for _, tc := range []struct{ user, code string }{{"bob", pep.CodeDenied}, {"", pep.CodeFailed}} {
			var header, trailer metadata.MD
			_, err := hc.Check(as(tc.user), &healthpb.HealthCheckRequest{Service: "claims"}, grpc.Header(&header), grpc.Trailer(&trailer))
			wantDenied(t, err, header, trailer, tc.code)
		}
	})
	t.Run("stream", func(t *testing.T) {
		ws, err := hc.Watch(as("ana"), &healthpb.HealthCheckRequest{Service: "claims"})
		if err != nil {
			t.Fatal(err)
		}
		if msg, err := ws.Recv(); err != nil || msg.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("ana's stream: %v, %v; want SERVING", msg, err)
		}
		ws, err = hc.Watch(as("bob"), &healthpb.HealthCheckRequest{Service: "claims"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = ws.Recv()
		header, _ := ws.Header()
		wantDenied(t, err, header, ws.Trailer(), pep.CodeDenied)
	})
	t.Run("trellis down", func(t *testing.T) {
		tn.Kill()
		peptest.WaitFor(t, "the cache to stop answering", func() bool { return !c.Live() })
		var header, trailer metadata.MD
		_, err := hc.Check(as("ana"), &healthpb.HealthCheckRequest{Service: "claims"}, grpc.Header(&header), grpc.Trailer(&trailer))
		wantDenied(t, err, header, trailer, pep.CodeFailed)
	})
}
