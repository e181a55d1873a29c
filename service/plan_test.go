package service_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trellis-authz/trellis/service"
	"github.com/trellis-authz/trellis/verdict"
	"github.com/trellis-authz/trellis/wire"
)

// planSchema has fields of datasets with two tiers, read_raw and read_masked,
// and a third, read_summary, that does not imply the others.
const planSchema = `use expiration

caveat purpose_is(purpose string, allowed list<string>) {
  purpose in allowed
}
definition user {}
definition team {
  relation member: user | team#member
}
definition dataset {
  relation reader: user | team#member | user with purpose_is | user with expiration
  relation steward: user
  relation blocked: user
  permission read = (reader + steward) - blocked
}
definition field {
  relation dataset: dataset
  relation unmasked_for: user | team#member | user with purpose_is
  relation public: user:*
  relation summary_for: user
  permission read_masked = dataset->read
  permission read_raw = read_masked & (unmasked_for + public + dataset->steward)
  permission read_summary = summary_for
}
`

var planTiers = []string{"read_raw", "read_masked", "read_summary"}

func planDescribe(err error) (*wire.Error, bool) {
	return &wire.Error{Code: "x", Message: err.Error()}, verdict.Is(err)
}

func newPlanNode(t *testing.T) *node {
	t.Helper()
	n := newNode(t)
	if _, err := n.svc.Schema.Put(context.Background(), n.admin, wire.WriteSchemaRequest{Schema: planSchema}); err != nil {
		t.Fatal(err)
	}
	return n
}

func (n *node) plan(t *testing.T, in wire.PlanRequest) wire.PlanResponse {
	t.Helper()
	res, err := n.svc.Permissions.Plan(context.Background(), n.admin, in, planDescribe)
	if err != nil {
		t.Fatalf("plan %+v: %v", in, err)
	}
	return res
}

// TestPlanTiers: per field the first tier that holds; a conditional tier
// stops the plan there with its missing context (no silent fall-through);
// with the context given it is allowed, or denied and the next tier decides.
func TestPlanTiers(t *testing.T) {
	n := newPlanNode(t)
	exp := time.Now().Add(72 * time.Hour).UTC().Truncate(time.Second)
	tok := n.write(t,
		"touch", "dataset:claims#reader@user:ana",
		"touch", "dataset:claims#reader@user:carl[expiration:"+exp.Format(time.RFC3339)+"]",
		"touch", "field:ssn#dataset@dataset:claims",
		"touch", `field:ssn#unmasked_for@user:ana[purpose_is:{"allowed":["fraud"]}]`,
		"touch", "field:region#dataset@dataset:claims",
		"touch", "field:region#public@user:*",
		"touch", "field:notes#dataset@dataset:claims",
		"touch", "field:notes#summary_for@user:bob",
		"touch", "field:other#dataset@dataset:ads",
	)
	at := &wire.Consistency{Mode: wire.AtExactSnapshot, Token: tok}
	type want struct {
		perm    string
		cond    bool
		missing []string
		expires bool
	}
	cases := []struct {
		name    string
		subject string
		context string
		want    map[string]want
	}{
		{"no context", "user:ana", "", map[string]want{
			"field:notes": {perm: "read_masked"}, "field:region": {perm: "read_raw"}, "field:ssn": {perm: "read_raw", cond: true, missing: []string{"purpose"}}}},
		{"purpose allowed", "user:ana", `{"purpose":"fraud"}`, map[string]want{
			"field:notes": {perm: "read_masked"}, "field:region": {perm: "read_raw"}, "field:ssn": {perm: "read_raw"}}},
		{"purpose refused falls to masked", "user:ana", `{"purpose":"ads"}`, map[string]want{
			"field:notes": {perm: "read_masked"}, "field:region": {perm: "read_raw"}, "field:ssn": {perm: "read_masked"}}},
		{"not a reader", "user:bob", "", map[string]want{
			"field:notes": {perm: "read_summary"}, "field:region": {}, "field:ssn": {}}},
		{"time-bound reader", "user:carl", "", map[string]want{
			"field:notes": {perm: "read_masked", expires: true}, "field:region": {perm: "read_raw", expires: true}, "field:ssn": {perm: "read_masked", expires: true}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := n.plan(t, wire.PlanRequest{Subject: tc.subject, Permissions: planTiers, Context: json.RawMessage(tc.context), Consistency: at,
				ResourcesOf: &wire.ResourceSelector{Type: "field", Relation: "dataset", Object: "dataset:claims"}})
			if res.CheckedAt != tok || res.NextCursor != "" || !slices.Equal(res.Permissions, planTiers) {
				t.Errorf("got checked_at %s, next %q, permissions %v; want %s, none, %v", res.CheckedAt, res.NextCursor, res.Permissions, tok, planTiers)
			}
			if len(res.Plan) != len(tc.want) {
				t.Fatalf("got %d entries %+v, want %d (the fields of dataset:claims)", len(res.Plan), res.Plan, len(tc.want))
			}
			for _, e := range res.Plan {
				w, ok := tc.want[e.Resource]
				if !ok {
					t.Errorf("got entry for %s, which is not a field of dataset:claims", e.Resource)
					continue
				}
				if e.Permission != w.perm || e.Conditional != w.cond || !slices.Equal(e.MissingContext, w.missing) || e.Error != nil {
					t.Errorf("%s: got %+v, want permission %q conditional %v missing %v", e.Resource, e, w.perm, w.cond, w.missing)
				}
				if w.expires != (e.ExpiresAt != nil) || (e.ExpiresAt != nil && !e.ExpiresAt.Equal(exp)) {
					t.Errorf("%s: got expires_at %v, want %v (set: %v)", e.Resource, e.ExpiresAt, exp, w.expires)
				}
			}
		})
	}

	// Listed resources answer in the order given, at the same revision.
	res := n.plan(t, wire.PlanRequest{Subject: "user:ana", Permissions: planTiers, Consistency: at,
		Resources: []string{"field:ssn", "field:other", "field:region"}})
	got := []string{}
	for _, e := range res.Plan {
		got = append(got, e.Resource+"="+e.Permission)
	}
	if want := []string{"field:ssn=read_raw", "field:other=", "field:region=read_raw"}; !slices.Equal(got, want) {
		t.Errorf("listed: got %v, want %v", got, want)
	}
}

