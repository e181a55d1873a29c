//go:build browser

package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/trellis-authz/trellis/client"
	"github.com/trellis-authz/trellis/server"
	"github.com/trellis-authz/trellis/test/testnode"
	"github.com/trellis-authz/trellis/wire"
)

// browserPath finds Chromium or Chrome: $TRELLIS_BROWSER, then the usual
// names on PATH. "" when there is none.
func browserPath() string {
	if p := os.Getenv("TRELLIS_BROWSER"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// env is one real node loaded with examples/ai-governance, tokens of the
// three roles, and a headless browser.
type env struct {
	node    *server.Node
	url     string
	toks    testnode.Tokens
	api     *client.Client // admin
	browser context.Context
}

func newEnv(t *testing.T) *env {
	t.Helper()
	path := browserPath()
	if path == "" {
		t.Skip("no Chromium or Chrome on PATH (apt-get install chromium, or set TRELLIS_BROWSER): skipping the browser tests")
	}
	schema, err := os.ReadFile("../examples/ai-governance/schema.zed")
	if err != nil {
		t.Fatal(err)
	}
	cfg := testnode.Config(t, string(schema))
	cfg.RelationshipsFile = filepath.Join("..", "examples", "ai-governance", "relationships.txt")
	cfg.Decisions.File = filepath.Join(t.TempDir(), "decisions.ndjson") // the live page shows its records
	toks := testnode.WithTokens(t, &cfg)
	n := testnode.Open(t, cfg)
	e := &env{node: n, url: n.URL(), toks: toks, api: client.New(n.URL(), client.WithToken(toks.Admin), client.WithTimeout(10*time.Second))}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true), chromedp.WindowSize(1280, 800))
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	browser, cancel := chromedp.NewContext(alloc)
	t.Cleanup(cancel)
	if err := chromedp.Do(browser); err != nil { // start the browser
		t.Fatalf("starting %s: %v", path, err)
	}
	e.browser = browser
	return e
}

// tab is one browser tab signed in to the console (its own sessionStorage),
// recording every console message.
type tab struct {
	t    *testing.T
	ctx  context.Context
	mu   sync.Mutex
	msgs []chromedp.ConsoleMessage
}

// open opens a tab on base's console and signs in with token.
func (e *env) open(t *testing.T, base, token string) *tab {
	t.Helper()
	tb := e.tab(t)
	tb.do(chromedp.Navigate(base+"/console/#/schema"),
		chromedp.WaitVisible(chromedp.CSS("#login-token")),
		chromedp.SendKeys(chromedp.CSS("#login-token"), token),
		chromedp.Click(chromedp.CSS("#login-form button[type=submit]"), chromedp.NodeVisible),
		chromedp.WaitReady(chromedp.CSS(`main[data-page="schema"][data-ready="true"]`)))
	return tb
}

// tab opens a blank tab that records its console messages.
func (e *env) tab(t *testing.T) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(e.browser)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatal(err)
	}
	tb := &tab{t: t, ctx: ctx}
	tb.do(chromedp.EmulateViewport(1280, 800)) // the screenshots' size
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			tb.mu.Lock()
			tb.msgs = append(tb.msgs, m)
			tb.mu.Unlock()
		}
	}()
	return tb
}

// do runs actions with a deadline.
func (tb *tab) do(actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.t.Fatalf("browser: %v (console: %v)", err, tb.errors())
	}
}

// eval evaluates a JavaScript expression (awaiting a promise) into a T.
func eval[T any](tb *tab, expr string) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.t.Fatalf("evaluating %s: %v (console: %v)", expr, err, tb.errors())
	}
	return v
}

func js(v any) string { b, _ := json.Marshal(v); return string(b) }

// page shows a console page and waits until it has rendered.
func (tb *tab) page(name string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
	defer cancel()
	err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`if (location.hash !== "#/`+name+`") { document.getElementById("main").dataset.ready = "false"; location.hash = "#/`+name+`" }`),
		chromedp.WaitReady(chromedp.CSS(`main[data-page="`+name+`"][data-ready="true"]`)))
	if err != nil {
		tb.t.Fatalf("page %s did not render: %v; it shows: %.500s (console: %v)", name, err,
			eval[string](tb, `document.getElementById("main").dataset.page + ": " + document.body.innerText`), tb.errors())
	}
}

// fill sets form controls: selector → value.
func (tb *tab) fill(values map[string]string) {
	tb.t.Helper()
	for sel, v := range values {
		eval[bool](tb, fmt.Sprintf(`(() => { const el = document.querySelector(%s); if (!el) throw new Error("no " + %s); el.value = %s; return true })()`, js(sel), js(sel), js(v)))
	}
}

