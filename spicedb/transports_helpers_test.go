package spicedb_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"
	authzed "github.com/authzed/authzed-go/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/trellis-authz/trellis/tuple"
	"github.com/trellis-authz/trellis/wire"
)

// One question asked of three transports: Trellis's REST API, SpiceDB's
// gRPC API (the authzed-go client) and SpiceDB's HTTP gateway (plain HTTP
// with protojson bodies). Questions are written in Trellis's string syntax
// and each transport turns them into its own request; answers are turned
// into one comparable form (sorted strings), so that a test can require
// the three to be identical.

// checkQ is a check: resource "type:id", permission, subject "type:id" or
// "type:id#relation", and the caveat context (nil: none).
type checkQ struct {
	resource, permission, subject string
	context                       map[string]any
}

func (q checkQ) String() string {
	return fmt.Sprintf("check %s#%s@%s ctx=%v", q.resource, q.permission, q.subject, q.context)
}

// lookupResQ is a LookupResources question.
type lookupResQ struct {
	resourceType, permission, subject string
	context                           map[string]any
}

// lookupSubQ is a LookupSubjects question; subjectRelation "" is plain
// subjects.
type lookupSubQ struct {
	resource, permission, subjectType, subjectRelation string
	context                                            map[string]any
}

// checkA is a check's answer: allowed, denied or conditional, the missing
// context sorted, and the earliest expiration on the path (RFC 3339, "" for
// none).
type checkA struct {
	result    string
	missing   []string
	expiresAt string
}

func (a checkA) String() string {
	return fmt.Sprintf("%s missing=%v expires=%q", a.result, a.missing, a.expiresAt)
}

// transport asks questions at a revision (tok: a ZedToken, read
// at_exact_snapshot) and writes with a token and an audit reason.
type transport interface {
	name() string
	check(q checkQ, tok string) (checkA, error)
	lookupResources(q lookupResQ, tok string) ([]string, error)
	lookupSubjects(q lookupSubQ, tok string) ([]string, error)
	read(f tuple.Filter, tok string) ([]string, error)
	write(bearer string, updates []wire.Update, reason string) (writtenAt string, err error)
}

// lookupLine is the comparable form of one lookup result.
func lookupLine(id, result string, missing, excluded []string) string {
	m, x := slices.Clone(missing), slices.Clone(excluded)
	slices.Sort(m)
	slices.Sort(x)
	return fmt.Sprintf("%s %s missing=%v excluded=%v", id, result, m, x)
}

func sorted(s []string) []string {
	slices.Sort(s)
	if s == nil {
		s = []string{}
	}
	return s
}

func rfc3339(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// ---- REST ----

type restTransport struct {
	t  *testing.T
	tn *testNode
}

func (restTransport) name() string { return "REST" }

// call posts body and decodes a 200 answer into out; another status is an
// error carrying the body.
func (r restTransport) call(bearer, path string, body, out any, header map[string]string) error {
	r.t.Helper()
	return r.send(http.MethodPost, bearer, path, body, out, header)
}

func (r restTransport) send(method, bearer, path string, body, out any, header map[string]string) error {
	r.t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		r.t.Fatal(err)
	}
	req, err := http.NewRequest(method, r.tn.url+path, strings.NewReader(string(b)))
	if err != nil {
		r.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+bearer)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("REST %s %s: HTTP %d: %s", method, path, resp.StatusCode, data)
	}
	if err := json.Unmarshal(data, out); err != nil {
		r.t.Fatalf("REST %s: %v: %s", path, err, data)
	}
	return nil
}

func exact(tok string) *wire.Consistency {
	return &wire.Consistency{Mode: wire.AtExactSnapshot, Token: tok}
}

