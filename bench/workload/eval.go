package workload

import (
	"slices"
	"time"
)

// tri is a three-valued check outcome, ordered so that union is max and
// intersection is min.
type tri uint8

const (
	triDenied tri = iota
	triConditional
	triAllowed
)

func (t tri) String() string {
	switch t {
	case triAllowed:
		return "allowed"
	case triConditional:
		return "conditional"
	}
	return "denied"
}

func or(vs ...tri) tri {
	best := triDenied
	for _, v := range vs {
		best = max(best, v)
		if best == triAllowed {
			break
		}
	}
	return best
}

func and(a, b tri) tri { return min(a, b) }

func not(a tri) tri { return triAllowed - a }

// edge is one generated relationship, seen from its resource.
type edge struct {
	subj    string   // "type:id"
	subjRel string   // "" or the subject set's relation
	caveat  bool     // purpose_is applies
	allowed []string // purpose_is "allowed" list stored with the grant
	exp     time.Time
}

// record is one relationship in emission order.
type record struct {
	res, rel string
	e        edge
}

// graph is one organization's relationships, indexed for the evaluator.
type graph struct {
	ref     time.Time
	records []record
	out     map[string]map[string][]edge // resource → relation → edges
	keys    map[string]bool              // res#rel@subj, to avoid duplicates
	// memberOf maps a team member subject ("user:x", "team:t#member") to the
	// teams that list it in their member relation.
	memberOf map[string][]string
	teamsOf  map[string]map[string]bool // cache: subject → every team it is a member of
	closure  map[string][]string        // cache: team → every user and service account in it
}

func newGraph(ref time.Time) *graph {
	return &graph{
		ref:      ref,
		out:      map[string]map[string][]edge{},
		keys:     map[string]bool{},
		memberOf: map[string][]string{},
		teamsOf:  map[string]map[string]bool{},
		closure:  map[string][]string{},
	}
}

func subjKey(subj, rel string) string {
	if rel == "" {
		return subj
	}
	return subj + "#" + rel
}

// add records res#rel@subject unless the same key is already present; it
// reports whether it added.
func (g *graph) add(res, rel string, e edge) bool {
	k := res + "#" + rel + "@" + subjKey(e.subj, e.subjRel)
	if g.keys[k] {
		return false
	}
	g.keys[k] = true
	g.records = append(g.records, record{res: res, rel: rel, e: e})
	m := g.out[res]
	if m == nil {
		m = map[string][]edge{}
		g.out[res] = m
	}
	m[rel] = append(m[rel], e)
	if rel == "member" && isType(res, "team") {
		sk := subjKey(e.subj, e.subjRel)
		g.memberOf[sk] = append(g.memberOf[sk], res)
	}
	return true
}

func isType(obj, typ string) bool {
	return len(obj) > len(typ) && obj[:len(typ)] == typ && obj[len(typ)] == ':'
}

func (g *graph) live(e edge) bool { return e.exp.IsZero() || g.ref.Before(e.exp) }

// teams returns every team subj (a user or service account) is a member of,
// directly or through nested teams, following cycles safely.
func (g *graph) teams(subj string) map[string]bool {
	if s, ok := g.teamsOf[subj]; ok {
		return s
	}
	set := map[string]bool{}
	queue := slices.Clone(g.memberOf[subj])
	for len(queue) > 0 {
		t := queue[0]
		queue = queue[1:]
		if set[t] {
			continue
		}
		set[t] = true
		queue = append(queue, g.memberOf[t+"#member"]...)
	}
	g.teamsOf[subj] = set
	return set
}

// members returns every user and service account in team, transitively, in a
// deterministic order.
func (g *graph) members(team string) []string {
	if m, ok := g.closure[team]; ok {
		return m
	}
	seenTeam := map[string]bool{team: true}
	seen := map[string]bool{}
	var outList []string
	queue := []string{team}
	for len(queue) > 0 {
		t := queue[0]
		queue = queue[1:]
		for _, e := range g.out[t]["member"] {
			if e.subjRel == "member" {
				if !seenTeam[e.subj] {
					seenTeam[e.subj] = true
					queue = append(queue, e.subj)
				}
				continue
			}
			if !seen[e.subj] {
				seen[e.subj] = true
				outList = append(outList, e.subj)
			}
		}
	}
	g.closure[team] = outList
	return outList
}

