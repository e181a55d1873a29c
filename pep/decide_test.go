package pep

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trellis-authz/trellis/pep/internal/peptest"
	"github.com/trellis-authz/trellis/wire"
)

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// decide fails the test on an error.
func decide(t testing.TB, c *Client, ctx context.Context, q Question) Decision {
	t.Helper()
	d, err := c.Decide(ctx, q)
	if err != nil {
		t.Fatalf("Decide(%+v): %v", q, err)
	}
	return d
}

// warm decides q until the answer comes from the cache, and returns it.
func warm(t testing.TB, c *Client, q Question) Decision {
	t.Helper()
	var d Decision
	waitFor(t, "a cached answer for "+q.Resource+"#"+q.Permission+"@"+q.Subject, func() bool {
		d = decide(t, c, context.Background(), q)
		return d.Cached
	})
	return d
}

func TestDecideAnswersAndCaches(t *testing.T) {
	tn := startNode(t, testSchema)
	tn.Write(t, touch("dataset:claims#reader@user:ana"))
	c := newClient(t, testConfig(tn.URL, tn.Reader))
	ana := Question{Resource: "dataset:claims", Permission: "read", Subject: "user:ana"}
	bob := Question{Resource: "dataset:claims", Permission: "read", Subject: "user:bob"}

	first := decide(t, c, context.Background(), ana)
	if !first.Allowed || first.Conditional || !uuidRE.MatchString(first.DecisionID) || first.CheckedAt == "" {
		t.Fatalf("first decision = %+v, want allowed with a UUID decision id and a token", first)
	}
	cached := warm(t, c, ana)
	if !cached.Allowed {
		t.Fatalf("cached decision = %+v, want allowed", cached)
	}
	// The cached answer reuses the id of the check that filled it: the one
	// that is in the decision log.
	again := decide(t, c, context.Background(), ana)
	if !again.Cached || again.DecisionID != cached.DecisionID {
		t.Fatalf("second cached decision %+v: want the same decision id %s", again, cached.DecisionID)
	}
	if d := warm(t, c, bob); d.Allowed {
		t.Fatalf("bob: %+v, want denied", d)
	}
	// Another context is another question.
	withCtx := ana
	withCtx.Context = map[string]any{"purpose": "x"}
	if d := decide(t, c, context.Background(), withCtx); d.Cached {
		t.Fatalf("a question with a context was answered from the entry without: %+v", d)
	}
}

func TestDecideConditionalNamesMissingContext(t *testing.T) {
	tn := startNode(t, testSchema)
	tn.Write(t, touch("dataset:claims#reader@user:cat[purpose_is]"))
	c := newClient(t, testConfig(tn.URL, tn.Reader))
	q := Question{Resource: "dataset:claims", Permission: "read", Subject: "user:cat"}
	for range 2 { // asked, then cached
		d := warm(t, c, q)
		if d.Allowed || !d.Conditional || !slices.Equal(d.Missing, []string{"purpose"}) {
			t.Fatalf("without context: %+v, want a conditional denial missing [purpose]", d)
		}
	}
	q.Context = map[string]any{"purpose": "fraud"}
	if d := decide(t, c, context.Background(), q); !d.Allowed {
		t.Fatalf("purpose fraud: %+v, want allowed", d)
	}
	q.Context = map[string]any{"purpose": "marketing"}
	if d := decide(t, c, context.Background(), q); d.Allowed || d.Conditional {
		t.Fatalf("purpose marketing: %+v, want denied", d)
	}
}

// TestRevokeEvicts caches an allow, revokes it over REST, and expects the
// next decisions to be denials once the watch event arrived: directly, and
// through a subject set and an arrow (the cache's reachability crosses
// types).
func TestRevokeEvicts(t *testing.T) {
	tn := startNode(t, testSchema)
	tn.Write(t,
		touch("dataset:claims#reader@user:ana"),
		touch("dataset:claims#reader@team:ml#member"), touch("team:ml#member@user:bob"),
		touch("doc:spec#parent@folder:eng"), touch("folder:eng#viewer@user:cat"))
	c := newClient(t, testConfig(tn.URL, tn.Reader))
	for _, tc := range []struct {
		name   string
		q      Question
		revoke string
	}{
		{"direct", Question{Resource: "dataset:claims", Permission: "read", Subject: "user:ana"}, "dataset:claims#reader@user:ana"},
		{"subject set", Question{Resource: "dataset:claims", Permission: "read", Subject: "user:bob"}, "team:ml#member@user:bob"},
		{"arrow", Question{Resource: "doc:spec", Permission: "view", Subject: "user:cat"}, "folder:eng#viewer@user:cat"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if d := warm(t, c, tc.q); !d.Allowed {
				t.Fatalf("before the revoke: %+v, want allowed", d)
			}
			tn.Write(t, del(tc.revoke))
			waitFor(t, "a denial after the revoke", func() bool { return !decide(t, c, context.Background(), tc.q).Allowed })
			for i := range 20 {
				if d := decide(t, c, context.Background(), tc.q); d.Allowed {
					t.Fatalf("decision %d after the first denial: %+v, want denied", i, d)
				}
			}
		})
	}
}

