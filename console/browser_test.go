//go:build browser

package console_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/trellis-authz/trellis/audit"
	"github.com/trellis-authz/trellis/server"
	"github.com/trellis-authz/trellis/wire"
)

// The README's AI-governance checks (section "Try it with curl" and "The
// worked example"). The expected answers are not written here: each is
// asked of the API and the playground must show the same.
var readmeChecks = []struct{ resource, permission, subject, context string }{
	{"dataset:claims", "read", "user:raj", ""},
	{"dataset:claims", "read", "user:ben", ""},
	{"dataset:claims", "read", "user:dan", ""},
	{"dataset:claims", "read", "user:dan", `{"purpose":"fraud-model"}`},
	{"dataset:claims", "read", "user:dan", `{"purpose":"marketing"}`},
	{"model:fraud_ft", "run", "user:gus", ""},
	{"model:fraud_ft", "deploy", "user:ana", ""},
	{"model:fraud_ft", "deploy", "user:lee", ""},
	{"project:fraud", "build", "user:kim", ""},
	{"project:fraud", "build", "user:carl", ""},
	{"field:claims_ssn", "read_raw", "user:ana", `{"client_ip":"10.1.2.3"}`},
	{"field:claims_ssn", "read_raw", "user:ana", `{"client_ip":"8.8.8.8"}`},
}

var pages = []string{"schema", "playground", "relationships", "audit", "live", "cluster"}

