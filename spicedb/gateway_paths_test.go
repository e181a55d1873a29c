package spicedb_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"

	"github.com/trellis-authz/trellis/tuple"
	"github.com/trellis-authz/trellis/wire"
)

// Request bodies of the gateway tests are JSON text, written the way a
// caller without a SpiceDB client writes them (protojson's camelCase).

func jObj(s string) string {
	o, err := tuple.ParseObject(s)
	if err != nil {
		panic(err)
	}
	return fmt.Sprintf(`{"objectType":%q,"objectId":%q}`, o.Type, o.ID)
}

func jSub(s string) string {
	r, err := tuple.ParseSubject(s)
	if err != nil {
		panic(err)
	}
	if r.Relation != "" {
		return fmt.Sprintf(`{"object":{"objectType":%q,"objectId":%q},"optionalRelation":%q}`, r.Type, r.ID, r.Relation)
	}
	return fmt.Sprintf(`{"object":{"objectType":%q,"objectId":%q}}`, r.Type, r.ID)
}

// jRel is a relationship message; extra is more fields (a caveat).
func jRel(resource, relation, subject, extra string) string {
	return fmt.Sprintf(`{"resource":%s,"relation":%q,"subject":%s%s}`, jObj(resource), relation, jSub(subject), extra)
}

func jTouch(rel string) string { return `{"operation":"OPERATION_TOUCH","relationship":` + rel + `}` }

func jFresh(tok string) string {
	return fmt.Sprintf(`"consistency":{"atLeastAsFresh":{"token":%q}}`, tok)
}

func jCheck(tok, resource, permission, subject, ctx string) string {
	body := fmt.Sprintf(`{%s,"resource":%s,"permission":%q,"subject":%s`, jFresh(tok), jObj(resource), permission, jSub(subject))
	if ctx != "" {
		body += `,"context":` + ctx
	}
	return body + "}"
}

// wantHTTP fails unless a is status with a body mentioning words.
func wantHTTP(t *testing.T, what string, a gwAnswer, status int, words ...string) {
	t.Helper()
	if a.status != status || !mentions(string(a.body), words...) {
		t.Errorf("%s: HTTP %d %s, want %d mentioning %q", what, a.status, a.body, status, words)
	}
}

