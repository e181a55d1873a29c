//go:build browser

package console_test

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/trellis-authz/trellis/client"
	"github.com/trellis-authz/trellis/test/testnode"
	"github.com/trellis-authz/trellis/wire"
)

// testLiveDecisions: the live page lists the node's latest decision records
// as the API has them, then shows each check made during the test as it is
// answered, with its question, answer, token and caller; Stop and Start
// resume with no gap.
func testLiveDecisions(t *testing.T, e *env) {
	tb := e.open(t, e.url, e.toks.Admin)
	tb.page("live")
	tb.do(chromedp.WaitReady(chromedp.CSS(`#decision-records[data-connected="true"]`)))
	recent, err := e.api.Decisions(t.Context(), 50)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, r := range slices.Backward(recent.Records) {
		want = append(want, strconv.FormatUint(r.Index, 10))
	}
	if got := eval[[]string](tb, `Array.from(document.querySelectorAll("#decision-rows tr")).map(tr => tr.dataset.index)`); !slices.Equal(got, want) || len(want) == 0 {
		t.Errorf("the page lists records %v, the API's latest (newest first) are %v", got, want)
	}

	reader := client.New(e.url, client.WithToken(e.toks.Reader), client.WithTimeout(10*time.Second))
	full := &wire.Consistency{Mode: wire.FullyConsistent}
	checks := []wire.CheckRequest{
		{Resource: "dataset:claims", Permission: "read", Subject: "user:raj", Consistency: full},
		{Resource: "dataset:claims", Permission: "read", Subject: "user:ben", Consistency: full},
		{Resource: "dataset:claims", Permission: "read", Subject: "user:dan", Consistency: full},
		{Resource: "model:fraud_ft", Permission: "deploy", Subject: "user:ana", Consistency: full},
	}
	// expectRow waits for the row of record index and compares it with the
	// check that made it.
	expectRow := func(index uint64, c wire.CheckRequest, a *wire.CheckResponse) {
		t.Helper()
		sel := fmt.Sprintf(`#decision-rows tr[data-index="%d"]`, index)
		tb.do(chromedp.WaitReady(chromedp.CSS(sel)))
		cells := eval[[]string](tb, `Array.from(document.querySelector(`+js(sel)+`).cells).map(td => td.textContent)`)
		wantCells := []string{strconv.FormatUint(index, 10), "", "reader-1", c.Resource, c.Permission, c.Subject, a.Result, a.CheckedAt}
		if len(cells) != len(wantCells) {
			t.Fatalf("record %d: row %q", index, cells)
		}
		cells[1] = "" // the node's clock
		if !slices.Equal(cells, wantCells) {
			t.Errorf("record %d: the page shows %q, the check was %q", index, cells, wantCells)
		}
	}
	check := func(c wire.CheckRequest) *wire.CheckResponse {
		t.Helper()
		a, err := reader.Check(t.Context(), c)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	next := recent.Next // only this test checks from here on
	for i, c := range checks[:3] {
		expectRow(next+uint64(i), c, check(c))
	}
	if top := eval[string](tb, `document.querySelector("#decision-rows tr").dataset.index`); top != strconv.FormatUint(next+2, 10) {
		t.Errorf("the newest record shown first is %s, want %d", top, next+2)
	}
	tb.screenshot("live-decisions", "section:has(#decision-log)")

	// Stopped, the page misses nothing: Start resumes after the last record shown.
	tb.do(chromedp.Click(chromedp.CSS("#decisions-stop"), chromedp.NodeVisible),
		chromedp.WaitReady(chromedp.CSS(`#decision-records[data-connected="false"]`)))
	a := check(checks[3])
	if eval[int](tb, `document.querySelectorAll("#decision-rows tr[data-index='`+strconv.FormatUint(next+3, 10)+`']").length`) != 0 {
		t.Errorf("a record arrived while the stream was stopped")
	}
	tb.do(chromedp.Click(chromedp.CSS("#decisions-start"), chromedp.NodeVisible))
	expectRow(next+3, checks[3], a)
	if n := eval[int](tb, `document.querySelectorAll("#decision-rows tr").length`); n != len(want)+4 {
		t.Errorf("%d rows after 4 checks, want %d (none twice)", n, len(want)+4)
	}
	tb.noErrors("live decisions")
}

// testSchemaSourceFormatted: on a node whose stored schema is not in the
// canonical layout, the schema page shows the source exactly as the API's
// formatter (POST /v1/schema/format) returns it, and says the stored text
// differs; the diff view formats a proposal in place and lists a syntax
// error's line and column as the API reports them.
func testSchemaSourceFormatted(t *testing.T, e *env) {
	stored, err := e.api.Schema(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	messy := strings.ReplaceAll(stored.Schema, "\t", "   ") // the example, indented with spaces
	cfg := testnode.Config(t, messy)
	toks := testnode.WithTokens(t, &cfg)
	n := testnode.Open(t, cfg)
	api := client.New(n.URL(), client.WithToken(toks.Reader), client.WithTimeout(10*time.Second))
	if s, err := api.Schema(t.Context(), nil); err != nil || s.Schema != messy {
		t.Fatalf("the node stores %v, %v; want the respaced example", s, err)
	}
	f, err := api.FormatSchema(t.Context(), wire.FormatSchemaRequest{Schema: messy})
	if err != nil || !f.Changed {
		t.Fatalf("the API formats the respaced example: %+v, %v; want it changed", f, err)
	}
	tb := e.open(t, n.URL(), toks.Reader)
	if src := eval[string](tb, `document.getElementById("schema-source").textContent`); src != f.Formatted {
		t.Errorf("the source shown (%d bytes) is not the API's formatted schema (%d bytes; stored %d)", len(src), len(f.Formatted), len(messy))
	}
	if note := eval[string](tb, `document.getElementById("schema-source-note").textContent`); !strings.Contains(note, "differs only in layout") {
		t.Errorf("the note says %q; want that the stored text differs in layout", note)
	}
	// The formatted text, compared with the stored one, changes nothing.
	tb.submit("#diff-submit", "#diff-result")
	if msg := eval[string](tb, `document.querySelector("#diff-form + p").textContent`); msg != "No changes." {
		t.Errorf("diffing the formatted source against the stored one: %q, want No changes.", msg)
	}

	// Format a proposal in place.
	proposal := "definition user {}\ndefinition doc {  relation owner: user;\n  permission view = owner }\n"
	pf, err := api.FormatSchema(t.Context(), wire.FormatSchemaRequest{Schema: proposal})
	if err != nil {
		t.Fatal(err)
	}
	tb.fill(map[string]string{"#diff-form textarea[name=proposal]": proposal})
	tb.submit("#diff-format", "#diff-result")
	if got := eval[string](tb, `document.querySelector("#diff-form textarea[name=proposal]").value`); got != pf.Formatted {
		t.Errorf("the proposal after Format:\n%s\nthe API formats it as:\n%s", got, pf.Formatted)
	}
	// A syntax error: the page lists what the API reports, line and column.
	bad := "definition user {}\n\ndefinition doc {\n\trelation owner user\n}\n"
	_, err = api.FormatSchema(t.Context(), wire.FormatSchemaRequest{Schema: bad})
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Code != "invalid_schema" {
		t.Fatalf("the API formats a syntax error: %v, want 400 invalid_schema", err)
	}
	var wantErrs []string
	list, _ := ce.Details["errors"].([]any)
	for _, x := range list {
		m := x.(map[string]any)
		wantErrs = append(wantErrs, fmt.Sprintf("line %v, column %v: %v", m["line"], m["column"], m["message"]))
	}
	tb.fill(map[string]string{"#diff-form textarea[name=proposal]": bad})
	tb.submit("#diff-format", "#diff-result")
	got := eval[[]string](tb, `Array.from(document.querySelectorAll("#schema-errors li")).map(li => li.textContent)`)
	if len(wantErrs) == 0 || !slices.Equal(got, wantErrs) || !strings.HasPrefix(wantErrs[0], "line 4, column ") {
		t.Errorf("syntax errors shown %q, the API's %q (want line 4 first)", got, wantErrs)
	}
	if v := eval[string](tb, `document.querySelector("#diff-form textarea[name=proposal]").value`); v != bad {
		t.Errorf("a proposal that does not parse was changed to %q", v)
	}
	// The browser logs the refused format (400) as a failed load: that one
	// is expected, nothing else.
	expected := 0
	for _, msg := range tb.errors() {
		if strings.Contains(msg, "status of 400") && strings.Contains(msg, "/v1/schema/format") {
			expected++
			continue
		}
		t.Errorf("schema source formatted: console error: %s", msg)
	}
	if expected != 1 {
		t.Errorf("%d failed loads of /v1/schema/format logged, want the one refused", expected)
	}
}
