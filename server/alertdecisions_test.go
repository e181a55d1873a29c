package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/trellis-authz/trellis/alerts"
	"github.com/trellis-authz/trellis/engine"
	"github.com/trellis-authz/trellis/server"
	"github.com/trellis-authz/trellis/test/testnode"
)

func putAlertRules(t *testing.T, n *server.Node, rules string) {
	t.Helper()
	if code, out := call(t, n, http.MethodPut, "/v1/alerts", `{"rules":[`+rules+`]}`); code != http.StatusOK {
		t.Fatalf("PUT /v1/alerts: %d %s", code, out)
	}
}

func hookJSON(url string) string { return `"webhook":{"url":"` + url + `","secret":"` + secret + `"}` }

func payloadOf(t *testing.T, d hookDelivery) alerts.Payload {
	t.Helper()
	if !alerts.Verify(secret, d.body, d.sig) {
		t.Errorf("signature %q does not verify", d.sig)
	}
	var p alerts.Payload
	if err := json.Unmarshal(d.body, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

func check(t *testing.T, n *server.Node, resource, perm, subject, context string) string {
	t.Helper()
	body := `{"resource":"` + resource + `","permission":"` + perm + `","subject":"` + subject + `"`
	if context != "" {
		body += `,"context":` + context
	}
	code, out := call(t, n, http.MethodPost, "/v1/check", body+`}`)
	if code != http.StatusOK {
		t.Fatalf("check: %d %s", code, out)
	}
	var res struct{ Result string }
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	return res.Result
}

const incident = `{"ticket":"INC-42","reason":"paged for the claims outage"}`

// A break-glass check (not only the grant) is told to the on-call webhook,
// once per check; a check allowed through the ordinary reader relation is not.
func TestAlertBreakGlassCheckDelivered(t *testing.T) {
	h, hs := newHook(t)
	n := alertNode(t)
	grantBreakGlass(t, n, "oncall") // also dataset:claims#reader@user:bob
	putAlertRules(t, n, `{"name":"break-glass-used","decision":{"resource_type":"dataset","permission":"read","through":"emergency_reader"},`+hookJSON(hs.URL)+`}`)

	if got := check(t, n, "dataset:claims", "read", "user:bob", ""); got != "allowed" {
		t.Fatalf("bob: %s", got)
	}
	if got := check(t, n, "dataset:claims", "read", "user:oncall", incident); got != "allowed" {
		t.Fatalf("oncall with the incident: %s", got)
	}
	d := wait(t, h)
	p := payloadOf(t, d)
	if p.Rule != "break-glass-used" || p.Event.Kind != alerts.KindDecision || p.Event.Check == nil ||
		p.Event.Check.Subject != "user:oncall" || p.Event.Check.Result != "allowed" || p.Event.Token == "" || p.Event.Node == "" {
		t.Fatalf("payload %s", d.body)
	}
	// A second use is a second delivery with its own id; bob's check never is one.
	check(t, n, "dataset:claims", "read", "user:oncall", incident)
	d2 := wait(t, h)
	if p2 := payloadOf(t, d2); d2.id == d.id || p2.Event.Check.Subject != "user:oncall" || p2.Event.Check.RequestID == p.Event.Check.RequestID {
		t.Errorf("second delivery %s %s", d2.id, d2.body)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, a := range h.accepted {
		if strings.Contains(string(a.body), "user:bob") {
			t.Errorf("a check through reader alerted: %s", a.body)
		}
	}
}

// More than count denials of one subject within the window suspend it and
// tell security, once per window.
func TestAlertDenialsSuspend(t *testing.T) {
	h, hs := newHook(t)
	n := alertNode(t)
	putAlertRules(t, n, `{"name":"brute-force","action":"suspend","decision":{"subject_type":"service_account","denials":{"count":3,"window":"1m"}},`+hookJSON(hs.URL)+`}`)
	for range 5 {
		if got := check(t, n, "dataset:claims", "read", "service_account:scraper", ""); got != "denied" {
			t.Fatalf("scraper: %s", got)
		}
	}
	d := wait(t, h)
	p := payloadOf(t, d)
	if p.Event.Kind != alerts.KindDenials || p.Event.Denials <= 3 || p.Event.Check.Subject != "service_account:scraper" ||
		!strings.HasPrefix(p.Event.Action, "suspended service_account:scraper") {
		t.Fatalf("payload %s", d.body)
	}
	code, out := call(t, n, http.MethodGet, "/v1/suspensions?consistency=fully_consistent", "")
	if code != http.StatusOK || !strings.Contains(out, "service_account:scraper") || !strings.Contains(out, "brute-force") {
		t.Errorf("suspensions: %d %s", code, out)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.accepted) != 1 {
		t.Errorf("%d deliveries for one burst, want 1", len(h.accepted))
	}
}

// A schema change is told to a schema rule with the new schema's hash.
func TestAlertSchemaChange(t *testing.T) {
	h, hs := newHook(t)
	n := alertNode(t)
	putAlertRules(t, n, `{"name":"schema-watch","schema":true,`+hookJSON(hs.URL)+`}`)
	src, err := os.ReadFile("../examples/ai-governance/schema.zed")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]string{"schema": string(src) + "\ndefinition auditor {}\n", "reason": "add auditors"})
	if code, out := call(t, n, http.MethodPut, "/v1/schema", string(body)); code != http.StatusOK {
		t.Fatalf("PUT /v1/schema: %d %s", code, out)
	}
	p := payloadOf(t, wait(t, h))
	if p.Event.Kind != alerts.KindSchema || len(p.Event.SchemaHash) < 16 || p.Event.Reason != "add auditors" {
		t.Errorf("payload %+v", p)
	}
	// The delivery is counted. The sender counts it when the receiver's
	// answer is back, which can be after the receiver has recorded it: ask
	// until it shows (or the deadline passes).
	var code int
	var out string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		code, out = call(t, n, http.MethodGet, "/metrics", "")
		counted := code == http.StatusOK && strings.Contains(out, "\ntrellis_alert_deliveries_total 1\n")
		if counted || time.Now().After(deadline) {
			break
		}
	}
	if code != http.StatusOK || !strings.Contains(out, "\ntrellis_alert_deliveries_total 1\n") || !strings.Contains(out, "\ntrellis_alert_dead_letters_total 0\n") {
		t.Errorf("metrics: %d, want one delivery and no dead letter counted", code)
	}
}

