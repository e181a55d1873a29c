package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trellis-authz/trellis/schema"
	"github.com/trellis-authz/trellis/schema/compile"
	"github.com/trellis-authz/trellis/storage"
	"github.com/trellis-authz/trellis/tuple"
)

func aiSchema(t *testing.T) *schema.Schema {
	t.Helper()
	src, err := os.ReadFile("../examples/ai-governance/schema.zed")
	if err != nil {
		t.Fatal(err)
	}
	sch, errs := compile.CompileText("schema.zed", string(src))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return sch
}

// receiver is a webhook on loopback that records what it accepts and
// answers 503 while down is set.
type receiver struct {
	srv      *httptest.Server
	down     atomic.Bool
	mu       sync.Mutex
	got      []delivery
	refused  []string // delivery ids answered 503
	accepted chan struct{}
}

type delivery struct {
	id, sig string
	body    []byte
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{accepted: make(chan struct{}, 16)}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.down.Load() {
			r.refused = append(r.refused, req.Header.Get("Trellis-Delivery"))
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		r.got = append(r.got, delivery{req.Header.Get("Trellis-Delivery"), req.Header.Get("Trellis-Signature"), body})
		r.accepted <- struct{}{}
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) deliveries() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.got...)
}

func breakGlassRules(url string) RuleSet {
	return RuleSet{Rules: []Rule{
		{Name: "break-glass", Match: Match{ResourceType: "dataset", Relation: "emergency_reader", Operation: "touch"},
			Webhook: Webhook{URL: url, Secret: "s3cret"}},
		{Name: "ssn-fields", Match: Match{ResourceType: "field", ResourceIDPattern: "*_ssn"},
			Webhook: Webhook{URL: url, Secret: "other"}},
	}}
}

func grantRevision(rel string, rev uint64) Revision {
	r, err := tuple.Parse(rel)
	if err != nil {
		panic(err)
	}
	return Revision{Revision: rev, Token: "tok", Time: time.Unix(1700000000, 0), Principal: "admin", Reason: "INC-1",
		Audit: "/v1/audit/entries?from=1", Changes: []storage.Change{
			{Op: tuple.OpTouch, Relationship: tuple.Relationship{Resource: tuple.ObjectRef{Type: "dataset", ID: "claims"}, Relation: "reader", Subject: tuple.SubjectRef{Type: "user", ID: "bob"}}},
			{Op: tuple.OpTouch, Relationship: r},
		}}
}

func TestBreakGlassGrantDeliveredOnceSigned(t *testing.T) {
	rcv := newReceiver(t)
	rs := breakGlassRules(rcv.srv.URL)
	if err := Validate(rs, aiSchema(t)); err != nil {
		t.Fatal(err)
	}
	s := &Sender{Backoff: Backoff{First: time.Millisecond, Max: 10 * time.Millisecond, Attempts: 3}}
	plan := planRevision(rs, grantRevision("dataset:claims#emergency_reader@user:ana", 7), nil)
	if err := s.sendAll(context.Background(), plan, nil); err != nil || len(plan) != 1 {
		t.Fatalf("%d deliveries planned, sending: %v; want 1 delivery", len(plan), err)
	}
	got := rcv.deliveries()
	if len(got) != 1 {
		t.Fatalf("receiver got %d deliveries, want 1", len(got))
	}
	d := got[0]
	if !Verify("s3cret", d.body, d.sig) || Verify("other", d.body, d.sig) {
		t.Errorf("signature %q does not verify with the rule's secret only", d.sig)
	}
	if d.id != DeliveryID("break-glass", 7, 1) {
		t.Errorf("delivery id %q, want DeliveryID(break-glass, 7, 1)", d.id)
	}
	var p Payload
	if err := json.Unmarshal(d.body, &p); err != nil {
		t.Fatal(err)
	}
	if p.Rule != "break-glass" || p.Event.Relationship != "dataset:claims#emergency_reader@user:ana" || p.Event.Revision != 7 ||
		p.Event.Op != "touch" || p.Event.Principal != "admin" || p.Event.Reason != "INC-1" || p.Audit == "" {
		t.Errorf("payload %+v", p)
	}
	if strings.Contains(string(d.body), "s3cret") {
		t.Error("the body carries the secret")
	}
}