// TestPlanPages: a resources_of selection paged by limit and cursor at one
// revision gives the same entries as one page.
func TestPlanPages(t *testing.T) {
	n := newPlanNode(t)
	ops := []string{"touch", "dataset:claims#reader@user:ana"}
	for _, id := range []string{"a", "b", "c", "d", "e", "f", "g"} {
		ops = append(ops, "touch", "field:"+id+"#dataset@dataset:claims")
	}
	ops = append(ops, "touch", "field:c#unmasked_for@user:ana")
	tok := n.write(t, ops...)
	req := wire.PlanRequest{Subject: "user:ana", Permissions: planTiers[:2], Consistency: &wire.Consistency{Mode: wire.AtExactSnapshot, Token: tok},
		ResourcesOf: &wire.ResourceSelector{Type: "field", Relation: "dataset", Object: "dataset:claims"}}
	whole := n.plan(t, req)
	var paged []wire.PlanEntry
	req.Limit = 3
	pages := 0
	for {
		res := n.plan(t, req)
		pages++
		paged = append(paged, res.Plan...)
		if res.NextCursor == "" {
			break
		}
		req.Cursor = res.NextCursor
	}
	if pages != 3 || len(whole.Plan) != 7 || !slices.EqualFunc(paged, whole.Plan, func(a, b wire.PlanEntry) bool {
		return a.Resource == b.Resource && a.Permission == b.Permission
	}) {
		t.Fatalf("got %d pages %+v, want 3 pages equal to the whole plan %+v", pages, paged, whole.Plan)
	}
	if whole.Plan[2].Resource != "field:c" || whole.Plan[2].Permission != "read_raw" || whole.Plan[0].Permission != "read_masked" {
		t.Errorf("got %+v, want field:c read_raw and the others read_masked", whole.Plan)
	}
}

