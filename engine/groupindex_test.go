package engine_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trellis-authz/trellis/engine"
	"github.com/trellis-authz/trellis/schema/compile"
	"github.com/trellis-authz/trellis/storage"
	"github.com/trellis-authz/trellis/tuple"
)

var _ engine.GroupIndex = (*storage.Snapshot)(nil)

const groupIndexSchema = `
use expiration
caveat flagged(flag bool) { flag }
definition user {}
definition group {
  relation member: user | user:* | user with flagged | user with expiration | group#member | group#member with flagged | group#member with expiration | group#owner | group#admin
  relation owner: user | group#member
  permission admin = owner
}
definition team {
  relation member: user | user:* | user with flagged | user with expiration | team#member | team#member with flagged | team#member with expiration
}
definition folder {
  relation parent: folder
  relation viewer: user | user:* | user with flagged | user with expiration
  relation lock: user | user with flagged
  relation owners: group#member
  permission view = (viewer + parent->view) - lock
  permission locked = lock + parent->locked
}
definition doc {
  relation reader: user | group#member | group#owner
  relation banned: user | group#member
  relation editor: user | team#member | team#member with flagged | team#member with expiration
  relation folder: folder
  relation team: team
  permission view = (reader + folder->view) - (banned + folder->locked)
  permission edit = (editor + team->member + folder->owners) - banned
}
`

// groupIndexNow is the clock of the store and the engines: expirations are
// an hour before or after it.
var groupIndexNow = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