func TestReceiverDownThenUpSameID(t *testing.T) {
	rcv := newReceiver(t)
	rcv.down.Store(true)
	rs := breakGlassRules(rcv.srv.URL)
	s := &Sender{Backoff: Backoff{First: time.Millisecond, Max: 5 * time.Millisecond}}
	done := make(chan error, 1)
	go func() {
		err := s.sendAll(context.Background(), planRevision(rs, grantRevision("field:claims_ssn#unmasked_for@user:ana", 9), nil), nil)
		done <- err
	}()
	// Wait until at least two attempts were refused, then bring it up.
	for {
		rcv.mu.Lock()
		n := len(rcv.refused)
		rcv.mu.Unlock()
		if n >= 2 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	rcv.down.Store(false)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := rcv.deliveries()
	want := DeliveryID("ssn-fields", 9, 1)
	if len(got) != 1 || got[0].id != want {
		t.Fatalf("deliveries %+v, want one with id %s", got, want)
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	for _, id := range rcv.refused {
		if id != want {
			t.Errorf("a refused attempt carried id %s, want %s", id, want)
		}
	}
	// A redelivery (a restart before the cursor moved) carries the same id.
	if DeliveryID("ssn-fields", 9, 1) != want || DeliveryID("ssn-fields", 9, 0) == want || DeliveryID("ssn-fields", 10, 1) == want {
		t.Error("DeliveryID is not a function of rule, revision and index")
	}
}

func TestAttemptsBounded(t *testing.T) {
	rcv := newReceiver(t)
	rcv.down.Store(true)
	s := &Sender{Backoff: Backoff{First: time.Millisecond, Max: 2 * time.Millisecond, Attempts: 3}}
	err := s.Deliver(context.Background(), Webhook{URL: rcv.srv.URL, Secret: "x"}, "id1", Payload{Rule: "r"})
	if err == nil || !strings.Contains(err.Error(), "3 attempts") {
		t.Fatalf("err = %v, want a failure after 3 attempts", err)
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if len(rcv.refused) != 3 {
		t.Errorf("%d attempts reached the receiver, want 3", len(rcv.refused))
	}
}

func TestBackoffGrowsAndIsCapped(t *testing.T) {
	b := Backoff{First: 100 * time.Millisecond, Max: time.Second}
	for n := range 10 {
		want := min(b.First<<n, b.Max)
		if d := b.delay(n); d < want/2 || d >= want {
			t.Errorf("delay(%d) = %v, want in [%v, %v)", n, d, want/2, want)
		}
	}
}

func TestRedactedHidesSecrets(t *testing.T) {
	rs := breakGlassRules("https://hooks.example.com/x")
	red := Redacted(rs)
	b, _ := json.Marshal(red)
	if strings.Contains(string(b), "s3cret") || strings.Contains(string(b), "other") {
		t.Errorf("redacted rules carry a secret: %s", b)
	}
	if red.Rules[0].Webhook.Secret != SecretSet || rs.Rules[0].Webhook.Secret != "s3cret" {
		t.Error("Redacted must mark secrets as set and leave the original alone")
	}
}

func TestMatch(t *testing.T) {
	rel := func(s string) tuple.Relationship {
		r, err := tuple.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	cases := []struct {
		m    Match
		op   tuple.Op
		rel  string
		want bool
	}{
		{Match{Relation: "emergency_reader"}, tuple.OpTouch, "dataset:a#emergency_reader@user:x", true},
		{Match{Relation: "emergency_reader", Operation: "delete"}, tuple.OpTouch, "dataset:a#emergency_reader@user:x", false},
		{Match{Relation: "emergency_reader", Operation: "delete"}, tuple.OpDelete, "dataset:a#emergency_reader@user:x", true},
		{Match{ResourceIDPattern: "*_ssn"}, tuple.OpTouch, "field:claims_ssn#unmasked_for@user:x", true},
		{Match{ResourceIDPattern: "*_ssn"}, tuple.OpTouch, "field:claims_name#unmasked_for@user:x", false},
		{Match{SubjectType: "service_account", SubjectID: "etl"}, tuple.OpTouch, "dataset:a#reader@service_account:etl", true},
		{Match{SubjectID: "etl"}, tuple.OpTouch, "dataset:a#reader@service_account:other", false},
		{Match{Caveat: "break_glass"}, tuple.OpTouch, "dataset:a#emergency_reader@user:x", false},
	}
	for _, c := range cases {
		if got := c.m.Matches(c.op, rel(c.rel)); got != c.want {
			t.Errorf("%+v matches %s %s = %v, want %v", c.m, c.op, c.rel, got, c.want)
		}
	}
	cav := rel("dataset:a#emergency_reader@user:x")
	cav.Caveat = &tuple.Caveat{Name: "break_glass"}
	if !(Match{Caveat: "break_glass"}).Matches(tuple.OpTouch, cav) {
		t.Error("a caveat match does not select the caveated grant")
	}
}

func TestValidateBadInput(t *testing.T) {
	sch := aiSchema(t)
	ok := Rule{Name: "r", Match: Match{Relation: "emergency_reader"}, Webhook: Webhook{URL: "https://h.example/x", Secret: "k"}}
	with := func(f func(*Rule)) RuleSet {
		r := ok
		f(&r)
		return RuleSet{Rules: []Rule{r}}
	}
	many := RuleSet{}
	for range MaxRules + 1 {
		many.Rules = append(many.Rules, ok)
	}
	cases := []struct {
		name  string
		rs    RuleSet
		field string
	}{
		{"unknown type", with(func(r *Rule) { r.Match.ResourceType = "nope" }), "rules[0].match.resource_type"},
		{"unknown relation", with(func(r *Rule) { r.Match.ResourceType = "dataset"; r.Match.Relation = "nope" }), "rules[0].match.relation"},
		{"relation nowhere", with(func(r *Rule) { r.Match.Relation = "nope" }), "rules[0].match.relation"},
		{"unknown subject type", with(func(r *Rule) { r.Match.SubjectType = "robot" }), "rules[0].match.subject_type"},
		{"unknown caveat", with(func(r *Rule) { r.Match.Caveat = "nope" }), "rules[0].match.caveat"},
		{"bad operation", with(func(r *Rule) { r.Match.Operation = "write" }), "rules[0].match.operation"},
		{"malformed pattern", with(func(r *Rule) { r.Match.ResourceIDPattern = "[a-" }), "rules[0].match.resource_id_pattern"},
		{"empty match", with(func(r *Rule) { r.Match = Match{} }), "rules[0]"},
		{"ftp url", with(func(r *Rule) { r.Webhook.URL = "ftp://h.example/x" }), "rules[0].webhook.url"},
		{"no host", with(func(r *Rule) { r.Webhook.URL = "https:///x" }), "rules[0].webhook.url"},
		{"no secret", with(func(r *Rule) { r.Webhook.Secret = "" }), "rules[0].webhook.secret"},
		{"secret placeholder", with(func(r *Rule) { r.Webhook.Secret = SecretSet }), "rules[0].webhook.secret"},
		{"no name", with(func(r *Rule) { r.Name = "" }), "rules[0].name"},
		{"duplicate name", RuleSet{Rules: []Rule{ok, ok}}, "rules[1].name"},
		{"too many", many, "rules"},
	}
	for _, c := range cases {
		err := Validate(c.rs, sch)
		var e *Error
		if !errors.As(err, &e) || e.Field != c.field || e.Msg == "" {
			t.Errorf("%s: err = %v, want an *Error at %s", c.name, err, c.field)
		}
	}
	if err := Validate(RuleSet{Rules: []Rule{ok}}, sch); err != nil {
		t.Errorf("valid rule refused: %v", err)
	}
}
