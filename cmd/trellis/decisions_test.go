package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"github.com/trellis-authz/trellis/server"
	"github.com/trellis-authz/trellis/wire"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trellis-authz/trellis/audit"
	"github.com/trellis-authz/trellis/client"
)

// decisionLine is one record of a decision log file as the test reads it.
type decisionLine struct {
	Index      uint64 `json:"index"`
	Principal  string `json:"principal"`
	RequestID  string `json:"request_id"`
	Resource   string `json:"resource"`
	Permission string `json:"permission"`
	Subject    string `json:"subject"`
	Result     string `json:"result"`
	Token      string `json:"token"`
}

func readDecisionLines(t *testing.T, path string) []decisionLine {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []decisionLine
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if l == "" {
			continue
		}
		var d decisionLine
		if err := json.Unmarshal([]byte(l), &d); err != nil {
			t.Fatalf("decision line %q: %v", l, err)
		}
		out = append(out, d)
	}
	return out
}

func verifyDecisionFile(t *testing.T, path string, anchor *audit.Entry) audit.DecisionHead {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	head, err := audit.VerifyDecisions(f, anchor)
	if err != nil {
		t.Fatalf("VerifyDecisions(%s): %v", path, err)
	}
	return head
}

// decisionCluster starts one real node with a decision log in its own
// directory. The anchor interval is long: the test anchors explicitly.
func decisionCluster(t *testing.T, sample float64) (*testCluster, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a raft node; skipped with -short")
	}
	file := filepath.Join(t.TempDir(), "decisions.ndjson")
	c := newTestClusterWith(t, 1, nil, func(o *server.Config) {
		o.Decisions = server.DecisionConfig{File: file, Sample: sample, AnchorInterval: time.Hour}
	}, nil)
	return c, file
}