func openGroupIndexStore(t *testing.T) *storage.Store {
	t.Helper()
	cfg := memStoreConfig(groupIndexNow)
	cfg.GCWindow = 0 // every revision stays readable
	st, err := storage.Open(cfg)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// randomGroupRel draws a relationship from a small space, so the same ones
// are written, deleted and written again: nested groups with cycles and
// self-loops, wildcards, caveats with and without context, expirations in the
// past and the future, a subject set through a permission (group#admin),
// and arrows whose targets hold only through plain relations (folder->view,
// recursive and with an exclusion; folder->locked) or through subject sets
// (team->member, folder->owners), which a query may deny without a read.
func randomGroupRel(r *rand.Rand) tuple.Relationship {
	g := func() string { return fmt.Sprintf("g%d", r.IntN(6)) }
	u := func() string { return fmt.Sprintf("u%d", r.IntN(4)) }
	trait := func() string {
		switch r.IntN(8) {
		case 0:
			return `[flagged:{"flag":true}]`
		case 1:
			return `[flagged:{"flag":false}]`
		case 2:
			return `[flagged]`
		case 3:
			return "[expiration:" + groupIndexNow.Add(-time.Hour).Format(time.RFC3339) + "]"
		case 4:
			return "[expiration:" + groupIndexNow.Add(time.Hour).Format(time.RFC3339) + "]"
		}
		return ""
	}
	// team#member reaches only relations (the index may deny there);
	// group#member reaches a permission (group#admin: it may only allow).
	typ := "group"
	if r.IntN(2) == 0 {
		typ = "team"
	}
	f := func() string { return fmt.Sprintf("f%d", r.IntN(3)) }
	var s string
	switch r.IntN(21) {
	case 18:
		s = fmt.Sprintf("folder:%s#owners@group:%s#member", f(), g())
	case 12:
		s = fmt.Sprintf("folder:%s#parent@folder:%s", f(), f())
	case 13:
		s = fmt.Sprintf("folder:%s#viewer@user:%s%s", f(), u(), trait())
	case 14:
		s = fmt.Sprintf("folder:%s#viewer@user:*", f())
	case 15:
		lock := ""
		if r.IntN(3) == 0 {
			lock = `[flagged]`
		}
		s = fmt.Sprintf("folder:%s#lock@user:%s%s", f(), u(), lock)
	case 16:
		s = fmt.Sprintf("doc:d%d#folder@folder:%s", r.IntN(3), f())
	case 17:
		s = fmt.Sprintf("doc:d%d#team@team:%s", r.IntN(3), g())
	case 0, 1, 2:
		s = fmt.Sprintf("%s:%s#member@%s:%s#member%s", typ, g(), typ, g(), trait())
	case 3, 4:
		s = fmt.Sprintf("%s:%s#member@user:%s%s", typ, g(), u(), trait())
	case 5:
		s = fmt.Sprintf("%s:%s#member@user:*", typ, g())
	case 11, 19, 20:
		// Editor teams: several per doc, so the subject's groups answer
		// them together (setsFromGroups), some with caveats or expirations.
		s = fmt.Sprintf("doc:d%d#editor@team:%s#member%s", r.IntN(3), g(), trait())
	case 6:
		s = fmt.Sprintf("group:%s#member@group:%s#admin", g(), g())
	case 10:
		s = fmt.Sprintf("group:%s#owner@user:%s", g(), u())
	case 7:
		s = fmt.Sprintf("group:%s#member@group:%s#owner", g(), g())
	case 8:
		s = fmt.Sprintf("doc:d%d#reader@group:%s#member", r.IntN(3), g())
	default:
		s = fmt.Sprintf("doc:d%d#banned@group:%s#member", r.IntN(3), g())
	}
	return tuple.MustParse(s)
}

// groupIndexAnswers asks every check and lookup of the fixture space at v
// and returns the answers, one line each.
func groupIndexAnswers(t *testing.T, e *engine.Engine, v engine.View, w *engine.Watch) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	for _, c := range []map[string]any{nil, {"flag": true}} {
		for ui := range 4 {
			subj := tuple.SubjectRef{Type: "user", ID: fmt.Sprintf("u%d", ui)}
			ask := func(typ, id, perm string) {
				r, err := e.Check(ctx, v, engine.CheckRequest{Resource: tuple.ObjectRef{Type: typ, ID: id}, Permission: perm, Subject: subj, Context: c, Watch: w})
				out = append(out, fmt.Sprintf("%s:%s#%s@%s ctx=%v: %v %v %v watched %b", typ, id, perm, subj, c, r.Result, r.MissingContext, err, r.Watched))
			}
			for gi := range 6 {
				for _, p := range []string{"member", "owner", "admin"} {
					ask("group", fmt.Sprintf("g%d", gi), p)
				}
				ask("team", fmt.Sprintf("g%d", gi), "member")
			}
			for fi := range 3 {
				ask("folder", fmt.Sprintf("f%d", fi), "view")
				ask("folder", fmt.Sprintf("f%d", fi), "locked")
			}
			for di := range 3 {
				ask("doc", fmt.Sprintf("d%d", di), "view")
				ask("doc", fmt.Sprintf("d%d", di), "edit")
			}
			if w != nil {
				continue // lookups carry no watch; they are compared at the other revisions
			}
			lr, err := e.LookupResources(ctx, v, engine.LookupResourcesRequest{ResourceType: "group", Permission: "member", Subject: subj, Context: c})
			out = append(out, fmt.Sprintf("lookup groups of %s ctx=%v: %v %v", subj, c, lr.Resources, err))
			for _, perm := range []string{"view", "edit"} {
				lr, err = e.LookupResources(ctx, v, engine.LookupResourcesRequest{ResourceType: "doc", Permission: perm, Subject: subj, Context: c})
				out = append(out, fmt.Sprintf("lookup docs %s of %s ctx=%v: %v %v", perm, subj, c, lr.Resources, err))
			}
		}
		if w != nil {
			continue
		}
		ls, err := e.LookupSubjects(ctx, v, engine.LookupSubjectsRequest{Resource: tuple.ObjectRef{Type: "doc", ID: "d0"}, Permission: "view", SubjectType: "user", Context: c})
		out = append(out, fmt.Sprintf("subjects of doc:d0 ctx=%v: %v %v", c, ls.Subjects, err))
	}
	return out
}

