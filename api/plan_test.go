package api

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/trellis-authz/trellis/wire"
)

// planStackSchema: fields of datasets, read through tiers. read_raw needs
// read_masked, read_summary is independent of both, and caveats make tiers
// conditional.
const planStackSchema = `caveat purpose_is(purpose string, allowed list<string>) {
  purpose in allowed
}

definition user {}

definition team {
  relation member: user | team#member
}

definition dataset {
  relation reader: user | team#member | user with purpose_is
  relation steward: user
  relation blocked: user
  permission read = (reader + steward) - blocked
}

definition field {
  relation dataset: dataset
  relation unmasked_for: user | team#member | user with purpose_is
  relation public: user:*
  relation redacted_for: user
  relation summary_for: user | team#member
  permission read_masked = dataset->read - redacted_for
  permission read_raw = read_masked & (unmasked_for + public + dataset->steward)
  permission read_summary = summary_for + dataset->steward
}
`

// planGraph writes a random graph for round r: users, nested teams,
// dataset:claims<r> with 200 fields and dataset:ads<r> with 20; it returns
// the claims fields in id order and the ads fields.
func planGraph(s *stack, rng *rand.Rand, r int) (claims, ads []string, users []string) {
	s.t.Helper()
	pick := func(xs []string) string { return xs[rng.IntN(len(xs))] }
	purposes := []string{"fraud", "ads", "audit"}
	allowed := func() string {
		a := slices.Clone(purposes)
		rng.Shuffle(len(a), func(i, j int) { a[i], a[j] = a[j], a[i] })
		return `[purpose_is:{"allowed":["` + strings.Join(a[:1+rng.IntN(2)], `","`) + `"]}]`
	}
	for i := range 6 {
		users = append(users, fmt.Sprintf("user:r%du%d", r, i))
	}
	var teams []string
	for i := range 5 {
		teams = append(teams, fmt.Sprintf("team:r%dt%d", r, i))
	}
	var ups []wire.Update
	seen := map[string]bool{}
	add := func(rel string) {
		if key, _, _ := strings.Cut(rel, "["); !seen[key] { // one change per relationship per write
			seen[key] = true
			ups = append(ups, touch(rel))
		}
	}
	for _, t := range teams {
		for range 1 + rng.IntN(3) {
			add(t + "#member@" + pick(users))
		}
		if rng.IntN(2) == 0 {
			add(t + "#member@" + pick(teams) + "#member")
		}
	}
	claimsDS, adsDS := fmt.Sprintf("dataset:claims%d", r), fmt.Sprintf("dataset:ads%d", r)
	add(claimsDS + "#reader@" + users[0] + allowed())
	for _, ds := range []string{claimsDS, adsDS} {
		for range 6 {
			switch rng.IntN(3) {
			case 0:
				add(ds + "#reader@" + pick(users))
			case 1:
				add(ds + "#reader@" + pick(teams) + "#member")
			default:
				add(ds + "#reader@" + pick(users) + allowed())
			}
		}
		add(ds + "#steward@" + pick(users))
		add(ds + "#blocked@" + pick(users))
	}
	field := func(ds, id string) {
		add(id + "#dataset@" + ds)
		switch rng.IntN(8) {
		case 0:
			add(id + "#unmasked_for@" + pick(users))
		case 1:
			add(id + "#unmasked_for@" + pick(teams) + "#member")
		case 2, 3:
			add(id + "#unmasked_for@" + pick(users) + allowed())
		case 4:
			add(id + "#public@user:*")
		}
		if rng.IntN(6) == 0 {
			add(id + "#redacted_for@" + pick(users))
		}
		switch rng.IntN(5) {
		case 0:
			add(id + "#summary_for@" + pick(users))
		case 1:
			add(id + "#summary_for@" + pick(teams) + "#member")
		}
	}
	for i := range 200 {
		claims = append(claims, fmt.Sprintf("field:r%dc%03d", r, i))
		field(claimsDS, claims[i])
	}
	for i := range 20 {
		ads = append(ads, fmt.Sprintf("field:r%da%02d", r, i))
		field(adsDS, ads[i])
	}
	for len(ups) > 0 {
		n := min(len(ups), 500)
		s.write(ups[:n]...)
		ups = ups[n:]
	}
	return claims, ads, users
}