// TestDecisionLogEndToEnd: checks over HTTP are recorded with who asked,
// what, the answer and the token; the anchor lands in the replicated audit
// log with the file's head; the CLI verifies the file against it and names
// the record a tamperer edited; a restart continues the chain.
func TestDecisionLogEndToEnd(t *testing.T) {
	c, file := decisionCluster(t, 1)
	url := c.urls[0]
	ctx := context.Background()
	admin := client.New(url, client.WithToken(c.admin), client.WithTimeout(10*time.Second))
	reader := client.New(url, client.WithToken(c.reader), client.WithTimeout(10*time.Second))
	if _, err := admin.WriteRelationships(ctx, wire.WriteRelationshipsRequest{Updates: []wire.Update{{Op: "touch", Relationship: "doc:a#viewer@user:x"}}}); err != nil {
		t.Fatal(err)
	}
	allowed, err := reader.Check(ctx, wire.CheckRequest{Resource: "doc:a", Permission: "view", Subject: "user:x"})
	if err != nil {
		t.Fatal(err)
	}
	denied, err := reader.Check(ctx, wire.CheckRequest{Resource: "doc:a", Permission: "view", Subject: "user:y"})
	if err != nil {
		t.Fatal(err)
	}
	bulk, err := admin.CheckBulk(ctx, wire.CheckBulkRequest{Items: []wire.CheckItem{
		{Resource: "doc:a", Permission: "view", Subject: "user:x"},
		{Resource: "doc:b", Permission: "view", Subject: "user:x"},
	}})
	if err != nil {
		t.Fatal(err)
	}

	got := readDecisionLines(t, file)
	want := []decisionLine{
		{Index: 0, Principal: "reader", Resource: "doc:a", Permission: "view", Subject: "user:x", Result: "allowed", Token: allowed.CheckedAt},
		{Index: 1, Principal: "reader", Resource: "doc:a", Permission: "view", Subject: "user:y", Result: "denied", Token: denied.CheckedAt},
		{Index: 2, Principal: "admin", Resource: "doc:a", Permission: "view", Subject: "user:x", Result: "allowed", Token: bulk.CheckedAt},
		{Index: 3, Principal: "admin", Resource: "doc:b", Permission: "view", Subject: "user:x", Result: "denied", Token: bulk.CheckedAt},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d decision records, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i].RequestID == "" {
			t.Errorf("record %d has no request id", i)
		}
		g := got[i]
		g.RequestID = ""
		if g != want[i] {
			t.Errorf("record %d: got %+v, want %+v", i, g, want[i])
		}
	}
	if !strings.HasSuffix(got[3].RequestID, "#1") || strings.TrimSuffix(got[3].RequestID, "#1") != strings.TrimSuffix(got[2].RequestID, "#0") {
		t.Errorf("bulk request ids %q, %q: want <id>#0 and <id>#1", got[2].RequestID, got[3].RequestID)
	}
	if allowed.CheckedAt == "" {
		t.Error("the check answered no checked_at token")
	}

	// Anchor the head through raft; the audit log gets one decision_anchor.
	n0 := c.node(0)
	if ok, err := n0.AnchorDecisions(ctx); err != nil || !ok {
		t.Fatalf("anchorOnce: got %v, %v; want true, nil", ok, err)
	}
	if ok, err := n0.AnchorDecisions(ctx); err != nil || ok {
		t.Fatalf("second anchorOnce with an unchanged head: got %v, %v; want false, nil", ok, err)
	}
	page, err := admin.AuditEntries(ctx, client.AuditEntriesRequest{Limit: 100, Kind: audit.KindDecisionAnchor})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Entries) != 1 {
		t.Fatalf("got %d decision_anchor entries, want 1: %+v", len(page.Entries), page.Entries)
	}
	anchor := page.Entries[0]
	head := verifyDecisionFile(t, file, nil)
	if anchor.Principal != "node:n1" || uint64(anchor.ChangeCount) != head.Count || anchor.ChangeDigest != hex.EncodeToString(head.Hash) {
		t.Fatalf("got anchor %+v, want principal node:n1, change_count %d, digest %x (the file's head)", anchor, head.Count, head.Hash)
	}

	// The CLI verifies the file against the anchor fetched from the server.
	seq := strconv.FormatUint(anchor.Seq, 10)
	code, out, errOut := run(t, "audit", "decisions", "verify", file, "--anchor-seq", seq, "--endpoint", url, "--token", c.admin)
	if code != 0 || !strings.Contains(out, "ok: 4 records") || !strings.Contains(out, "matches") {
		t.Fatalf("verify against the anchor: exit %d\n%s%s", code, out, errOut)
	}

	// The same check offline, with the anchor entry saved as JSON.
	anchorJSON, err := json.Marshal(anchor)
	if err != nil {
		t.Fatal(err)
	}
	anchorFile := filepath.Join(t.TempDir(), "anchor.json")
	if err := os.WriteFile(anchorFile, anchorJSON, 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := run(t, "audit", "decisions", "verify", file, "--anchor", anchorFile); code != 0 || !strings.Contains(out, "matches") {
		t.Fatalf("verify against --anchor file: exit %d\n%s%s", code, out, errOut)
	}

	// Tampering: flip the answer of record 1; the CLI names record 1.
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(data), "\n")
	tampered := append([]string(nil), lines...)
	tampered[1] = strings.Replace(tampered[1], `"result":"denied"`, `"result":"allowed"`, 1)
	if tampered[1] == lines[1] {
		t.Fatalf("record 1 %q has no denied result to flip", lines[1])
	}
	bad := filepath.Join(t.TempDir(), "tampered.ndjson")
	if err := os.WriteFile(bad, []byte(strings.Join(tampered, "")), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = run(t, "audit", "decisions", "verify", bad)
	if code != 1 || !strings.Contains(errOut, "record 1") {
		t.Fatalf("tampered file: got exit %d %q, want 1 naming record 1", code, errOut)
	}
	// A chain cut short of the anchor fails against it, though it verifies alone.
	short := filepath.Join(t.TempDir(), "short.ndjson")
	if err := os.WriteFile(short, []byte(strings.Join(lines[:2], "")), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = run(t, "audit", "decisions", "verify", short, "--anchor-seq", seq, "--endpoint", url, "--token", c.admin)
	if code != 1 || !strings.Contains(errOut, "truncated") {
		t.Fatalf("truncated file against the anchor: got exit %d %q, want 1 and truncated", code, errOut)
	}

	// A restart recovers the head and continues the chain.
	c.stop(0)
	if err := c.start(0); err != nil {
		t.Fatal(err)
	}
	c.waitReady(0)
	reader = client.New(c.urls[0], client.WithToken(c.reader), client.WithTimeout(10*time.Second))
	if _, err := reader.Check(ctx, wire.CheckRequest{Resource: "doc:a", Permission: "view", Subject: "user:x"}); err != nil {
		t.Fatal(err)
	}
	after := verifyDecisionFile(t, file, asAuditEntry(t, anchor)) // still reaches the old anchor
	if after.Count != head.Count+1 {
		t.Fatalf("got %d records after the restart, want %d", after.Count, head.Count+1)
	}
	if got := readDecisionLines(t, file); got[len(got)-1].Index != head.Count {
		t.Errorf("got index %d for the first record after the restart, want %d", got[len(got)-1].Index, head.Count)
	}
	if h := c.node(0).DecisionLog().Head(); h.Count != after.Count || !bytes.Equal(h.Hash, after.Hash) {
		t.Errorf("in-memory head %d %x differs from the file's %d %x", h.Count, h.Hash, after.Count, after.Hash)
	}
}

// TestDecisionLogSampleZero: with --decision-sample 0 checks are answered
// and nothing is recorded.
func TestDecisionLogSampleZero(t *testing.T) {
	c, file := decisionCluster(t, 0)
	ctx := context.Background()
	cl := client.New(c.urls[0], client.WithToken(c.admin), client.WithTimeout(10*time.Second))
	for _, s := range []string{"user:x", "user:y", "user:z"} {
		if _, err := cl.Check(ctx, wire.CheckRequest{Resource: "doc:a", Permission: "view", Subject: s}); err != nil {
			t.Fatal(err)
		}
	}
	if fi, err := os.Stat(file); err != nil || fi.Size() != 0 {
		t.Fatalf("got %v, %v; want an empty decision log", fi, err)
	}
	if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o600 {
		t.Errorf("got mode %v, want 0600", fi.Mode().Perm())
	}
}

// TestDecisionAnchorTicker: the serve-time goroutine anchors a changed head
// by itself (the test waits for the entry; it asserts no timing).
func TestDecisionAnchorTicker(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a raft node; skipped with -short")
	}
	file := filepath.Join(t.TempDir(), "decisions.ndjson")
	c := newTestClusterWith(t, 1, nil, func(o *server.Config) {
		o.Decisions = server.DecisionConfig{File: file, Sample: 1, AnchorInterval: 20 * time.Millisecond}
	}, nil)
	ctx := context.Background()
	cl := client.New(c.urls[0], client.WithToken(c.admin), client.WithTimeout(10*time.Second))
	if _, err := cl.Check(ctx, wire.CheckRequest{Resource: "doc:a", Permission: "view", Subject: "user:x"}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		page, err := cl.AuditEntries(ctx, client.AuditEntriesRequest{Limit: 100, Kind: audit.KindDecisionAnchor})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Entries) > 0 {
			e := page.Entries[0]
			head := verifyDecisionFile(t, file, asAuditEntry(t, e))
			if e.ChangeCount != 1 || head.Count != 1 {
				t.Fatalf("got anchor covering %d records and a file of %d, want 1 and 1", e.ChangeCount, head.Count)
			}
			if len(page.Entries) != 1 {
				t.Fatalf("got %d anchors for an unchanged head, want 1", len(page.Entries))
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no decision_anchor entry appeared")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// asAuditEntry reads an entry of the API (wire form, which is audit.Entry's
// JSON) back as an audit.Entry.
func asAuditEntry(t *testing.T, e wire.AuditEntry) *audit.Entry {
	t.Helper()
	var out audit.Entry
	if b, err := json.Marshal(e); err != nil || json.Unmarshal(b, &out) != nil {
		t.Fatalf("entry %+v does not read back as an audit.Entry", e)
	}
	return &out
}