func contextRaw(t *testing.T, c map[string]any) json.RawMessage {
	if c == nil {
		return nil
	}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (r restTransport) check(q checkQ, tok string) (checkA, error) {
	var out wire.CheckResponse
	err := r.call(r.tn.reader, "/v1/check", wire.CheckRequest{Resource: q.resource, Permission: q.permission, Subject: q.subject,
		Context: contextRaw(r.t, q.context), Consistency: exact(tok)}, &out, nil)
	return checkA{result: out.Result, missing: sorted(out.MissingContext), expiresAt: rfc3339(out.ExpiresAt)}, err
}

// restPaged posts the request page builds for each cursor in turn (from
// none to the last page's) and collects the lines of every answer.
func restPaged[R any](r restTransport, path string, page func(cursor string) any, lines func(R) (out []string, next string)) ([]string, error) {
	var all []string
	cursor := ""
	for {
		var out R
		if err := r.call(r.tn.reader, path, page(cursor), &out, nil); err != nil {
			return nil, err
		}
		ls, next := lines(out)
		all = append(all, ls...)
		if cursor = next; cursor == "" {
			return sorted(all), nil
		}
	}
}

func (r restTransport) lookupResources(q lookupResQ, tok string) ([]string, error) {
	return restPaged(r, "/v1/lookup/resources", func(cursor string) any {
		return wire.LookupResourcesRequest{ResourceType: q.resourceType, Permission: q.permission, Subject: q.subject,
			Context: contextRaw(r.t, q.context), Cursor: cursor, Consistency: exact(tok)}
	}, func(out wire.LookupResourcesResponse) (lines []string, next string) {
		for _, res := range out.Resources {
			lines = append(lines, lookupLine(res.ID, res.Result, res.MissingContext, nil))
		}
		return lines, out.NextCursor
	})
}

func (r restTransport) lookupSubjects(q lookupSubQ, tok string) ([]string, error) {
	return restPaged(r, "/v1/lookup/subjects", func(cursor string) any {
		return wire.LookupSubjectsRequest{Resource: q.resource, Permission: q.permission, SubjectType: q.subjectType,
			SubjectRelation: q.subjectRelation, Context: contextRaw(r.t, q.context), Cursor: cursor, Consistency: exact(tok)}
	}, func(out wire.LookupSubjectsResponse) (lines []string, next string) {
		for _, s := range out.Subjects {
			lines = append(lines, lookupLine(s.ID, s.Result, s.MissingContext, s.Excluded))
		}
		return lines, out.NextCursor
	})
}

func (r restTransport) read(f tuple.Filter, tok string) ([]string, error) {
	return restPaged(r, "/v1/relationships/read", func(cursor string) any {
		return wire.ReadRelationshipsRequest{Filter: f, Cursor: cursor, Consistency: exact(tok)}
	}, func(out wire.ReadRelationshipsResponse) (lines []string, next string) {
		for _, s := range out.Relationships {
			lines = append(lines, canonical(r.t, s))
		}
		return lines, out.NextCursor
	})
}

func (r restTransport) write(bearer string, updates []wire.Update, reason string) (string, error) {
	var out wire.WriteResponse
	err := r.call(bearer, "/v1/relationships/write", wire.WriteRelationshipsRequest{Updates: updates, Reason: reason}, &out, nil)
	return out.WrittenAt, err
}

// canonical re-formats a relationship in Trellis's syntax.
func canonical(t *testing.T, s string) string {
	r, err := tuple.Parse(s)
	if err != nil {
		t.Fatalf("relationship %q: %v", s, err)
	}
	return r.String()
}

// ---- SpiceDB's messages, shared by gRPC and the gateway ----

func v1Object(t *testing.T, s string) *v1.ObjectReference {
	o, err := tuple.ParseObject(s)
	if err != nil {
		t.Fatalf("object %q: %v", s, err)
	}
	return obj(o.Type, o.ID)
}

func v1Subject(t *testing.T, s string) *v1.SubjectReference {
	r, err := tuple.ParseSubject(s)
	if err != nil {
		t.Fatalf("subject %q: %v", s, err)
	}
	return sub(r.Type, r.ID, r.Relation)
}

// v1Struct converts a caveat context to a Struct through its JSON (numbers
// become doubles, as in any SpiceDB client).
func v1Struct(t *testing.T, c map[string]any) *structpb.Struct {
	if c == nil {
		return nil
	}
	s := &structpb.Struct{}
	if err := protojson.Unmarshal(contextRaw(t, c), s); err != nil {
		t.Fatalf("context %v: %v", c, err)
	}
	return s
}

func v1Exact(tok string) *v1.Consistency {
	return &v1.Consistency{Requirement: &v1.Consistency_AtExactSnapshot{AtExactSnapshot: &v1.ZedToken{Token: tok}}}
}

// v1Rel converts a relationship in Trellis's syntax to SpiceDB's message.
func v1Rel(t *testing.T, s string) *v1.Relationship {
	r, err := tuple.Parse(s)
	if err != nil {
		t.Fatalf("relationship %q: %v", s, err)
	}
	out := &v1.Relationship{Resource: obj(r.Resource.Type, r.Resource.ID), Relation: r.Relation,
		Subject: sub(r.Subject.Type, r.Subject.ID, r.Subject.Relation)}
	if r.Caveat != nil {
		out.OptionalCaveat = &v1.ContextualizedCaveat{CaveatName: r.Caveat.Name}
		if len(r.Caveat.Context) > 0 {
			out.OptionalCaveat.Context = v1Struct(t, r.Caveat.Context)
		}
	}
	if r.Expiration != nil {
		out.OptionalExpiresAt = timestamppb.New(*r.Expiration)
	}
	return out
}

// relText converts SpiceDB's relationship message to Trellis's canonical
// syntax (the caveat context goes through JSON, as REST's does).
func relText(t *testing.T, m *v1.Relationship) string {
	r := tuple.Relationship{
		Resource: tuple.ObjectRef{Type: m.GetResource().GetObjectType(), ID: m.GetResource().GetObjectId()},
		Relation: m.GetRelation(),
		Subject: tuple.SubjectRef{Type: m.GetSubject().GetObject().GetObjectType(), ID: m.GetSubject().GetObject().GetObjectId(),
			Relation: m.GetSubject().GetOptionalRelation()},
	}
	if r.Subject.Relation == "..." {
		r.Subject.Relation = ""
	}
	if c := m.GetOptionalCaveat(); c != nil {
		r.Caveat = &tuple.Caveat{Name: c.GetCaveatName()}
		if len(c.GetContext().GetFields()) > 0 {
			b, err := protojson.Marshal(c.GetContext())
			if err != nil {
				t.Fatal(err)
			}
			if r.Caveat.Context, err = tuple.ParseContext(b); err != nil {
				t.Fatalf("caveat context %s: %v", b, err)
			}
		}
	}
	if e := m.GetOptionalExpiresAt(); e != nil {
		at := e.AsTime().UTC()
		r.Expiration = &at
	}
	return r.String()
}

func v1Filter(f tuple.Filter) *v1.RelationshipFilter {
	out := &v1.RelationshipFilter{ResourceType: f.ResourceType, OptionalResourceId: f.ResourceID,
		OptionalResourceIdPrefix: f.ResourceIDPrefix, OptionalRelation: f.Relation}
	if s := f.Subject; s != nil {
		out.OptionalSubjectFilter = &v1.SubjectFilter{SubjectType: s.Type, OptionalSubjectId: s.ID}
		if s.Relation != nil {
			rel := *s.Relation
			if rel == "" {
				rel = "..."
			}
			out.OptionalSubjectFilter.OptionalRelation = &v1.SubjectFilter_RelationFilter{Relation: rel}
		}
	}
	return out
}

func v1Updates(t *testing.T, updates []wire.Update) []*v1.RelationshipUpdate {
	ops := map[string]v1.RelationshipUpdate_Operation{"create": v1.RelationshipUpdate_OPERATION_CREATE,
		"touch": v1.RelationshipUpdate_OPERATION_TOUCH, "delete": v1.RelationshipUpdate_OPERATION_DELETE}
	out := make([]*v1.RelationshipUpdate, len(updates))
	for i, u := range updates {
		out[i] = &v1.RelationshipUpdate{Operation: ops[u.Op], Relationship: v1Rel(t, u.Relationship)}
	}
	return out
}

// v1Results names SpiceDB's check and lookup permissionships as Trellis's
// results.
var v1Results = map[string]string{
	v1.CheckPermissionResponse_PERMISSIONSHIP_HAS_PERMISSION.String():             "allowed",
	v1.CheckPermissionResponse_PERMISSIONSHIP_NO_PERMISSION.String():              "denied",
	v1.CheckPermissionResponse_PERMISSIONSHIP_CONDITIONAL_PERMISSION.String():     "conditional",
	v1.LookupPermissionship_LOOKUP_PERMISSIONSHIP_HAS_PERMISSION.String():         "allowed",
	v1.LookupPermissionship_LOOKUP_PERMISSIONSHIP_CONDITIONAL_PERMISSION.String(): "conditional",
}

func v1Result(p fmt.Stringer) string {
	if r, ok := v1Results[p.String()]; ok {
		return r
	}
	return "unexpected " + p.String()
}

func v1Time(ts *timestamppb.Timestamp) string {
	if ts == nil {
		return ""
	}
	at := ts.AsTime()
	return rfc3339(&at)
}

func (q checkQ) v1(t *testing.T, tok string) *v1.CheckPermissionRequest {
	return &v1.CheckPermissionRequest{Consistency: v1Exact(tok), Resource: v1Object(t, q.resource), Permission: q.permission,
		Subject: v1Subject(t, q.subject), Context: v1Struct(t, q.context)}
}

func (q lookupResQ) v1(t *testing.T, tok string) *v1.LookupResourcesRequest {
	return &v1.LookupResourcesRequest{Consistency: v1Exact(tok), ResourceObjectType: q.resourceType, Permission: q.permission,
		Subject: v1Subject(t, q.subject), Context: v1Struct(t, q.context)}
}

func (q lookupSubQ) v1(t *testing.T, tok string) *v1.LookupSubjectsRequest {
	return &v1.LookupSubjectsRequest{Consistency: v1Exact(tok), Resource: v1Object(t, q.resource), Permission: q.permission,
		SubjectObjectType: q.subjectType, OptionalSubjectRelation: q.subjectRelation, Context: v1Struct(t, q.context)}
}

func checkAnswer(r *v1.CheckPermissionResponse) checkA {
	return checkA{result: v1Result(r.GetPermissionship()), missing: sorted(slices.Clone(r.GetPartialCaveatInfo().GetMissingRequiredContext())),
		expiresAt: v1Time(r.GetOptionalExpiresAt())}
}

func resourceLines(ms []*v1.LookupResourcesResponse) []string {
	var out []string
	for _, m := range ms {
		out = append(out, lookupLine(m.GetResourceObjectId(), v1Result(m.GetPermissionship()), m.GetPartialCaveatInfo().GetMissingRequiredContext(), nil))
	}
	return sorted(out)
}

func subjectLines(ms []*v1.LookupSubjectsResponse) []string {
	var out []string
	for _, m := range ms {
		s := m.GetSubject()
		var excluded []string
		for _, x := range m.GetExcludedSubjects() {
			excluded = append(excluded, x.GetSubjectObjectId())
		}
		out = append(out, lookupLine(s.GetSubjectObjectId(), v1Result(s.GetPermissionship()), s.GetPartialCaveatInfo().GetMissingRequiredContext(), excluded))
	}
	return sorted(out)
}

func readLines(t *testing.T, ms []*v1.ReadRelationshipsResponse) []string {
	var out []string
	for _, m := range ms {
		out = append(out, relText(t, m.GetRelationship()))
	}
	return sorted(out)
}

// ---- gRPC ----

type grpcTransport struct {
	t       *testing.T
	reader  *authzed.Client
	writers map[string]*authzed.Client // by bearer token
}

func newGRPCTransport(t *testing.T, tn *testNode) grpcTransport {
	return grpcTransport{t: t, reader: tn.client(t, tn.reader), writers: map[string]*authzed.Client{
		tn.writer: tn.client(t, tn.writer), tn.admin: tn.client(t, tn.admin)}}
}

func (grpcTransport) name() string { return "gRPC" }

func (g grpcTransport) check(q checkQ, tok string) (checkA, error) {
	r, err := g.reader.CheckPermission(context.Background(), q.v1(g.t, tok))
	return checkAnswer(r), err
}

// recvAll drains a server stream.
func recvAll[T any](s grpc.ServerStreamingClient[T], err error) ([]*T, error) {
	if err != nil {
		return nil, err
	}
	var out []*T
	for {
		m, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, m)
	}
}