func caveatValue(e edge, ctx map[string]any) tri {
	if !e.caveat {
		return triAllowed
	}
	p, ok := ctx["purpose"].(string)
	if !ok {
		return triConditional
	}
	if slices.Contains(e.allowed, p) {
		return triAllowed
	}
	return triDenied
}

// relation evaluates res#rel for subj: a direct grant or a grant to a team the
// subject is in, with the grant's caveat and expiration.
func (g *graph) relation(res, rel, subj string, ctx map[string]any) tri {
	best := triDenied
	for _, e := range g.out[res][rel] {
		if !g.live(e) {
			continue
		}
		var match bool
		switch e.subjRel {
		case "":
			match = e.subj == subj
		case "member":
			match = g.teams(subj)[e.subj]
		}
		if match {
			best = max(best, caveatValue(e, ctx))
			if best == triAllowed {
				return best
			}
		}
	}
	return best
}

// arrow evaluates rel->perm: perm on each object res#rel points to.
func (g *graph) arrow(res, rel string, perm func(obj string) tri) tri {
	best := triDenied
	for _, e := range g.out[res][rel] {
		if !g.live(e) {
			continue
		}
		best = max(best, perm(e.subj))
		if best == triAllowed {
			return best
		}
	}
	return best
}

// check evaluates permission perm of res for subj, following SchemaText.
func (g *graph) check(res, perm, subj string, ctx map[string]any) tri {
	return g.checkDepth(res, perm, subj, ctx, 0)
}

const maxEvalDepth = 50

func (g *graph) checkDepth(res, perm, subj string, ctx map[string]any, depth int) tri {
	if depth > maxEvalDepth {
		panic("workload: evaluator recursion too deep at " + res + "#" + perm)
	}
	rel := func(r string) tri { return g.relation(res, r, subj, ctx) }
	sub := func(p string) func(string) tri {
		return func(obj string) tri { return g.checkDepth(obj, p, subj, ctx, depth+1) }
	}
	switch {
	case isType(res, "organization"):
		switch perm {
		case "administer":
			return rel("admin")
		}
	case isType(res, "project"):
		switch perm {
		case "manage":
			return or(rel("admin"), g.arrow(res, "org", sub("administer")))
		case "view":
			return or(rel("member"), g.checkDepth(res, "manage", subj, ctx, depth+1))
		case "barred":
			return g.arrow(res, "org", sub("suspended"))
		}
	case isType(res, "dataset"):
		switch perm {
		case "read":
			grant := or(rel("reader"), rel("steward"), g.arrow(res, "project", sub("manage")))
			if grant == triDenied {
				return triDenied
			}
			return and(grant, not(or(rel("blocked"), g.arrow(res, "project", sub("barred")))))
		}
	case isType(res, "field"):
		switch perm {
		case "read_raw":
			return and(rel("raw_reader"), g.arrow(res, "dataset", sub("read")))
		case "read_masked":
			grant := or(rel("masked_reader"), rel("raw_reader"))
			if grant == triDenied {
				return triDenied
			}
			return and(grant, g.arrow(res, "dataset", sub("read")))
		}
	case isType(res, "model"):
		switch perm {
		case "restricted_lineage":
			return or(rel("restricted"), g.arrow(res, "base", sub("restricted_lineage")))
		case "run":
			grant := or(rel("runner"), rel("owner"), g.arrow(res, "project", sub("manage")))
			if grant == triDenied {
				return triDenied
			}
			return and(grant, not(g.checkDepth(res, "restricted_lineage", subj, ctx, depth+1)))
		}
	case isType(res, "deployment"):
		switch perm {
		case "approve":
			return and(or(rel("ml_owner"), g.arrow(res, "model", sub("owner"))), rel("risk_approver"))
		}
	}
	// Any other name is a relation of res.
	return rel(perm)
}
