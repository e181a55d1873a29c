package workload

import (
	"slices"
	"strings"
)

// Query kinds.
const (
	KindCheck  = "check"
	KindLookup = "lookup_resources"
)

// Query is one line of the query file: a check (Kind "check" or empty) or a
// resource lookup (Kind "lookup_resources"), with the answer the generator
// expects.
type Query struct {
	Class string `json:"class"`
	Kind  string `json:"kind,omitempty"`
	// Resource is "type:id" for a check.
	Resource string `json:"resource,omitempty"`
	// ResourceType is the type looked up, for a lookup.
	ResourceType string         `json:"resource_type,omitempty"`
	Permission   string         `json:"permission"`
	Subject      string         `json:"subject"`
	Context      map[string]any `json:"context,omitempty"`
	// Expect is "allowed", "denied" or "conditional" for a check; for a lookup
	// it is "allowed" when ExpectResources is not empty and "denied" otherwise.
	Expect string `json:"expect"`
	// ExpectResources is the complete answer of a lookup, sorted by ID:
	// every resource found, allowed or conditional.
	ExpectResources []LookupItem `json:"expect_resources,omitempty"`
}

// LookupItem is one resource of a lookup answer.
type LookupItem struct {
	ID     string `json:"id"` // the object ID, without its type
	Result string `json:"result"`
}

// IsLookup reports whether q is a resource lookup.
func (q Query) IsLookup() bool { return q.Kind == KindLookup }

// candidate draws one query of class for o, not yet evaluated.
func (o *org) candidate(class string) Query {
	ctx := o.context()
	switch class {
	case ClassDatasetRead:
		ds := o.pick(o.datasets)
		subj := o.subject(ds, true)
		if cav := o.caveatedGrantees(ds); len(cav) > 0 && o.chance(0.25) {
			subj = o.pick(cav) // conditional without a purpose, allowed or denied with one
		}
		return Query{Class: class, Resource: ds, Permission: "read", Subject: subj, Context: ctx}
	case ClassFieldMasked:
		fd := o.pick(o.fields)
		return Query{Class: class, Resource: fd, Permission: "read_masked", Subject: o.subject(fd, true), Context: ctx}
	case ClassModelRun:
		md := o.pick(o.models)
		return Query{Class: class, Resource: md, Permission: "run", Subject: o.subject(md, true), Context: ctx}
	case ClassDeployApproval:
		dep := o.pick(o.deployments)
		return Query{Class: class, Resource: dep, Permission: "approve", Subject: o.subject(dep, false), Context: ctx}
	case ClassLookupDatasets:
		subj := o.pick(o.users)
		if o.chance(0.5) {
			subj = o.pick(o.guests)
		}
		return Query{Class: class, Kind: KindLookup, ResourceType: "dataset", Permission: "read", Subject: subj, Context: ctx}
	}
	panic("workload: unknown class " + class)
}

// context returns no context (a caveated grant then answers conditional), a
// purpose, or nil, at random.
func (o *org) context() map[string]any {
	if o.chance(0.4) {
		return nil
	}
	return map[string]any{"purpose": o.pick(purposes)}
}

// subject draws a subject for a check on res: most often one related to res
// (a grantee, a member of a granted team, someone blocked), otherwise anyone
// of the organization.
func (o *org) subject(res string, withSA bool) string {
	if o.chance(0.75) {
		pool := o.related(res, 2)
		if !withSA {
			pool = slices.DeleteFunc(pool, func(s string) bool { return !isType(s, "user") })
		}
		if len(pool) > 0 {
			return o.pick(pool)
		}
	}
	if withSA && o.chance(0.15) {
		return o.pick(o.sas)
	}
	if o.chance(0.2) {
		return o.pick(o.guests)
	}
	return o.pick(o.users)
}

// caveatedGrantees lists the subjects of res's purpose_is grants, teams
// expanded to their members.
func (o *org) caveatedGrantees(res string) []string {
	var out []string
	for _, e := range o.g.out[res]["reader"] {
		switch {
		case !e.caveat:
		case e.subjRel == "member":
			out = append(out, o.g.members(e.subj)...)
		default:
			out = append(out, e.subj)
		}
	}
	return out
}

// related lists the users and service accounts that appear on res, directly or
// through a team, and on the objects res points to, up to depth hops.
func (o *org) related(res string, depth int) []string {
	seen := map[string]bool{}
	var out []string
	addSubj := func(s string) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	var walk func(res string, depth int)
	walk = func(res string, depth int) {
		rels := o.g.out[res]
		names := make([]string, 0, len(rels))
		for name := range rels {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			for _, e := range rels[name] {
				switch {
				case e.subjRel == "member":
					for _, m := range o.g.members(e.subj) {
						addSubj(m)
					}
				case isType(e.subj, "user") || isType(e.subj, "service_account"):
					addSubj(e.subj)
				case depth > 0 && !isType(e.subj, "organization"):
					walk(e.subj, depth-1)
				}
			}
		}
	}
	walk(res, depth)
	return out
}

// answer evaluates q against the organization's graph and fills Expect (and
// ExpectResources for a lookup).
func (o *org) answer(q *Query) {
	if !q.IsLookup() {
		q.Expect = o.g.check(q.Resource, q.Permission, q.Subject, q.Context).String()
		return
	}
	q.ExpectResources = nil
	for _, ds := range o.datasets {
		if v := o.g.check(ds, q.Permission, q.Subject, q.Context); v != triDenied {
			q.ExpectResources = append(q.ExpectResources, LookupItem{ID: strings.TrimPrefix(ds, "dataset:"), Result: v.String()})
		}
	}
	slices.SortFunc(q.ExpectResources, func(a, b LookupItem) int { return strings.Compare(a.ID, b.ID) })
	q.Expect = "denied"
	if len(q.ExpectResources) > 0 {
		q.Expect = "allowed"
	}
}

// queries draws n queries of class, of which want are expected allowed when
// the organization's data allows; it gives up on the quota after a bounded
// number of draws and keeps whatever it drew.
func (o *org) queries(class string, n, want int) []Query {
	out := make([]Query, 0, n)
	allowedLeft, otherLeft := want, n-want
	for tries := 0; len(out) < n; tries++ {
		q := o.candidate(class)
		o.answer(&q)
		relaxed := tries > 200*n+1000
		switch {
		case q.Expect == "allowed" && (allowedLeft > 0 || relaxed):
			allowedLeft--
		case q.Expect != "allowed" && (otherLeft > 0 || relaxed):
			otherLeft--
		default:
			continue
		}
		out = append(out, q)
	}
	return out
}