func (g grpcTransport) lookupResources(q lookupResQ, tok string) ([]string, error) {
	ms, err := recvAll(g.reader.LookupResources(context.Background(), q.v1(g.t, tok)))
	return resourceLines(ms), err
}

func (g grpcTransport) lookupSubjects(q lookupSubQ, tok string) ([]string, error) {
	ms, err := recvAll(g.reader.LookupSubjects(context.Background(), q.v1(g.t, tok)))
	return subjectLines(ms), err
}

func (g grpcTransport) read(f tuple.Filter, tok string) ([]string, error) {
	ms, err := recvAll(g.reader.ReadRelationships(context.Background(), &v1.ReadRelationshipsRequest{Consistency: v1Exact(tok), RelationshipFilter: v1Filter(f)}))
	return readLines(g.t, ms), err
}

func (g grpcTransport) write(bearer string, updates []wire.Update, reason string) (string, error) {
	ctx := metadata.AppendToOutgoingContext(context.Background(), "trellis-reason", reason)
	r, err := g.writers[bearer].WriteRelationships(ctx, &v1.WriteRelationshipsRequest{Updates: v1Updates(g.t, updates)})
	return r.GetWrittenAt().GetToken(), err
}

// ---- the HTTP gateway ----

type gatewayTransport struct {
	t  *testing.T
	tn *testNode
}

