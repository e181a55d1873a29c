package workload

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// purposes are the values of the purpose_is caveat.
var purposes = []string{"fraud-detection", "credit-scoring", "marketing", "research", "support"}

// org is one generated organization: its graph and the object lists the query
// generator draws from.
type org struct {
	idx int
	cfg Config
	r   *rand.Rand
	g   *graph

	id          string
	users       []string // active users (in teams, granted)
	guests      []string // users with no membership and no grant
	sas         []string
	teams       []string
	teamLevel   []int
	teamParent  []int
	projects    []string
	datasets    []string
	fields      []string
	models      []string
	deployments []string
	cycleEdges  int
	expired     int
	future      int
	caveated    int
}

func orgRand(seed int64, idx int) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), uint64(idx)*0x9E3779B97F4A7C15+1))
}

func (o *org) pick(list []string) string { return list[o.r.IntN(len(list))] }

func (o *org) chance(p float64) bool { return o.r.Float64() < p }

func (o *org) plain(res, rel, subj string) { o.g.add(res, rel, edge{subj: subj}) }

func (o *org) team(res, rel, team string) { o.g.add(res, rel, edge{subj: team, subjRel: "member"}) }

// purposeEdge returns a caveated grant allowing one or two purposes.
func (o *org) purposeEdge(subj, subjRel string) edge {
	n := 1 + o.r.IntN(2)
	perm := o.r.Perm(len(purposes))[:n]
	allowed := make([]string, n)
	for i, p := range perm {
		allowed[i] = purposes[p]
	}
	return edge{subj: subj, subjRel: subjRel, caveat: true, allowed: allowed}
}

// expiring returns an expiration before or at least FutureMargin after the
// reference time, half and half, on whole seconds.
func (o *org) expiring() time.Time {
	ref := o.cfg.ReferenceTime.UTC().Truncate(time.Second)
	if o.chance(0.5) {
		o.expired++
		return ref.Add(-time.Duration(1+o.r.Int64N(int64(defaultPastMaxOffset/time.Second))) * time.Second)
	}
	o.future++
	return ref.Add(o.cfg.FutureMargin.Truncate(time.Second) + time.Duration(o.r.Int64N(int64(365*24*time.Hour/time.Second)))*time.Second)
}

// buildOrg generates organization idx.
func buildOrg(cfg Config, idx int) *org {
	o := &org{idx: idx, cfg: cfg, r: orgRand(cfg.Seed, idx), g: newGraph(cfg.ReferenceTime)}
	o.id = fmt.Sprintf("organization:o%d", idx)
	pre := fmt.Sprintf("o%d-", idx)

	guests := max(1, cfg.UsersPerOrg/10)
	for i := range cfg.UsersPerOrg {
		u := fmt.Sprintf("user:%su%d", pre, i)
		if i >= cfg.UsersPerOrg-guests {
			o.guests = append(o.guests, u)
		} else {
			o.users = append(o.users, u)
		}
	}
	for i := range cfg.ServiceAccountsPerOrg {
		o.sas = append(o.sas, fmt.Sprintf("service_account:%ssa%d", pre, i))
	}
	o.buildOrgAndTeams(pre)
	o.buildMembers()
	o.buildProjects(pre)
	return o
}

