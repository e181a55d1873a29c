package alerts

import (
	"errors"
	"testing"
	"time"

	"github.com/trellis-authz/trellis/engine"
	"github.com/trellis-authz/trellis/tuple"
)

func denial(subject string) Decision {
	return Decision{Resource: tuple.ObjectRef{Type: "dataset", ID: "claims"}, Permission: "read",
		Subject: tuple.SubjectRef{Type: "user", ID: subject}, Result: "denied"}
}

func hook() Webhook { return Webhook{URL: "https://h.example/x", Secret: "k"} }

// A denials rule fires once when one subject's denials in the window pass
// the count, not again within that window, and again in a later window;
// other subjects and allowed checks are counted apart or not at all.
func TestWatcherDenialWindow(t *testing.T) {
	w := NewWatcher(16)
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	w.now = func() time.Time { return now }
	w.SetRules(RuleSet{Rules: []Rule{{Name: "burst", Webhook: hook(),
		Decision: &DecisionMatch{SubjectType: "user", Denials: &Denials{Count: 3, Window: "1m"}}}}})
	fired := func() []Candidate {
		var out []Candidate
		for {
			select {
			case c := <-w.Queue():
				out = append(out, c)
			default:
				return out
			}
		}
	}
	for range 3 {
		w.Offer(denial("svc"))
		now = now.Add(time.Second)
	}
	allowed := denial("svc")
	allowed.Result = "allowed"
	w.Offer(allowed)
	if got := fired(); len(got) != 0 {
		t.Fatalf("fired at 3 denials and an allow (count 3 means more than 3): %+v", got)
	}
	w.Offer(denial("other"))
	w.Offer(denial("svc"))
	got := fired()
	if len(got) != 1 || got[0].Decision.Subject.ID != "svc" || got[0].Denials != 4 || got[0].Rule.Name != "burst" {
		t.Fatalf("after the 4th denial: %+v, want one candidate for svc with 4 denials", got)
	}
	for range 10 {
		w.Offer(denial("svc"))
	}
	if got := fired(); len(got) != 0 {
		t.Fatalf("fired again within the window: %d", len(got))
	}
	// Two windows later the count starts over and the rule may fire again.
	now = now.Add(2 * time.Minute)
	for range 5 {
		w.Offer(denial("svc"))
	}
	if got := fired(); len(got) != 1 {
		t.Fatalf("in a later window: %d candidates, want 1", len(got))
	}
}

// The sliding estimate carries part of the previous window: denials just
// before a window boundary still count just after it.
func TestWatcherDenialsSlide(t *testing.T) {
	w := NewWatcher(4)
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	w.now = func() time.Time { return now }
	w.SetRules(RuleSet{Rules: []Rule{{Name: "burst", Webhook: hook(),
		Decision: &DecisionMatch{Denials: &Denials{Count: 4, Window: "1m"}}}}})
	now = now.Add(50 * time.Second)
	for range 4 {
		w.Offer(denial("svc"))
	}
	now = now.Add(15 * time.Second) // 5 s into the next window: ~11/12 of the 4 still count
	w.Offer(denial("svc"))
	w.Offer(denial("svc"))
	if len(w.Queue()) != 1 {
		t.Fatalf("%d candidates across the boundary, want 1", len(w.Queue()))
	}
}

// A full queue drops candidates and counts them; Offer never blocks.
func TestWatcherQueueFullDrops(t *testing.T) {
	w := NewWatcher(2)
	if w.Active() {
		t.Fatal("active with no rules")
	}
	w.Offer(denial("x")) // no rules: nothing happens
	w.SetRules(RuleSet{Rules: []Rule{{Name: "bg", Webhook: hook(), Decision: &DecisionMatch{Through: "emergency_reader"}}}})
	if !w.Active() {
		t.Fatal("not active with a decision rule")
	}
	for range 3 {
		w.Offer(denial("x")) // a denied check is never a break-glass use: not a candidate
	}
	if len(w.Queue()) != 0 {
		t.Fatalf("a through rule selected %d denied checks", len(w.Queue()))
	}
	d := denial("x")
	d.Result = "allowed"
	for range 5 {
		w.Offer(d)
	}
	if len(w.Queue()) != 2 || w.Dropped() != 3 {
		t.Fatalf("queue %d, dropped %d; want 2 and 3", len(w.Queue()), w.Dropped())
	}
	w.SetRules(RuleSet{Rules: []Rule{{Name: "s", Schema: true, Webhook: hook()}}})
	if w.Active() {
		t.Fatal("active with only a schema rule")
	}
}