// planFromChecks is the plan's rule applied to separate checks, one POST
// /v1/check per resource and tier, all at token.
func planFromChecks(s *stack, resources, tiers []string, subject string, ctx []byte, token string) []wire.PlanEntry {
	s.t.Helper()
	at := &wire.Consistency{Mode: wire.AtExactSnapshot, Token: token}
	out := make([]wire.PlanEntry, len(resources))
	for i, res := range resources {
		out[i].Resource = res
		for _, perm := range tiers {
			var c wire.CheckResponse
			s.mustOK(http.MethodPost, "/v1/check", RoleReader, wire.CheckRequest{Resource: res, Permission: perm, Subject: subject, Context: ctx, Consistency: at}, &c)
			if c.CheckedAt != token {
				s.t.Fatalf("check at %s answered at %s", token, c.CheckedAt)
			}
			if c.Result == "denied" {
				continue
			}
			out[i].Permission, out[i].Conditional, out[i].MissingContext = perm, c.Result == "conditional", c.MissingContext
			break
		}
	}
	return out
}

func samePlan(a, b wire.PlanEntry) bool {
	return a.Resource == b.Resource && a.Permission == b.Permission && a.Conditional == b.Conditional &&
		slices.Equal(a.MissingContext, b.MissingContext) && a.ExpiresAt == nil && b.ExpiresAt == nil && a.Error == nil && b.Error == nil
}

// TestPlanDifferential: POST /v1/plan over the 200 fields of one dataset
// answers in one call, and its answers equal 200 × N separate checks at the
// same token, for random graphs, subjects, contexts and tier lists.
func TestPlanDifferential(t *testing.T) {
	s := newStack(t)
	s.putSchema(planStackSchema)
	contexts := []string{"", `{"purpose":"fraud"}`, `{"purpose":"ads"}`}
	tierLists := [][]string{{"read_raw", "read_masked"}, {"read_raw", "read_masked", "read_summary"}, {"read_summary", "read_raw", "read_masked"}}
	counts := map[string]int{}
	for r := range 3 {
		seed := uint64(20260 + r)
		rng := rand.New(rand.NewPCG(seed, 17))
		claims, ads, users := planGraph(s, rng, r)
		for round := range len(contexts) {
			subject := users[rng.IntN(len(users))]
			if round == 0 {
				subject = users[0] // a purpose-limited reader, asked without a purpose
			}
			ctx := []byte(contexts[round])
			tiers := tierLists[rng.IntN(len(tierLists))]
			req := wire.PlanRequest{Subject: subject, Permissions: tiers, Context: ctx, Consistency: &wire.Consistency{Mode: wire.FullyConsistent},
				ResourcesOf: &wire.ResourceSelector{Type: "field", Relation: "dataset", Object: fmt.Sprintf("dataset:claims%d", r)}}
			var applied wire.PlanResponse
			s.mustOK(http.MethodPost, "/v1/plan", RoleReader, req, &applied)
			if len(applied.Plan) != 200 || applied.NextCursor != "" {
				t.Fatalf("seed %d: got %d entries, next cursor %q; want the 200 fields in one call", seed, len(applied.Plan), applied.NextCursor)
			}
			want := planFromChecks(s, claims, tiers, subject, ctx, applied.CheckedAt)
			for i := range want {
				if !samePlan(applied.Plan[i], want[i]) {
					t.Errorf("seed %d round %d (%s, %v, context %s): entry %d got %+v, want %+v from separate checks",
						seed, round, subject, tiers, ctx, i, applied.Plan[i], want[i])
				}
				counts[want[i].Permission+fmt.Sprint(want[i].Conditional)]++
			}

			// The same question with the resources listed, shuffled and
			// mixed with another dataset's fields, at the same token.
			listed := append(slices.Clone(claims), ads...)
			rng.Shuffle(len(listed), func(i, j int) { listed[i], listed[j] = listed[j], listed[i] })
			var got wire.PlanResponse
			s.mustOK(http.MethodPost, "/v1/plan", RoleReader, wire.PlanRequest{Subject: subject, Permissions: tiers, Context: ctx, Resources: listed,
				Consistency: &wire.Consistency{Mode: wire.AtExactSnapshot, Token: applied.CheckedAt}}, &got)
			want = planFromChecks(s, listed, tiers, subject, ctx, applied.CheckedAt)
			if len(got.Plan) != len(want) {
				t.Fatalf("listed: got %d entries, want %d", len(got.Plan), len(want))
			}
			for i := range want {
				if !samePlan(got.Plan[i], want[i]) {
					t.Errorf("seed %d listed: entry %d got %+v, want %+v", seed, i, got.Plan[i], want[i])
				}
			}
		}
	}
	t.Logf("entries by kind: %v", counts)
	// The graphs must exercise every kind of answer, or the comparison
	// proves little.
	for _, k := range []string{"read_rawfalse", "read_rawtrue", "read_maskedfalse", "read_maskedtrue", "read_summaryfalse", "false"} {
		if counts[k] == 0 {
			t.Errorf("no entry of kind %q among %v; the random graphs are too thin", k, counts)
		}
	}
}

