package engine_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/trellis-authz/trellis/engine"
	"github.com/trellis-authz/trellis/schema"
	"github.com/trellis-authz/trellis/schema/compile"
	"github.com/trellis-authz/trellis/tuple"
)

// testView compiles src and serves rels from the in-memory reader.
func testView(t testing.TB, src string, rels ...string) engine.View {
	t.Helper()
	s, errs := compile.CompileText("test.zed", src)
	if errs.Err() != nil {
		t.Fatalf("schema: %v", errs)
	}
	var rs []tuple.Relationship
	for _, r := range rels {
		rs = append(rs, tuple.MustParse(r))
	}
	return engine.View{Schema: s, Reader: newMemReader(rs), Revision: 1}
}

func mustCheck(t *testing.T, e *engine.Engine, v engine.View, rel string, ctx map[string]any) engine.CheckResult {
	t.Helper()
	r := tuple.MustParse(rel)
	got, err := e.Check(context.Background(), v, engine.CheckRequest{Resource: r.Resource, Permission: r.Relation, Subject: r.Subject, Context: ctx})
	if err != nil {
		t.Fatalf("check %s: %v", rel, err)
	}
	return got
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*engine.Config)
		want   string // substring of the error; "" for none
	}{
		{"default", func(*engine.Config) {}, ""},
		{"zero depth", func(c *engine.Config) { c.MaxDepth = 0 }, "MaxDepth"},
		{"huge depth", func(c *engine.Config) { c.MaxDepth = 1 << 20 }, "MaxDepth"},
		{"zero concurrency", func(c *engine.Config) { c.Concurrency = 0 }, "Concurrency"},
		{"negative cache", func(c *engine.Config) { c.CacheEntries = -1 }, "CacheEntries"},
		{"no cache", func(c *engine.Config) { c.CacheEntries = 0 }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := engine.DefaultConfig()
			tt.mutate(&cfg)
			err := cfg.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("got %v, want no error", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("got %v, want an error naming %s", err, tt.want)
			}
			if _, nerr := engine.New(cfg); (nerr == nil) != (err == nil) {
				t.Errorf("New: got %v, Validate: %v", nerr, err)
			}
		})
	}
}

const docSchema = `
use expiration
caveat on_network(network string) {
  network == "corp"
}
definition user {}
definition team {
  relation member: user | team#member
}
definition document {
  relation reader: user | user with on_network | user with expiration | team#member
  relation banned: user
  permission view = reader - banned
}
`