func rel(name, result string, kids ...*engine.Trace) *engine.Trace {
	return &engine.Trace{Kind: "relation", Relation: name, Result: result, Children: kids}
}

func node(kind, result string, kids ...*engine.Trace) *engine.Trace {
	return &engine.Trace{Kind: kind, Result: result, Children: kids}
}

func caveat(name, result string) *engine.Trace {
	return &engine.Trace{Kind: "caveat", Result: result, Detail: map[string]string{"caveat": name}}
}

func TestOnDecidingPath(t *testing.T) {
	cases := []struct {
		name            string
		tr              *engine.Trace
		through, caveat string
		want            bool
	}{
		{"allowed through break-glass", node("union", "allowed", rel("reader", "denied"), rel("emergency_reader", "allowed")), "emergency_reader", "", true},
		{"allowed by reader, break-glass denied", node("union", "allowed", rel("reader", "allowed"), rel("emergency_reader", "denied")), "emergency_reader", "", false},
		{"denied answer", node("union", "denied", rel("emergency_reader", "denied")), "emergency_reader", "", false},
		{"break-glass only in the excluded branch", node("exclusion", "allowed", rel("reader", "allowed"), rel("emergency_reader", "allowed")), "emergency_reader", "", false},
		{"through and caveat", node("union", "allowed", rel("emergency_reader", "allowed", caveat("break_glass", "allowed"))), "emergency_reader", "break_glass", true},
		{"through, other caveat", node("union", "allowed", rel("emergency_reader", "allowed", caveat("purpose_is", "allowed"))), "emergency_reader", "break_glass", false},
		{"caveat alone", node("intersection", "allowed", rel("reader", "allowed"), rel("x", "allowed", caveat("break_glass", "allowed"))), "", "break_glass", true},
		{"conditional through", node("union", "conditional", rel("emergency_reader", "conditional")), "emergency_reader", "", true},
		{"nil trace", nil, "emergency_reader", "", false},
	}
	for _, c := range cases {
		if got := OnDecidingPath(c.tr, c.through, c.caveat); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func TestValidateDecisionBadInput(t *testing.T) {
	sch := aiSchema(t)
	dec := func(m DecisionMatch, action string) RuleSet {
		return RuleSet{Rules: []Rule{{Name: "d", Decision: &m, Action: action, Webhook: hook()}}}
	}
	cases := []struct {
		name  string
		rs    RuleSet
		field string
	}{
		{"unknown result", dec(DecisionMatch{Through: "emergency_reader", Result: "maybe"}, ""), "rules[0].decision.result"},
		{"unknown type", dec(DecisionMatch{ResourceType: "nope", Through: "emergency_reader"}, ""), "rules[0].decision.resource_type"},
		{"permission not on type", dec(DecisionMatch{ResourceType: "dataset", Permission: "nope", Through: "emergency_reader"}, ""), "rules[0].decision.permission"},
		{"through nowhere", dec(DecisionMatch{Through: "nope"}, ""), "rules[0].decision.through"},
		{"unknown caveat", dec(DecisionMatch{Caveat: "nope"}, ""), "rules[0].decision.caveat"},
		{"denials with through", dec(DecisionMatch{Through: "emergency_reader", Denials: &Denials{Count: 3, Window: "1m"}}, ""), "rules[0].decision.denials"},
		{"denials count 0", dec(DecisionMatch{Denials: &Denials{Count: 0, Window: "1m"}}, ""), "rules[0].decision.denials.count"},
		{"denials bad window", dec(DecisionMatch{Denials: &Denials{Count: 3, Window: "a minute"}}, ""), "rules[0].decision.denials.window"},
		{"denials window too short", dec(DecisionMatch{Denials: &Denials{Count: 3, Window: "1ms"}}, ""), "rules[0].decision.denials.window"},
		{"suspend on a through rule", dec(DecisionMatch{Through: "emergency_reader"}, "suspend"), "rules[0].action"},
		{"unknown action", dec(DecisionMatch{Denials: &Denials{Count: 3, Window: "1m"}}, "page"), "rules[0].action"},
	}
	for _, c := range cases {
		err := Validate(c.rs, sch)
		var e *Error
		if !errors.As(err, &e) || e.Field != c.field || e.Msg == "" {
			t.Errorf("%s: err = %v, want an *Error at %s", c.name, err, c.field)
		}
	}
	for _, rs := range []RuleSet{
		dec(DecisionMatch{ResourceType: "dataset", Permission: "read", Through: "emergency_reader", Caveat: "break_glass"}, ""),
		dec(DecisionMatch{SubjectType: "user", Denials: &Denials{Count: 20, Window: "1m"}}, "suspend"),
	} {
		if err := Validate(rs, sch); err != nil {
			t.Errorf("valid rule refused: %v", err)
		}
	}
}

// A through/caveat rule asks the checks it may select to report their
// deciding branch (WatchFor) and then selects exactly those that went
// through its relation or caveat, confirmed with no explain; a check that
// reported nothing (evaluated before the rules changed) is left to be
// confirmed on a trace.
func TestWatcherWatchedChecks(t *testing.T) {
	w := NewWatcher(16)
	w.SetRules(RuleSet{Rules: []Rule{
		{Name: "break-glass", Webhook: hook(), Decision: &DecisionMatch{ResourceType: "dataset", Permission: "read", Through: "emergency_reader"}},
		{Name: "purpose", Webhook: hook(), Decision: &DecisionMatch{ResourceType: "dataset", Caveat: "purpose_is"}},
		{Name: "same-spec", Webhook: hook(), Decision: &DecisionMatch{SubjectType: "service_account", Through: "emergency_reader"}},
	}})
	wt := w.WatchFor("dataset", "read", "user")
	if wt == nil {
		t.Fatal("WatchFor(dataset, read, user) = nil; two rules may select that check")
	}
	if got := w.WatchFor("model", "run", "user"); got != nil {
		t.Errorf("WatchFor(model, run, user) = %v; no rule selects it", got)
	}
	if got := w.WatchFor("model", "run", "service_account"); got != wt {
		t.Errorf("WatchFor(model, run, service_account) = %v; same-spec may select it", got)
	}
	specs := wt.Specs()
	if len(specs) != 2 {
		t.Fatalf("specs %v: the two emergency_reader rules share one", specs)
	}
	bit := func(sp engine.WatchSpec) uint64 {
		for i, s := range specs {
			if s == sp {
				return 1 << i
			}
		}
		t.Fatalf("no spec %v", sp)
		return 0
	}
	queued := func() map[string]bool {
		out := map[string]bool{}
		for {
			select {
			case c := <-w.Queue():
				out[c.Rule.Name] = c.Confirmed
			default:
				return out
			}
		}
	}
	d := denial("ana")
	d.Result, d.Watch = "allowed", wt
	d.Watched = bit(engine.WatchSpec{Through: "emergency_reader"})
	w.Offer(d)
	if got := queued(); len(got) != 1 || !got["break-glass"] {
		t.Errorf("a check through emergency_reader queued %v, want break-glass confirmed", got)
	}
	d.Watched = bit(engine.WatchSpec{Caveat: "purpose_is"})
	w.Offer(d)
	if got := queued(); len(got) != 1 || !got["purpose"] {
		t.Errorf("a check through purpose_is queued %v, want purpose confirmed", got)
	}
	d.Watched = 0
	w.Offer(d)
	if got := queued(); len(got) != 0 {
		t.Errorf("a check through neither queued %v, want nothing (and no explain)", got)
	}
	d.Watch = nil
	w.Offer(d)
	if got := queued(); len(got) != 2 || got["break-glass"] || got["purpose"] {
		t.Errorf("a check that reported nothing queued %v, want both rules unconfirmed", got)
	}
}
