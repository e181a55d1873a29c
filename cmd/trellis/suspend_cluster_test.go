package main

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/trellis-authz/trellis/wire"
)

// suspendClusterSchema extends clusterSchema with nested groups, and a
// folder reached through an arrow.
const suspendClusterSchema = `definition user {}

definition team {
	relation member: user | team#member
}

definition folder {
	relation viewer: user | team#member
	permission view = viewer
}

definition doc {
	relation viewer: user | team#member
	relation banned: user
	relation parent: folder
	permission view = (viewer + parent->view) - banned
}
`

// suspendView is what one node says about eve and bob at a token: the docs
// each can view by Check and by LookupResources, the users LookupSubjects
// finds on each doc, and the subjects Expand lists on doc:d1 and doc:d2.
type suspendView struct {
	checks, lookups, subjects, expand map[string][]string
}

var suspendDocs = []string{"d1", "d2", "d3", "d4"}

func (c *testCluster) suspendView(i int, token string) suspendView {
	c.t.Helper()
	v := suspendView{checks: map[string][]string{}, lookups: map[string][]string{}, subjects: map[string][]string{}, expand: map[string][]string{}}
	for _, u := range []string{"user:eve", "user:bob"} {
		for _, d := range suspendDocs {
			got, status, body := c.check(i, "doc:"+d, "view", u, fresh(token))
			if status != http.StatusOK {
				c.t.Fatalf("node %d check doc:%s view %s: %d %s", i+1, d, u, status, body)
			}
			if got == "allowed" {
				v.checks[u] = append(v.checks[u], d)
			}
		}
		var lr wire.LookupResourcesResponse
		if status, body := c.do(i, http.MethodPost, "/v1/lookup/resources", c.reader,
			wire.LookupResourcesRequest{ResourceType: "doc", Permission: "view", Subject: u, Consistency: fresh(token)}, &lr); status != http.StatusOK {
			c.t.Fatalf("node %d lookup resources %s: %d %s", i+1, u, status, body)
		}
		for _, r := range lr.Resources {
			v.lookups[u] = append(v.lookups[u], r.ID)
		}
	}
	for _, d := range suspendDocs {
		var ls wire.LookupSubjectsResponse
		if status, body := c.do(i, http.MethodPost, "/v1/lookup/subjects", c.reader,
			wire.LookupSubjectsRequest{Resource: "doc:" + d, Permission: "view", SubjectType: "user", Consistency: fresh(token)}, &ls); status != http.StatusOK {
			c.t.Fatalf("node %d lookup subjects doc:%s: %d %s", i+1, d, status, body)
		}
		for _, s := range ls.Subjects {
			v.subjects[d] = append(v.subjects[d], s.ID)
		}
	}
	for _, d := range []string{"d1", "d2"} {
		var ex wire.ExpandResponse
		if status, body := c.do(i, http.MethodPost, "/v1/expand", c.reader,
			wire.ExpandRequest{Resource: "doc:" + d, Permission: "viewer", Consistency: fresh(token)}, &ex); status != http.StatusOK {
			c.t.Fatalf("node %d expand doc:%s: %d %s", i+1, d, status, body)
		}
		for _, s := range ex.Tree.Subjects {
			v.expand[d] = append(v.expand[d], s.Subject)
		}
	}
	return v
}

func sameLists(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !slices.Equal(a[k], b[k]) {
			return false
		}
	}
	return true
}

// suspendCall posts a suspend or unsuspend through node i and returns the
// written_at token.
func (c *testCluster) suspendCall(i int, path string, body any) string {
	c.t.Helper()
	var out wire.SuspensionWriteResponse
	if status, b := c.do(i, http.MethodPost, path, c.admin, body, &out); status != http.StatusOK || out.WrittenAt == "" {
		c.t.Fatalf("POST %s %+v through node %d: %d %s", path, body, i+1, status, b)
	}
	return out.WrittenAt
}

