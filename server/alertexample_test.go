package server_test

import (
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/trellis-authz/trellis/alerts"
)

// The worked example of docs/alerts.md, with examples/ai-governance/alerts.yaml
// as it is (its webhook URLs pointed at a loopback receiver and its secret
// placeholders filled in): a break-glass grant and its use, a grant on an
// SSN field and a burst of a service account's denials each reach their
// rule's webhook; the burst suspends the account.
func TestAlertWorkedExample(t *testing.T) {
	h, hs := newHook(t)
	n := alertNode(t)
	raw, err := os.ReadFile("../examples/ai-governance/alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	for _, team := range []string{"oncall", "privacy", "security"} {
		text = strings.ReplaceAll(text, "https://"+team+".example.com/trellis", hs.URL+"/"+team)
		text = strings.ReplaceAll(text, "${"+strings.ToUpper(team)+"_SECRET}", secret)
	}
	var file map[string]any
	if err := yaml.Unmarshal([]byte(text), &file); err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(file)
	if err != nil {
		t.Fatal(err)
	}
	if code, out := call(t, n, http.MethodPut, "/v1/alerts", string(body)); code != http.StatusOK {
		t.Fatalf("PUT /v1/alerts with the example file: %d %s", code, out)
	}

	got := map[string]alerts.Payload{}
	expect := func(rule string) alerts.Payload {
		t.Helper()
		for {
			if p, ok := got[rule]; ok {
				return p
			}
			p := payloadOf(t, wait(t, h))
			got[p.Rule] = p
		}
	}
	grantBreakGlass(t, n, "oncall")
	if p := expect("break-glass-granted"); !strings.Contains(p.Event.Relationship, "emergency_reader@user:oncall") {
		t.Errorf("break-glass-granted: %+v", p.Event)
	}
	if got := check(t, n, "dataset:claims", "read", "user:oncall", incident); got != "allowed" {
		t.Fatalf("oncall: %s", got)
	}
	if p := expect("break-glass-used"); p.Event.Check == nil || p.Event.Check.Subject != "user:oncall" {
		t.Errorf("break-glass-used: %+v", p.Event)
	}
	if code, out := call(t, n, http.MethodPost, "/v1/relationships/write",
		`{"updates":[{"op":"touch","relationship":"field:patients_ssn#unmasked_for@user:ana"}],"reason":"PRIV-3"}`); code != http.StatusOK {
		t.Fatalf("write: %d %s", code, out)
	}
	if p := expect("ssn-field-grant"); p.Event.Relationship != "field:patients_ssn#unmasked_for@user:ana" || p.Event.Reason != "PRIV-3" {
		t.Errorf("ssn-field-grant: %+v", p.Event)
	}
	for range 21 {
		if got := check(t, n, "dataset:claims", "read", "service_account:scorer", ""); got != "denied" {
			t.Fatalf("scorer: %s", got)
		}
	}
	if p := expect("service-account-denials"); p.Event.Denials != 21 || !strings.HasPrefix(p.Event.Action, "suspended service_account:scorer") {
		t.Errorf("service-account-denials: %+v", p.Event)
	}
	code, out := call(t, n, http.MethodGet, "/v1/suspensions?consistency=fully_consistent", "")
	if code != http.StatusOK || !strings.Contains(out, "service_account:scorer") {
		t.Errorf("suspensions: %d %s", code, out)
	}
	for rule := range got {
		switch rule {
		case "break-glass-granted", "break-glass-used", "ssn-field-grant", "service-account-denials":
		default:
			t.Errorf("unexpected alert %s", rule)
		}
	}
}
