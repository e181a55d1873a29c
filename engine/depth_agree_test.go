package engine_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/trellis-authz/trellis/engine"
	"github.com/trellis-authz/trellis/tuple"
)

// TestDepthAgreesAcrossQueries: through a chain deeper than the depth
// budget, Check, LookupResources and LookupSubjects give the same verdict
// (LookupResources used to answer allowed, from facts its reverse walk took
// for certain, where the other two answered depth_exceeded).
func TestDepthAgreesAcrossQueries(t *testing.T) {
	const n = 61
	var rels []string
	for i := range n {
		rels = append(rels, fmt.Sprintf("team:t%02d#member@team:t%02d#member", i, i+1))
	}
	rels = append(rels, fmt.Sprintf("team:t%02d#member@user:ana", n))
	for _, index := range []bool{true, false} {
		v := testView(t, docSchema, rels...)
		e := newTestEngine(t, func(c *engine.Config) { c.MaxDepth = 50; c.NoGroupIndex = !index })
		ctx := context.Background()
		ana := tuple.SubjectRef{Type: "user", ID: "ana"}
		root := tuple.ObjectRef{Type: "team", ID: "t00"}
		verdict := func(res engine.Result, err error) string {
			if errors.Is(err, engine.ErrDepthExceeded) {
				return "depth_exceeded"
			}
			if err != nil {
				t.Fatalf("index %v: %v", index, err)
			}
			return res.String()
		}
		cr, err := e.Check(ctx, v, engine.CheckRequest{Resource: root, Permission: "member", Subject: ana})
		check := verdict(cr.Result, err)
		lr, err := e.LookupResources(ctx, v, engine.LookupResourcesRequest{ResourceType: "team", Permission: "member", Subject: ana})
		lookupRes := "denied"
		if err != nil {
			lookupRes = verdict(0, err)
		}
		for _, r := range lr.Resources {
			if r.ID == "t00" {
				lookupRes = r.Result.String()
			}
		}
		ls, err := e.LookupSubjects(ctx, v, engine.LookupSubjectsRequest{Resource: root, Permission: "member", SubjectType: "user"})
		lookupSub := "denied"
		if err != nil {
			lookupSub = verdict(0, err)
		}
		for _, s := range ls.Subjects {
			if s.ID == "ana" {
				lookupSub = s.Result.String()
			}
		}
		if check != lookupRes || check != lookupSub {
			t.Errorf("index %v, %d-deep chain: Check %s, LookupResources %s, LookupSubjects %s; want one verdict", index, n, check, lookupRes, lookupSub)
		}
	}
}