// TestGroupIndexDifferential writes random batches to a real store and
// compares, at the new revision and at a random older one, every answer of
// an engine that uses the nested-group index with one that walks.
func TestGroupIndexDifferential(t *testing.T) {
	sch, errs := compile.CompileText("groups.zed", groupIndexSchema)
	if errs.Err() != nil {
		t.Fatal(errs)
	}
	newEngine := func(noIndex bool, concurrency int) *engine.Engine {
		cfg := engine.DefaultConfig()
		cfg.CacheEntries = 0
		cfg.Concurrency = concurrency
		cfg.Clock = func() time.Time { return groupIndexNow }
		cfg.NoGroupIndex = noIndex
		e, err := engine.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	indexed, walking := newEngine(false, 8), newEngine(true, 8)
	// Watched checks run in line: with branches in parallel, which of two
	// allowing branches decides (and so what a watch reports) is a race.
	indexedSeq, walkingSeq := newEngine(false, 1), newEngine(true, 1)
	watchedIndexed, watchedHits := 0, 0
	relWatch, err := engine.NewWatch([]engine.WatchSpec{{Through: "reader"}, {Through: "editor"}, {Through: "banned"}})
	if err != nil {
		t.Fatal(err)
	}
	hidingWatch, err := engine.NewWatch([]engine.WatchSpec{{Through: "owner"}, {Through: "reader"}})
	if err != nil {
		t.Fatal(err)
	}
	compare := func(st *storage.Store, rev uint64) {
		t.Helper()
		sn, err := st.Snapshot(rev)
		if err != nil {
			t.Fatal(err)
		}
		if !sn.GroupIndexed() {
			t.Fatalf("revision %d: the index is not available", rev)
		}
		v := engine.View{Schema: sch, Reader: sn, Revision: rev}
		// Half the time the checks carry a watch of relations that the index
		// cannot step over: it stays in use, and what they report must be
		// what the walk reports.
		var w *engine.Watch
		if rev%2 == 0 {
			w = relWatch
		}
		if rev%3 == 0 {
			w = hidingWatch // owner: a subject-set relation the index would step over
		}
		ie, we := indexed, walking
		if w != nil {
			ie, we = indexedSeq, walkingSeq
		}
		before, _ := ie.GroupIndexStats()
		got, want := groupIndexAnswers(t, ie, v, w), groupIndexAnswers(t, we, v, w)
		after, _ := ie.GroupIndexStats()
		if w == hidingWatch && after != before {
			t.Fatalf("revision %d: a watch of owner (a relation the index steps over) still used the index (%d answers)", rev, after-before)
		}
		if w == relWatch && after > before {
			watchedIndexed++
		}
		for _, s := range got {
			if w != nil && !strings.HasSuffix(s, "watched 0") && strings.Contains(s, " watched ") {
				watchedHits++
			}
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("revision %d: with the index %s, walking %s", rev, got[i], want[i])
			}
		}
	}
	for seed := range uint64(4) {
		st := openGroupIndexStore(t)
		r := rand.New(rand.NewPCG(seed, 15))
		const revisions = 40
		for rev := uint64(1); rev <= revisions; rev++ {
			var b storage.Batch
			seen := map[string]bool{}
			for range 1 + r.IntN(4) {
				rel := randomGroupRel(r)
				if seen[rel.Key()] {
					continue
				}
				seen[rel.Key()] = true
				op := tuple.OpTouch
				if r.IntN(3) == 0 {
					op = tuple.OpDelete
				}
				b.Updates = append(b.Updates, tuple.Update{Op: op, Relationship: rel})
			}
			if _, err := st.Apply(rev, b); err != nil {
				t.Fatalf("seed %d revision %d: %v", seed, rev, err)
			}
			compare(st, rev)
			compare(st, 1+r.Uint64N(rev))
		}
		// A restore rebuilds the index; the answers stay the same.
		var buf bytes.Buffer
		rev, err := st.Backup(&buf)
		if err != nil {
			t.Fatal(err)
		}
		restored := openGroupIndexStore(t)
		if err := restored.Restore(&buf); err != nil {
			t.Fatal(err)
		}
		compare(restored, rev)
		if s := restored.GroupIndexStats(); s.Rebuilds != 2 || s.Pairs != st.GroupIndexStats().Pairs {
			t.Fatalf("restored index: %+v; want 2 rebuilds (open, restore) and the %d pairs of the original", s, st.GroupIndexStats().Pairs)
		}
	}
	answered, fallbacks := indexed.GroupIndexStats()
	if answered == 0 || fallbacks == 0 {
		t.Fatalf("the index answered %d checks and fell back %d times; the test must exercise both", answered, fallbacks)
	}
	if a, _ := walking.GroupIndexStats(); a != 0 {
		t.Fatalf("the engine with NoGroupIndex answered %d checks from the index", a)
	}
	t.Logf("index answered %d relation checks, fell back %d times", answered, fallbacks)
	if watchedIndexed == 0 || watchedHits == 0 {
		t.Fatalf("watched checks used the index in %d comparisons and reported a watched relation %d times; the test must exercise both", watchedIndexed, watchedHits)
	}
	t.Logf("watched checks: the index answered in %d comparisons; %d reported a watched relation", watchedIndexed, watchedHits)
	if rels, groups := engine.SubjectReads(indexed); rels == 0 || groups == 0 {
		t.Fatalf("indexed checks read all of a subject's relationships %d times and all of its groups %d times; the test must exercise both", rels, groups)
	} else {
		t.Logf("indexed checks read all of a subject's relationships %d times and all of its groups %d times", rels, groups)
	}
	if n := engine.SetsAnswered(indexed); n == 0 {
		t.Fatal("no relation had its subject sets answered from the subject's groups; the test must exercise it")
	} else {
		t.Logf("%d relations had their subject sets answered from the subject's groups", n)
	}
	if n := engine.ArrowsDenied(indexed); n == 0 {
		t.Fatal("no arrow was denied without a read; the test must exercise it")
	} else {
		t.Logf("%d arrows denied without a read", n)
	}
	if rels, groups := engine.SubjectReads(walking); rels != 0 || groups != 0 || engine.ArrowsDenied(walking) != 0 {
		t.Fatalf("the walking engine read a subject's relationships at once (%d, %d): it must read one at a time, as the reference", rels, groups)
	}
}

