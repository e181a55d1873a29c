package spicedb

import (
	"fmt"
	"sort"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/trellis-authz/trellis/api"
)

// Errors: the REST API's error table (api.ErrorBody) gives every error its
// Trellis code; this table gives each code its gRPC status code, as SpiceDB
// answers the same mistake. The status carries a google.rpc.ErrorInfo
// (reason: the Trellis code in upper case, domain trellis, metadata: the
// details), a BadRequest naming the field when there is one, and a
// RetryInfo for overload.
var grpcCodes = map[string]codes.Code{
	"invalid_json":             codes.InvalidArgument,
	"invalid_argument":         codes.InvalidArgument,
	"invalid_token":            codes.InvalidArgument,
	"token_from_the_future":    codes.InvalidArgument,
	"invalid_cursor":           codes.InvalidArgument,
	"invalid_schema":           codes.InvalidArgument,
	"subject_not_allowed":      codes.InvalidArgument,
	"invalid_context":          codes.InvalidArgument,
	"too_many_updates":         codes.InvalidArgument,
	"limit_exceeded":           codes.InvalidArgument,
	"caveat_evaluation_failed": codes.InvalidArgument,
	"depth_exceeded":           codes.ResourceExhausted,
	"unauthenticated":          codes.Unauthenticated,
	"permission_denied":        codes.PermissionDenied,
	"unknown_type":             codes.FailedPrecondition,
	"unknown_relation":         codes.FailedPrecondition,
	"schema_not_found":         codes.NotFound,
	"not_found":                codes.NotFound,
	"method_not_allowed":       codes.Unimplemented,
	"already_exists":           codes.AlreadyExists,
	"unsafe_schema_change":     codes.FailedPrecondition,
	"idempotency_key_reused":   codes.FailedPrecondition,
	"precondition_failed":      codes.FailedPrecondition,
	"body_too_large":           codes.ResourceExhausted,
	"overloaded":               codes.ResourceExhausted,
	"unavailable":              codes.Unavailable,
	"no_leader":                codes.Unavailable,
	"not_ready":                codes.Unavailable,
	"outcome_unknown":          codes.Unknown,
	"storage_failed":           codes.Unavailable,
	"disk_full":                codes.ResourceExhausted,
	"deadline_exceeded":        codes.DeadlineExceeded,
	"snapshot_expired":         codes.FailedPrecondition,
	"canceled":                 codes.Canceled,
	"internal":                 codes.Internal,
}

// errorDomain is the domain of the ErrorInfo of every Trellis error.
const errorDomain = "trellis"

// toStatus maps an error to its gRPC status (OK for nil). An error that is
// already a status (from the gRPC runtime) is kept.
func toStatus(err error) *status.Status {
	if err == nil {
		return status.New(codes.OK, "")
	}
	if st, ok := status.FromError(err); ok {
		return st
	}
	_, body := api.ErrorBody(err)
	return statusOf(body.Code, body.Message, body.Details)
}

// statusOf builds the status of a Trellis error code, message and details.
func statusOf(code, message string, details map[string]any) *status.Status {
	c, ok := grpcCodes[code]
	if !ok {
		c = codes.Unknown
	}
	info := &errdetails.ErrorInfo{Reason: upper(code), Domain: errorDomain, Metadata: map[string]string{"code": code}}
	keys := make([]string, 0, len(details))
	for k := range details {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		info.Metadata[k] = fmt.Sprint(details[k])
	}
	st := status.New(c, message)
	extra := []protoadapt.MessageV1{info}
	if f, ok := details["field"].(string); ok && f != "" {
		extra = append(extra, &errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: f, Description: message}}})
	}
	if c == codes.ResourceExhausted || c == codes.Unavailable {
		secs := 1
		if v, ok := details["retry_after_seconds"].(int); ok && v > 0 {
			secs = v
		}
		extra = append(extra, &errdetails.RetryInfo{RetryDelay: durationpb.New(time.Duration(secs) * time.Second)})
	}
	if withDetails, err := st.WithDetails(extra...); err == nil {
		return withDetails
	}
	return st
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}
