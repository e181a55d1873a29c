package spicedb_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"

	"github.com/trellis-authz/trellis/wire"
)

// LookupSubjects' optional_concrete_limit counts concrete subjects only: a
// wildcard, sent or left out (WILDCARD_OPTION_EXCLUDE_WILDCARDS), does not
// use up the limit, over gRPC and the gateway alike.
func TestLookupSubjectsConcreteLimit(t *testing.T) {
	tn := startNode(t, diffSchema)
	var w wire.WriteResponse
	if code := tn.rest(t, tn.writer, "POST", "/v1/relationships/write", wire.WriteRelationshipsRequest{Updates: []wire.Update{
		{Op: "touch", Relationship: "doc:d#viewer@user:*"}, {Op: "touch", Relationship: "doc:d#viewer@user:a"},
		{Op: "touch", Relationship: "doc:d#viewer@user:b"}, {Op: "touch", Relationship: "doc:d#viewer@user:c"}}}, &w); code != 200 {
		t.Fatalf("write: %d", code)
	}
	c := tn.client(t, tn.reader)
	for _, opt := range []v1.LookupSubjectsRequest_WildcardOption{v1.LookupSubjectsRequest_WILDCARD_OPTION_INCLUDE_WILDCARDS, v1.LookupSubjectsRequest_WILDCARD_OPTION_EXCLUDE_WILDCARDS} {
		for limit := uint32(1); limit <= 4; limit++ {
			req := &v1.LookupSubjectsRequest{Consistency: v1Exact(w.WrittenAt), Resource: obj("doc", "d"), Permission: "view",
				SubjectObjectType: "user", OptionalConcreteLimit: limit, WildcardOption: opt}
			var want []string
			if opt == v1.LookupSubjectsRequest_WILDCARD_OPTION_INCLUDE_WILDCARDS {
				want = append(want, "*")
			}
			want = append(want, []string{"a", "b", "c"}[:min(limit, 3)]...)
			viaGRPC, err := recvAll(c.LookupSubjects(context.Background(), req))
			if err != nil {
				t.Fatal(err)
			}
			viaGateway, err := gwStream(t, tn, tn.reader, "/v1/permissions/subjects", req, func() *v1.LookupSubjectsResponse { return &v1.LookupSubjectsResponse{} })
			if err != nil {
				t.Fatal(err)
			}
			for name, ms := range map[string][]*v1.LookupSubjectsResponse{"gRPC": viaGRPC, "gateway": viaGateway} {
				var got []string
				for _, m := range ms {
					got = append(got, m.GetSubject().GetSubjectObjectId())
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("%s %s limit %d: %v, want %v", name, strings.TrimPrefix(opt.String(), "WILDCARD_OPTION_"), limit, got, want)
				}
			}
		}
	}
}