func (o *org) buildOrgAndTeams(pre string) {
	cfg := o.cfg
	for range 2 {
		o.plain(o.id, "admin", o.pick(o.users))
	}
	for range max(1, len(o.users)/100) {
		o.plain(o.id, "suspended", o.pick(o.users))
	}
	roots := max(1, cfg.TeamsPerOrg/8)
	for i := range cfg.TeamsPerOrg {
		o.teams = append(o.teams, fmt.Sprintf("team:%st%d", pre, i))
		parent, level := -1, 0
		switch {
		case i < roots:
		case i < roots+cfg.TeamDepth-1:
			// A guaranteed chain as deep as TeamDepth under the first root.
			parent = i - 1
			if i == roots {
				parent = 0
			}
			level = o.teamLevel[parent] + 1
		default:
			for {
				parent = o.r.IntN(i)
				if o.teamLevel[parent] < cfg.TeamDepth-1 {
					break
				}
			}
			level = o.teamLevel[parent] + 1
		}
		o.teamLevel = append(o.teamLevel, level)
		o.teamParent = append(o.teamParent, parent)
		o.plain(o.teams[i], "org", o.id)
		if parent < 0 {
			o.team(o.id, "member", o.teams[i])
		} else {
			o.team(o.teams[parent], "member", o.teams[i])
		}
	}
	if cfg.Cyclic {
		// A child team lists its parent or grandparent as a member team: a cycle.
		for range max(1, cfg.TeamsPerOrg/10) {
			c := roots + o.r.IntN(cfg.TeamsPerOrg-roots)
			anc := o.teamParent[c]
			if p := o.teamParent[anc]; p >= 0 && o.chance(0.5) {
				anc = p
			}
			if o.g.add(o.teams[c], "member", edge{subj: o.teams[anc], subjRel: "member"}) {
				o.cycleEdges++
			}
		}
	}
}

func (o *org) buildMembers() {
	for i, u := range o.users {
		for t := range o.cfg.BigTeams {
			o.plain(o.teams[t], "member", u)
		}
		if i == 0 {
			for _, t := range o.teams[:o.cfg.HubTeams] {
				o.plain(t, "member", u)
			}
		}
		k := 1
		if o.chance(0.4) {
			k = 2 + o.r.IntN(2)
		}
		for range k {
			o.plain(o.pick(o.teams), "member", u)
		}
	}
	for _, sa := range o.sas {
		o.plain(sa, "owner", o.pick(o.users))
		if o.chance(0.6) {
			o.plain(o.pick(o.teams), "member", sa)
		}
	}
}

// userGrant adds a direct grant of rel on res to a user: plain, caveated or
// expiring.
func (o *org) userGrant(res, rel string, caveat, expiring float64) {
	u := o.pick(o.users)
	switch x := o.r.Float64(); {
	case x < caveat:
		o.caveated++
		o.g.add(res, rel, o.purposeEdge(u, ""))
	case x < caveat+expiring:
		o.g.add(res, rel, edge{subj: u, exp: o.expiring()})
	default:
		o.plain(res, rel, u)
	}
}

func (o *org) buildProjects(pre string) {
	cfg := o.cfg
	riskTeam := o.teams[len(o.teams)-1]
	for p := range cfg.ProjectsPerOrg {
		proj := fmt.Sprintf("project:%sp%d", pre, p)
		o.projects = append(o.projects, proj)
		o.plain(proj, "org", o.id)
		o.plain(proj, "admin", o.pick(o.users))
		if o.chance(0.3) {
			o.team(proj, "admin", o.pick(o.teams))
		}
		for range 2 {
			o.team(proj, "member", o.pick(o.teams))
		}
		o.plain(proj, "member", o.pick(o.sas))

		for d := range cfg.DatasetsPerProject {
			ds := fmt.Sprintf("dataset:%sp%d-d%d", pre, p, d)
			o.datasets = append(o.datasets, ds)
			o.buildDataset(proj, ds)
			for f := range cfg.FieldsPerDataset {
				fd := fmt.Sprintf("field:%sp%d-d%d-f%d", pre, p, d, f)
				o.fields = append(o.fields, fd)
				o.buildField(ds, fd)
			}
		}
		var chain []int // fine-tune chain depth of each model of the project
		first := len(o.models)
		for m := range cfg.ModelsPerProject {
			md := fmt.Sprintf("model:%sp%d-m%d", pre, p, m)
			o.models = append(o.models, md)
			depth := 0
			o.plain(md, "project", proj)
			if m > 0 && o.chance(0.6) {
				j := o.r.IntN(m)
				if chain[j] < 4 {
					o.plain(md, "base", o.models[first+j])
					depth = chain[j] + 1
				}
			}
			chain = append(chain, depth)
			o.buildModel(md)
			dep := fmt.Sprintf("deployment:%sp%d-m%d-dep", pre, p, m)
			o.deployments = append(o.deployments, dep)
			o.plain(dep, "model", md)
			if o.chance(0.5) {
				o.plain(dep, "ml_owner", o.pick(o.users))
			} else {
				o.team(dep, "ml_owner", o.pick(o.teams))
			}
			o.team(dep, "risk_approver", riskTeam)
			if o.chance(0.5) {
				o.plain(dep, "risk_approver", o.pick(o.users))
			}
		}
	}
}