// TestConsole drives the console in headless Chromium against a real node
// loaded with examples/ai-governance. The subtests share the node and the
// browser and run in order.
func TestConsole(t *testing.T) {
	e := newEnv(t)
	full := &wire.Consistency{Mode: wire.FullyConsistent}

	t.Run("PagesLoadWithoutErrors", func(t *testing.T) {
		tb := e.open(t, e.url, e.toks.Admin)
		for _, p := range pages {
			tb.page(p)
			if h1 := eval[string](tb, `document.querySelector("main h1").textContent`); !strings.EqualFold(h1, p) {
				t.Errorf("page %s: heading %q", p, h1)
			}
			if msg := eval[string](tb, `Array.from(document.querySelectorAll("main .error")).map(e => e.textContent).join("; ")`); msg != "" {
				t.Errorf("page %s shows an error: %s", p, msg)
			}
			tb.noErrors("page " + p)
		}
		// The schema graph has a box per definition and caveat and both kinds of arrows.
		tb.page("schema")
		boxes := eval[int](tb, `document.querySelectorAll("#schema-graph g.box").length`)
		ttu := eval[int](tb, `document.querySelectorAll("#schema-graph path.edge.ttu").length`)
		subj := eval[int](tb, `document.querySelectorAll("#schema-graph path.edge.subject").length`)
		if boxes != 12 || ttu == 0 || subj == 0 {
			t.Errorf("schema graph: %d boxes (want 9 definitions + 3 caveats), %d tuple-to-userset and %d subject arrows", boxes, ttu, subj)
		}
		if !eval[bool](tb, `!!document.querySelector('#schema-graph path.edge.ttu title') && Array.from(document.querySelectorAll('#schema-graph path.edge.ttu title')).some(t => t.textContent === "dataset#project->admin: project#admin")`) {
			t.Errorf("no tuple-to-userset arrow from dataset#project through to project#admin")
		}
		// "Fit to width" scales the whole graph into view, and back.
		wide := eval[float64](tb, `document.querySelector("#schema-graph svg").getBoundingClientRect().width`)
		tb.do(chromedp.Click(chromedp.CSS("#graph-fit"), chromedp.NodeVisible))
		fitted := eval[float64](tb, `document.querySelector("#schema-graph svg").getBoundingClientRect().width`)
		box := eval[float64](tb, `document.getElementById("schema-graph").clientWidth`)
		if fitted > box+1 || eval[string](tb, `document.getElementById("graph-fit").getAttribute("aria-pressed")`) != "true" {
			t.Errorf("fit to width: the graph is %.0f px wide (%.0f before) in a %.0f px box", fitted, wide, box)
		}
		tb.screenshot("schema", "main .split")
		tb.do(chromedp.Click(chromedp.CSS("#graph-fit"), chromedp.NodeVisible))
		if w := eval[float64](tb, `document.querySelector("#schema-graph svg").getBoundingClientRect().width`); w != wide {
			t.Errorf("actual size again: %.0f px, want %.0f", w, wide)
		}
	})

	t.Run("PlaygroundMatchesAPI", func(t *testing.T) {
		tb := e.open(t, e.url, e.toks.Reader)
		tb.page("playground")
		tb.fill(map[string]string{"#pg-mode": "fully_consistent"})
		seen := map[string]bool{}
		for _, c := range readmeChecks {
			api := e.apiCheck(t, c.resource, c.permission, c.subject, c.context, full)
			want := api.Result
			got, _ := tb.check(c.resource, c.permission, c.subject, c.context)
			seen[want] = true
			name := strings.TrimSpace(strings.Join([]string{c.resource, c.permission, c.subject, c.context}, " "))
			if got != want {
				t.Errorf("check %s: the playground shows %q, the API answers %q", name, got, want)
			}
			if m := eval[string](tb, `(document.getElementById("check-missing") || {}).textContent || ""`); m != strings.Join(api.MissingContext, ", ") {
				t.Errorf("check %s: the playground shows missing context %q, the API %q", name, m, api.MissingContext)
			}
			// Caveated and expiring steps are marked in the tree as the API's trace has them.
			marks := eval[map[string]bool](tb, `({caveat: !!document.querySelector("#explain-tree .badge.caveat"), expiring: !!document.querySelector("#explain-tree .badge.expiring")})`)
			seen["caveat mark"] = seen["caveat mark"] || marks["caveat"]
			seen["expiring mark"] = seen["expiring mark"] || marks["expiring"]
			if w := traceHas(api.Trace, func(n *wire.Trace) bool { return n.Kind == "caveat" }); marks["caveat"] != w {
				t.Errorf("check %s: caveat marked %v, the API's trace has a caveat node: %v", name, marks["caveat"], w)
			}
			if w := traceHas(api.Trace, func(n *wire.Trace) bool {
				return slices.ContainsFunc(n.Relationships, func(r string) bool { return strings.Contains(r, "[expiration:") })
			}); marks["expiring"] != w {
				t.Errorf("check %s: expiring marked %v, the API's trace has an expiring relationship: %v", name, marks["expiring"], w)
			}
		}
		if !seen["allowed"] || !seen["denied"] || !seen["conditional"] || !seen["caveat mark"] || !seen["expiring mark"] {
			t.Errorf("the README's examples should cover allowed, denied and conditional, a caveated and an expiring step; saw %v", seen)
		}
		tb.noErrors("playground")
	})

	t.Run("ExplainShowsNestedTeam", func(t *testing.T) {
		tb := e.open(t, e.url, e.toks.Reader)
		tb.page("playground")
		if r := e.apiCheck(t, "dataset:claims", "read", "user:raj", "", full); r.Result != "allowed" {
			t.Fatalf("API: raj read claims: %s, want allowed", r.Result)
		}
		got, _ := tb.check("dataset:claims", "read", "user:raj", "")
		if got != "allowed" {
			t.Fatalf("playground: %s", got)
		}
		// The labels of the highlighted nodes, in document order (a node's own
		// label: its summary, or the leaf), must go down through both teams.
		path := eval[[]string](tb, `Array.from(document.querySelectorAll("#explain-tree li.decides")).map(li =>
			(li.querySelector(":scope > details > summary") || li.firstElementChild).textContent)`)
		joined := strings.Join(path, "\n")
		rest := joined
		for _, want := range []string{"dataset:claims#read ", "dataset:claims#reader", "team:ml#member", "team:research#member", "user:raj"} {
			i := strings.Index(rest, want)
			if i < 0 {
				t.Errorf("the highlighted path lacks %q (or has it out of order):\n%s", want, joined)
				continue
			}
			rest = rest[i+len(want):]
		}
		if strings.Contains(joined, "dataset:claims#denied") {
			t.Errorf("the highlighted path includes the exclusion's subtracted branch, which did not decide:\n%s", joined)
		}
		if n := eval[int](tb, `document.querySelectorAll("#explain-tree li:not(.decides)").length`); n == 0 {
			t.Errorf("every node is highlighted: the highlight does not pick the deciding branch")
		}
		// The tree collapses: closing the root hides its children.
		tb.do(chromedp.Click(chromedp.CSS("#explain-tree > li > details > summary"), chromedp.NodeVisible))
		if eval[bool](tb, `document.querySelector("#explain-tree > li > details").open`) {
			t.Errorf("clicking the root's summary did not collapse it")
		}
		tb.do(chromedp.Click(chromedp.CSS("#explain-tree > li > details > summary"), chromedp.NodeVisible))
		tb.screenshot("playground", "#check-form")
		tb.noErrors("explain")
	})

	t.Run("WriteShowsInPlaygroundWithToken", func(t *testing.T) {
		before := e.apiCheck(t, "dataset:claims", "read", "user:zoe", "", full)
		if before.Result != "denied" {
			t.Fatalf("zoe before the write: %s, want denied", before.Result)
		}
		tb := e.open(t, e.url, e.toks.Writer)
		tb.page("relationships")
		tb.fill(map[string]string{"#rel-new": "dataset:claims#reader@user:zoe", "#rel-reason": "JIRA-7 zoe joins the fraud team"})
		tb.do(chromedp.Click(chromedp.CSS("#rel-write-submit"), chromedp.NodeVisible), chromedp.WaitReady(chromedp.CSS("#write-token")))
		token := eval[string](tb, `document.getElementById("write-token").textContent`)
		if !strings.HasPrefix(token, "t1.") {
			t.Fatalf("write token %q", token)
		}
		tb.screenshot("relationships", "")
		tb.do(chromedp.Evaluate[chromedp.Void](`document.getElementById("main").dataset.ready = "false"`),
			chromedp.Click(chromedp.CSS("#write-out a.use-token"), chromedp.NodeVisible),
			chromedp.WaitReady(chromedp.CSS(`main[data-page="playground"][data-ready="true"]`)))
		if got := eval[string](tb, `document.getElementById("pg-token").value`); got != token {
			t.Errorf("playground token: %q, want the write's %q", got, token)
		}
		if got := eval[string](tb, `document.getElementById("pg-mode").value`); got != "at_least_as_fresh" {
			t.Errorf("playground consistency: %q, want at_least_as_fresh", got)
		}
		res := eval[string](tb, `document.querySelector("#check-form [name=resource]").value + " " + document.querySelector("#check-form [name=subject]").value`)
		if res != "dataset:claims user:zoe" {
			t.Errorf("the link prefilled %q, want dataset:claims user:zoe", res)
		}
		got, checkedAt := tb.check("dataset:claims", "read", "user:zoe", "")
		want := e.apiCheck(t, "dataset:claims", "read", "user:zoe", "", &wire.Consistency{Mode: wire.AtLeastAsFresh, Token: token})
		if got != want.Result || got != "allowed" {
			t.Errorf("after the write: playground %q, API %q; want allowed", got, want.Result)
		}
		if checkedAt == "" {
			t.Errorf("no checked_at shown")
		}
		tb.noErrors("write")
	})

	t.Run("LiveShowsChanges", func(t *testing.T) {
		tb := e.open(t, e.url, e.toks.Reader)
		tb.page("live")
		tb.do(chromedp.WaitReady(chromedp.CSS(`#watch-events[data-connected="true"]`)))
		w, err := e.api.WriteRelationships(t.Context(), wire.WriteRelationshipsRequest{
			Updates: []wire.Update{{Op: "touch", Relationship: "dataset:claims#reader@user:yara"}}, Reason: "live page test"})
		if err != nil {
			t.Fatal(err)
		}
		tb.do(chromedp.WaitReady(chromedp.CSS(`#watch-events li[data-token="` + w.WrittenAt + `"]`)))
		if txt := eval[string](tb, `document.querySelector('#watch-events li[data-token="`+w.WrittenAt+`"]').textContent`); !strings.Contains(txt, "dataset:claims#reader@user:yara") {
			t.Errorf("live event: %q", txt)
		}
		tb.screenshot("live", "")
		tb.page("cluster")
		if leader := eval[string](tb, `document.getElementById("cluster-leader").textContent`); leader != e.node.Config().NodeID {
			t.Errorf("cluster page leader %q, want %q", leader, e.node.Config().NodeID)
		}
		tb.screenshot("cluster", "")
		tb.noErrors("live and cluster")
	})

	t.Run("LiveShowsDecisions", func(t *testing.T) { testLiveDecisions(t, e) })
	t.Run("SchemaSourceFormatted", func(t *testing.T) { testSchemaSourceFormatted(t, e) })
	t.Run("SchemaDiffMarksBreaking", func(t *testing.T) { testSchemaDiff(t, e) })
	t.Run("LookupsPageAndExpand", func(t *testing.T) { testLookupsAndExpand(t, e) })
	t.Run("RelationshipsFilterExportDelete", func(t *testing.T) { testRelationshipsFilterExportDelete(t, e) })
	t.Run("AuditEntriesFilter", func(t *testing.T) { testAuditEntriesFilter(t, e) })

	pub, err := server.AuditPublicKey(e.node.Config().DataDir, e.node.Config().ClusterID, e.node.Config().NodeID)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("AuditVerifiesCleanLog", func(t *testing.T) {
		tb := e.open(t, e.url, e.toks.Admin)
		tb.page("audit")
		tb.fill(map[string]string{"#verify-key": pub})
		tb.do(chromedp.Click(chromedp.CSS("#verify-run"), chromedp.NodeVisible), chromedp.WaitReady(chromedp.CSS("#verify-summary")))
		if ok := eval[string](tb, `document.getElementById("verify-out").dataset.ok`); ok != "true" {
			t.Errorf("clean log: %s", eval[string](tb, `document.getElementById("verify-out").textContent`))
		}
		n := eval[int](tb, `document.querySelectorAll('#verify-entries tr[data-ok="true"]').length`)
		size := eval[int](tb, `Number(document.querySelectorAll("#checkpoint dd")[1].textContent)`)
		if n == 0 || n != size {
			t.Errorf("%d entries verified, checkpoint size %d", n, size)
		}
		tb.screenshot("audit", "#verify-summary")
		// A key that is not the node's fails the signature.
		tb.fill(map[string]string{"#verify-key": strings.Fields(pub)[0] + " 11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="})
		tb.do(chromedp.Click(chromedp.CSS("#verify-run"), chromedp.NodeVisible), chromedp.WaitReady(chromedp.CSS("#verify-summary")))
		if ok := eval[string](tb, `document.getElementById("verify-out").dataset.ok`); ok != "false" {
			t.Errorf("a wrong pinned key verified")
		}
		tb.noErrors("audit clean")
	})

	t.Run("AuditFlagsTamperedEntry", func(t *testing.T) {
		// A proxy in front of the node that edits entry 1 of every export in transit.
		target, _ := url.Parse(e.url)
		proxy := httputil.NewSingleHostReverseProxy(target)
		proxy.ModifyResponse = func(r *http.Response) error {
			if r.Request.URL.Path != "/v1/audit/export" {
				return nil
			}
			b, err := io.ReadAll(r.Body)
			if err != nil {
				return err
			}
			b = tamper(t, b, 1, false)
			r.Body = io.NopCloser(bytes.NewReader(b))
			r.ContentLength = int64(len(b))
			r.Header.Set("Content-Length", strconv.Itoa(len(b)))
			return nil
		}
		mitm := httptest.NewServer(proxy)
		defer mitm.Close()
		tb := e.open(t, mitm.URL, e.toks.Admin)
		tb.page("audit")
		tb.fill(map[string]string{"#verify-key": pub})
		tb.do(chromedp.Click(chromedp.CSS("#verify-run"), chromedp.NodeVisible), chromedp.WaitReady(chromedp.CSS("#verify-summary")))
		checkTampered(t, tb)
		tb.screenshot("audit-tampered", "#verify-summary")

		// The same edit in a saved file ("on disk"), verified from the file input.
		body, _, err := e.api.AuditExport(t.Context(), 0)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := io.ReadAll(body)
		body.Close()
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(t.TempDir(), "audit.ndjson")
		if err := os.WriteFile(file, tamper(t, resp, 1, false), 0o600); err != nil {
			t.Fatal(err)
		}
		eval[bool](tb, `document.getElementById("verify-out").replaceChildren(), true`)
		tb.do(chromedp.SetUploadFiles(chromedp.CSS("#verify-file"), []string{file}), chromedp.WaitReady(chromedp.CSS("#verify-summary")))
		checkTampered(t, tb)

		// A forger who also recomputes the edited entry's leaf_hash (with
		// package audit's encoding, so this also checks the browser's against
		// Go's): every entry hashes to its own leaf_hash, the root does not.
		forged := filepath.Join(t.TempDir(), "forged.ndjson")
		if err := os.WriteFile(forged, tamper(t, resp, 1, true), 0o600); err != nil {
			t.Fatal(err)
		}
		eval[bool](tb, `document.getElementById("verify-out").replaceChildren(), true`)
		tb.do(chromedp.SetUploadFiles(chromedp.CSS("#verify-file"), []string{forged}), chromedp.WaitReady(chromedp.CSS("#verify-summary")))
		if ok := eval[string](tb, `document.getElementById("verify-out").dataset.ok`); ok != "false" {
			t.Errorf("a forged export with a recomputed leaf hash verified")
		}
		if bad := eval[int](tb, `document.querySelectorAll('#verify-entries tr[data-ok="false"]').length`); bad != 0 {
			t.Errorf("%d entries flagged: the browser's leaf hash differs from package audit's for the forged entry", bad)
		}
		if root := eval[string](tb, `document.getElementById("verify-root").className`); root != "error" {
			t.Errorf("the Merkle root check passed on a forged export")
		}
		tb.noErrors("audit tampered")
	})

	t.Run("ReaderSeesNoWriteControls", func(t *testing.T) {
		// The controls that need more than a reader, by page; every page is
		// searched for all of them.
		const writes = "#rel-write, #rel-delete, #rel-rows button.danger"
		const admins = "#verify-run, #audit-filter, #decisions-start"
		for _, c := range []struct {
			role, token  string
			write, admin bool
		}{{"reader", e.toks.Reader, false, false}, {"writer", e.toks.Writer, true, false}, {"admin", e.toks.Admin, true, true}} {
			tb := e.open(t, e.url, c.token)
			if who := eval[string](tb, `document.getElementById("who").textContent`); !strings.Contains(who, "("+c.role+")") {
				t.Errorf("%s: the header shows %q", c.role, who)
			}
			for _, p := range pages {
				tb.page(p)
				w := eval[int](tb, `document.querySelectorAll(`+js(writes)+`).length`)
				a := eval[int](tb, `document.querySelectorAll(`+js(admins)+`).length`)
				wantW := c.write && p == "relationships"
				wantA := c.admin && (p == "audit" || p == "live")
				if (w > 0) != wantW || (a > 0) != wantA {
					t.Errorf("%s on %s: %d write and %d admin controls, want write %v, admin %v", c.role, p, w, a, wantW, wantA)
				}
			}
			tb.page("relationships")
			if ro := eval[bool](tb, `!!document.getElementById("read-only")`); ro == c.write {
				t.Errorf("%s: the read-only notice shown: %v", c.role, ro)
			}
			tb.noErrors("roles " + c.role)
		}
	})

	t.Run("KeyboardAndLabels", func(t *testing.T) {
		// The sign-in form first: a labelled input reached with Tab.
		login := e.tab(t)
		login.do(chromedp.Navigate(e.url+"/console/"), chromedp.WaitVisible(chromedp.CSS("#login-token")))
		if !eval[bool](login, `document.getElementById("login-token").labels.length === 1`) {
			t.Errorf("the token input has no label")
		}
		if reached, all := login.tabThrough(); len(reached) != len(all) || len(all) < 2 {
			t.Errorf("sign-in: Tab reached %d of %d controls", len(reached), len(all))
		}
		tb := e.open(t, e.url, e.toks.Admin)
		for _, p := range pages {
			tb.page(p)
			if p == "playground" {
				tb.check("dataset:claims", "read", "user:raj", "") // the explain tree's summaries are controls too
			}
			unlabelled := eval[[]string](tb, `Array.from(document.querySelectorAll("input, select, textarea"))
				.filter(el => el.type !== "hidden" && !el.closest("[hidden]") && el.labels.length === 0 && !el.getAttribute("aria-label") && !el.getAttribute("aria-labelledby"))
				.map(el => el.outerHTML.slice(0, 120))`)
			if len(unlabelled) > 0 {
				t.Errorf("page %s: inputs without a label: %v", p, unlabelled)
			}
			reached, all := tb.tabThrough()
			if len(all) < 3 {
				t.Errorf("page %s: only %d controls found", p, len(all))
			}
			var missed []string
			for _, id := range all {
				if !reached[id] {
					missed = append(missed, eval[string](tb, `document.querySelector('[data-tab-i="`+id+`"]').outerHTML.slice(0, 100)`))
				}
			}
			if len(missed) > 0 {
				t.Errorf("page %s: Tab never reached %d of %d controls: %v", p, len(missed), len(all), missed)
			}
		}
		tb.noErrors("keyboard")
	})
}

