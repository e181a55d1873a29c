package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trellis-authz/trellis/alerts"
	"github.com/trellis-authz/trellis/test/testnode"
)

// The "trellis alerts" commands run against a real node of their own (the
// ai-governance schema, admin and reader tokens, three delivery attempts a
// few milliseconds apart) and a real webhook receiver on loopback.

// alertsDeadURL is a loopback port nothing listens on.
const alertsDeadURL = "http://127.0.0.1:1/"

// alertsHook is a webhook receiver: it answers every ping whose signature
// is valid for secret, and, while down is set, refuses every delivery.
type alertsHook struct {
	srv    *httptest.Server
	secret string
	down   atomic.Bool

	mu        sync.Mutex
	pings     int      // pings signed with secret
	delivered []string // delivery ids accepted, in arrival order
}

func newAlertsHook(t *testing.T, secret string) *alertsHook {
	h := &alertsHook{secret: secret}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !alerts.Verify(h.secret, body, r.Header.Get("Trellis-Signature")) {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		id := r.Header.Get("Trellis-Delivery")
		h.mu.Lock()
		defer h.mu.Unlock()
		switch {
		case strings.HasPrefix(id, "ping-"):
			h.pings++
		case h.down.Load():
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			h.delivered = append(h.delivered, id)
		}
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *alertsHook) stats() (int, []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.pings, append([]string(nil), h.delivered...)
}

// alertsNode is a node of the test's own.
type alertsNode struct {
	url  string
	toks testnode.Tokens
}

func newAlertsNode(t *testing.T) *alertsNode {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a node; skipped with -short")
	}
	src, err := os.ReadFile(filepath.Join(cliExample, "schema.zed"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := testnode.Config(t, string(src))
	toks := testnode.WithTokens(t, &cfg)
	cfg.AlertBackoff = alerts.Backoff{First: time.Millisecond, Max: 5 * time.Millisecond, Attempts: 3}
	return &alertsNode{url: testnode.Open(t, cfg).URL(), toks: toks}
}

// run runs the CLI with stdin as admin against n.
func (n *alertsNode) run(t *testing.T, stdin string, args ...string) cliResult {
	t.Helper()
	return runIn(t, stdin, append(args, "--endpoint", n.url, "--token", n.toks.Admin)...)
}

// writeAlertsFile writes text to name in a temporary directory.
func writeAlertsFile(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func wantContains(t *testing.T, what, got string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(got, s) {
			t.Errorf("%s: %q missing from\n%s", what, s, got)
		}
	}
}

// TestCLIAlertsSetGetTest: rules set from a YAML file and from JSON on
// stdin (the server pings the webhook, signed with the file's secret); get
// shows "set" and never the secret; test says ok for the live receiver and
// error, exit 1, for a port nothing listens on; set refuses the dead URL
// unless --skip-webhook-check; a reader may not read the rules.
func TestCLIAlertsSetGetTest(t *testing.T) {
	hook := newAlertsHook(t, "yaml-secret-1")
	n := newAlertsNode(t)

	r := n.run(t, "", "alerts", "get")
	wantExit(t, r, 0)
	wantContains(t, "get on a fresh node", r.out+r.errOut, `"rules": []`, "(0 rules)")

	yamlFile := writeAlertsFile(t, "rules.yaml", `# on-call and privacy alerting
reason: from the file
rules:
  - name: break-glass
    match: {resource_type: dataset, relation: emergency_reader, operation: touch}
    webhook:
      url: `+hook.srv.URL+`/oncall
      secret: yaml-secret-1
  - name: ssn-fields
    match:
      resource_type: field
      resource_id_pattern: "*_ssn"
    webhook: {url: "`+hook.srv.URL+`/privacy", secret: yaml-secret-1}
`)
	r = n.run(t, "", "alerts", "set", yamlFile)
	wantExit(t, r, 0)
	printedToken(t, r.out)
	wantContains(t, "set from YAML", r.out, "alert rules set at", "(2 rules)")
	if pings, _ := hook.stats(); pings < 2 {
		t.Errorf("the server pinged the webhooks %d times before storing, want 2 signed pings", pings)
	}
	r = n.run(t, "", "alerts", "get")
	wantExit(t, r, 0)
	wantContains(t, "get after the YAML set", r.out, `"name": "break-glass"`, `"name": "ssn-fields"`, `"resource_id_pattern": "*_ssn"`, `"secret": "set"`)
	wantContains(t, "get after the YAML set", r.errOut, "(2 rules)")
	if strings.Contains(r.out, "yaml-secret-1") {
		t.Errorf("get shows the secret:\n%s", r.out)
	}
	r = runIn(t, "", "alerts", "get", "--endpoint", n.url, "--token", n.toks.Reader)
	wantExit(t, r, 1)
	if strings.Contains(r.out+r.errOut, "break-glass") {
		t.Errorf("a reader read the rules:\n%s", r)
	}

	jsonRules := `{"rules": [{"name": "readers", "match": {"resource_type": "dataset", "relation": "reader"},
	  "webhook": {"url": "` + hook.srv.URL + `", "secret": "yaml-secret-1"}}]}`
	r = n.run(t, jsonRules, "alerts", "set", "-", "--reason", "only readers")
	wantExit(t, r, 0)
	printedToken(t, r.out)
	r = n.run(t, "", "alerts", "get", "--json")
	wantExit(t, r, 0)
	wantContains(t, "get after the JSON set", r.out, `"name": "readers"`)
	if strings.Contains(r.out, "break-glass") || strings.Contains(r.out, "yaml-secret-1") {
		t.Errorf("get after replacing the rules:\n%s", r.out)
	}

	r = n.run(t, "", "alerts", "test")
	wantExit(t, r, 0)
	wantContains(t, "test of the stored rules", r.out, "ok  readers  "+hook.srv.URL)
	wantContains(t, "test of the stored rules", r.errOut, "(1 webhook answered)")

	mixed := writeAlertsFile(t, "mixed.json", `{"rules": [
	  {"name": "live", "schema": true, "webhook": {"url": "`+hook.srv.URL+`", "secret": "yaml-secret-1"}},
	  {"name": "dead", "schema": true, "webhook": {"url": "`+alertsDeadURL+`", "secret": "s"}}]}`)
	r = n.run(t, "", "alerts", "test", mixed)
	wantExit(t, r, 1)
	wantContains(t, "test of a live and a dead webhook", r.out, "ok     live  "+hook.srv.URL, "error  dead  "+alertsDeadURL)
	wantContains(t, "test of a live and a dead webhook", r.errOut, "1 of 2 webhooks did not answer")
	r = n.run(t, "", "alerts", "test", mixed, "--json")
	wantExit(t, r, 1)
	wantContains(t, "test --json", r.out, `"ok": true`, `"ok": false`)

	dead := writeAlertsFile(t, "dead.yaml", "rules:\n  - name: dead\n    schema: true\n    webhook: {url: '"+alertsDeadURL+"', secret: s}\n")
	r = n.run(t, "", "alerts", "set", dead)
	wantExit(t, r, 1)
	wantContains(t, "set with a dead webhook", r.errOut, "rules file "+dead+" not stored", `rules[0].webhook.url (rule "dead")`, "does not answer", "--skip-webhook-check")
	r = n.run(t, "", "alerts", "get")
	wantContains(t, "get after a refused set", r.out, `"name": "readers"`)
	r = n.run(t, "", "alerts", "set", dead, "--skip-webhook-check")
	wantExit(t, r, 0)
	r = n.run(t, "", "alerts", "test")
	wantExit(t, r, 1)
	wantContains(t, "test of a stored dead webhook", r.out, "error  dead  "+alertsDeadURL)

	r = n.run(t, `{"rules": []}`, "alerts", "set", "-")
	wantExit(t, r, 0)
	r = n.run(t, "", "alerts", "test")
	wantExit(t, r, 0)
	wantContains(t, "test with no rules", r.errOut, "no alert rules stored")
}

// TestCLIAlertsBadFiles: each bad rules file is refused with a message that
// names the file and what is wrong, and nothing is stored.
func TestCLIAlertsBadFiles(t *testing.T) {
	hook := newAlertsHook(t, "s")
	n := newAlertsNode(t)
	okWebhook := `"webhook": {"url": "` + hook.srv.URL + `", "secret": "s"}`
	missing := filepath.Join(t.TempDir(), "missing.yaml")
	for _, c := range []struct {
		name, file, text string
		want             []string
	}{
		{"missing file", missing, "", []string{"rules file " + missing + ": no such file or directory"}},
		{"empty", "empty.yaml", " \n", []string{"empty.yaml is empty", `{"rules": [...]}`}},
		{"broken JSON", "broken.json", "{\"rules\": [\n  {\"name\": \"x\",}\n]}", []string{"broken.json:2:", "not valid JSON", "invalid character '}'"}},
		{"truncated JSON", "short.json", `{"rules": [`, []string{"short.json: not valid JSON", "ends inside the object"}},
		{"broken YAML", "broken.yaml", "rules:\n  - name: [x\n", []string{"broken.yaml: not valid JSON or YAML", "line"}},
		{"plain text", "notes.txt", "just some notes", []string{"notes.txt: holds a YAML string, not a mapping"}},
		{"a list", "list.yaml", "- name: x\n", []string{"list.yaml: holds a YAML list, not a mapping", `"rules:" and a list`}},
		{"no rules key", "norules.json", `{"reason": "x"}`, []string{`norules.json: no "rules" key`}},
		{"misspelt key", "typo.yaml", "rule:\n  - name: x\n", []string{`typo.yaml: unknown key "rule"`}},
		{"rules not a list", "obj.yaml", "rules:\n  name: x\n", []string{`obj.yaml: "rules" is an object, want a list of rules`}},
		{"rules null", "null.yaml", "rules:\n", []string{`null.yaml: "rules" is null`}},
		{"a rule not an object", "str.json", `{"rules": [{"name": "a", "schema": true, ` + okWebhook + `}, "b"]}`, []string{"str.json: rules[1] is a string, want a rule object"}},
		{"reason not a string", "reason.yaml", "reason: 3\nrules: []\n", []string{`reason.yaml: "reason" is a number, want a string`}},
		{"unknown rule field", "field.json", `{"rules": [{"name": "r", "schema": true, "webhok": {}}]}`, []string{"rules file", "field.json not stored: invalid_json", `unknown field "webhok"`}},
		{"unknown relation", "rel.yaml", "rules:\n  - name: owners\n    match: {resource_type: dataset, relation: owner}\n    " + okWebhook + "\n",
			[]string{"rel.yaml not stored: invalid_argument", `rules[0].match.relation (rule "owners")`, "owner"}},
		{"no secret", "nosecret.json", `{"rules": [{"name": "s", "schema": true, "webhook": {"url": "` + hook.srv.URL + `"}}]}`,
			[]string{"nosecret.json not stored: invalid_argument", `(rule "s")`, "secret"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := c.file
			if c.text != "" || c.name == "empty" {
				path = writeAlertsFile(t, c.file, c.text)
			}
			r := n.run(t, "", "alerts", "set", path)
			wantExit(t, r, 1)
			wantContains(t, "set "+c.file, r.errOut, c.want...)
		})
	}
	r := n.run(t, "", "alerts", "set", "-")
	wantExit(t, r, 1)
	wantContains(t, "set from an empty stdin", r.errOut, "rules file stdin is empty")
	r = n.run(t, "{\"rules\": []}", "alerts", "test", "-")
	wantExit(t, r, 1)
	wantContains(t, "test of an empty list", r.errOut, `rules file stdin: "rules" is empty, nothing to test`)
	r = n.run(t, "", "alerts", "test", "a", "b")
	wantExit(t, r, 2)
	r = n.run(t, "", "alerts", "get")
	wantExit(t, r, 0)
	wantContains(t, "get after every bad file", r.out, `"rules": []`)
}

// TestCLIAlertsDeadLetters: a fresh node has no dead letters; a delivery
// the receiver refuses three times is listed by failed; retry while the
// receiver refuses fails and keeps it, retry once it accepts delivers it
// under its id and removes it; drop removes another without delivering;
// retry and drop of an unknown id fail saying so.
func TestCLIAlertsDeadLetters(t *testing.T) {
	hook := newAlertsHook(t, "dl-secret")
	n := newAlertsNode(t)

	r := n.run(t, "", "alerts", "failed")
	wantExit(t, r, 0)
	if lines := strings.Split(strings.TrimSpace(r.out), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], "ID ") {
		t.Errorf("failed on a fresh node lists letters:\n%s", r)
	}
	wantContains(t, "failed on a fresh node", r.errOut, "(0 dead letters)")
	r = n.run(t, "", "alerts", "failed", "--json")
	wantExit(t, r, 0)
	wantContains(t, "failed --json on a fresh node", r.out, `"letters": []`)
	for _, verb := range []string{"retry", "drop"} {
		r = n.run(t, "", "alerts", verb, "0123456789abcdef")
		wantExit(t, r, 1)
		wantContains(t, verb+" of an unknown id", r.errOut, "not_found", "no dead letter 0123456789abcdef", "trellis alerts failed lists the dead letters")
	}

	rules := `{"rules": [{"name": "readers", "match": {"resource_type": "dataset", "relation": "reader"},
	  "webhook": {"url": "` + hook.srv.URL + `", "secret": "dl-secret"}}]}`
	wantExit(t, n.run(t, rules, "alerts", "set", "-"), 0)
	hook.down.Store(true)
	wantExit(t, n.run(t, "", "write", "dataset:dl1#reader@user:ana"), 0)
	letter := waitAlertLetters(t, n, 1)[0]
	if letter.Rule != "readers" || letter.Attempts != 3 || letter.URL != hook.srv.URL || letter.Local {
		t.Errorf("letter %+v, want rule readers, 3 attempts, url %s, replicated", letter, hook.srv.URL)
	}
	r = n.run(t, "", "alerts", "failed")
	wantExit(t, r, 0)
	wantContains(t, "failed with a letter", r.out, "ATTEMPTS", letter.ID+"  readers  "+hook.srv.URL+"  3 ", letter.Node, "503")
	wantContains(t, "failed with a letter", r.errOut, "(1 dead letter)")

	r = n.run(t, "", "alerts", "retry", letter.ID)
	wantExit(t, r, 1)
	wantContains(t, "retry while the receiver refuses", r.errOut, "webhook_failed", "stays in the list")
	if got := waitAlertLetters(t, n, 1); got[0].ID != letter.ID {
		t.Errorf("after a failed retry the list holds %+v", got)
	}
	hook.down.Store(false)
	r = n.run(t, "", "alerts", "retry", letter.ID)
	wantExit(t, r, 0)
	wantContains(t, "retry", r.out, "letter "+letter.ID+" (rule readers) delivered")
	if _, got := hook.stats(); len(got) != 1 || got[0] != letter.ID {
		t.Errorf("the receiver accepted %q, want the letter's id %s once", got, letter.ID)
	}
	waitAlertLetters(t, n, 0)

	hook.down.Store(true)
	wantExit(t, n.run(t, "", "write", "dataset:dl2#reader@user:bob"), 0)
	second := waitAlertLetters(t, n, 1)[0]
	if second.ID == letter.ID {
		t.Errorf("the second letter has the first one's id %s", second.ID)
	}
	r = n.run(t, "", "alerts", "drop", second.ID)
	wantExit(t, r, 0)
	wantContains(t, "drop", r.out, "letter "+second.ID+" dropped")
	waitAlertLetters(t, n, 0)
	if _, got := hook.stats(); len(got) != 1 {
		t.Errorf("a dropped letter was delivered: %q", got)
	}
}

// waitAlertLetters polls "alerts failed --json" until it lists want letters.
func waitAlertLetters(t *testing.T, n *alertsNode, want int) []alerts.Letter {
	t.Helper()
	var res struct{ Letters []alerts.Letter }
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		r := n.run(t, "", "alerts", "failed", "--json")
		wantExit(t, r, 0)
		if err := json.Unmarshal([]byte(r.out), &res); err != nil {
			t.Fatalf("failed --json: %v\n%s", err, r.out)
		}
		if len(res.Letters) == want {
			return res.Letters
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 20 s alerts failed lists %d letters, want %d:\n%s", len(res.Letters), want, r.out)
		}
	}
}