func (o *org) buildDataset(proj, ds string) {
	o.plain(ds, "project", proj)
	o.plain(ds, "steward", o.pick(o.users))
	for range 1 + o.r.IntN(2) {
		t := o.pick(o.teams)
		if o.chance(0.2) {
			o.caveated++
			o.g.add(ds, "reader", o.purposeEdge(t, "member"))
		} else {
			o.team(ds, "reader", t)
		}
	}
	for range 2 + o.r.IntN(3) {
		o.userGrant(ds, "reader", 0.25, 0.25)
	}
	if o.chance(0.5) {
		sa := o.pick(o.sas)
		if o.chance(0.5) {
			o.g.add(ds, "reader", edge{subj: sa, exp: o.expiring()})
		} else {
			o.plain(ds, "reader", sa)
		}
	}
	// Block someone who would otherwise read: a member of a reader team.
	nb := 0
	if o.chance(0.6) {
		nb = 1
		if o.chance(0.3) {
			nb = 2
		}
	}
	for range nb {
		var pool []string
		for _, e := range o.g.out[ds]["reader"] {
			if e.subjRel == "member" {
				pool = append(pool, o.g.members(e.subj)...)
			}
		}
		if len(pool) == 0 {
			pool = o.users
		}
		o.plain(ds, "blocked", o.pick(pool))
	}
}

func (o *org) buildField(ds, fd string) {
	o.plain(fd, "dataset", ds)
	switch x := o.r.Float64(); {
	case x < 0.6:
		o.team(fd, "masked_reader", o.pick(o.teams))
	case x < 0.85:
		o.plain(fd, "masked_reader", o.pick(o.users))
	default:
		o.plain(fd, "masked_reader", o.pick(o.sas))
	}
	if o.chance(0.6) {
		switch x := o.r.Float64(); {
		case x < 0.4:
			o.plain(fd, "raw_reader", o.pick(o.users))
		case x < 0.7:
			o.g.add(fd, "raw_reader", edge{subj: o.pick(o.users), exp: o.expiring()})
		default:
			o.team(fd, "raw_reader", o.pick(o.teams))
		}
	}
}

func (o *org) buildModel(md string) {
	if o.chance(0.5) {
		o.plain(md, "owner", o.pick(o.users))
	} else {
		o.team(md, "owner", o.pick(o.teams))
	}
	for range 1 + o.r.IntN(2) {
		o.team(md, "runner", o.pick(o.teams))
	}
	if o.chance(0.4) {
		sa := o.pick(o.sas)
		if o.chance(0.5) {
			o.g.add(md, "runner", edge{subj: sa, exp: o.expiring()})
		} else {
			o.plain(md, "runner", sa)
		}
	}
	if o.chance(0.3) {
		o.plain(md, "runner", o.pick(o.users))
	}
	if o.chance(0.3) {
		var pool []string
		for _, e := range o.g.out[md]["runner"] {
			if e.subjRel == "member" {
				pool = append(pool, o.g.members(e.subj)...)
			}
		}
		if len(pool) == 0 {
			pool = o.users
		}
		o.plain(md, "restricted", o.pick(pool))
	}
}