// TestSuspendCluster is the acceptance test of suspension (issue 18): on a
// 3-node cluster, after suspend returns token T, checks, lookups and expands
// at_least_as_fresh T on every node deny the subject every path (direct,
// nested groups, a subject set behind an arrow); suspending a subject set
// cuts every path through it; after unsuspend the earlier answers return;
// each is an audit entry; bad input is a 4xx that changes nothing.
func TestSuspendCluster(t *testing.T) {
	c := newTestCluster(t, 3, nil)
	var sr wire.WriteSchemaResponse
	if status, body := c.do(0, http.MethodPut, "/v1/schema", c.admin, wire.WriteSchemaRequest{Schema: suspendClusterSchema, Reason: "groups"}, &sr); status != http.StatusOK {
		t.Fatalf("schema: %d %s", status, body)
	}
	var tok string
	for _, rel := range []string{
		"doc:d1#viewer@user:eve",          // direct
		"team:core#member@user:eve",       // eve and bob in team:core,
		"team:core#member@user:bob",       // nested in team:ml
		"team:ml#member@team:core#member", //
		"doc:d2#viewer@team:ml#member",    // nested groups
		"folder:f#viewer@team:ml#member",  // a subject set behind an arrow
		"doc:d3#parent@folder:f",          //
		"doc:d4#viewer@user:bob",          // bob directly
	} {
		tok = c.mustWrite(0, "touch", rel)
	}
	before := c.suspendView(2, tok)
	if want := []string{"d1", "d2", "d3"}; !slices.Equal(before.checks["user:eve"], want) || !slices.Equal(before.lookups["user:eve"], want) {
		t.Fatalf("before: eve views %v (lookup %v), want %v", before.checks["user:eve"], before.lookups["user:eve"], want)
	}
	// Warm every node's cache with eve's allows.
	for i := range 3 {
		if v := c.suspendView(i, tok); !sameLists(v.checks, before.checks) {
			t.Fatalf("node %d before: %v, want %v", i+1, v.checks, before.checks)
		}
	}

	// Suspend eve through a follower (forwarded to the leader).
	f := c.followers()[0]
	tEve := c.suspendCall(f, "/v1/suspensions", wire.SuspendRequest{Subject: "user:eve", Reason: "SEC-7 laptop stolen"})
	for i := range 3 {
		v := c.suspendView(i, tEve)
		if len(v.checks["user:eve"]) != 0 || len(v.lookups["user:eve"]) != 0 {
			t.Errorf("node %d: suspended eve views %v (lookup %v)", i+1, v.checks["user:eve"], v.lookups["user:eve"])
		}
		if !slices.Equal(v.checks["user:bob"], before.checks["user:bob"]) {
			t.Errorf("node %d: bob changed: %v, want %v", i+1, v.checks["user:bob"], before.checks["user:bob"])
		}
		for d, subs := range v.subjects {
			if slices.Contains(subs, "eve") {
				t.Errorf("node %d: lookup subjects doc:%s lists eve: %v", i+1, d, subs)
			}
		}
		if slices.Contains(v.expand["d1"], "user:eve") {
			t.Errorf("node %d: expand doc:d1#viewer lists eve: %v", i+1, v.expand["d1"])
		}
	}
	var explained wire.CheckResponse
	if status, body := c.do(1, http.MethodPost, "/v1/check", c.reader, wire.CheckRequest{Resource: "doc:d2", Permission: "view", Subject: "user:eve",
		Consistency: fresh(tEve), Explain: true}, &explained); status != http.StatusOK || !strings.Contains(body, `"suspended"`) || !strings.Contains(body, "SEC-7 laptop stolen") {
		t.Errorf("explain for suspended eve: %d %s, want a suspended node with the reason", status, body)
	}

	if status, body := c.do(1, http.MethodGet, "/metrics", c.admin, nil, nil); status != http.StatusOK || !strings.Contains(body, "trellis_suspended_denials_total ") ||
		strings.Contains(body, "trellis_suspended_denials_total 0\n") {
		t.Errorf("metrics: %d, want trellis_suspended_denials_total above 0 in:\n%.300s", status, body)
	}

	// Suspend the subject set team:ml#member: bob loses d2 and d3 (through
	// it), keeps d4.
	tSet := c.suspendCall(0, "/v1/suspensions", wire.SuspendRequest{Subject: "team:ml#member", Reason: "SEC-8 team compromised"})
	for i := range 3 {
		v := c.suspendView(i, tSet)
		if want := []string{"d4"}; !slices.Equal(v.checks["user:bob"], want) || !slices.Equal(v.lookups["user:bob"], want) {
			t.Errorf("node %d: with team:ml#member suspended bob views %v (lookup %v), want %v", i+1, v.checks["user:bob"], v.lookups["user:bob"], want)
		}
		if len(v.subjects["d2"]) != 0 || len(v.subjects["d3"]) != 0 {
			t.Errorf("node %d: lookup subjects through the suspended set: d2 %v d3 %v", i+1, v.subjects["d2"], v.subjects["d3"])
		}
		if slices.Contains(v.expand["d2"], "team:ml#member") {
			t.Errorf("node %d: expand doc:d2#viewer lists the suspended set: %v", i+1, v.expand["d2"])
		}
	}
	var list wire.SuspensionsResponse
	if status, body := c.do(2, http.MethodGet, "/v1/suspensions?at_least_as_fresh="+tSet, c.reader, nil, &list); status != http.StatusOK || len(list.Suspensions) != 2 ||
		list.Suspensions[0].Subject != "team:ml#member" || list.Suspensions[1].Subject != "user:eve" || list.Suspensions[1].Principal != "admin" || !list.Suspensions[1].Active {
		t.Errorf("list: %d %s", status, body)
	}

	// Bad input: a clear 4xx, nothing written.
	for _, bad := range []struct {
		path string
		body any
		want int
		says string
	}{
		{"/v1/suspensions", wire.SuspendRequest{Subject: "robot:r2", Reason: "x"}, 404, "not defined"},
		{"/v1/suspensions", wire.SuspendRequest{Subject: "user", Reason: "x"}, 400, "no ':'"},
		{"/v1/suspensions", wire.SuspendRequest{Subject: "", Reason: "x"}, 400, "subject is required"},
		{"/v1/suspensions", wire.SuspendRequest{Subject: "user:*", Reason: "x"}, 400, "wildcard"},
		{"/v1/suspensions", wire.SuspendRequest{Subject: "team:ml#owner", Reason: "x"}, 404, "no relation or permission"},
		{"/v1/suspensions", wire.SuspendRequest{Subject: "user:mallory"}, 400, "reason is required"},
		{"/v1/suspensions", wire.SuspendRequest{Subject: "user:mallory", Reason: strings.Repeat("x", 1025)}, 400, "at most 1024"},
		{"/v1/suspensions", wire.SuspendRequest{Subject: "user:mallory", Reason: "x", Until: "2001-01-01T00:00:00Z"}, 400, "in the past"},
		{"/v1/suspensions", wire.SuspendRequest{Subject: "user:mallory", Reason: "x", Until: "tomorrow"}, 400, "RFC 3339"},
		{"/v1/suspensions/delete", wire.UnsuspendRequest{Subject: "user:mallory", Reason: "x"}, 404, "no suspension to lift"},
		{"/v1/suspensions/delete", wire.UnsuspendRequest{Subject: "user:eve"}, 400, "reason is required"},
	} {
		status, body := c.do(1, http.MethodPost, bad.path, c.admin, bad.body, nil)
		if status != bad.want || !strings.Contains(body, bad.says) {
			t.Errorf("POST %s %+v: %d %s, want %d saying %q", bad.path, bad.body, status, body, bad.want, bad.says)
		}
	}
	if status, body := c.do(0, http.MethodPost, "/v1/suspensions", c.reader, wire.SuspendRequest{Subject: "user:bob", Reason: "x"}, nil); status != http.StatusForbidden {
		t.Errorf("suspend with the reader role: %d %s, want 403", status, body)
	}

	// Unsuspend both: every earlier answer returns, on every node.
	c.suspendCall(2, "/v1/suspensions/delete", wire.UnsuspendRequest{Subject: "team:ml#member", Reason: "SEC-8 resolved"})
	tBack := c.suspendCall(1, "/v1/suspensions/delete", wire.UnsuspendRequest{Subject: "user:eve", Reason: "SEC-7 resolved"})
	for i := range 3 {
		v := c.suspendView(i, tBack)
		if !sameLists(v.checks, before.checks) || !sameLists(v.lookups, before.lookups) || !sameLists(v.subjects, before.subjects) || !sameLists(v.expand, before.expand) {
			t.Errorf("node %d after unsuspend: %+v, want %+v", i+1, v, before)
		}
	}
	if status, body := c.do(0, http.MethodGet, "/v1/suspensions?at_least_as_fresh="+tBack, c.reader, nil, &list); status != http.StatusOK || len(list.Suspensions) != 0 {
		t.Errorf("list after unsuspend: %d %s", status, body)
	}

	// Audit: two suspends and two unsuspends, nothing for the bad input.
	var kinds []string
	for _, kind := range []string{"suspend", "unsuspend"} {
		var entries wire.AuditEntriesResponse
		if status, body := c.do(c.leader(), http.MethodGet, "/v1/audit/entries?limit=1000&kind="+kind, c.admin, nil, &entries); status != http.StatusOK {
			t.Fatalf("audit %s: %d %s", kind, status, body)
		}
		for _, e := range entries.Entries {
			kinds = append(kinds, e.Kind+" "+e.Reason+" by "+e.Principal)
		}
	}
	want := []string{"suspend SEC-7 laptop stolen by admin", "suspend SEC-8 team compromised by admin", "unsuspend SEC-8 resolved by admin", "unsuspend SEC-7 resolved by admin"}
	if !slices.Equal(kinds, want) {
		t.Errorf("audit entries: %q, want %q", kinds, want)
	}
}
