package engine_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/trellis-authz/trellis/engine"
	"github.com/trellis-authz/trellis/tuple"
)

// treeRels builds a tree of teams, fanout children per team and depth
// levels below the root team:t, each team with 3 users of its own, and
// document:d reading team:t#member. It returns the relationships and a user
// at the bottom of the tree.
func treeRels(fanout, depth int) ([]tuple.Relationship, string) {
	var rels []tuple.Relationship
	var walk func(name string, level int)
	last := ""
	walk = func(name string, level int) {
		for u := range 3 {
			last = fmt.Sprintf("%s_u%d", name, u)
			rels = append(rels, rel(fmt.Sprintf("team:%s#member@user:%s", name, last)))
		}
		if level == depth {
			return
		}
		for c := range fanout {
			child := fmt.Sprintf("%s_%d", name, c)
			rels = append(rels, rel(fmt.Sprintf("team:%s#member@team:%s#member", name, child)))
			walk(child, level+1)
		}
	}
	walk("t", 0)
	rels = append(rels, rel("document:d#reader@team:t#member"), rel("team:other#member@user:outsider"))
	return rels, last
}

// BenchmarkCheckNestedTree: document:d#view (reader - banned) where reader
// is team:t#member and team:t holds a tree of teams, 3 children each, depth
// levels deep; "member" asks about a user at the bottom of the tree (the
// walk finds it last), "outsider" about a user in another team (the walk
// visits every team). Cache off; with the nested-group index and walking.
func BenchmarkCheckNestedTree(b *testing.B) {
	for _, depth := range []int{2, 4, 6} {
		rels, member := treeRels(3, depth)
		v := benchView(b, rels)
		for _, mode := range []string{"index", "walk"} {
			e := benchEngineWith(b, func(c *engine.Config) { c.CacheEntries = 0; c.NoGroupIndex = mode == "walk" })
			for _, who := range []string{"member", "outsider"} {
				subj, want := member, engine.Allowed
				if who == "outsider" {
					subj, want = "outsider", engine.Denied
				}
				b.Run(fmt.Sprintf("depth=%d/%s/%s", depth, who, mode), func(b *testing.B) {
					ctx := context.Background()
					req := engine.CheckRequest{Resource: tuple.ObjectRef{Type: "document", ID: "d"}, Permission: "view", Subject: tuple.SubjectRef{Type: "user", ID: subj}}
					runTimed(b, func(int) {
						r, err := e.Check(ctx, v, req)
						if err != nil || r.Result != want {
							b.Fatalf("got %v %v, want %v", r.Result, err, want)
						}
					})
				})
			}
		}
	}
}

// BenchmarkLookupResourcesWide: user:hub is a direct member of 5,000 teams,
// each of which reads two documents: 10,000 results. Cache off.
func BenchmarkLookupResourcesWide(b *testing.B) {
	const teams = 5000
	var rels []tuple.Relationship
	for i := range teams {
		rels = append(rels, rel(fmt.Sprintf("team:w%d#member@user:hub", i)))
		for d := range 2 {
			rels = append(rels, rel(fmt.Sprintf("document:d%d_%d#reader@team:w%d#member", i, d, i)))
		}
	}
	v := benchView(b, rels)
	for _, mode := range []string{"index", "walk"} {
		b.Run(mode, func(b *testing.B) {
			e := benchEngineWith(b, func(c *engine.Config) { c.CacheEntries = 0; c.NoGroupIndex = mode == "walk" })
			ctx := context.Background()
			runTimed(b, func(int) {
				res, err := e.LookupResources(ctx, v, engine.LookupResourcesRequest{ResourceType: "document", Permission: "view", Subject: tuple.SubjectRef{Type: "user", ID: "hub"}})
				if err != nil || len(res.Resources) != 2*teams {
					b.Fatalf("got %d resources, err %v; want %d", len(res.Resources), err, 2*teams)
				}
			})
		})
	}
}

func benchEngineWith(b *testing.B, set func(*engine.Config)) *engine.Engine {
	cfg := engine.DefaultConfig()
	set(&cfg)
	e, err := engine.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return e
}
