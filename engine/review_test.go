package engine_test

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"testing"
	"time"

	"github.com/trellis-authz/trellis/engine"
	"github.com/trellis-authz/trellis/tuple"
)

// Regression tests for bugs a review found.

// TestReviewContextHashIntVsDouble: {"num":1} and {"num":1.0} once shared a
// cache key while the caveat saw an int in one and a double in the other. Now
// both are the same number (tuple.NormalizeContext) and a cached answer equals
// a fresh one.
func TestReviewContextHashIntVsDouble(t *testing.T) {
	const src = `caveat is_int(num any) { type(num) == int }
definition user {}
definition doc { relation viewer: user with is_int
 permission view = viewer }`
	v := testView(t, src, "doc:d#viewer@user:ana[is_int]")
	ctx := func(s string) map[string]any {
		c, err := tuple.ParseContext([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	fresh := func() *engine.Engine { return newTestEngine(t, nil) }
	wantDbl := mustCheck(t, fresh(), v, "doc:d#view@user:ana", ctx(`{"num":1.0}`)).Result
	e := fresh()
	mustCheck(t, e, v, "doc:d#view@user:ana", ctx(`{"num":1}`))
	if got := mustCheck(t, e, v, "doc:d#view@user:ana", ctx(`{"num":1.0}`)).Result; got != wantDbl {
		t.Errorf("got %s, want %s (cache key collision)", got, wantDbl)
	}
	// And the rule itself: a whole number is an int however it is written.
	for _, s := range []string{`{"num":1}`, `{"num":1.0}`, `{"num":1e0}`} {
		if got := mustCheck(t, fresh(), v, "doc:d#view@user:ana", ctx(s)).Result; got != engine.Allowed {
			t.Errorf("%s: got %s, want allowed", s, got)
		}
	}
	if got := mustCheck(t, fresh(), v, "doc:d#view@user:ana", ctx(`{"num":1.5}`)).Result; got != engine.Denied {
		t.Errorf(`{"num":1.5}: got %s, want denied`, got)
	}
}

// TestReviewContextKeyTypes: contexts a Go caller builds with values that
// encode to the same JSON but that a caveat tells apart must not share cache
// entries.
func TestReviewContextKeyTypes(t *testing.T) {
	const src = `caveat is_string(val any) { type(val) == string }
definition user {}
definition doc { relation viewer: user with is_string
 permission view = viewer }`
	v := testView(t, src, "doc:d#viewer@user:ana[is_string]")
	ts := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	asTime := map[string]any{"val": ts}
	asString := map[string]any{"val": ts.Format(time.RFC3339Nano)}
	if tuple.FormatContext(asTime) != tuple.FormatContext(asString) {
		t.Fatalf("the two contexts should format alike: %s and %s", tuple.FormatContext(asTime), tuple.FormatContext(asString))
	}
	wantTime := mustCheck(t, newTestEngine(t, nil), v, "doc:d#view@user:ana", asTime).Result
	wantString := mustCheck(t, newTestEngine(t, nil), v, "doc:d#view@user:ana", asString).Result
	if wantTime == wantString {
		t.Fatalf("the caveat does not tell the two apart (both %s); the test needs another expression", wantTime)
	}
	e := newTestEngine(t, nil)
	for range 2 {
		if got := mustCheck(t, e, v, "doc:d#view@user:ana", asString).Result; got != wantString {
			t.Errorf("string: got %s, want %s", got, wantString)
		}
		if got := mustCheck(t, e, v, "doc:d#view@user:ana", asTime).Result; got != wantTime {
			t.Errorf("time: got %s, want %s", got, wantTime)
		}
	}
}

const chainSchema = `definition user {}
definition group { relation member: user | group#member }
definition doc { relation viewer: group#member
 permission view = viewer }`

// chain returns doc:d#viewer@group:g0#member, group:gI#member@group:gI+1#member
// for I < n, and group:gN#member@user:u.
func chain(n int) []string {
	rels := []string{"doc:d#viewer@group:g0#member"}
	for i := 0; i < n; i++ {
		rels = append(rels, fmt.Sprintf("group:g%d#member@group:g%d#member", i, i+1))
	}
	return append(rels, fmt.Sprintf("group:g%d#member@user:u", n))
}

// TestReviewLookupSubjectsUnboundedRecursion: LookupSubjects walked nested
// subject sets by recursion without a depth bound, and a long chain overflowed
// the goroutine stack (a fatal error, not a panic). It now fails cleanly with
// ErrDepthExceeded, as Check does; so does Expand's neighbour Check, and
// Expand (which lists subject sets without following them) succeeds.
func TestReviewLookupSubjectsUnboundedRecursion(t *testing.T) {
	const n = 20000
	v := testView(t, chainSchema, chain(n)...)
	e := newTestEngine(t, nil)
	debug.SetMaxStack(8 << 20)
	defer debug.SetMaxStack(1 << 30)
	ctx := context.Background()
	req := engine.LookupSubjectsRequest{Resource: tuple.ObjectRef{Type: "doc", ID: "d"}, Permission: "view", SubjectType: "user"}
	if _, err := e.LookupSubjects(ctx, v, req); !errors.Is(err, engine.ErrDepthExceeded) {
		t.Errorf("LookupSubjects: got %v, want ErrDepthExceeded", err)
	}
	req.SubjectType, req.SubjectRelation = "group", "member"
	if _, err := e.LookupSubjects(ctx, v, req); !errors.Is(err, engine.ErrDepthExceeded) {
		t.Errorf("LookupSubjects of group#member: got %v, want ErrDepthExceeded", err)
	}
	if _, err := e.Check(ctx, v, engine.CheckRequest{Resource: tuple.ObjectRef{Type: "doc", ID: "d"}, Permission: "view", Subject: tuple.SubjectRef{Type: "user", ID: "u"}}); !errors.Is(err, engine.ErrDepthExceeded) {
		t.Errorf("Check: got %v, want ErrDepthExceeded", err)
	}
	for _, res := range []string{"doc:d#view", "group:g0#member"} {
		obj, rel, _ := cutRef(res)
		if _, err := e.Expand(ctx, v, obj, rel); err != nil {
			t.Errorf("Expand %s: got %v, want a tree", res, err)
		}
	}
}

func cutRef(s string) (tuple.ObjectRef, string, error) {
	r, err := tuple.Parse(s + "@user:x")
	return r.Resource, r.Relation, err
}

// TestLookupSubjectsDepth: the forward walk counts steps as Check does: a
// chain within the budget is found, one step beyond it fails.
func TestLookupSubjectsDepth(t *testing.T) {
	ctx := context.Background()
	req := engine.LookupSubjectsRequest{Resource: tuple.ObjectRef{Type: "doc", ID: "d"}, Permission: "view", SubjectType: "user"}
	const maxDepth = 10
	e := newTestEngine(t, func(c *engine.Config) { c.MaxDepth = maxDepth })
	// doc:d#view -> viewer (1) -> g0#member (2) -> ... -> gN#member (N+2).
	fits := testView(t, chainSchema, chain(maxDepth-2)...)
	got, err := e.LookupSubjects(ctx, fits, req)
	if err != nil || len(got.Subjects) != 1 || got.Subjects[0].ID != "u" {
		t.Errorf("chain within the budget: got %+v, %v, want user u", got.Subjects, err)
	}
	if r := mustCheck(t, e, fits, "doc:d#view@user:u", nil); r.Result != engine.Allowed {
		t.Errorf("check within the budget: got %s, want allowed", r.Result)
	}
	tooDeep := testView(t, chainSchema, chain(maxDepth-1)...)
	tooDeep.Revision = fits.Revision + 1 // other data, so other cache entries
	if _, err := e.LookupSubjects(ctx, tooDeep, req); !errors.Is(err, engine.ErrDepthExceeded) {
		t.Errorf("chain beyond the budget: got %v, want ErrDepthExceeded", err)
	}
	if _, err := e.Check(ctx, tooDeep, engine.CheckRequest{Resource: req.Resource, Permission: "view", Subject: tuple.SubjectRef{Type: "user", ID: "u"}}); !errors.Is(err, engine.ErrDepthExceeded) {
		t.Errorf("check beyond the budget: got %v, want ErrDepthExceeded", err)
	}
}

const paradoxSchema = `definition user {}
definition doc {
  relation viewer: user | doc#view
  relation blocked: user | doc#view
  permission view = viewer - blocked
}`

// TestReviewExclusionCycle: a cycle cut inside the subtracted side of an
// exclusion answered denied there, which the exclusion turned into allowed:
// doc:a#view = not doc:b#view and doc:b#view = doc:a#view both came back
// allowed, depending on which was checked first. Such a question has no
// answer; every order, cache state and concurrency must report ErrCycle.
func TestReviewExclusionCycle(t *testing.T) {
	ctx := context.Background()
	v := testView(t, paradoxSchema, "doc:a#viewer@user:u", "doc:a#blocked@doc:b#view", "doc:b#viewer@doc:a#view")
	questions := []string{"doc:a#view@user:u", "doc:b#view@user:u"}
	for _, cacheEntries := range []int{0, 1000} {
		for _, conc := range []int{1, 4} {
			for _, first := range []int{0, 1} {
				e := newTestEngine(t, func(c *engine.Config) { c.CacheEntries, c.Concurrency = cacheEntries, conc })
				for round := range 2 {
					for i := range questions {
						q := tuple.MustParse(questions[(first+i)%2])
						got, err := e.Check(ctx, v, engine.CheckRequest{Resource: q.Resource, Permission: q.Relation, Subject: q.Subject})
						if !errors.Is(err, engine.ErrCycle) || !errors.Is(err, engine.ErrDepthExceeded) {
							t.Errorf("cache %d, concurrency %d, round %d: %s: got %s, %v, want ErrCycle", cacheEntries, conc, round, q.Key(), got.Result, err)
						}
					}
				}
				bulk := e.CheckBulk(ctx, v, []engine.CheckRequest{
					{Resource: tuple.ObjectRef{Type: "doc", ID: "a"}, Permission: "view", Subject: tuple.SubjectRef{Type: "user", ID: "u"}},
					{Resource: tuple.ObjectRef{Type: "doc", ID: "b"}, Permission: "view", Subject: tuple.SubjectRef{Type: "user", ID: "u"}},
				})
				for i, b := range bulk {
					if !errors.Is(b.Err, engine.ErrCycle) {
						t.Errorf("bulk item %d: got %s, %v, want ErrCycle", i, b.Result.Result, b.Err)
					}
				}
			}
		}
	}
	e := newTestEngine(t, nil)
	if _, err := e.LookupResources(ctx, v, engine.LookupResourcesRequest{ResourceType: "doc", Permission: "view", Subject: tuple.SubjectRef{Type: "user", ID: "u"}}); !errors.Is(err, engine.ErrCycle) {
		t.Errorf("LookupResources: got %v, want ErrCycle", err)
	}
	if _, err := e.LookupSubjects(ctx, v, engine.LookupSubjectsRequest{Resource: tuple.ObjectRef{Type: "doc", ID: "a"}, Permission: "view", SubjectType: "user"}); !errors.Is(err, engine.ErrCycle) {
		t.Errorf("LookupSubjects: got %v, want ErrCycle", err)
	}
}

// TestExclusionCycleDecided: a cycle through an exclusion does not fail a
// question whose answer does not depend on it, and cycles through unions
// (nested groups) and inside one side of an exclusion are still cut.
func TestExclusionCycleDecided(t *testing.T) {
	tests := []struct {
		name  string
		rels  []string
		check string
		want  engine.Result
	}{
		// doc:b is blocked outright, so b#view is denied whatever a#view is,
		// and a#view = allowed - denied.
		{"subtracted side decided", []string{"doc:a#viewer@user:u", "doc:a#blocked@doc:b#view", "doc:b#viewer@doc:a#view", "doc:b#blocked@user:u"},
			"doc:a#view@user:u", engine.Allowed},
		{"subtracted side decided, other end", []string{"doc:a#viewer@user:u", "doc:a#blocked@doc:b#view", "doc:b#viewer@doc:a#view", "doc:b#blocked@user:u"},
			"doc:b#view@user:u", engine.Denied},
		// The base is denied: the subtracted side is never asked.
		{"base denied", []string{"doc:a#blocked@doc:b#view", "doc:b#viewer@doc:a#view"}, "doc:a#view@user:u", engine.Denied},
		// A cycle of viewers (a union cycle) is cut as before.
		{"union cycle allowed", []string{"doc:a#viewer@doc:b#view", "doc:b#viewer@doc:a#view", "doc:b#viewer@user:u"}, "doc:a#view@user:u", engine.Allowed},
		{"union cycle denied", []string{"doc:a#viewer@doc:b#view", "doc:b#viewer@doc:a#view"}, "doc:a#view@user:u", engine.Denied},
		// A viewer cycle entirely inside the subtracted side: c#view and
		// d#view have no grant, so nothing is subtracted from a#view.
		{"cycle inside the subtracted side", []string{"doc:a#viewer@user:u", "doc:a#blocked@doc:c#view", "doc:c#viewer@doc:d#view", "doc:d#viewer@doc:c#view"},
			"doc:a#view@user:u", engine.Allowed},
		{"cycle inside the subtracted side, granted", []string{"doc:a#viewer@user:u", "doc:a#blocked@doc:c#view", "doc:c#viewer@doc:d#view", "doc:d#viewer@doc:c#view", "doc:d#viewer@user:u"},
			"doc:a#view@user:u", engine.Denied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := testView(t, paradoxSchema, tt.rels...)
			for _, conc := range []int{1, 4} {
				e := newTestEngine(t, func(c *engine.Config) { c.Concurrency = conc })
				for round := range 2 {
					if got := mustCheck(t, e, v, tt.check, nil); got.Result != tt.want {
						t.Errorf("concurrency %d, round %d: got %s, want %s", conc, round, got.Result, tt.want)
					}
				}
			}
		})
	}
}

// TestArrowChainDepth: a long chain of arrows (folder parents) is bounded by
// MaxDepth in every walk that follows arrows: Check, Expand and
// LookupSubjects fail with ErrDepthExceeded instead of recursing along it.
func TestArrowChainDepth(t *testing.T) {
	const n = 300
	rels := []string{fmt.Sprintf("folder:f%d#viewer@user:u", n)}
	for i := 0; i < n; i++ {
		rels = append(rels, fmt.Sprintf("folder:f%d#parent@folder:f%d", i, i+1))
	}
	v := testView(t, `definition user {}
definition folder {
  relation parent: folder
  relation viewer: user
  permission view = viewer + parent->view
}`, rels...)
	e := newTestEngine(t, nil) // MaxDepth 50
	debug.SetMaxStack(8 << 20)
	defer debug.SetMaxStack(1 << 30)
	ctx := context.Background()
	f0 := tuple.ObjectRef{Type: "folder", ID: "f0"}
	if _, err := e.Check(ctx, v, engine.CheckRequest{Resource: f0, Permission: "view", Subject: tuple.SubjectRef{Type: "user", ID: "u"}}); !errors.Is(err, engine.ErrDepthExceeded) {
		t.Errorf("Check: got %v, want ErrDepthExceeded", err)
	}
	if _, err := e.Expand(ctx, v, f0, "view"); !errors.Is(err, engine.ErrDepthExceeded) {
		t.Errorf("Expand: got %v, want ErrDepthExceeded", err)
	}
	if _, err := e.LookupSubjects(ctx, v, engine.LookupSubjectsRequest{Resource: f0, Permission: "view", SubjectType: "user"}); !errors.Is(err, engine.ErrDepthExceeded) {
		t.Errorf("LookupSubjects: got %v, want ErrDepthExceeded", err)
	}
	near := tuple.ObjectRef{Type: "folder", ID: fmt.Sprintf("f%d", n-10)}
	if got := mustCheck(t, e, v, near.String()+"#view@user:u", nil); got.Result != engine.Allowed {
		t.Errorf("10 steps from the grant: got %s, want allowed", got.Result)
	}
}
