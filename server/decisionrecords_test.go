package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/trellis-authz/trellis/client"
	"github.com/trellis-authz/trellis/test/testnode"
	"github.com/trellis-authz/trellis/wire"
)

const decisionSchema = `caveat purpose_is(purpose string) { purpose == "fraud" }
definition user {}
definition dataset {
	relation reader: user | user with purpose_is
	relation blocked: user
	permission read = reader - blocked
}
`

// decisionEnv is a node with tokens of each role and the example
// relationships written.
type decisionEnv struct {
	admin, reader *client.Client
	url, adminTok string
}

// decisionNode opens a node with a decision log (when file is not "").
func decisionNode(t *testing.T, file string) decisionEnv {
	t.Helper()
	cfg := testnode.Config(t, decisionSchema)
	cfg.Decisions.File = file
	toks := testnode.WithTokens(t, &cfg)
	node := testnode.Open(t, cfg)
	e := decisionEnv{url: node.URL(), adminTok: toks.Admin,
		admin:  client.New(node.URL(), client.WithToken(toks.Admin), client.WithTimeout(10*time.Second)),
		reader: client.New(node.URL(), client.WithToken(toks.Reader), client.WithTimeout(10*time.Second))}
	_, err := e.admin.WriteRelationships(t.Context(), wire.WriteRelationshipsRequest{Updates: []wire.Update{
		{Op: "touch", Relationship: "dataset:claims#reader@user:ana"},
		{Op: "touch", Relationship: "dataset:claims#reader@user:ben"},
		{Op: "touch", Relationship: "dataset:claims#blocked@user:ben"},
		{Op: "touch", Relationship: "dataset:claims#reader@user:dan[purpose_is]"},
	}, Reason: "decision records test"})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// get sends GET path as the admin, with lastEventID when not "".
func (e decisionEnv) get(t *testing.T, path, lastEventID string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+e.adminTok)
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

// TestDecisionRecordsServed: a real node with --decision-log; checks made by
// a reader arrive on an admin's GET /v1/decisions/stream as they are
// answered, each with the question, the answer, the token and the caller of
// its check; GET /v1/decisions and a stream resumed from an index give the
// same records, and they are the lines of the chain file.
func TestDecisionRecordsServed(t *testing.T) {
	file := filepath.Join(t.TempDir(), "decisions.ndjson")
	e := decisionNode(t, file)
	admin, reader := e.admin, e.reader
	ctx := t.Context()
	live, err := admin.StreamDecisions(ctx, client.DecisionStreamOptions{}) // from the next record on
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	full := &wire.Consistency{Mode: wire.FullyConsistent}
	checks := []wire.CheckRequest{
		{Resource: "dataset:claims", Permission: "read", Subject: "user:ana", Consistency: full},
		{Resource: "dataset:claims", Permission: "read", Subject: "user:ben", Consistency: full},
		{Resource: "dataset:claims", Permission: "read", Subject: "user:dan", Consistency: full},
		{Resource: "dataset:claims", Permission: "reader", Subject: "user:zoe", Consistency: full},
	}
	var answers []*wire.CheckResponse
	for _, c := range checks {
		res, err := reader.Check(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		answers = append(answers, res)
	}
	if got := []string{answers[0].Result, answers[1].Result, answers[2].Result, answers[3].Result}; !reflect.DeepEqual(got,
		[]string{"allowed", "denied", "conditional", "denied"}) {
		t.Fatalf("the checks answered %v", got)
	}
	var streamed []wire.DecisionRecord
	for i := range checks {
		r, err := live.Next()
		if err != nil {
			t.Fatalf("stream record %d: %v", i, err)
		}
		streamed = append(streamed, *r)
	}
	for i, r := range streamed {
		c, a := checks[i], answers[i]
		if r.Resource != c.Resource || r.Permission != c.Permission || r.Subject != c.Subject || r.Result != a.Result ||
			r.Token != a.CheckedAt || r.Principal != "reader-1" || r.RequestID == "" || r.Time.IsZero() {
			t.Errorf("streamed record %d: %+v; want the check %s %s %s answered %s at %s by reader-1", i, r, c.Resource, c.Permission, c.Subject, a.Result, a.CheckedAt)
		}
		if i > 0 && (r.Index != streamed[i-1].Index+1 || r.Prev != streamed[i-1].Hash) {
			t.Errorf("record %d (index %d, prev %s) does not follow record %d (index %d, hash %s)", i, r.Index, r.Prev, i-1, streamed[i-1].Index, streamed[i-1].Hash)
		}
	}

	recent, err := admin.Decisions(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(recent.Records, streamed) || recent.Next != streamed[len(streamed)-1].Index+1 || recent.Kept != 1000 || recent.Node == "" {
		t.Errorf("GET /v1/decisions: %+v\nwant the streamed records %+v, next after them, kept 1000", recent, streamed)
	}
	if last2, err := admin.Decisions(ctx, 2); err != nil || !reflect.DeepEqual(last2.Records, streamed[2:]) {
		t.Errorf("limit=2: %+v, %v; want the last two records", last2, err)
	}

	// A stream from an index replays the kept records from there.
	from := streamed[1].Index
	again, err := admin.StreamDecisions(ctx, client.DecisionStreamOptions{From: &from})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	for _, want := range streamed[1:] {
		got, err := again.Next()
		if err != nil || !reflect.DeepEqual(*got, want) {
			t.Fatalf("resumed stream: %+v, %v; want %+v", got, err, want)
		}
	}

	// The records are the chain file's lines.
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var lines []wire.DecisionRecord
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		var r wire.DecisionRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, r)
	}
	if !reflect.DeepEqual(lines, streamed) {
		t.Errorf("the chain file holds %+v\nthe stream sent %+v", lines, streamed)
	}
}

// TestDecisionRecordsBadInput: a reader is refused (403), as are a bad
// limit, a start index the node has not reached or an unparsable
// Last-Event-ID (400); a node without --decision-log answers 404
// decision_log_disabled saying how to enable it.
func TestDecisionRecordsBadInput(t *testing.T) {
	e := decisionNode(t, filepath.Join(t.TempDir(), "decisions.ndjson"))
	admin, reader := e.admin, e.reader
	ctx := t.Context()
	wantErr := func(name string, err error, status int, code string) {
		t.Helper()
		var ce *client.Error
		if !errors.As(err, &ce) || ce.Status != status || ce.Code != code {
			t.Errorf("%s: %v, want %d %s", name, err, status, code)
		}
	}
	_, err := reader.Decisions(ctx, 10)
	wantErr("reader GET /v1/decisions", err, http.StatusForbidden, "permission_denied")
	_, err = reader.StreamDecisions(ctx, client.DecisionStreamOptions{})
	wantErr("reader GET /v1/decisions/stream", err, http.StatusForbidden, "permission_denied")
	_, err = admin.Decisions(ctx, wire.MaxDecisionLimit+1)
	wantErr("limit 1001", err, http.StatusBadRequest, "invalid_argument")
	future := uint64(99)
	_, err = admin.StreamDecisions(ctx, client.DecisionStreamOptions{From: &future})
	wantErr("from 99 on an empty log", err, http.StatusBadRequest, "invalid_argument")
	for _, q := range []string{"/v1/decisions?limit=0", "/v1/decisions?limit=ten", "/v1/decisions/stream?from=-1"} {
		status, body := e.get(t, q, "")
		if status != http.StatusBadRequest || !strings.Contains(body, `"invalid_argument"`) {
			t.Errorf("GET %s: %d %s, want 400 invalid_argument", q, status, body)
		}
	}
	if status, body := e.get(t, "/v1/decisions/stream", "seven"); status != http.StatusBadRequest || !strings.Contains(body, "Last-Event-ID") {
		t.Errorf("Last-Event-ID seven: %d %s, want 400 naming the header", status, body)
	}

	offAdmin := decisionNode(t, "").admin
	_, err = offAdmin.Decisions(ctx, 10)
	wantErr("no decision log: GET /v1/decisions", err, http.StatusNotFound, "decision_log_disabled")
	if ce := (*client.Error)(nil); errors.As(err, &ce) && !strings.Contains(ce.Message, "trellis serve --decision-log FILE") {
		t.Errorf("the message does not say how to enable the log: %s", ce.Message)
	}
	_, err = offAdmin.StreamDecisions(ctx, client.DecisionStreamOptions{})
	wantErr("no decision log: GET /v1/decisions/stream", err, http.StatusNotFound, "decision_log_disabled")
}