// tamper edits the reason of entry seq in an NDJSON audit export, as an
// attacker between the node and the browser might: keeping its leaf_hash, or
// (rehash) replacing it with the edited entry's own (package audit's).
func tamper(t *testing.T, export []byte, seq int, rehash bool) []byte {
	t.Helper()
	lines := bytes.Split(bytes.TrimRight(export, "\n"), []byte("\n"))
	if len(lines) <= seq {
		t.Fatalf("export has %d entries, cannot tamper with %d", len(lines), seq)
	}
	var m map[string]any
	if err := json.Unmarshal(lines[seq], &m); err != nil {
		t.Fatal(err)
	}
	m["reason"] = "nothing to see here"
	b, _ := json.Marshal(m)
	if rehash {
		var ent audit.Entry
		if err := json.Unmarshal(b, &ent); err != nil {
			t.Fatal(err)
		}
		lh, err := ent.LeafHash()
		if err != nil {
			t.Fatal(err)
		}
		m["leaf_hash"] = hex.EncodeToString(lh)
		b, _ = json.Marshal(m)
	}
	lines[seq] = b
	return append(bytes.Join(lines, []byte("\n")), '\n')
}

func checkTampered(t *testing.T, tb *tab) {
	t.Helper()
	if ok := eval[string](tb, `document.getElementById("verify-out").dataset.ok`); ok != "false" {
		t.Errorf("a tampered export verified: %s", eval[string](tb, `document.getElementById("verify-out").textContent`))
	}
	bad := eval[[]string](tb, `Array.from(document.querySelectorAll('#verify-entries tr[data-ok="false"]')).map(r => r.dataset.seq + ": " + r.lastElementChild.textContent)`)
	if len(bad) != 1 || !strings.HasPrefix(bad[0], "1: ") || !strings.Contains(bad[0], "leaf hash mismatch") {
		t.Errorf("flagged entries %v, want entry 1 alone with a leaf hash mismatch", bad)
	}
	if root := eval[string](tb, `document.getElementById("verify-root").className`); root != "error" {
		t.Errorf("the Merkle root check passed on a tampered export")
	}
}

// traceHas reports whether a node of the trace satisfies f.
func traceHas(n *wire.Trace, f func(*wire.Trace) bool) bool {
	if n == nil {
		return false
	}
	if f(n) {
		return true
	}
	return slices.ContainsFunc(n.Children, func(c *wire.Trace) bool { return traceHas(c, f) })
}