// TestGatewayPaths drives every path of SpiceDB's HTTP gateway with plain
// HTTP and hand-written JSON: schema write and read, write, read (and the
// path it shares with Trellis's read, where a Trellis body still gets
// Trellis's answer), check, bulk check, expand, both streamed lookups,
// import and export, delete and watch; the Authorization header decides
// who may call what, and error bodies name the problem.
func TestGatewayPaths(t *testing.T) {
	tn := startNode(t, "")
	p := func(token, path, body string) gwAnswer { t.Helper(); return tn.gwPost(t, token, path, body, nil) }

	// Schema.
	a := p(tn.admin, "/v1/schema/write", fmt.Sprintf(`{"schema":%q}`, govSchema))
	wantHTTP(t, "schema write", a, http.StatusOK, `"writtenAt"`, `"token"`)
	waitReady(t, tn.url)
	a = p(tn.reader, "/v1/schema/read", `{}`)
	wantHTTP(t, "schema read", a, http.StatusOK, `"schemaText"`, "definition dataset", "caveat purpose_is", `"readAt"`)

	// Write.
	write := &v1.WriteRelationshipsResponse{}
	body := `{"updates":[` + strings.Join([]string{
		jTouch(jRel("team:ml", "member", "user:ana", "")),
		jTouch(jRel("team:ml", "member", "team:infra#member", "")),
		jTouch(jRel("team:infra", "member", "user:bo", "")),
		jTouch(jRel("dataset:claims", "reader", "team:ml#member", "")),
		jTouch(jRel("dataset:claims", "blocked", "user:bo", "")),
		jTouch(jRel("dataset:claims", "reader", "user:cy", `,"optionalCaveat":{"caveatName":"purpose_is","context":{"allowed":["fraud"]}}`)),
	}, ",") + `]}`
	if err := tn.gwUnary(t, tn.writer, "/v1/relationships/write", body, write, nil); err != nil || write.GetWrittenAt().GetToken() == "" {
		t.Fatalf("write: %v %v", write, err)
	}
	tok := write.GetWrittenAt().GetToken()
	firstWrite := tok

	// Read, SpiceDB's body: streamed results.
	reads, err := gwStream(t, tn, tn.reader, "/v1/relationships/read", fmt.Sprintf(`{%s,"relationshipFilter":{"resourceType":"dataset"}}`, jFresh(tok)),
		func() *v1.ReadRelationshipsResponse { return &v1.ReadRelationshipsResponse{} })
	if got := readLines(t, reads); err != nil || strings.Join(got, " ") != "dataset:claims#blocked@user:bo dataset:claims#reader@team:ml#member "+
		`dataset:claims#reader@user:cy[purpose_is:{"allowed":["fraud"]}]` || reads[0].GetReadAt().GetToken() == "" {
		t.Errorf("gateway read: %v %v", got, err)
	}
	// The same path with Trellis's body: Trellis's answer.
	var tr wire.ReadRelationshipsResponse
	if code := tn.rest(t, tn.reader, "POST", "/v1/relationships/read", map[string]any{"filter": map[string]any{"resource_type": "dataset", "relation": "blocked"},
		"consistency": map[string]string{"at_least_as_fresh": tok}}, &tr); code != http.StatusOK || len(tr.Relationships) != 1 ||
		tr.Relationships[0] != "dataset:claims#blocked@user:bo" || tr.ReadAt == "" {
		t.Errorf("Trellis read on the shared path: %d %+v", code, tr)
	}
	var tw wire.WriteResponse
	if code := tn.rest(t, tn.writer, "POST", "/v1/relationships/write", map[string]any{"updates": []wire.Update{{Op: "touch", Relationship: "dataset:claims#reader@user:dee"}},
		"reason": "a Trellis body"}, &tw); code != http.StatusOK || tw.WrittenAt == "" {
		t.Fatalf("Trellis write on the shared path: %d %+v", code, tw)
	}
	tok = tw.WrittenAt

	// Check: allowed, conditional with the missing context, allowed with it,
	// denied by the exclusion.
	for _, c := range []struct{ subject, ctx, want string }{
		{"user:ana", "", `"permissionship":"PERMISSIONSHIP_HAS_PERMISSION"`},
		{"user:cy", "", `"missingRequiredContext":["purpose"]`},
		{"user:cy", `{"purpose":"fraud"}`, `"permissionship":"PERMISSIONSHIP_HAS_PERMISSION"`},
		{"user:bo", "", `"permissionship":"PERMISSIONSHIP_NO_PERMISSION"`},
	} {
		a = p(tn.reader, "/v1/permissions/check", jCheck(tok, "dataset:claims", "read", c.subject, c.ctx))
		wantHTTP(t, "check "+c.subject+" "+c.ctx, a, http.StatusOK, c.want, `"checkedAt"`)
	}

	// Bulk check: an item's error is its own.
	bulk := &v1.CheckBulkPermissionsResponse{}
	body = fmt.Sprintf(`{%s,"items":[{"resource":%s,"permission":"read","subject":%s},{"resource":%s,"permission":"nope","subject":%s}]}`,
		jFresh(tok), jObj("dataset:claims"), jSub("user:ana"), jObj("dataset:claims"), jSub("user:ana"))
	if err := tn.gwUnary(t, tn.reader, "/v1/permissions/checkbulk", body, bulk, nil); err != nil || len(bulk.GetPairs()) != 2 ||
		bulk.GetPairs()[0].GetItem().GetPermissionship() != v1.CheckPermissionResponse_PERMISSIONSHIP_HAS_PERMISSION ||
		!mentions(bulk.GetPairs()[1].GetError().GetMessage(), "nope") {
		t.Errorf("checkbulk: %v %v", bulk, err)
	}

	// Expand.
	a = p(tn.reader, "/v1/permissions/expand", fmt.Sprintf(`{%s,"resource":%s,"permission":"read"}`, jFresh(tok), jObj("dataset:claims")))
	wantHTTP(t, "expand", a, http.StatusOK, `"treeRoot"`, `"OPERATION_EXCLUSION"`, `"expandedAt"`)

	// Lookups, streamed.
	res, err := gwStream(t, tn, tn.reader, "/v1/permissions/resources", fmt.Sprintf(`{%s,"resourceObjectType":"dataset","permission":"read","subject":%s}`,
		jFresh(tok), jSub("user:ana")), func() *v1.LookupResourcesResponse { return &v1.LookupResourcesResponse{} })
	if got := resourceLines(res); err != nil || strings.Join(got, ";") != "claims allowed missing=[] excluded=[]" {
		t.Errorf("lookup resources: %v %v", got, err)
	}
	subs, err := gwStream(t, tn, tn.reader, "/v1/permissions/subjects", fmt.Sprintf(`{%s,"resource":%s,"permission":"read","subjectObjectType":"user"}`,
		jFresh(tok), jObj("dataset:claims")), func() *v1.LookupSubjectsResponse { return &v1.LookupSubjectsResponse{} })
	if got := subjectLines(subs); err != nil || strings.Join(got, ";") != "ana allowed missing=[] excluded=[];cy conditional missing=[purpose] excluded=[];dee allowed missing=[] excluded=[]" {
		t.Errorf("lookup subjects: %v %v", got, err)
	}

	// Import (a stream of requests, one per line) and export.
	body = fmt.Sprintf(`{"relationships":[%s]}`+"\n"+`{"relationships":[%s,%s]}`+"\n",
		jRel("dataset:d1", "reader", "user:ana", ""), jRel("dataset:d2", "reader", "user:ana", ""), jRel("dataset:d3", "reader", "user:bo", ""))
	a = p(tn.writer, "/v1/relationships/importbulk", body)
	wantHTTP(t, "importbulk", a, http.StatusOK, `"numLoaded":"3"`)
	exp, err := gwStream(t, tn, tn.reader, "/v1/relationships/exportbulk", `{"consistency":{"fullyConsistent":true}}`,
		func() *v1.ExportBulkRelationshipsResponse { return &v1.ExportBulkRelationshipsResponse{} })
	n := 0
	for _, m := range exp {
		n += len(m.GetRelationships())
	}
	if err != nil || n != 6+1+3 {
		t.Errorf("exportbulk: %d relationships (%v), want 10", n, err)
	}

	// Delete, SpiceDB's body; then Trellis's on the same path.
	del := &v1.DeleteRelationshipsResponse{}
	if err := tn.gwUnary(t, tn.writer, "/v1/relationships/delete", `{"relationshipFilter":{"resourceType":"dataset","optionalRelation":"blocked"}}`, del, nil); err != nil ||
		del.GetRelationshipsDeletedCount() != 1 || del.GetDeletedAt().GetToken() == "" {
		t.Fatalf("delete: %v %v", del, err)
	}
	a = p(tn.reader, "/v1/permissions/check", jCheck(del.GetDeletedAt().GetToken(), "dataset:claims", "read", "user:bo", ""))
	wantHTTP(t, "check after the delete", a, http.StatusOK, "PERMISSIONSHIP_HAS_PERMISSION")
	a = p(tn.writer, "/v1/relationships/delete", `{"filter":{"resource_type":"dataset","resource_id_prefix":"d"}}`)
	wantHTTP(t, "Trellis delete on the shared path", a, http.StatusOK, `"deleted":3`, `"written_at"`)

	// Watch: from the first write on, the changes stream.
	watchFirst(t, tn, firstWrite)

	gatewayRefusals(t, tn, tok)
}

