package workload

import (
	"testing"
	"time"
)

// fixture builds a small graph by hand: team t0 ⊃ t1 ⊃ t2 (nested), dataset d
// readable by t0, with a blocked user, an expired and a future grant, and a
// caveated grant; a model chain m2 → m1 → m0 where m0 restricts u5.
func fixture(cyclic bool) *graph {
	ref := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	g := newGraph(ref)
	team := func(res, rel, t string) { g.add(res, rel, edge{subj: t, subjRel: "member"}) }
	plain := func(res, rel, s string) { g.add(res, rel, edge{subj: s}) }
	team("team:t0", "member", "team:t1")
	team("team:t1", "member", "team:t2")
	if cyclic {
		team("team:t2", "member", "team:t0")
	}
	plain("team:t2", "member", "user:deep")
	plain("team:t0", "member", "user:top")
	plain("team:t2", "member", "user:blocked")
	plain("organization:o", "admin", "user:boss")
	plain("organization:o", "suspended", "user:susp")
	plain("team:t1", "member", "user:susp")
	plain("project:p", "org", "organization:o")
	plain("dataset:d", "project", "project:p")
	team("dataset:d", "reader", "team:t0")
	plain("dataset:d", "blocked", "user:blocked")
	g.add("dataset:d", "reader", edge{subj: "user:old", exp: ref.Add(-time.Hour)})
	g.add("dataset:d", "reader", edge{subj: "user:new", exp: ref.Add(time.Hour)})
	g.add("dataset:d", "reader", edge{subj: "user:cav", caveat: true, allowed: []string{"research"}})
	plain("field:f", "dataset", "dataset:d")
	plain("field:f", "masked_reader", "user:cav")
	plain("field:f", "masked_reader", "user:old")
	plain("model:m0", "restricted", "user:u5")
	plain("model:m1", "base", "model:m0")
	plain("model:m2", "base", "model:m1")
	plain("model:m2", "runner", "user:u5")
	plain("model:m2", "runner", "user:u6")
	plain("deployment:x", "model", "model:m2")
	plain("model:m2", "owner", "user:own")
	plain("deployment:x", "risk_approver", "user:own")
	plain("deployment:x", "risk_approver", "user:risk")
	return g
}

func TestEvaluator(t *testing.T) {
	research := map[string]any{"purpose": "research"}
	marketing := map[string]any{"purpose": "marketing"}
	for _, cyclic := range []bool{false, true} {
		g := fixture(cyclic)
		for _, tc := range []struct {
			name, res, perm, subj string
			ctx                   map[string]any
			want                  tri
		}{
			{"nested three deep", "dataset:d", "read", "user:deep", nil, triAllowed},
			{"top team", "dataset:d", "read", "user:top", nil, triAllowed},
			{"blocked member", "dataset:d", "read", "user:blocked", nil, triDenied},
			{"suspended in org", "dataset:d", "read", "user:susp", nil, triDenied},
			{"org admin manages", "dataset:d", "read", "user:boss", nil, triAllowed},
			{"expired grant", "dataset:d", "read", "user:old", nil, triDenied},
			{"future expiration", "dataset:d", "read", "user:new", nil, triAllowed},
			{"caveat without context", "dataset:d", "read", "user:cav", nil, triConditional},
			{"caveat right purpose", "dataset:d", "read", "user:cav", research, triAllowed},
			{"caveat wrong purpose", "dataset:d", "read", "user:cav", marketing, triDenied},
			{"stranger", "dataset:d", "read", "user:nobody", nil, triDenied},
			{"masked needs dataset read", "field:f", "read_masked", "user:old", nil, triDenied},
			{"masked conditional through dataset", "field:f", "read_masked", "user:cav", nil, triConditional},
			{"masked not granted", "field:f", "read_masked", "user:deep", nil, triDenied},
			{"restriction inherited twice", "model:m2", "run", "user:u5", nil, triDenied},
			{"runner", "model:m2", "run", "user:u6", nil, triAllowed},
			{"owner and approver", "deployment:x", "approve", "user:own", nil, triAllowed},
			{"approver not owner", "deployment:x", "approve", "user:risk", nil, triDenied},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if got := g.check(tc.res, tc.perm, tc.subj, tc.ctx); got != tc.want {
					t.Errorf("cyclic=%v: %s#%s@%s: got %v, want %v", cyclic, tc.res, tc.perm, tc.subj, got, tc.want)
				}
			})
		}
	}
}

func TestEvaluatorCycleMembership(t *testing.T) {
	g := fixture(true)
	// With t2 ⊃ t0, a member of t0 is also a member of t2 and t1.
	teams := g.teams("user:top")
	for _, tm := range []string{"team:t0", "team:t1", "team:t2"} {
		if !teams[tm] {
			t.Errorf("teams(user:top) = %v; got no %s, want it (cycle t0→t1→t2→t0)", teams, tm)
		}
	}
	if got := len(fixture(false).teams("user:top")); got != 1 {
		t.Errorf("acyclic teams(user:top): got %d teams, want 1", got)
	}
}