// A delivery whose attempts run out becomes a dead letter; retried by id
// once the receiver is back, it is delivered with the same id and leaves
// the list. The stream is not held back meanwhile.
func TestAlertDeadLetterRetry(t *testing.T) {
	h, hs := newHook(t)
	cfg := alertConfig(t)
	cfg.AlertBackoff = alerts.Backoff{First: time.Millisecond, Max: 5 * time.Millisecond, Attempts: 3}
	n := testnode.Open(t, cfg)
	putRules(t, n, hs.URL)
	h.down.Store(true)
	grantBreakGlass(t, n, "oncall")
	var letters struct{ Letters []alerts.Letter }
	for deadline := time.Now().Add(20 * time.Second); len(letters.Letters) == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no dead letter")
		}
		_, out := call(t, n, http.MethodGet, "/v1/alerts/failed", "")
		if err := json.Unmarshal([]byte(out), &letters); err != nil {
			t.Fatal(err)
		}
	}
	l := letters.Letters[0]
	if l.Rule != "break-glass" || l.Attempts != 3 || l.Error == "" || strings.Contains(l.URL, secret) {
		t.Errorf("letter %+v", l)
	}
	if code, out := call(t, n, http.MethodPost, "/v1/alerts/failed/retry", `{"id":"`+l.ID+`"}`); code != http.StatusBadGateway || !strings.Contains(out, "webhook_failed") {
		t.Errorf("retry while down: %d %s, want 502 webhook_failed", code, out)
	}
	h.down.Store(false)
	// The stream goes on: the next grant is delivered though the letter waits.
	grantBreakGlass(t, n, "second")
	if d := wait(t, h); !strings.Contains(string(d.body), "user:second") {
		t.Errorf("next delivery %s", d.body)
	}
	if code, out := call(t, n, http.MethodPost, "/v1/alerts/failed/retry", `{"id":"`+l.ID+`"}`); code != http.StatusOK {
		t.Fatalf("retry: %d %s", code, out)
	}
	if d := wait(t, h); d.id != l.ID || !strings.Contains(string(d.body), "user:oncall") {
		t.Errorf("retried delivery %s %s, want id %s", d.id, d.body, l.ID)
	}
	if _, out := call(t, n, http.MethodGet, "/v1/alerts/failed", ""); !strings.Contains(out, `"letters":[]`) {
		t.Errorf("after the retry: %s", out)
	}
	if code, out := call(t, n, http.MethodPost, "/v1/alerts/failed/retry", `{"id":"`+l.ID+`"}`); code != http.StatusNotFound {
		t.Errorf("retry of a delivered letter: %d %s, want 404", code, out)
	}
}