// TestGroupIndexStats: one batch that nests three groups under a document
// writes their three closure pairs (the document's relation, which nothing
// holds, gets none), and the up closure lists both groups above the lowest.
func TestGroupIndexStats(t *testing.T) {
	st := openGroupIndexStore(t)
	var b storage.Batch
	for _, s := range []string{"doc:d#reader@group:a#member", "group:a#member@group:b#member", "group:b#member@group:c#member", "group:c#member@user:u"} {
		b.Updates = append(b.Updates, tuple.Update{Op: tuple.OpTouch, Relationship: tuple.MustParse(s)})
	}
	if _, err := st.Apply(1, b); err != nil {
		t.Fatal(err)
	}
	s := st.GroupIndexStats()
	if s.Pairs != 3 || s.Updates != 1 || s.PairsWritten != 3 {
		t.Fatalf("got %+v; want 3 pairs (a>b, a>c, b>c; none for doc:d#reader, which nothing holds) written by 1 update", s)
	}
	sn, _ := st.Snapshot(1)
	var got []string
	for a, err := range sn.GroupAncestors(context.Background(), tuple.SubjectRef{Type: "group", ID: "c", Relation: "member"}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s %v", a.Set, a.Clean))
	}
	if want := []string{"group:a#member true", "group:b#member true"}; !slices.Equal(got, want) {
		t.Fatalf("ancestors of group:c#member: got %v, want %v", got, want)
	}
}

// TestSetsFromGroups: a relation holding several subject sets is answered
// from the subject's groups; a group joined only through a caveated edge
// leaves the answer to the walk, which applies the caveat.
func TestSetsFromGroups(t *testing.T) {
	sch, errs := compile.CompileText("groups.zed", groupIndexSchema)
	if errs.Err() != nil {
		t.Fatal(errs)
	}
	st := openGroupIndexStore(t)
	var b storage.Batch
	for _, s := range []string{
		"team:a#member@user:u",
		"team:b#member@team:a#member[flagged]", // only a caveated path from a to b
		"team:c#member@team:a#member",
		"doc:d#editor@team:b#member",
		"doc:d#editor@team:x#member",
		"doc:e#editor@team:c#member",
		"doc:e#editor@team:y#member",
	} {
		b.Updates = append(b.Updates, tuple.Update{Op: tuple.OpTouch, Relationship: tuple.MustParse(s)})
	}
	if _, err := st.Apply(1, b); err != nil {
		t.Fatal(err)
	}
	sn, err := st.Snapshot(1)
	if err != nil {
		t.Fatal(err)
	}
	v := engine.View{Schema: sch, Reader: sn, Revision: 1}
	cfg := engine.DefaultConfig()
	cfg.CacheEntries = 0
	cfg.Clock = func() time.Time { return groupIndexNow }
	e, err := engine.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	u := tuple.SubjectRef{Type: "user", ID: "u"}
	for _, c := range []struct {
		doc  string
		ctx  map[string]any
		want engine.Result
	}{
		{"e", nil, engine.Allowed},
		{"d", nil, engine.Conditional},
		{"d", map[string]any{"flag": false}, engine.Denied},
		{"d", map[string]any{"flag": true}, engine.Allowed},
	} {
		r, err := e.Check(context.Background(), v, engine.CheckRequest{Resource: tuple.ObjectRef{Type: "doc", ID: c.doc}, Permission: "edit", Subject: u, Context: c.ctx})
		if err != nil || r.Result != c.want {
			t.Errorf("doc:%s#edit@user:u context %v: %v (%v), want %v", c.doc, c.ctx, r.Result, err, c.want)
		}
	}
	if engine.SetsAnswered(e) == 0 {
		t.Error("no relation was answered from the subject's groups")
	}
}