func (gatewayTransport) name() string { return "gateway" }

func (g gatewayTransport) check(q checkQ, tok string) (checkA, error) {
	out := &v1.CheckPermissionResponse{}
	err := g.tn.gwUnary(g.t, g.tn.reader, "/v1/permissions/check", q.v1(g.t, tok), out, nil)
	return checkAnswer(out), err
}

func (g gatewayTransport) lookupResources(q lookupResQ, tok string) ([]string, error) {
	ms, err := gwStream(g.t, g.tn, g.tn.reader, "/v1/permissions/resources", q.v1(g.t, tok), func() *v1.LookupResourcesResponse { return &v1.LookupResourcesResponse{} })
	return resourceLines(ms), err
}

func (g gatewayTransport) lookupSubjects(q lookupSubQ, tok string) ([]string, error) {
	ms, err := gwStream(g.t, g.tn, g.tn.reader, "/v1/permissions/subjects", q.v1(g.t, tok), func() *v1.LookupSubjectsResponse { return &v1.LookupSubjectsResponse{} })
	return subjectLines(ms), err
}

func (g gatewayTransport) read(f tuple.Filter, tok string) ([]string, error) {
	req := &v1.ReadRelationshipsRequest{Consistency: v1Exact(tok), RelationshipFilter: v1Filter(f)}
	ms, err := gwStream(g.t, g.tn, g.tn.reader, "/v1/relationships/read", req, func() *v1.ReadRelationshipsResponse { return &v1.ReadRelationshipsResponse{} })
	return readLines(g.t, ms), err
}

func (g gatewayTransport) write(bearer string, updates []wire.Update, reason string) (string, error) {
	out := &v1.WriteRelationshipsResponse{}
	err := g.tn.gwUnary(g.t, bearer, "/v1/relationships/write", &v1.WriteRelationshipsRequest{Updates: v1Updates(g.t, updates)}, out,
		map[string]string{wire.ReasonHeader: reason})
	return out.GetWrittenAt().GetToken(), err
}

// auditEntries reads every audit entry (as admin), following pages.
func (tn *testNode) auditEntries(t *testing.T) []wire.AuditEntry {
	t.Helper()
	var all []wire.AuditEntry
	from := uint64(0)
	for {
		var page wire.AuditEntriesResponse
		q := url.Values{"from": {fmt.Sprint(from)}, "limit": {fmt.Sprint(wire.MaxAuditLimit)}}
		if code := tn.rest(t, tn.admin, http.MethodGet, "/v1/audit/entries?"+q.Encode(), nil, &page); code != http.StatusOK {
			t.Fatalf("GET /v1/audit/entries: HTTP %d", code)
		}
		all = append(all, page.Entries...)
		if page.Next >= page.Size || len(page.Entries) == 0 {
			return all
		}
		from = page.Next
	}
}
