package server_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trellis-authz/trellis/alerts"
	"github.com/trellis-authz/trellis/server"
	"github.com/trellis-authz/trellis/test/testnode"
)

type hook struct {
	pings    atomic.Int32
	down     atomic.Bool
	mu       sync.Mutex
	accepted []hookDelivery
	refused  []string
	got      chan hookDelivery
}

type hookDelivery struct {
	id, sig string
	body    []byte
}

func newHook(t *testing.T) (*hook, *httptest.Server) {
	h := &hook{got: make(chan hookDelivery, 16)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if strings.HasPrefix(r.Header.Get("Trellis-Delivery"), "ping-") {
			h.pings.Add(1)
			return // the check PUT /v1/alerts makes; not an alert
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.down.Load() {
			h.refused = append(h.refused, r.Header.Get("Trellis-Delivery"))
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		d := hookDelivery{r.Header.Get("Trellis-Delivery"), r.Header.Get("Trellis-Signature"), body}
		h.accepted = append(h.accepted, d)
		h.got <- d
	}))
	t.Cleanup(srv.Close)
	return h, srv
}

// alertConfig is a node without authentication, with the AI-governance schema.
func alertConfig(t *testing.T) server.Config {
	src, err := os.ReadFile("../examples/ai-governance/schema.zed")
	if err != nil {
		t.Fatal(err)
	}
	cfg := testnode.Config(t, string(src))
	cfg.InsecureNoAuth = true
	return cfg
}

func alertNode(t *testing.T) *server.Node { return testnode.Open(t, alertConfig(t)) }

// delivered is what the hook accepted so far.
func (h *hook) delivered() []hookDelivery {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hookDelivery(nil), h.accepted...)
}

func call(t *testing.T, n *server.Node, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, n.URL()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

const secret = "hunter2-webhook-secret"

func putRules(t *testing.T, n *server.Node, url string) {
	t.Helper()
	body := `{"reason":"on-call","rules":[{"name":"break-glass","match":{"resource_type":"dataset","relation":"emergency_reader","operation":"touch"},` +
		`"webhook":{"url":"` + url + `","secret":"` + secret + `"}}]}`
	if code, out := call(t, n, http.MethodPut, "/v1/alerts", body); code != http.StatusOK {
		t.Fatalf("PUT /v1/alerts: %d %s", code, out)
	}
}

func grantBreakGlass(t *testing.T, n *server.Node, user string) {
	t.Helper()
	body := `{"updates":[{"op":"touch","relationship":"dataset:claims#emergency_reader@user:` + user +
		`[break_glass:{\"incident\":\"INC-42\"}][expiration:2099-01-01T00:00:00Z]"},` +
		`{"op":"touch","relationship":"dataset:claims#reader@user:bob"}],"reason":"INC-42"}`
	if code, out := call(t, n, http.MethodPost, "/v1/relationships/write", body); code != http.StatusOK {
		t.Fatalf("write: %d %s", code, out)
	}
}

func wait(t *testing.T, h *hook) hookDelivery {
	t.Helper()
	select {
	case d := <-h.got:
		return d
	case <-time.After(20 * time.Second): // a deadline for a hang, not a performance bound
		t.Fatal("no delivery")
	}
	return hookDelivery{}
}

func TestAlertBreakGlassGrantDelivered(t *testing.T) {
	h, hs := newHook(t)
	n := alertNode(t)
	putRules(t, n, hs.URL)
	grantBreakGlass(t, n, "oncall")
	d := wait(t, h)
	if !alerts.Verify(secret, d.body, d.sig) {
		t.Errorf("signature %q does not verify", d.sig)
	}
	var p alerts.Payload
	if err := json.Unmarshal(d.body, &p); err != nil {
		t.Fatal(err)
	}
	if p.Rule != "break-glass" || !strings.HasPrefix(p.Event.Relationship, "dataset:claims#emergency_reader@user:oncall") ||
		p.Event.Token == "" || p.Event.Reason != "INC-42" || p.Audit == "" {
		t.Errorf("payload %+v", p)
	}
	if d.id != alerts.DeliveryID("break-glass", p.Event.Revision, 0) {
		t.Errorf("delivery id %s is not DeliveryID(rule, %d, 0)", d.id, p.Event.Revision)
	}
	// Exactly one: a later alert arrives next, not a second copy of this one.
	grantBreakGlass(t, n, "second")
	if d2 := wait(t, h); d2.id == d.id || !bytes.Contains(d2.body, []byte("user:second")) {
		t.Errorf("next delivery %s %s, want the second grant", d2.id, d2.body)
	}

	code, got := call(t, n, http.MethodGet, "/v1/alerts", "")
	if code != http.StatusOK || strings.Contains(got, secret) || !strings.Contains(got, `"secret":"set"`) {
		t.Errorf("GET /v1/alerts: %d %s", code, got)
	}
	code, exp := call(t, n, http.MethodGet, "/v1/audit/export", "")
	if code != http.StatusOK || strings.Contains(exp, secret) || !strings.Contains(exp, `alerts`) {
		t.Errorf("audit export: %d, has secret %v, has an alerts entry %v", code, strings.Contains(exp, secret), strings.Contains(exp, "alerts"))
	}
}

func TestAlertReceiverDownThenUp(t *testing.T) {
	h, hs := newHook(t)
	h.down.Store(true)
	n := alertNode(t)
	putRules(t, n, hs.URL)
	grantBreakGlass(t, n, "oncall")
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		h.mu.Lock()
		k := len(h.refused)
		h.mu.Unlock()
		if k >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no delivery attempt while the receiver was down")
		}
	}
	h.down.Store(false)
	d := wait(t, h)
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, id := range h.refused {
		if id != d.id {
			t.Errorf("refused attempt id %s, delivered id %s: a redelivery must carry the same id", id, d.id)
		}
	}
	if !alerts.Verify(secret, d.body, d.sig) {
		t.Error("bad signature")
	}
}

func TestAlertBadInput(t *testing.T) {
	n := alertNode(t)
	rule := func(match, hook string) string {
		return `{"rules":[{"name":"r","match":` + match + `,"webhook":` + hook + `}]}`
	}
	okHook := `{"url":"https://h.example/x","secret":"k"}`
	okMatch := `{"relation":"emergency_reader"}`
	cases := map[string]string{
		"unknown type":      rule(`{"resource_type":"nope"}`, okHook),
		"unknown relation":  rule(`{"resource_type":"dataset","relation":"nope"}`, okHook),
		"unknown caveat":    rule(`{"caveat":"nope"}`, okHook),
		"bad operation":     rule(`{"relation":"emergency_reader","operation":"write"}`, okHook),
		"malformed pattern": rule(`{"resource_id_pattern":"[a-"}`, okHook),
		"ftp url":           rule(okMatch, `{"url":"ftp://h.example/x","secret":"k"}`),
		"no secret":         rule(okMatch, `{"url":"https://h.example/x"}`),
		"unknown field":     `{"rules":[],"bogus":1}`,
		"too large":         rule(okMatch, `{"url":"https://h.example/`+strings.Repeat("x", alerts.MaxBodyBytes)+`","secret":"k"}`),
	}
	for name, body := range cases {
		code, out := call(t, n, http.MethodPut, "/v1/alerts", body)
		if code < 400 || code >= 500 {
			t.Errorf("%s: %d %s, want a 4xx", name, code, out)
		}
		if _, got := call(t, n, http.MethodGet, "/v1/alerts", ""); !strings.Contains(got, `"rules":[]`) {
			t.Errorf("%s changed the rules: %s", name, got)
		}
	}
}