// TestPlanRESTBadInput: each mistake is a 4xx with its code and a message
// naming the fix, and the store is unchanged.
func TestPlanRESTBadInput(t *testing.T) {
	s := newStack(t)
	s.putSchema(planStackSchema)
	s.write(touch("field:a#dataset@dataset:claims"), touch("dataset:claims#reader@user:ana"))
	before := s.export()
	sel := &wire.ResourceSelector{Type: "field", Relation: "dataset", Object: "dataset:claims"}
	tiers := []string{"read_raw", "read_masked"}
	many := make([]string, DefaultConfig().MaxBulkItems+1)
	for i := range many {
		many[i] = fmt.Sprintf("field:f%d", i)
	}
	cases := []struct {
		name     string
		role     Role
		body     any
		status   int
		code     string
		contains string
	}{
		{"no token", "", wire.PlanRequest{Subject: "user:ana", ResourcesOf: sel, Permissions: tiers}, 401, "unauthenticated", ""},
		{"unknown JSON field", RoleReader, `{"subject":"user:ana","resource":"field:a","permissions":["read_raw"]}`, 400, "invalid_json", "resource"},
		{"no permissions", RoleReader, wire.PlanRequest{Subject: "user:ana", ResourcesOf: sel}, 400, "invalid_argument", "permissions"},
		{"unknown permission", RoleReader, wire.PlanRequest{Subject: "user:ana", ResourcesOf: sel, Permissions: []string{"read_raw", "read_hashed"}}, 404, "unknown_relation", "read_hashed"},
		{"permission not on a listed type", RoleReader, wire.PlanRequest{Subject: "user:ana", Resources: []string{"field:a", "dataset:claims"}, Permissions: tiers}, 404, "unknown_relation", "resources[1]"},
		{"unknown type", RoleReader, wire.PlanRequest{Subject: "user:ana", Resources: []string{"column:a"}, Permissions: tiers}, 404, "unknown_type", "column"},
		{"unknown subject type", RoleReader, wire.PlanRequest{Subject: "robot:x", ResourcesOf: sel, Permissions: tiers}, 404, "unknown_type", "robot"},
		{"too many resources", RoleReader, wire.PlanRequest{Subject: "user:ana", Resources: many, Permissions: tiers}, 400, "too_many_updates", "at most 1000"},
		{"both", RoleReader, wire.PlanRequest{Subject: "user:ana", Resources: []string{"field:a"}, ResourcesOf: sel, Permissions: tiers}, 400, "invalid_argument", "not both"},
		{"neither", RoleReader, wire.PlanRequest{Subject: "user:ana", Permissions: tiers}, 400, "invalid_argument", "resources_of"},
		{"bad selector object", RoleReader, wire.PlanRequest{Subject: "user:ana", ResourcesOf: &wire.ResourceSelector{Type: "field", Relation: "dataset", Object: "claims"}, Permissions: tiers}, 400, "invalid_argument", "resources_of.object"},
		{"selector on a permission", RoleReader, wire.PlanRequest{Subject: "user:ana", ResourcesOf: &wire.ResourceSelector{Type: "field", Relation: "read_raw", Object: "dataset:claims"}, Permissions: tiers}, 400, "invalid_argument", "name a relation"},
		{"selector object not allowed", RoleReader, wire.PlanRequest{Subject: "user:ana", ResourcesOf: &wire.ResourceSelector{Type: "field", Relation: "dataset", Object: "team:ml#member"}, Permissions: tiers}, 400, "subject_not_allowed", "allows: dataset"},
		{"cursor of another selection", RoleReader, wire.PlanRequest{Subject: "user:ana", ResourcesOf: sel, Permissions: tiers, Cursor: "AXI"}, 400, "invalid_cursor", "cursor"},
		{"unknown context key", RoleReader, wire.PlanRequest{Subject: "user:ana", ResourcesOf: sel, Permissions: tiers, Context: []byte(`{"purpse":"x"}`)}, 400, "invalid_context", "purpose"},
		{"bad consistency token", RoleReader, wire.PlanRequest{Subject: "user:ana", ResourcesOf: sel, Permissions: tiers, Consistency: &wire.Consistency{Mode: wire.AtExactSnapshot, Token: "nope"}}, 400, "invalid_token", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do(http.MethodPost, "/v1/plan", s.tokens[tc.role], tc.body)
			if r.status != tc.status {
				t.Fatalf("got %d %s, want %d %s", r.status, r.body, tc.status, tc.code)
			}
			e := r.errorBody(t)
			if e.Code != tc.code || !strings.Contains(e.Message, tc.contains) {
				t.Fatalf("got %s %q, want %s mentioning %q", e.Code, e.Message, tc.code, tc.contains)
			}
		})
	}
	if after := s.export(); !bytes.Equal(before, after) {
		t.Errorf("the store changed:\nbefore %s\nafter  %s", before, after)
	}
}