// errors lists the console errors and exceptions so far, except the 401 of
// the first GET /v1/whoami before the token is entered.
func (tb *tab) errors() []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	var out []string
	for _, m := range tb.msgs {
		if m.Type != chromedp.ConsoleError && m.Type != chromedp.ConsoleException {
			continue
		}
		if m.Source == "network" && strings.Contains(m.Text, "401") && strings.HasSuffix(m.URL, "/v1/whoami") {
			continue
		}
		out = append(out, fmt.Sprintf("%s (%s:%d)", m.String(), m.URL, m.Line))
	}
	return out
}

func (tb *tab) noErrors(where string) {
	tb.t.Helper()
	if errs := tb.errors(); len(errs) > 0 {
		tb.t.Errorf("%s: console errors: %v", where, errs)
	}
}

// screenshot saves the viewport, scrolled to the element at sel (the top
// of the page when ""), to docs/images/console-<name>.png when
// TRELLIS_SCREENSHOTS=1 (so CI does not change the tree).
func (tb *tab) screenshot(name, sel string) {
	tb.t.Helper()
	if os.Getenv("TRELLIS_SCREENSHOTS") != "1" {
		return
	}
	ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
	defer cancel()
	eval[bool](tb, `(() => { const el = `+js(sel)+` && document.querySelector(`+js(sel)+`);
		if (el) el.scrollIntoView({block: "start"}); else window.scrollTo(0, 0);
		document.activeElement && document.activeElement.blur(); return true })()`)
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		tb.t.Fatal(err)
	}
	dir := filepath.Join("..", "docs", "images")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "console-"+name+".png"), png, 0o644); err != nil {
		tb.t.Fatal(err)
	}
}

// check runs a check on the playground page and returns what it shows.
func (tb *tab) check(resource, permission, subject, ctxJSON string) (result, checkedAt string) {
	tb.t.Helper()
	tb.fill(map[string]string{`#check-form [name=resource]`: resource, `#check-form [name=permission]`: permission,
		`#check-form [name=subject]`: subject, `#check-form [name=context]`: ctxJSON})
	eval[bool](tb, `document.getElementById("check-out").replaceChildren(), true`)
	tb.do(chromedp.Click(chromedp.CSS("#check-submit"), chromedp.NodeVisible),
		chromedp.WaitReady(chromedp.CSS("#check-result")))
	return eval[string](tb, `document.getElementById("check-result").dataset.result`),
		eval[string](tb, `document.getElementById("check-token").textContent`)
}

// submit clicks button and waits until the element at loading (which the
// page sets data-loading on while it asks the API) has its answer.
func (tb *tab) submit(button, loading string) {
	tb.t.Helper()
	eval[bool](tb, `(() => { const el = document.querySelector(`+js(loading)+`); if (!el) throw new Error("no " + `+js(loading)+`); el.dataset.loading = "pending"; return true })()`)
	tb.do(chromedp.Click(chromedp.CSS(button), chromedp.NodeVisible),
		chromedp.WaitReady(chromedp.CSS(loading+`[data-loading="false"]`)))
}

// apiCheck asks the API directly.
func (e *env) apiCheck(t *testing.T, resource, permission, subject, ctxJSON string, cons *wire.Consistency) *wire.CheckResponse {
	t.Helper()
	req := wire.CheckRequest{Resource: resource, Permission: permission, Subject: subject, Consistency: cons, Explain: true}
	if ctxJSON != "" {
		req.Context = json.RawMessage(ctxJSON)
	}
	r, err := e.api.Check(context.Background(), req)
	if err != nil {
		t.Fatalf("API check %s %s %s: %v", resource, permission, subject, err)
	}
	return r
}

// tabThrough presses Tab until focus has cycled and returns the ids (set
// here as data-tab-i) of the elements focus reached, and all the visible,
// enabled controls of the page.
func (tb *tab) tabThrough() (reached map[string]bool, all []string) {
	tb.t.Helper()
	all = eval[[]string](tb, `(() => {
	  const sel = 'a[href], button, input, select, textarea, summary, [tabindex]:not([tabindex="-1"])';
	  const out = [];
	  document.querySelectorAll(sel).forEach((el, i) => {
	    if (el.disabled || el.closest("[hidden]") || el.getClientRects().length === 0) return;
	    if (el.closest("details:not([open])") && el.tagName !== "SUMMARY") return;
	    el.dataset.tabI = String(i);
	    out.push(String(i));
	  });
	  document.activeElement && document.activeElement.blur();
	  window.scrollTo(0, 0);
	  return out;
	})()`)
	reached = map[string]bool{}
	for i := 0; i < len(all)+40; i++ {
		tb.do(chromedp.KeyEvent(kb.Tab))
		id := eval[string](tb, `(document.activeElement && document.activeElement.dataset && document.activeElement.dataset.tabI) || ""`)
		if id != "" {
			reached[id] = true
		}
		if len(reached) == len(all) {
			break
		}
	}
	return reached, all
}
