//go:build browser

package console_test

import (
	"bytes"
	"context"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/trellis-authz/trellis/client"
	"github.com/trellis-authz/trellis/tuple"
	"github.com/trellis-authz/trellis/wire"
)

// The page features beyond the acceptance list, each compared with what the
// API answers for the same question. They run inside TestConsole.

// testSchemaDiff: the schema page shows the stored source (formatted by the
// API) and its lint warnings, and marks breaking changes in a pasted proposal as the API does.
func testSchemaDiff(t *testing.T, e *env) {
	tb := e.open(t, e.url, e.toks.Reader)
	tb.page("schema")
	stored, err := e.api.Schema(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	formatted, err := e.api.FormatSchema(t.Context(), wire.FormatSchemaRequest{Schema: stored.Schema})
	if err != nil {
		t.Fatal(err)
	}
	if src := eval[string](tb, `document.getElementById("schema-source").textContent`); src != formatted.Formatted {
		t.Errorf("the source shown is not the API's formatted schema (%d bytes shown, %d formatted)", len(src), len(formatted.Formatted))
	}
	lint, err := e.api.DiffSchema(t.Context(), wire.DiffSchemaRequest{Schema: stored.Schema})
	if err != nil {
		t.Fatal(err)
	}
	wantLint := lint.Warnings
	if len(wantLint) == 0 {
		wantLint = []string{"No warnings."}
	}
	if got := eval[[]string](tb, `Array.from(document.querySelectorAll("#lint li")).map(li => li.textContent)`); !slices.Equal(got, wantLint) {
		t.Errorf("lint warnings shown %q, the API's %q", got, wantLint)
	}

	// Teams no longer read datasets: breaking (stored relationships use it).
	const from = "relation reader: user | service_account | team#member | "
	proposal := strings.Replace(stored.Schema, from, "relation reader: user | service_account | ", 1)
	if proposal == stored.Schema {
		t.Fatalf("the example schema has no %q to edit", from)
	}
	diff, err := e.api.DiffSchema(t.Context(), wire.DiffSchemaRequest{Schema: proposal})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, c := range diff.Changes {
		mark := "safe"
		if c.Breaking {
			mark = "breaking"
		} else if c.AccessChange {
			mark = "access change"
		}
		want = append(want, mark+" "+c.Target)
	}
	if !slices.ContainsFunc(diff.Changes, func(c wire.SchemaChange) bool { return c.Breaking }) {
		t.Fatalf("the API calls no change of %q breaking: %+v", from, diff.Changes)
	}
	tb.fill(map[string]string{"#diff-form textarea[name=proposal]": proposal})
	tb.submit("#diff-submit", "#diff-result")
	got := eval[[]string](tb, `Array.from(document.querySelectorAll("#diff-result tbody tr")).map(tr => tr.cells[0].textContent + " " + tr.cells[2].textContent)`)
	if !slices.Equal(got, want) {
		t.Errorf("diff rows %q, the API's changes %q", got, want)
	}
	if n := eval[int](tb, `document.querySelectorAll("#diff-result tr.breaking strong.badge").length`); n == 0 {
		t.Errorf("no breaking change is marked")
	}
	tb.screenshot("schema-diff", "#diff-form")
	tb.noErrors("schema diff")
}

// testLookupsAndExpand: lookups page through the answer (each page read at
// the first page's revision) and list what the API lists; expand draws the
// API's tree.
func testLookupsAndExpand(t *testing.T, e *env) {
	tb := e.open(t, e.url, e.toks.Reader)
	tb.page("playground")
	var want []string
	for cursor := ""; ; {
		r, err := e.api.LookupSubjects(t.Context(), wire.LookupSubjectsRequest{Resource: "model:fraud_ft", Permission: "run", SubjectType: "user", Cursor: cursor, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range r.Subjects {
			want = append(want, s.ID+" "+s.Result)
		}
		if cursor = r.NextCursor; cursor == "" {
			break
		}
	}
	tb.fill(map[string]string{"#ls-form [name=resource]": "model:fraud_ft", "#ls-form [name=permission]": "run",
		"#ls-form [name=subject_type]": "user", "#ls-form [name=limit]": "2"})
	tb.submit(`#ls-form button[type=submit]`, "#ls-results")
	pages := 1
	for eval[bool](tb, `!document.getElementById("ls-more").hidden`) {
		if pages++; pages > len(want)+1 {
			t.Fatalf("more than %d pages of 2 for %d subjects", pages-1, len(want))
		}
		tb.submit("#ls-more", "#ls-results")
	}
	got := eval[[]string](tb, `Array.from(document.querySelectorAll("#ls-results li")).map(li => li.firstElementChild.textContent + " " + li.dataset.result)`)
	if !slices.Equal(got, want) {
		t.Errorf("lookup subjects over %d pages: %q, the API: %q", pages, got, want)
	}
	if wantPages := (len(want) + 1) / 2; pages != wantPages || pages < 2 {
		t.Errorf("%d pages of 2 for %d subjects, want %d (and at least 2)", pages, len(want), wantPages)
	}

	x, err := e.api.Expand(t.Context(), wire.ExpandRequest{Resource: "dataset:claims", Permission: "read"})
	if err != nil {
		t.Fatal(err)
	}
	var subjects []string
	var walk func(n *wire.ExpandNode)
	walk = func(n *wire.ExpandNode) {
		for _, s := range n.Subjects {
			subjects = append(subjects, s.Subject)
		}
		for _, c := range n.Children {
			walk(c)
		}
	}
	walk(x.Tree)
	tb.fill(map[string]string{"#expand-form [name=resource]": "dataset:claims", "#expand-form [name=permission]": "read"})
	tb.submit(`#expand-form button[type=submit]`, "#expand-out")
	shown := eval[[]string](tb, `Array.from(document.querySelectorAll("#expand-tree li.subject")).map(li => li.firstElementChild.textContent)`)
	if !slices.Equal(shown, subjects) || !slices.Contains(shown, "team:ml#member") {
		t.Errorf("expand shows subjects %q, the API's tree %q (with team:ml#member)", shown, subjects)
	}
	tb.noErrors("lookups and expand")
}

// testRelationshipsFilterExportDelete: the relationships page reads what
// the filter matches, exports it as the API does, and deletes one with a
// reason that reaches the audit log.
func testRelationshipsFilterExportDelete(t *testing.T, e *env) {
	w, err := e.api.WriteRelationships(t.Context(), wire.WriteRelationshipsRequest{
		Updates: []wire.Update{{Op: "touch", Relationship: "dataset:claims#reader@user:quinn"}}, Reason: "console delete test"})
	if err != nil {
		t.Fatal(err)
	}
	fresh := &wire.Consistency{Mode: wire.AtLeastAsFresh, Token: w.WrittenAt}
	f := tuple.Filter{ResourceType: "dataset", ResourceID: "claims", Relation: "reader"}
	r, err := e.api.ReadRelationships(t.Context(), wire.ReadRelationshipsRequest{Filter: f, Limit: 1000, Consistency: fresh})
	if err != nil {
		t.Fatal(err)
	}
	tb := e.open(t, e.url, e.toks.Writer)
	tb.page("relationships")
	tb.fill(map[string]string{"#rel-filter [name=resource_type]": "dataset", "#rel-filter [name=resource_id]": "claims",
		"#rel-filter [name=relation]": "reader", "#rel-fresh": w.WrittenAt})
	tb.submit(`#rel-filter button[type=submit]`, "#rel-rows")
	if got := eval[[]string](tb, `Array.from(document.querySelectorAll("#rel-rows tr")).map(tr => tr.cells[0].textContent)`); !slices.Equal(got, r.Relationships) {
		t.Errorf("filtered rows %q, the API reads %q", got, r.Relationships)
	}

	// Export: the downloaded file is the API's export of the same filter.
	dir := t.TempDir()
	progress := chromedp.Events(tb.ctx, browser.DownloadProgress)
	tb.do(chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
			Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dir, EventsEnabled: new(true)})
		return err
	}), chromedp.Click(chromedp.CSS("#rel-export"), chromedp.NodeVisible))
	file := waitDownload(t, progress, dir)
	exp, err := e.api.Export(t.Context(), &f, fresh)
	if err != nil {
		t.Fatal(err)
	}
	var exported []string
	for _, line := range bytes.Split(bytes.TrimSpace(file), []byte("\n")) {
		exported = append(exported, string(line))
	}
	var apiLines []string
	for rel, err := range exp.All() {
		if err != nil {
			t.Fatal(err)
		}
		apiLines = append(apiLines, `{"relationship":`+js(rel)+`}`)
	}
	if !slices.Equal(exported, apiLines) {
		t.Errorf("the downloaded export:\n%s\nthe API's:\n%s", strings.Join(exported, "\n"), strings.Join(apiLines, "\n"))
	}

	// Delete one row, with a reason.
	const rel, reason = "dataset:claims#reader@user:quinn", "JIRA-9 quinn left"
	tb.fill(map[string]string{"#rel-reason": reason})
	eval[bool](tb, `document.getElementById("write-out").replaceChildren(), true`)
	tb.submit(`#rel-rows button[aria-label="Delete `+rel+`"]`, "#rel-rows") // the write, then the list read again
	token := eval[string](tb, `document.getElementById("write-token").textContent`)
	after := e.apiCheck(t, "dataset:claims", "read", "user:quinn", "", &wire.Consistency{Mode: wire.AtLeastAsFresh, Token: token})
	if after.Result != "denied" {
		t.Errorf("after the delete at %s: quinn reads claims: %s, want denied", token, after.Result)
	}
	if eval[bool](tb, `Array.from(document.querySelectorAll("#rel-rows tr")).some(tr => tr.cells[0].textContent === `+js(rel)+`)`) {
		t.Errorf("the deleted relationship is still listed")
	}
	if got := eval[string](tb, `document.getElementById("rel-fresh").value`); got != token {
		t.Errorf("after the delete the list reads at least as fresh as %q, want the delete's %q", got, token)
	}
	entries, err := e.api.AuditEntries(t.Context(), client.AuditEntriesRequest{Kind: "write", Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(entries.Entries, func(a wire.AuditEntry) bool { return a.Reason == reason && a.Principal == "writer-1" }) {
		t.Errorf("no audit entry by the writer with the reason %q", reason)
	}
	tb.noErrors("relationships")
}

// waitDownload waits for the browser to finish a download into dir and
// returns the file.
func waitDownload(t *testing.T, progress iter.Seq2[browser.EventDownloadProgress, error], dir string) []byte {
	t.Helper()
	done := make(chan string, 1)
	go func() {
		for ev, err := range progress {
			if err != nil {
				done <- ""
				return
			}
			if ev.State == browser.DownloadProgressStateCompleted {
				done <- ev.GUID
				return
			}
		}
	}()
	select {
	case guid := <-done:
		if guid == "" {
			t.Fatal("the download did not complete")
		}
		b, err := os.ReadFile(filepath.Join(dir, guid))
		if err != nil {
			t.Fatal(err)
		}
		return b
	case <-time.After(30 * time.Second):
		t.Fatal("no download within 30 s")
	}
	return nil
}

// testAuditEntriesFilter: the audit page lists the entries the API lists
// for the same filter.
func testAuditEntriesFilter(t *testing.T, e *env) {
	if _, err := e.api.WriteRelationships(t.Context(), wire.WriteRelationshipsRequest{
		Updates: []wire.Update{{Op: "touch", Relationship: "dataset:claims#steward@user:ines"}}, Reason: "audit filter test"}); err != nil {
		t.Fatal(err)
	}
	want, err := e.api.AuditEntries(t.Context(), client.AuditEntriesRequest{Kind: "write", Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	tb := e.open(t, e.url, e.toks.Admin)
	tb.page("audit")
	tb.fill(map[string]string{"#audit-filter [name=kind]": "write"})
	tb.submit(`#audit-filter button[type=submit]`, "#audit-rows")
	got := eval[[]string](tb, `Array.from(document.querySelectorAll("#audit-rows tr")).map(tr => tr.cells[0].textContent + " " + tr.cells[3].textContent + " " + tr.cells[5].textContent)`)
	var w []string
	for _, a := range want.Entries {
		w = append(w, js(a.Seq)+" "+a.Kind+" "+a.Reason)
	}
	if !slices.Equal(got, w) || len(w) == 0 {
		t.Errorf("audit rows for kind write: %q, the API's %q", got, w)
	}
	tb.noErrors("audit entries")
}