// TestPlanDecisionsRecorded: every check a plan evaluates is offered to the
// decision log, identified as <request id>#<index>/<permission>; tiers
// below the deciding one are not asked.
func TestPlanDecisionsRecorded(t *testing.T) {
	s := newStack(t)
	s.putSchema(planStackSchema)
	s.write(touch("dataset:claims#reader@user:ana"), touch("field:a#dataset@dataset:claims"), touch("field:b#dataset@dataset:claims"),
		touch("field:b#unmasked_for@user:ana"))
	rec := &recorderFake{}
	deps := s.deps
	deps.Decisions = rec
	cfg := s.config()
	cfg.Auth = AuthConfig{Mode: AuthInsecureNoAuth}
	srv, err := newTestServer(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	r := doURL(t, hs.URL, http.MethodPost, "/v1/plan", "", wire.PlanRequest{Subject: "user:ana", Resources: []string{"field:a", "field:b"},
		Permissions: []string{"read_raw", "read_masked", "read_summary"}})
	if r.status != http.StatusOK {
		t.Fatalf("plan: got %d %s", r.status, r.body)
	}
	var got []string
	for _, d := range rec.got {
		_, key, _ := strings.Cut(d.RequestID, "#")
		got = append(got, key+" "+d.Resource+" "+d.Permission+" "+d.Result)
	}
	slices.Sort(got)
	want := []string{"0/read_masked field:a read_masked allowed", "0/read_raw field:a read_raw denied", "1/read_raw field:b read_raw allowed"}
	if !slices.Equal(got, want) {
		t.Errorf("got decisions %q, want %q", got, want)
	}
}