// TestUnrelatedChangeKeepsEntries: a change to doc#owner cannot affect
// dataset#read, so it must not evict it (the cache evicts by reachability,
// not everything).
func TestUnrelatedChangeKeepsEntries(t *testing.T) {
	tn := startNode(t, testSchema)
	tn.Write(t, touch("dataset:claims#reader@user:ana"))
	c := newClient(t, testConfig(tn.URL, tn.Reader))
	ds := Question{Resource: "dataset:claims", Permission: "read", Subject: "user:ana"}
	dc := Question{Resource: "doc:spec", Permission: "view", Subject: "user:ana"}
	warm(t, c, ds)
	warm(t, c, dc)
	tok := parseToken(tn.Write(t, touch("doc:spec#owner@user:ana")))
	waitFor(t, "the watch to apply the write", func() bool { return c.seen.Load() >= tok.rev })
	if d := decide(t, c, context.Background(), ds); !d.Cached || !d.Allowed {
		t.Fatalf("dataset#read after a doc#owner write: %+v, want still cached and allowed", d)
	}
	if d := decide(t, c, context.Background(), dc); d.Cached || !d.Allowed {
		t.Fatalf("doc#view after a doc#owner write: %+v, want evicted (not cached) and now allowed", d)
	}
}

// TestTokenHandoff: after its own write, a service that passes written_at
// sees the write at once, even though the cache holds the older denial.
func TestTokenHandoff(t *testing.T) {
	tn := startNode(t, testSchema)
	c := newClient(t, testConfig(tn.URL, tn.Reader))
	q := Question{Resource: "dataset:claims", Permission: "read", Subject: "user:ana"}
	if d := warm(t, c, q); d.Allowed {
		t.Fatalf("before the grant: %+v, want denied", d)
	}
	for i := range 20 {
		written := tn.Write(t, touch("dataset:claims#reader@user:ana"))
		d := decide(t, c, WithAtLeastAsFresh(context.Background(), written), q)
		if !d.Allowed {
			t.Fatalf("round %d: decision with the grant's written_at: %+v, want allowed", i, d)
		}
		written = tn.Write(t, del("dataset:claims#reader@user:ana"))
		if d := decide(t, c, WithAtLeastAsFresh(context.Background(), written), q); d.Allowed {
			t.Fatalf("round %d: decision with the revoke's written_at: %+v, want denied", i, d)
		}
	}
	// A token the cache has applied lets the cache answer.
	written := tn.Write(t, touch("dataset:claims#reader@user:ana"))
	ctx := WithAtLeastAsFresh(context.Background(), written)
	waitFor(t, "a cached answer under the token", func() bool { return decide(t, c, ctx, q).Cached })
	// A token of another format is never taken as seen, and Trellis refuses it.
	if d, err := c.Decide(WithAtLeastAsFresh(context.Background(), "t9.bogus"), q); err == nil || d.Allowed || d.Cached {
		t.Fatalf("bogus token: %+v, %v; want a denial with an error", d, err)
	}
}

// TestSchemaChangeEvicts: schema writes are not in the watch stream; the
// schema poll must still take a cached allow out.
func TestSchemaChangeEvicts(t *testing.T) {
	tn := startNode(t, testSchema)
	tn.Write(t, touch("dataset:claims#reader@user:ana"), touch("dataset:claims#blocked@user:ana"), touch("dataset:claims#blocked@user:bob"))
	cfg := testConfig(tn.URL, tn.Reader)
	cfg.SchemaInterval = 50 * time.Millisecond
	c := newClient(t, cfg)
	q := Question{Resource: "dataset:claims", Permission: "read", Subject: "user:bob"}
	if d := warm(t, c, q); d.Allowed {
		t.Fatalf("before the schema change: %+v, want denied", d)
	}
	changed := strings.Replace(testSchema, "permission read = reader - blocked", "permission read = reader + blocked", 1)
	peptest.REST(t, tn.URL, tn.Admin, http.MethodPut, "/v1/schema", wire.WriteSchemaRequest{Schema: changed}, nil)
	waitFor(t, "an allow under the new schema", func() bool { return decide(t, c, context.Background(), q).Allowed })
}