// watchFirst opens a watch from tok and requires its first message to be
// a later change.
func watchFirst(t *testing.T, tn *testNode, tok string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tn.url+"/v1/watch", strings.NewReader(fmt.Sprintf(`{"optionalStartCursor":{"token":%q}}`, tok)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tn.reader)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if resp.StatusCode != http.StatusOK || err != nil || !mentions(line, `"result"`, `"changesThrough"`, `"OPERATION_TOUCH"`, `"dee"`) {
		t.Errorf("watch: HTTP %d, first line %q (%v), want the touch of user:dee", resp.StatusCode, line, err)
	}
}

// gatewayRefusals: the Authorization header decides, a reader may not
// write, and errors name their problem.
func gatewayRefusals(t *testing.T, tn *testNode, tok string) {
	t.Helper()
	p := func(token, path, body string) gwAnswer { t.Helper(); return tn.gwPost(t, token, path, body, nil) }
	check := jCheck(tok, "dataset:claims", "read", "user:ana", "")
	wantHTTP(t, "check without a token", p("", "/v1/permissions/check", check), http.StatusUnauthorized, "unauthenticated")
	wantHTTP(t, "check with a bad token", p("trellis_not-a-token", "/v1/permissions/check", check), http.StatusUnauthorized, "unauthenticated")

	write := `{"updates":[` + jTouch(jRel("team:ml", "member", "user:eve", "")) + `]}`
	a := p(tn.reader, "/v1/relationships/write", write)
	if e := parseGwError(a.status, a.body); a.status != http.StatusForbidden || e == nil || !(e.RESTCode == "permission_denied" || e.Code == 7) ||
		!mentions(e.Message, "reader", "writer") {
		t.Errorf("a reader's write: HTTP %d %s, want 403 PermissionDenied naming the roles", a.status, a.body)
	}
	wantHTTP(t, "a reader's schema write", p(tn.reader, "/v1/schema/write", `{"schema":"definition user {}"}`), http.StatusForbidden, "admin")
	reads, err := gwStream(t, tn, tn.reader, "/v1/relationships/read", `{"consistency":{"fullyConsistent":true},"relationshipFilter":{"resourceType":"team","optionalSubjectFilter":{"subjectType":"user","optionalSubjectId":"eve"}}}`,
		func() *v1.ReadRelationshipsResponse { return &v1.ReadRelationshipsResponse{} })
	if err != nil || len(reads) != 0 {
		t.Errorf("after the refused write: %v %v, want nothing written", readLines(t, reads), err)
	}

	for _, c := range []struct {
		what, path, body string
		status, code     int
		words            []string
		service          bool // answered by Trellis's services (not the gateway's JSON decoding)
	}{
		{"unknown permission", "/v1/permissions/check", jCheck(tok, "dataset:claims", "nope", "user:ana", ""), http.StatusBadRequest, 9, []string{"nope", "dataset"}, true},
		{"unknown type", "/v1/permissions/check", jCheck(tok, "datasat:claims", "read", "user:ana", ""), http.StatusBadRequest, 9, []string{"datasat"}, true},
		{"no resource", "/v1/permissions/check", `{"permission":"read","subject":` + jSub("user:ana") + `}`, http.StatusBadRequest, 3, []string{"resource"}, true},
		{"misspelt field", "/v1/permissions/check", `{"resourse":` + jObj("dataset:claims") + `}`, http.StatusBadRequest, 3, []string{"resourse"}, false},
		{"not JSON", "/v1/permissions/check", `{"resource":`, http.StatusBadRequest, 3, nil, false},
		{"bad token", "/v1/permissions/check", jCheck("t1.not-a-token", "dataset:claims", "read", "user:ana", ""), http.StatusBadRequest, 3, []string{"token"}, true},
		{"bad caveat context", "/v1/permissions/check", jCheck(tok, "dataset:claims", "read", "user:cy", `{"purpose":7}`), http.StatusBadRequest, 3, []string{"purpose"}, true},
		{"subject type not allowed", "/v1/relationships/write", `{"updates":[` + jTouch(jRel("dataset:claims", "blocked", "team:ml#member", "")) + `]}`,
			http.StatusBadRequest, 3, []string{"blocked", "team"}, true},
	} {
		a := p(tn.writer, c.path, c.body)
		e := parseGwError(a.status, a.body)
		if a.status != c.status || e == nil || e.Code != c.code || !mentions(e.Message, c.words...) || e.Message == "" {
			t.Errorf("%s: HTTP %d %s, want %d with code %d and a message naming %q", c.what, a.status, a.body, c.status, c.code, c.words)
			continue
		}
		// Trellis's errors carry their details (ErrorInfo with the code).
		if c.service && (len(e.Details) == 0 || !mentions(string(a.body), "google.rpc.ErrorInfo", `"domain":"trellis"`)) {
			t.Errorf("%s: details %s, want a google.rpc.ErrorInfo", c.what, a.body)
		}
	}
}
