package client_test

import (
	"context"
	"errors"
	"github.com/trellis-authz/trellis/wire"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trellis-authz/trellis/client"
	"github.com/trellis-authz/trellis/tuple"
)

// recorder notes the method and path of every request.
type recorder struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.seen[req.Method+" "+req.URL.Path] = true
	r.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

// TestEveryEndpoint calls a method for every route the server has and checks
// each succeeds; the recorder proves every route was reached.
func TestEveryEndpoint(t *testing.T) {
	srv := startServer()
	defer srv.Close()
	rec := &recorder{seen: map[string]bool{}}
	c := client.New(srv.URL, client.WithToken(srv.Admin), client.WithHTTPClient(&http.Client{Transport: rec}), client.WithTimeout(10*time.Second))
	ctx := context.Background()
	step := func(name string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	_, err := c.WriteSchema(ctx, wire.WriteSchemaRequest{Schema: exampleSchema})
	step("WriteSchema", err)
	w, err := c.WriteRelationships(ctx, wire.WriteRelationshipsRequest{Updates: []wire.Update{{Op: "touch", Relationship: "dataset:claims#reader@user:ana"}}})
	step("WriteRelationships", err)
	at := &wire.Consistency{Mode: wire.AtLeastAsFresh, Token: w.WrittenAt}
	_, err = c.Check(ctx, wire.CheckRequest{Resource: "dataset:claims", Permission: "read", Subject: "user:ana", Consistency: at})
	step("Check", err)
	b, err := c.CheckBulk(ctx, wire.CheckBulkRequest{Items: []wire.CheckItem{{Resource: "dataset:claims", Permission: "read", Subject: "user:bob"}}, Consistency: at})
	step("CheckBulk", err)
	if b.Results[0].Result != "denied" {
		t.Errorf("bulk: got %q, want denied", b.Results[0].Result)
	}
	_, err = c.Expand(ctx, wire.ExpandRequest{Resource: "dataset:claims", Permission: "read", Consistency: at})
	step("Expand", err)
	lr, err := c.LookupResources(ctx, wire.LookupResourcesRequest{ResourceType: "dataset", Permission: "read", Subject: "user:ana", Consistency: at})
	step("LookupResources", err)
	if len(lr.Resources) != 1 || lr.Resources[0].ID != "claims" {
		t.Errorf("LookupResources: got %+v", lr.Resources)
	}
	ls, err := c.LookupSubjects(ctx, wire.LookupSubjectsRequest{Resource: "dataset:claims", Permission: "read", SubjectType: "user", Consistency: at})
	step("LookupSubjects", err)
	if len(ls.Subjects) != 1 || ls.Subjects[0].ID != "ana" {
		t.Errorf("LookupSubjects: got %+v", ls.Subjects)
	}
	pl, err := c.Plan(ctx, wire.PlanRequest{Subject: "user:ana", Resources: []string{"dataset:claims", "dataset:other"}, Permissions: []string{"read"}, Consistency: at})
	step("Plan", err)
	if len(pl.Plan) != 2 || pl.Plan[0].Permission != "read" || pl.Plan[1].Permission != "" || pl.CheckedAt == "" {
		t.Errorf("Plan: got %+v, want read on dataset:claims and nothing on dataset:other", pl)
	}
	pl, err = c.Plan(ctx, wire.PlanRequest{Subject: "user:ana", ResourcesOf: &wire.ResourceSelector{Type: "dataset", Relation: "reader", Object: "user:ana"},
		Permissions: []string{"read"}, Limit: 10, Consistency: at})
	step("Plan resources_of", err)
	if len(pl.Plan) != 1 || pl.Plan[0].Resource != "dataset:claims" || pl.NextCursor != "" {
		t.Errorf("Plan resources_of: got %+v, want dataset:claims alone", pl)
	}
	rr, err := c.ReadRelationships(ctx, wire.ReadRelationshipsRequest{Filter: tuple.Filter{ResourceType: "dataset"}, Consistency: at})
	step("ReadRelationships", err)
	if len(rr.Relationships) != 1 {
		t.Errorf("ReadRelationships: got %v", rr.Relationships)
	}
	imp, err := c.Import(ctx, strings.NewReader("team:ml#member@user:bob\n"), client.ImportOptions{})
	step("Import", err)
	exp, err := c.Export(ctx, &tuple.Filter{ResourceType: "team"}, &wire.Consistency{Mode: wire.AtExactSnapshot, Token: imp.WrittenAt})
	step("Export", err)
	var got []string
	for rel, err := range exp.All() {
		step("Export.All", err)
		got = append(got, rel)
	}
	if len(got) != 1 || got[0] != "team:ml#member@user:bob" || exp.ReadAt != imp.WrittenAt {
		t.Errorf("Export: got %v at %q, want [team:ml#member@user:bob] at %q", got, exp.ReadAt, imp.WrittenAt)
	}
	d, err := c.DeleteRelationships(ctx, wire.DeleteRelationshipsRequest{Filter: tuple.Filter{ResourceType: "team"}})
	step("DeleteRelationships", err)
	if d.Deleted != 1 {
		t.Errorf("DeleteRelationships: got %d, want 1", d.Deleted)
	}
	sr, err := c.Schema(ctx, &wire.Consistency{Mode: wire.FullyConsistent})
	step("Schema", err)
	if sr.Schema != exampleSchema {
		t.Errorf("Schema: got %q", sr.Schema)
	}
	_, err = c.DiffSchema(ctx, wire.DiffSchemaRequest{Schema: exampleSchema})
	step("DiffSchema", err)
	f, err := c.FormatSchema(ctx, wire.FormatSchemaRequest{Schema: exampleSchema})
	step("FormatSchema", err)
	if !f.Changed || !strings.Contains(f.Formatted, "\trelation member: user | team#member\n") {
		t.Errorf("FormatSchema: %+v, want the example in tabs", f)
	}
	// The checks above are in the decision log: the first is record 0.
	ds, err := c.Decisions(ctx, 1)
	step("Decisions", err)
	if len(ds.Records) != 1 || ds.Next < 2 {
		t.Errorf("Decisions(1): %+v, want the latest of the checks", ds)
	}
	first := uint64(0)
	stream, err := c.StreamDecisions(ctx, client.DecisionStreamOptions{From: &first})
	step("StreamDecisions", err)
	dr, err := stream.Next()
	step("DecisionStream.Next", err)
	stream.Close()
	if dr.Index != 0 || dr.Resource != "dataset:claims" || dr.Subject != "user:ana" || dr.Result != "allowed" || dr.Principal != "admin" {
		t.Errorf("decision record 0: %+v, want the first check (dataset:claims read user:ana, allowed, by admin)", dr)
	}
	step("Health", c.Health(ctx))
	step("Ready", c.Ready(ctx))
	m, err := c.Metrics(ctx)
	step("Metrics", err)
	if !strings.Contains(m, "trellis_http_requests_total") {
		t.Errorf("Metrics lack trellis_http_requests_total")
	}
	_, err = c.OpenAPI(ctx)
	step("OpenAPI", err)
	sus, err := c.Suspend(ctx, wire.SuspendRequest{Subject: "user:eve", Reason: "SEC-7"})
	step("Suspend", err)
	list, err := c.Suspensions(ctx, &wire.Consistency{Mode: wire.AtLeastAsFresh, Token: sus.WrittenAt})
	step("Suspensions", err)
	if len(list.Suspensions) != 1 || list.Suspensions[0].Subject != "user:eve" || list.Suspensions[0].Reason != "SEC-7" {
		t.Errorf("Suspensions: %+v", list)
	}
	_, err = c.Unsuspend(ctx, wire.UnsuspendRequest{Subject: "user:eve", Reason: "SEC-7 done"})
	step("Unsuspend", err)
	_, err = c.PutAlerts(ctx, []byte(`[{"name":"readers","match":{"resource_type":"dataset","relation":"reader"},"webhook":{"url":"https://hooks.example.com/a","secret":"s3cr3t-value"}}]`), "alerting", true)
	step("PutAlerts", err)
	pings, err := c.TestAlerts(ctx, []byte(`[{"name":"schema","schema":true,"webhook":{"url":"http://127.0.0.1:1/x","secret":"k"}}]`))
	step("TestAlerts", err)
	if !strings.Contains(string(pings), `"ok":false`) {
		t.Errorf("TestAlerts of a closed port: %s", pings)
	}
	letters, err := c.AlertLetters(ctx)
	step("AlertLetters", err)
	if !strings.Contains(string(letters), `"letters":[]`) {
		t.Errorf("AlertLetters: %s", letters)
	}
	// No letter exists here: both answer 404 with the id.
	if _, err := c.RetryAlertLetter(ctx, "nope"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("RetryAlertLetter of no letter: %v, want a 404", err)
	}
	if err := c.DropAlertLetter(ctx, "nope"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("DropAlertLetter of no letter: %v, want a 404", err)
	}
	rules, err := c.Alerts(ctx)
	step("Alerts", err)
	// This test's stack does not apply alert commands (no delivery loop);
	// the rule's round trip is server.TestAlert*. The secret never shows.
	if !strings.Contains(string(rules), `"rules"`) || strings.Contains(string(rules), "s3cr3t-value") {
		t.Errorf("Alerts: %s; want a rule set, without the secret", rules)
	}
	who, err := c.WhoAmI(ctx)
	step("WhoAmI", err)
	if err == nil && who.Role == "" {
		t.Errorf("WhoAmI: %+v, want a role", who)
	}

	for _, r := range srv.srv.Routes() {
		if !rec.seen[r.Method+" "+r.Path] {
			t.Errorf("the client never called %s %s", r.Method, r.Path)
		}
	}
}

func TestTypedErrors(t *testing.T) {
	srv := startServer()
	defer srv.Close()
	ctx := context.Background()
	reader := client.New(srv.URL, client.WithToken(srv.Reader))
	_, err := reader.WriteSchema(ctx, wire.WriteSchemaRequest{Schema: exampleSchema})
	var e *client.Error
	if !errors.As(err, &e) || e.Status != 403 || e.Code != "permission_denied" || e.RequestID == "" {
		t.Errorf("reader writing the schema: got %#v, want 403 permission_denied with a request id", err)
	}
	anon := client.New(srv.URL)
	_, err = anon.Check(ctx, wire.CheckRequest{Resource: "dataset:claims", Permission: "read", Subject: "user:ana"})
	if !errors.As(err, &e) || e.Status != 401 || e.Code != "unauthenticated" {
		t.Errorf("no token: got %v, want 401 unauthenticated", err)
	}
	if err := reader.Ready(ctx); !errors.As(err, &e) || e.Status != 503 || e.Code != "not_ready" {
		t.Errorf("Ready without a schema: got %v, want 503 not_ready", err)
	}
	_, err = reader.Import(ctx, strings.NewReader("x\n"), client.ImportOptions{})
	if !errors.As(err, &e) || e.Status != 403 {
		t.Errorf("reader importing: got %v, want 403", err)
	}
}
