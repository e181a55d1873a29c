package spicedb_test

import (
	"context"
	"testing"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/trellis-authz/trellis/server"
	"github.com/trellis-authz/trellis/wire"
)

// The REST API's per-principal limits hold over gRPC too, in one budget:
// with a rate of one request per 5 s and a burst of 1, a principal's second call
// within those seconds is refused (RESOURCE_EXHAUSTED with a RetryInfo),
// whether it comes over gRPC or REST, and another principal is not
// affected.
func TestPrincipalRateSharedWithREST(t *testing.T) {
	tn := startNodeWith(t, govSchema, func(c *server.Config) { c.RatePerPrincipal, c.BurstPerPrincipal = 0.2, 1 })
	ctx := context.Background()
	reader, writer := tn.client(t, tn.reader), tn.client(t, tn.writer)
	req := &v1.CheckPermissionRequest{Resource: obj("dataset", "claims"), Permission: "read", Subject: sub("user", "ana", "")}
	if _, err := reader.CheckPermission(ctx, req); err != nil {
		t.Fatalf("first call: %v", err)
	}
	_, err := reader.CheckPermission(ctx, req)
	st := status.Convert(err)
	if st.Code() != codes.ResourceExhausted {
		t.Fatalf("second call within 5 s: %v, want RESOURCE_EXHAUSTED", err)
	}
	retry := false
	for _, d := range st.Details() {
		if _, ok := d.(*errdetails.RetryInfo); ok {
			retry = true
		}
	}
	if !retry {
		t.Errorf("the refusal has no RetryInfo: %v", st.Details())
	}
	// The same principal over REST shares the budget.
	var out wire.CheckResponse
	if code := tn.rest(t, tn.reader, "POST", "/v1/check", wire.CheckRequest{Resource: "dataset:claims", Permission: "read", Subject: "user:ana"}, &out); code != 429 {
		t.Errorf("REST call of the same principal: %d, want 429", code)
	}
	// Another principal has a budget of its own.
	if _, err := writer.CheckPermission(ctx, req); err != nil {
		t.Errorf("another principal: %v", err)
	}
}