// TestPlanBadInput: each mistake is named with its field and the fix.
func TestPlanBadInput(t *testing.T) {
	n := newPlanNode(t)
	sel := &wire.ResourceSelector{Type: "field", Relation: "dataset", Object: "dataset:claims"}
	many := make([]string, service.DefaultConfig().MaxBulkItems+1)
	for i := range many {
		many[i] = fmt.Sprintf("field:f%d", i)
	}
	cases := []struct {
		name     string
		in       wire.PlanRequest
		kind     error
		field    string
		contains string
	}{
		{"no permissions", wire.PlanRequest{Subject: "user:ana", ResourcesOf: sel}, service.ErrInvalidArgument, "permissions", "read_raw"},
		{"repeated permission", wire.PlanRequest{Subject: "user:ana", ResourcesOf: sel, Permissions: []string{"read_raw", "read_raw"}}, service.ErrInvalidArgument, "permissions[1]", "once"},
		{"too many permissions", wire.PlanRequest{Subject: "user:ana", ResourcesOf: sel, Permissions: []string{"a", "b", "c", "d", "e", "f", "g", "h", "i"}}, service.ErrTooManyUpdates, "permissions", "at most 8"},
		{"unknown permission", wire.PlanRequest{Subject: "user:ana", ResourcesOf: sel, Permissions: []string{"read_raw", "read_hashed"}}, service.ErrUnknownRelation, "permissions[1]", "read_hashed"},
		{"permission not on a listed type", wire.PlanRequest{Subject: "user:ana", Resources: []string{"field:a", "dataset:claims"}, Permissions: []string{"read_raw"}}, service.ErrUnknownRelation, "permissions[0]", "resources[1] dataset:claims"},
		{"unknown resource type", wire.PlanRequest{Subject: "user:ana", Resources: []string{"column:a"}, Permissions: []string{"read_raw"}}, service.ErrUnknownType, "resources[0]", "column"},
		{"no subject", wire.PlanRequest{ResourcesOf: sel, Permissions: []string{"read_raw"}}, service.ErrInvalidArgument, "subject", "user:ana"},
		{"both", wire.PlanRequest{Subject: "user:ana", ResourcesOf: sel, Resources: []string{"field:a"}, Permissions: []string{"read_raw"}}, service.ErrInvalidArgument, "resources", "not both"},
		{"neither", wire.PlanRequest{Subject: "user:ana", Permissions: []string{"read_raw"}}, service.ErrInvalidArgument, "resources", "resources_of"},
		{"repeated resource", wire.PlanRequest{Subject: "user:ana", Resources: []string{"field:a", "field:a"}, Permissions: []string{"read_raw"}}, service.ErrInvalidArgument, "resources[1]", "once"},
		{"too many resources", wire.PlanRequest{Subject: "user:ana", Resources: many, Permissions: []string{"read_raw"}}, service.ErrTooManyUpdates, "resources", "resources_of"},
		{"limit on a listed plan", wire.PlanRequest{Subject: "user:ana", Resources: []string{"field:a"}, Permissions: []string{"read_raw"}, Limit: 5}, service.ErrInvalidArgument, "limit", "resources_of"},
		{"limit too large", wire.PlanRequest{Subject: "user:ana", ResourcesOf: sel, Permissions: []string{"read_raw"}, Limit: 5000}, service.ErrInvalidArgument, "limit", "1000"},
		{"selector without type", wire.PlanRequest{Subject: "user:ana", ResourcesOf: &wire.ResourceSelector{Relation: "dataset", Object: "dataset:claims"}, Permissions: []string{"read_raw"}}, service.ErrInvalidArgument, "resources_of.type", "field"},
		{"selector bad object", wire.PlanRequest{Subject: "user:ana", ResourcesOf: &wire.ResourceSelector{Type: "field", Relation: "dataset", Object: "claims"}, Permissions: []string{"read_raw"}}, service.ErrInvalidArgument, "resources_of.object", ""},
		{"selector on a permission", wire.PlanRequest{Subject: "user:ana", ResourcesOf: &wire.ResourceSelector{Type: "field", Relation: "read_masked", Object: "dataset:claims"}, Permissions: []string{"read_raw"}}, service.ErrInvalidArgument, "resources_of.relation", "is a permission"},
		{"selector unknown relation", wire.PlanRequest{Subject: "user:ana", ResourcesOf: &wire.ResourceSelector{Type: "field", Relation: "table", Object: "dataset:claims"}, Permissions: []string{"read_raw"}}, service.ErrUnknownRelation, "resources_of.relation", "unmasked_for"},
		{"selector object never allowed", wire.PlanRequest{Subject: "user:ana", ResourcesOf: &wire.ResourceSelector{Type: "field", Relation: "dataset", Object: "user:ana"}, Permissions: []string{"read_raw"}}, service.ErrSubjectNotAllowed, "resources_of.object", "never points at user:ana"},
		{"selector unknown type", wire.PlanRequest{Subject: "user:ana", ResourcesOf: &wire.ResourceSelector{Type: "column", Relation: "dataset", Object: "dataset:claims"}, Permissions: []string{"read_raw"}}, service.ErrUnknownType, "resources_of.type", "column"},
		{"bad cursor", wire.PlanRequest{Subject: "user:ana", ResourcesOf: sel, Permissions: []string{"read_raw"}, Cursor: "garbage!"}, nil, "", "cursor"},
		{"unknown context key", wire.PlanRequest{Subject: "user:ana", ResourcesOf: sel, Permissions: []string{"read_raw"}, Context: json.RawMessage(`{"purpse":"x"}`)}, service.ErrInvalidContext, "context", "purpose"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := n.svc.Permissions.Plan(context.Background(), n.admin, tc.in, planDescribe)
			if err == nil {
				t.Fatal("got no error")
			}
			if !verdict.Is(err) || !strings.Contains(err.Error(), tc.contains) {
				t.Fatalf("got %v, want a verdict mentioning %q", err, tc.contains)
			}
			if tc.kind == nil {
				return
			}
			kind, details := kindOf(t, err)
			if kind != tc.kind || details["field"] != tc.field {
				t.Fatalf("got kind %v field %v (%v), want %v on %s", kind, details["field"], err, tc.kind, tc.field)
			}
		})
	}
}