func TestInvalidQuestionIsDeniedWithoutAsking(t *testing.T) {
	c := newClient(t, testConfig("http://127.0.0.1:1", "x"))
	for _, q := range []Question{
		{Resource: "claims", Permission: "read", Subject: "user:ana"},
		{Resource: "dataset:claims", Permission: "", Subject: "user:ana"},
		{Resource: "dataset:claims", Permission: "read", Subject: "ana"},
		{Resource: "dataset:claims", Permission: "read", Subject: "user:ana", Context: map[string]any{"f": func() {}}},
	} {
		d, err := c.Decide(context.Background(), q)
		if d.Allowed || !errors.Is(err, ErrInvalidQuestion) || !uuidRE.MatchString(d.DecisionID) {
			t.Errorf("%+v: %+v, %v; want a denial with ErrInvalidQuestion and a decision id", q, d, err)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"url", func(c *Config) { c.URL = "127.0.0.1:8080" }, "URL"},
		{"timeout", func(c *Config) { c.Timeout = 0 }, "Timeout is 0s"},
		{"http timeout", func(c *Config) { c.HTTPClient = &http.Client{Timeout: time.Second} }, "HTTPClient.Timeout"},
		{"staleness", func(c *Config) { c.MaxStaleness = -1 }, "MaxStaleness"},
		{"schema interval", func(c *Config) { c.SchemaInterval = time.Millisecond }, "SchemaInterval"},
		{"cache size", func(c *Config) { c.CacheSize = -1 }, "CacheSize"},
		{"retry", func(c *Config) { c.RetryMax = c.RetryMin / 2 }, "RetryMin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig("http://127.0.0.1:8080", "")
			tc.edit(&cfg)
			err := cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want an error naming %q", err, tc.want)
			}
			if _, err := New(cfg); err == nil {
				t.Fatal("New accepted the config")
			}
		})
	}
	if err := DefaultConfig("http://127.0.0.1:8080", "").Validate(); err != nil {
		t.Fatalf("the default config: %v", err)
	}
}

// TestCachedDecisionAllocatesNothing pins the hot path: a cached decision,
// with and without a context, allocates nothing.
func TestCachedDecisionAllocatesNothing(t *testing.T) {
	tn := startNode(t, testSchema)
	tn.Write(t, touch("dataset:claims#reader@user:ana"))
	c := newClient(t, testConfig(tn.URL, tn.Reader))
	for _, q := range []Question{
		{Resource: "dataset:claims", Permission: "read", Subject: "user:ana"},
		{Resource: "dataset:claims", Permission: "read", Subject: "user:ana", Context: map[string]any{"purpose": "fraud"}},
	} {
		warm(t, c, q)
		ctx := context.Background()
		var missed bool
		allocs := testing.AllocsPerRun(1000, func() {
			d, err := c.Decide(ctx, q)
			if err != nil || !d.Cached {
				missed = true
			}
		})
		if missed {
			t.Skip("the cache stopped answering during the measurement (watch reconnect); nothing measured")
		}
		if allocs != 0 {
			t.Errorf("%+v: %v allocations per cached decision, want 0", q, allocs)
		}
	}
}

// TestNoStaleInsertAfterRevoke races insertions against evictions: while
// goroutines keep deciding (and so caching) the same question, the grant is
// toggled; after each revoke, once the watch has applied it, a decision must
// be a denial — an answer checked before the revoke that arrived after the
// eviction must not have been cached.
func TestNoStaleInsertAfterRevoke(t *testing.T) {
	tn := startNode(t, testSchema)
	c := newClient(t, testConfig(tn.URL, tn.Reader))
	waitFor(t, "the watch", c.Live)
	q := Question{Resource: "dataset:race", Permission: "read", Subject: "user:ana"}
	stop := make(chan struct{})
	done := make(chan struct{})
	for range 3 {
		go func() {
			defer func() { done <- struct{}{} }()
			for {
				select {
				case <-stop:
					return
				default:
				}
				_, _ = c.Decide(context.Background(), q)
			}
		}()
	}
	defer func() {
		close(stop)
		for range 3 {
			<-done
		}
	}()
	for i := range 100 {
		tn.Write(t, touch("dataset:race#reader@user:ana"))
		revoked := parseToken(tn.Write(t, del("dataset:race#reader@user:ana")))
		waitFor(t, "the watch to apply the revoke", func() bool { return c.seen.Load() >= revoked.rev })
		for j := range 5 {
			if d := decide(t, c, context.Background(), q); d.Allowed {
				t.Fatalf("round %d, decision %d after the revoke was applied: %+v, want denied", i, j, d)
			}
		}
	}
}