func TestUnknownNames(t *testing.T) {
	e := newTestEngine(t, nil)
	v := testView(t, docSchema)
	tests := []struct {
		name string
		req  engine.CheckRequest
		want error
		text string
	}{
		{"resource type", engine.CheckRequest{Resource: tuple.ObjectRef{Type: "folder", ID: "x"}, Permission: "view", Subject: tuple.SubjectRef{Type: "user", ID: "ana"}}, engine.ErrUnknownType, `"folder"`},
		{"permission", engine.CheckRequest{Resource: tuple.ObjectRef{Type: "document", ID: "x"}, Permission: "edit", Subject: tuple.SubjectRef{Type: "user", ID: "ana"}}, engine.ErrUnknownPermission, `"edit"`},
		{"subject type", engine.CheckRequest{Resource: tuple.ObjectRef{Type: "document", ID: "x"}, Permission: "view", Subject: tuple.SubjectRef{Type: "robot", ID: "r"}}, engine.ErrUnknownType, `"robot"`},
		{"subject relation", engine.CheckRequest{Resource: tuple.ObjectRef{Type: "document", ID: "x"}, Permission: "view", Subject: tuple.SubjectRef{Type: "team", ID: "t", Relation: "boss"}}, engine.ErrUnknownPermission, `"boss"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.Check(context.Background(), v, tt.req)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.text) {
				t.Errorf("got %v, want %v naming %s", err, tt.want, tt.text)
			}
		})
	}
	_, err := e.Expand(context.Background(), v, tuple.ObjectRef{Type: "document", ID: "x"}, "nope")
	if !errors.Is(err, engine.ErrUnknownPermission) {
		t.Errorf("Expand: got %v, want ErrUnknownPermission", err)
	}
	_, err = e.LookupResources(context.Background(), v, engine.LookupResourcesRequest{ResourceType: "nope", Permission: "view", Subject: tuple.SubjectRef{Type: "user", ID: "a"}})
	if !errors.Is(err, engine.ErrUnknownType) {
		t.Errorf("LookupResources: got %v, want ErrUnknownType", err)
	}
	_, err = e.LookupSubjects(context.Background(), v, engine.LookupSubjectsRequest{Resource: tuple.ObjectRef{Type: "document", ID: "x"}, Permission: "view", SubjectType: "nope"})
	if !errors.Is(err, engine.ErrUnknownType) {
		t.Errorf("LookupSubjects: got %v, want ErrUnknownType", err)
	}
}

func TestCaveatErrors(t *testing.T) {
	e := newTestEngine(t, nil)
	// A relationship naming a caveat the schema lacks (the store did not
	// validate it, or the schema changed).
	v := testView(t, docSchema, `document:d#reader@user:ana[gone_caveat]`)
	_, err := e.Check(context.Background(), v, engine.CheckRequest{Resource: tuple.ObjectRef{Type: "document", ID: "d"}, Permission: "view", Subject: tuple.SubjectRef{Type: "user", ID: "ana"}})
	if !errors.Is(err, engine.ErrCaveatEvaluation) || !strings.Contains(err.Error(), "gone_caveat") {
		t.Errorf("undefined caveat: got %v, want ErrCaveatEvaluation naming gone_caveat", err)
	}
	v = testView(t, docSchema, `document:d#reader@user:ana[on_network]`)
	_, err = e.Check(context.Background(), v, engine.CheckRequest{Resource: tuple.ObjectRef{Type: "document", ID: "d"}, Permission: "view",
		Subject: tuple.SubjectRef{Type: "user", ID: "ana"}, Context: map[string]any{"network": int64(5)}})
	if !errors.Is(err, engine.ErrInvalidContext) {
		t.Errorf("bad context type: got %v, want ErrInvalidContext", err)
	}
}

func TestExpiresAt(t *testing.T) {
	e := newTestEngine(t, nil)
	soon := fixtureNow.Add(time.Hour).Format(time.RFC3339)
	later := fixtureNow.Add(48 * time.Hour).Format(time.RFC3339)
	v := testView(t, docSchema,
		"document:d#reader@user:ana[expiration:"+soon+"]",
		"document:e#reader@team:t#member",
		"team:t#member@user:bob[expiration:"+later+"]",
		"document:f#reader@user:cid",
	)
	tests := []struct {
		rel  string
		want string // RFC 3339 or "" for none
	}{
		{"document:d#view@user:ana", soon},
		{"document:e#view@user:bob", later},
		{"document:f#view@user:cid", ""},
	}
	for _, tt := range tests {
		got := mustCheck(t, e, v, tt.rel, nil)
		var s string
		if got.ExpiresAt != nil {
			s = got.ExpiresAt.Format(time.RFC3339)
		}
		if got.Result != engine.Allowed || s != tt.want {
			t.Errorf("%s: got %s expiring %q, want allowed expiring %q", tt.rel, got.Result, s, tt.want)
		}
	}
}

// TestCacheExpiry: a cached result that depended on an expiring relationship
// is not served after the expiry.
func TestCacheExpiry(t *testing.T) {
	now := fixtureNow
	e, err := engine.New(engine.Config{MaxDepth: 50, Concurrency: 2, CacheEntries: 100, Clock: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	v := testView(t, docSchema, "document:d#reader@user:ana[expiration:"+fixtureNow.Add(time.Minute).Format(time.RFC3339)+"]")
	if got := mustCheck(t, e, v, "document:d#view@user:ana", nil); got.Result != engine.Allowed {
		t.Fatalf("before expiry: got %s, want allowed", got.Result)
	}
	hits0, _ := e.CacheStats()
	if got := mustCheck(t, e, v, "document:d#view@user:ana", nil); got.Result != engine.Allowed {
		t.Fatalf("cached: got %s, want allowed", got.Result)
	}
	hits1, _ := e.CacheStats()
	if hits1 <= hits0 {
		t.Errorf("second check: got %d hits, want more than %d", hits1, hits0)
	}
	now = now.Add(2 * time.Minute)
	if got := mustCheck(t, e, v, "document:d#view@user:ana", nil); got.Result != engine.Denied {
		t.Errorf("after expiry: got %s, want denied", got.Result)
	}
}

// TestCacheContext: the context is part of the cache key.
func TestCacheContext(t *testing.T) {
	e := newTestEngine(t, nil)
	v := testView(t, docSchema, "document:d#reader@user:ana[on_network]")
	for range 2 {
		if got := mustCheck(t, e, v, "document:d#view@user:ana", map[string]any{"network": "corp"}); got.Result != engine.Allowed {
			t.Errorf("corp: got %s, want allowed", got.Result)
		}
		if got := mustCheck(t, e, v, "document:d#view@user:ana", map[string]any{"network": "home"}); got.Result != engine.Denied {
			t.Errorf("home: got %s, want denied", got.Result)
		}
		if got := mustCheck(t, e, v, "document:d#view@user:ana", nil); got.Result != engine.Conditional || fmt.Sprint(got.MissingContext) != "[network]" {
			t.Errorf("none: got %s %v, want conditional [network]", got.Result, got.MissingContext)
		}
	}
	if hits, misses := e.CacheStats(); hits == 0 || misses == 0 {
		t.Errorf("got %d hits and %d misses, want both counted", hits, misses)
	}
}

// TestDepth: a chain longer than the budget fails with ErrDepthExceeded; a
// cycle does not.
func TestDepth(t *testing.T) {
	var rels []string
	for i := range 20 {
		rels = append(rels, fmt.Sprintf("team:t%02d#member@team:t%02d#member", i, i+1))
	}
	rels = append(rels, "team:t20#member@user:ana", "team:t20#member@team:t00#member")
	v := testView(t, docSchema, rels...)
	deep := newTestEngine(t, func(c *engine.Config) { c.MaxDepth = 50 })
	if got := mustCheck(t, deep, v, "team:t00#member@user:ana", nil); got.Result != engine.Allowed {
		t.Errorf("depth 50: got %s, want allowed", got.Result)
	}
	if got := mustCheck(t, deep, v, "team:t00#member@user:bob", nil); got.Result != engine.Denied {
		t.Errorf("depth 50, cycle, absent subject: got %s, want denied", got.Result)
	}
	shallow := newTestEngine(t, func(c *engine.Config) { c.MaxDepth = 5 })
	_, err := shallow.Check(context.Background(), v, engine.CheckRequest{Resource: tuple.ObjectRef{Type: "team", ID: "t00"}, Permission: "member", Subject: tuple.SubjectRef{Type: "user", ID: "ana"}})
	if !errors.Is(err, engine.ErrDepthExceeded) {
		t.Errorf("depth 5: got %v, want ErrDepthExceeded", err)
	}
}

func TestExplain(t *testing.T) {
	e := newTestEngine(t, nil)
	v := testView(t, docSchema, "document:d#reader@team:t#member", "team:t#member@user:ana", "document:d#reader@user:bob[on_network]")
	for round := range 2 {
		r := tuple.MustParse("document:d#view@user:ana")
		got, err := e.Check(context.Background(), v, engine.CheckRequest{Resource: r.Resource, Permission: r.Relation, Subject: r.Subject, Explain: true})
		if err != nil {
			t.Fatal(err)
		}
		if got.Trace == nil || got.Trace.Kind != "check" || got.Trace.Result != "allowed" {
			t.Fatalf("round %d: got trace %+v, want an allowed check node", round, got.Trace)
		}
		// The question itself is always evaluated (never a bare "cached" root);
		// in the second round its sub-problems come from the cache.
		if got.Trace.Cached || len(got.Trace.Children) == 0 {
			t.Errorf("round %d: got a root trace cached=%v with %d children, want an evaluated root", round, got.Trace.Cached, len(got.Trace.Children))
		}
		text := traceText(got.Trace)
		want := "team:t#member@user:ana"
		if round == 1 {
			want = "cached"
		}
		if !strings.Contains(text, want) {
			t.Errorf("round %d: trace %s does not mention %s", round, text, want)
		}
	}
	got, err := e.Check(context.Background(), v, engine.CheckRequest{Resource: tuple.ObjectRef{Type: "document", ID: "d"}, Permission: "view", Subject: tuple.SubjectRef{Type: "user", ID: "bob"}, Explain: true})
	if err != nil {
		t.Fatal(err)
	}
	if text := traceText(got.Trace); !strings.Contains(text, "caveat on_network") || !strings.Contains(text, "missing [network]") {
		t.Errorf("conditional trace %s lacks the caveat and its missing parameter", text)
	}
}

// traceText flattens a trace for substring assertions.
func traceText(t *engine.Trace) string {
	var b strings.Builder
	var walk func(*engine.Trace)
	walk = func(t *engine.Trace) {
		fmt.Fprintf(&b, "(%s %s#%s@%s %s", t.Kind, t.Resource, t.Relation, t.Subject, t.Result)
		if len(t.Missing) > 0 {
			fmt.Fprintf(&b, " missing %v", t.Missing)
		}
		if t.Cached {
			b.WriteString(" cached")
		}
		for _, r := range t.Tuples {
			b.WriteString(" " + r)
		}
		if t.Detail["caveat"] != "" {
			b.WriteString(" caveat " + t.Detail["caveat"])
		}
		for _, c := range t.Children {
			walk(c)
		}
		b.WriteString(")")
	}
	walk(t)
	return b.String()
}

func TestCursors(t *testing.T) {
	e := newTestEngine(t, nil)
	v := testView(t, docSchema, "document:a#reader@user:ana", "document:b#reader@user:ana", "document:c#reader@user:ana")
	req := engine.LookupResourcesRequest{ResourceType: "document", Permission: "view", Subject: tuple.SubjectRef{Type: "user", ID: "ana"}, Limit: 2}
	page, err := e.LookupResources(context.Background(), v, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Resources) != 2 || page.NextCursor == "" {
		t.Fatalf("got %v next %q, want 2 resources and a cursor", page.Resources, page.NextCursor)
	}
	for _, bad := range []string{"%%%", "dGhpcyBpcyBub3QgYSBjdXJzb3I"} {
		r := req
		r.Cursor = bad
		if _, err := e.LookupResources(context.Background(), v, r); !errors.Is(err, engine.ErrInvalidCursor) {
			t.Errorf("cursor %q: got %v, want ErrInvalidCursor", bad, err)
		}
	}
	other := req
	other.Permission = "reader"
	other.Cursor = page.NextCursor
	if _, err := e.LookupResources(context.Background(), v, other); !errors.Is(err, engine.ErrInvalidCursor) {
		t.Errorf("cursor of another query: got %v, want ErrInvalidCursor", err)
	}
	// Streaming yields the same, and stops when asked.
	var ids []string
	for r, err := range e.LookupResourcesSeq(context.Background(), v, engine.LookupResourcesRequest{ResourceType: "document", Permission: "view", Subject: tuple.SubjectRef{Type: "user", ID: "ana"}}) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
		if len(ids) == 2 {
			break
		}
	}
	if fmt.Sprint(ids) != "[a b]" {
		t.Errorf("streamed: got %v, want [a b]", ids)
	}
}

// TestCancellation: a cancelled context stops a check with the context's error.
func TestCancellation(t *testing.T) {
	e := newTestEngine(t, nil)
	v := testView(t, docSchema, "document:d#reader@team:t#member", "team:t#member@user:ana")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := e.Check(ctx, v, engine.CheckRequest{Resource: tuple.ObjectRef{Type: "document", ID: "d"}, Permission: "view", Subject: tuple.SubjectRef{Type: "user", ID: "ana"}})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
}

// TestBulkErrors: one bad item does not spoil the others.
func TestBulkErrors(t *testing.T) {
	e := newTestEngine(t, nil)
	v := testView(t, docSchema, "document:d#reader@user:ana")
	res := e.CheckBulk(context.Background(), v, []engine.CheckRequest{
		{Resource: tuple.ObjectRef{Type: "document", ID: "d"}, Permission: "view", Subject: tuple.SubjectRef{Type: "user", ID: "ana"}},
		{Resource: tuple.ObjectRef{Type: "nope", ID: "d"}, Permission: "view", Subject: tuple.SubjectRef{Type: "user", ID: "ana"}},
		{Resource: tuple.ObjectRef{Type: "document", ID: "d"}, Permission: "view", Subject: tuple.SubjectRef{Type: "user", ID: "bob"}},
	})
	if res[0].Err != nil || res[0].Result.Result != engine.Allowed {
		t.Errorf("item 0: got %v %v, want allowed", res[0].Result.Result, res[0].Err)
	}
	if !errors.Is(res[1].Err, engine.ErrUnknownType) {
		t.Errorf("item 1: got %v, want ErrUnknownType", res[1].Err)
	}
	if res[2].Err != nil || res[2].Result.Result != engine.Denied {
		t.Errorf("item 2: got %v %v, want denied", res[2].Result.Result, res[2].Err)
	}
}

// TestCaveatProgramContext: the program receives request context overlaid by
// relationship context.
func TestCaveatProgramContext(t *testing.T) {
	var got map[string]any
	s := &schema.Schema{
		Definitions: map[string]*schema.Definition{
			"user": {Name: "user"},
			"document": {Name: "document", Relations: map[string]*schema.Relation{
				"reader": {Name: "reader", Allowed: []schema.AllowedSubject{{Type: "user", Caveat: "spy"}}},
			}},
		},
		Caveats: map[string]*schema.Caveat{"spy": {Name: "spy", Program: programFunc(func(p map[string]any) (schema.CaveatResult, error) {
			got = p
			return schema.CaveatResult{Value: true}, nil
		})}},
	}
	v := engine.View{Schema: s, Reader: newMemReader([]tuple.Relationship{tuple.MustParse(`document:d#reader@user:ana[spy:{"aaa":1,"bbb":2}]`)})}
	e := newTestEngine(t, nil)
	mustCheck(t, e, v, "document:d#reader@user:ana", map[string]any{"bbb": int64(9), "ccc": int64(3)})
	if want := `{"aaa":1,"bbb":2,"ccc":3}`; tuple.FormatContext(got) != want {
		t.Errorf("got %s, want %s", tuple.FormatContext(got), want)
	}
}

type programFunc func(map[string]any) (schema.CaveatResult, error)

func (f programFunc) Eval(_ context.Context, p map[string]any) (schema.CaveatResult, error) {
	return f(p)
}

// TestExplainIsDeterministic asks the same explained question many times with
// concurrent branches allowed: every trace must be the same, including the
// branches evaluated before the decisive one.
func TestExplainIsDeterministic(t *testing.T) {
	e := newTestEngine(t, func(c *engine.Config) { c.Concurrency = 8; c.CacheEntries = 0 })
	v := testView(t, docSchema, "document:d#reader@team:t#member", "team:t#member@user:ana", "team:u#member@user:ana", "document:d#reader@team:u#member")
	r := tuple.MustParse("document:d#view@user:ana")
	var first string
	for i := range 30 {
		got, err := e.Check(context.Background(), v, engine.CheckRequest{Resource: r.Resource, Permission: r.Relation, Subject: r.Subject, Explain: true})
		if err != nil {
			t.Fatal(err)
		}
		text := traceText(got.Trace)
		if i == 0 {
			first = text
			continue
		}
		if text != first {
			t.Fatalf("run %d: got trace %s, want the same as run 0: %s", i, text, first)
		}
	}
}
