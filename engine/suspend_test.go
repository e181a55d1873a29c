package engine_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/trellis-authz/trellis/engine"
	"github.com/trellis-authz/trellis/schema"
	"github.com/trellis-authz/trellis/schema/compile"
	"github.com/trellis-authz/trellis/storage"
	"github.com/trellis-authz/trellis/tuple"
)

var _ engine.Suspensions = (*storage.Snapshot)(nil)

const suspendSchema = `
definition user {}
definition team {
  relation member: user | team#member
}
definition folder {
  relation viewer: user | team#member
  permission view = viewer
}
definition doc {
  relation reader: user | team#member
  relation parent: folder
  permission view = reader + parent->view
}
`

// suspendFixture is a real store, an engine with a cache kept across
// revisions by a change index (as trellis serve runs), and the revision of
// the last write.
type suspendFixture struct {
	t   *testing.T
	st  *storage.Store
	e   *engine.Engine
	sch *schema.Schema
	rev uint64
	now time.Time
}

func newSuspendFixture(t *testing.T) *suspendFixture {
	t.Helper()
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	cfg := memStoreConfig(now)
	cfg.GCWindow = 0
	st, err := storage.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	sch, errs := compile.CompileText("suspend.zed", suspendSchema)
	if errs.Err() != nil {
		t.Fatal(errs)
	}
	ch := engine.NewChanges(1024, 0)
	st.SetChangeHook(func(rev uint64, changes []storage.Change, all bool) {
		if all {
			ch.RecordAll(rev)
		}
		ch.RecordRevision(rev, len(changes), func(i int) tuple.Relationship { return changes[i].Relationship })
	})
	ecfg := engine.DefaultConfig()
	ecfg.Changes = ch
	ecfg.Clock = func() time.Time { return now }
	e, err := engine.New(ecfg)
	if err != nil {
		t.Fatal(err)
	}
	f := &suspendFixture{t: t, st: st, e: e, sch: sch, now: now}
	var ups []tuple.Update
	for _, s := range []string{
		"doc:d1#reader@user:eve",          // direct
		"team:core#member@user:eve",       // eve and bob are in team:core,
		"team:core#member@user:bob",       // which is nested in team:ml
		"team:ml#member@team:core#member", //
		"doc:d2#reader@team:ml#member",    // nested groups
		"folder:f#viewer@team:ml#member",  // a subject set behind an arrow
		"doc:d3#parent@folder:f",          //
		"doc:d4#reader@user:bob",          // bob directly
		"doc:d5#reader@team:core#member",  // team:core, not through team:ml
	} {
		ups = append(ups, tuple.Update{Op: tuple.OpTouch, Relationship: tuple.MustParse(s)})
	}
	for _, b := range []storage.Batch{{Schema: &storage.SchemaRecord{Text: suspendSchema}}, {Updates: ups}} {
		if err := f.apply(b); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func (f *suspendFixture) apply(b storage.Batch) error {
	f.t.Helper()
	f.rev++
	_, err := f.st.Apply(f.rev, b)
	return err
}

func (f *suspendFixture) suspend(subject string, until *time.Time) {
	f.t.Helper()
	s := tuple.Suspension{Subject: mustSubject(f.t, subject), Reason: "SEC-7 " + subject, Principal: "admin", Since: f.now, Until: until}
	if err := f.apply(storage.Batch{Suspend: &storage.SuspensionChange{Suspension: s}}); err != nil {
		f.t.Fatal(err)
	}
}

func (f *suspendFixture) unsuspend(subject string) error {
	return f.apply(storage.Batch{Suspend: &storage.SuspensionChange{Suspension: tuple.Suspension{Subject: mustSubject(f.t, subject)}, Remove: true}})
}

func mustSubject(t *testing.T, s string) tuple.SubjectRef {
	t.Helper()
	sub, err := tuple.ParseSubject(s)
	if err != nil {
		t.Fatal(err)
	}
	return sub
}

// view opens the view at rev (0: the latest).
func (f *suspendFixture) view(rev uint64) engine.View {
	f.t.Helper()
	if rev == 0 {
		rev = f.rev
	}
	sn, err := f.st.Snapshot(rev)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(sn.Close)
	return engine.View{Schema: f.sch, Reader: sn, Revision: rev}
}

// answers is everything the engine says about eve and bob at rev: the
// documents each can view (by Check, and by LookupResources), who can view
// each document (LookupSubjects) and the subjects of doc:d1 and doc:d2's
// reader (Expand).
type answers struct {
	checks, lookups map[string][]string
	subjects        map[string][]string
	expand          map[string][]string
}

func (f *suspendFixture) answers(rev uint64) answers {
	f.t.Helper()
	ctx := context.Background()
	v := f.view(rev)
	a := answers{checks: map[string][]string{}, lookups: map[string][]string{}, subjects: map[string][]string{}, expand: map[string][]string{}}
	docs := []string{"d1", "d2", "d3", "d4", "d5"}
	for _, u := range []string{"user:eve", "user:bob", "team:ml#member", "team:core#member"} {
		for _, d := range docs {
			r, err := f.e.Check(ctx, v, engine.CheckRequest{Resource: tuple.ObjectRef{Type: "doc", ID: d}, Permission: "view", Subject: mustSubject(f.t, u)})
			if err != nil {
				f.t.Fatal(err)
			}
			if r.Result == engine.Allowed {
				a.checks[u] = append(a.checks[u], d)
			}
		}
		lr, err := f.e.LookupResources(ctx, v, engine.LookupResourcesRequest{ResourceType: "doc", Permission: "view", Subject: mustSubject(f.t, u)})
		if err != nil {
			f.t.Fatal(err)
		}
		for _, r := range lr.Resources {
			a.lookups[u] = append(a.lookups[u], r.ID)
		}
	}
	for _, d := range docs {
		ls, err := f.e.LookupSubjects(ctx, v, engine.LookupSubjectsRequest{Resource: tuple.ObjectRef{Type: "doc", ID: d}, Permission: "view", SubjectType: "user"})
		if err != nil {
			f.t.Fatal(err)
		}
		for _, s := range ls.Subjects {
			a.subjects[d] = append(a.subjects[d], s.ID)
		}
	}
	for _, d := range []string{"d1", "d2"} {
		n, err := f.e.Expand(ctx, v, tuple.ObjectRef{Type: "doc", ID: d}, "reader")
		if err != nil {
			f.t.Fatal(err)
		}
		for _, s := range n.Subjects {
			a.expand[d] = append(a.expand[d], s.Subject)
		}
	}
	return a
}

func eq(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

// TestSuspendSubject: suspending user:eve denies her every path (direct, nested
// groups, the arrow through a group) in Check, LookupResources and
// LookupSubjects, leaves her out of Expand, changes nothing for bob, is
// counted and explained; an allow cached before is not served after; the
// revision before the suspension still answers as before; unsuspending
// brings every earlier answer back.
func TestSuspendSubject(t *testing.T) {
	f := newSuspendFixture(t)
	before := f.answers(0)
	beforeRev := f.rev
	if want := []string{"d1", "d2", "d3", "d5"}; !slices.Equal(before.checks["user:eve"], want) || !slices.Equal(before.lookups["user:eve"], want) {
		t.Fatalf("before: eve views %v (lookup %v), want %v", before.checks["user:eve"], before.lookups["user:eve"], want)
	}
	denials := f.e.SuspendedDenials()
	f.suspend("user:eve", nil)
	after := f.answers(0)
	if len(after.checks["user:eve"]) != 0 || len(after.lookups["user:eve"]) != 0 {
		t.Errorf("suspended eve still views %v (lookup %v)", after.checks["user:eve"], after.lookups["user:eve"])
	}
	if !slices.Equal(after.checks["user:bob"], before.checks["user:bob"]) || !slices.Equal(after.lookups["user:bob"], before.lookups["user:bob"]) {
		t.Errorf("bob changed: %v -> %v", before.checks["user:bob"], after.checks["user:bob"])
	}
	for d, subs := range after.subjects {
		if slices.Contains(subs, "eve") {
			t.Errorf("LookupSubjects doc:%s lists suspended eve: %v", d, subs)
		}
	}
	if slices.Contains(after.expand["d1"], "user:eve") || !slices.Contains(before.expand["d1"], "user:eve") {
		t.Errorf("expand doc:d1#reader before %v after %v: want eve left out after", before.expand["d1"], after.expand["d1"])
	}
	if f.e.SuspendedDenials() <= denials {
		t.Error("trellis_suspended_denials_total did not move")
	}
	r, err := f.e.Check(context.Background(), f.view(0), engine.CheckRequest{Resource: tuple.ObjectRef{Type: "doc", ID: "d1"}, Permission: "view",
		Subject: mustSubject(t, "user:eve"), Explain: true})
	if err != nil {
		t.Fatal(err)
	}
	if r.Result != engine.Denied || r.Trace == nil || r.Trace.Kind != "suspended" || r.Trace.Detail["reason"] != "SEC-7 user:eve" || r.Trace.Detail["by"] != "admin" {
		t.Errorf("explain: %v %+v, want a suspended node with the reason", r.Result, r.Trace)
	}
	if old := f.answers(beforeRev); !eq(old.checks, before.checks) || !eq(old.subjects, before.subjects) {
		t.Errorf("the revision before the suspension changed: %v, want %v", old.checks, before.checks)
	}
	if err := f.unsuspend("user:eve"); err != nil {
		t.Fatal(err)
	}
	back := f.answers(0)
	if !eq(back.checks, before.checks) || !eq(back.lookups, before.lookups) || !eq(back.subjects, before.subjects) || !eq(back.expand, before.expand) {
		t.Errorf("after unsuspend: %+v, want %+v", back, before)
	}
}

// TestSuspendSubjectSet: suspending team:ml#member cuts every path through
// it — bob loses d2 (nested) and d3 (arrow to a folder that grants team:ml)
// but keeps d4 (direct) and d5 (team:core, not through team:ml); the set
// itself has nothing; the group index and the cache, which would answer
// through the set, are not used; unsuspending restores the cached answers.
func TestSuspendSubjectSet(t *testing.T) {
	f := newSuspendFixture(t)
	before := f.answers(0)
	if want := []string{"d2", "d3", "d4", "d5"}; !slices.Equal(before.checks["user:bob"], want) {
		t.Fatalf("before: bob views %v, want %v", before.checks["user:bob"], want)
	}
	f.suspend("team:ml#member", nil)
	after := f.answers(0)
	for u, want := range map[string][]string{"user:bob": {"d4", "d5"}, "user:eve": {"d1", "d5"}, "team:ml#member": nil, "team:core#member": {"d5"}} {
		if !slices.Equal(after.checks[u], want) || !slices.Equal(after.lookups[u], want) {
			t.Errorf("%s views %v (lookup %v), want %v", u, after.checks[u], after.lookups[u], want)
		}
	}
	if len(after.subjects["d2"]) != 0 || len(after.subjects["d3"]) != 0 {
		t.Errorf("LookupSubjects through the suspended set: d2 %v d3 %v", after.subjects["d2"], after.subjects["d3"])
	}
	if slices.Contains(after.expand["d2"], "team:ml#member") {
		t.Errorf("expand doc:d2#reader lists the suspended set: %v", after.expand["d2"])
	}
	n, err := f.e.Expand(context.Background(), f.view(0), tuple.ObjectRef{Type: "team", ID: "ml"}, "member")
	if err != nil || n.Kind != "suspended" {
		t.Errorf("expand team:ml#member: %+v %v, want a suspended node", n, err)
	}
	if err := f.unsuspend("team:ml#member"); err != nil {
		t.Fatal(err)
	}
	if back := f.answers(0); !eq(back.checks, before.checks) || !eq(back.lookups, before.lookups) || !eq(back.subjects, before.subjects) {
		t.Errorf("after unsuspend: %v, want %v", back.checks, before.checks)
	}
}

// TestSuspendCacheNeverServesStale: an allow computed (and cached) just
// before a suspension is not served at the suspension's revision, for a
// suspended subject or a suspended set on its path.
func TestSuspendCacheNeverServesStale(t *testing.T) {
	f := newSuspendFixture(t)
	ctx := context.Background()
	check := func(subject, doc string) engine.Result {
		t.Helper()
		r, err := f.e.Check(ctx, f.view(0), engine.CheckRequest{Resource: tuple.ObjectRef{Type: "doc", ID: doc}, Permission: "view", Subject: mustSubject(t, subject)})
		if err != nil {
			t.Fatal(err)
		}
		return r.Result
	}
	for range 3 {
		if check("user:bob", "d2") != engine.Allowed || check("user:bob", "d3") != engine.Allowed {
			t.Fatal("bob should view d2 and d3 before")
		}
	}
	hits, _ := f.e.CacheStats()
	if hits == 0 {
		t.Fatal("the cache was not used: the test proves nothing")
	}
	f.suspend("team:core#member", nil)
	if check("user:bob", "d2") != engine.Denied || check("user:bob", "d3") != engine.Denied {
		t.Error("a cached allow through the suspended set team:core#member was served")
	}
	if err := f.unsuspend("team:core#member"); err != nil {
		t.Fatal(err)
	}
	if check("user:bob", "d2") != engine.Allowed {
		t.Fatal("bob should view d2 again")
	}
	f.suspend("user:bob", nil)
	if check("user:bob", "d2") != engine.Denied || check("user:bob", "d4") != engine.Denied {
		t.Error("a cached allow for suspended bob was served")
	}
}

// TestSuspendUntil: a suspension is in force until its until; past it the
// subject's permissions return without an unsuspend. Lifting a subject that
// is not suspended fails with ErrNotSuspended.
func TestSuspendUntil(t *testing.T) {
	f := newSuspendFixture(t)
	until := f.now.Add(time.Hour)
	f.suspend("user:eve", &until)
	v := f.view(0)
	req := engine.CheckRequest{Resource: tuple.ObjectRef{Type: "doc", ID: "d1"}, Permission: "view", Subject: mustSubject(t, "user:eve")}
	if r, err := f.e.Check(context.Background(), v, req); err != nil || r.Result != engine.Denied {
		t.Errorf("before until: %v %v, want denied", r.Result, err)
	}
	lcfg := engine.DefaultConfig()
	lcfg.Clock = func() time.Time { return until }
	later, err := engine.New(lcfg)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := later.Check(context.Background(), v, req); err != nil || r.Result != engine.Allowed {
		t.Errorf("at until: %v %v, want allowed", r.Result, err)
	}
	if err := f.unsuspend("user:bob"); err == nil || !errors.Is(err, storage.ErrNotSuspended) {
		t.Errorf("unsuspend of a subject never suspended: %v, want ErrNotSuspended", err)
	}
}