func TestAlertRuleBadInput(t *testing.T) {
	_, hs := newHook(t)
	n := alertNode(t)
	ok := hookJSON(hs.URL)
	cases := map[string]string{
		"decision selecting everything": `{"name":"r","decision":{"resource_type":"dataset"},` + ok + `}`,
		"unknown through":               `{"name":"r","decision":{"through":"nope"},` + ok + `}`,
		"unknown permission":            `{"name":"r","decision":{"resource_type":"dataset","permission":"nope","through":"reader"},` + ok + `}`,
		"bad window":                    `{"name":"r","decision":{"denials":{"count":3,"window":"forever"}},` + ok + `}`,
		"zero count":                    `{"name":"r","decision":{"denials":{"count":0,"window":"1m"}},` + ok + `}`,
		"denials with through":          `{"name":"r","decision":{"through":"reader","denials":{"count":3,"window":"1m"}},` + ok + `}`,
		"action without denials":        `{"name":"r","action":"suspend","schema":true,` + ok + `}`,
		"unknown action":                `{"name":"r","action":"delete","decision":{"denials":{"count":3,"window":"1m"}},` + ok + `}`,
		"two kinds":                     `{"name":"r","schema":true,"audit":true,` + ok + `}`,
		"no kind":                       `{"name":"r",` + ok + `}`,
		"unreachable webhook":           `{"name":"r","schema":true,"webhook":{"url":"http://127.0.0.1:1/hook","secret":"k"}}`,
	}
	for name, rule := range cases {
		code, out := call(t, n, http.MethodPut, "/v1/alerts", `{"rules":[`+rule+`]}`)
		if code != http.StatusBadRequest || !strings.Contains(out, "rules[0]") {
			t.Errorf("%s: %d %s, want 400 naming rules[0]", name, code, out)
		}
		if _, got := call(t, n, http.MethodGet, "/v1/alerts", ""); !strings.Contains(got, `"rules":[]`) {
			t.Errorf("%s changed the rules: %s", name, got)
		}
	}
	// The operator may store a rule whose webhook is down for now.
	code, out := call(t, n, http.MethodPut, "/v1/alerts", `{"skip_webhook_check":true,"rules":[{"name":"r","schema":true,"webhook":{"url":"http://127.0.0.1:1/hook","secret":"k"}}]}`)
	if code != http.StatusOK {
		t.Errorf("skip_webhook_check: %d %s", code, out)
	}
	code, out = call(t, n, http.MethodPost, "/v1/alerts/test", "{}")
	if code != http.StatusOK || !strings.Contains(out, `"ok":false`) || !strings.Contains(out, "127.0.0.1:1") {
		t.Errorf("test of a down webhook: %d %s", code, out)
	}
}

// Past engine.MaxWatchSpecs distinct (through, caveat) pairs, a rule's
// checks are confirmed by answering them again with the rule's own watch:
// break-glass used still alerts, and a check through another relation
// still does not.
func TestAlertBreakGlassCheckPastWatchSpecs(t *testing.T) {
	h, hs := newHook(t)
	n := alertNode(t)
	grantBreakGlass(t, n, "oncall") // also dataset:claims#reader@user:bob
	var rules []string
	for _, rel := range []string{"admin", "risk_officer", "suspended", "maintainer", "member", "owner", "ml_engineer", "risk_approver", "viewer", "steward", "trainer", "blocked"} {
		for _, cav := range []string{"purpose_is", "on_corporate_network", "break_glass"} {
			rules = append(rules, fmt.Sprintf(`{"name":"filler-%s-%s","decision":{"through":%q,"caveat":%q},%s}`, rel, cav, rel, cav, hookJSON(hs.URL)))
		}
	}
	if len(rules) <= engine.MaxWatchSpecs {
		t.Fatalf("%d filler rules do not pass the %d specs a watch holds", len(rules), engine.MaxWatchSpecs)
	}
	rules = append(rules, `{"name":"break-glass-used","decision":{"resource_type":"dataset","permission":"read","through":"emergency_reader"},`+hookJSON(hs.URL)+`}`)
	putAlertRules(t, n, strings.Join(rules, ","))
	if got := check(t, n, "dataset:claims", "read", "user:bob", ""); got != "allowed" {
		t.Fatalf("bob: %s", got)
	}
	if got := check(t, n, "dataset:claims", "read", "user:oncall", incident); got != "allowed" {
		t.Fatalf("oncall with the incident: %s", got)
	}
	p := payloadOf(t, wait(t, h))
	if p.Rule != "break-glass-used" || p.Event.Check == nil || p.Event.Check.Subject != "user:oncall" {
		t.Fatalf("payload %+v", p)
	}
	time.Sleep(300 * time.Millisecond) // bob's confirmation, if it alerted, would have come by now
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.accepted) != 1 {
		t.Errorf("%d deliveries, want 1 (oncall's)", len(h.accepted))
	}
}
