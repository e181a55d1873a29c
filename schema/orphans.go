package schema

import (
	"maps"
	"slices"
	"strings"

	"github.com/trellis-authz/trellis/tuple"
)

// Orphan describes stored relationships that a new schema would no longer
// allow: those selected by Filter for which Match (nil: all of them) reports
// true. Both the raft applier (authoritatively) and the API (as a pre-check)
// refuse a schema change while any relationship matches an Orphan.
type Orphan struct {
	// What names the part of the old schema that is removed or changed:
	// "type team", "relation dataset#reader".
	What string
	// Change says what happens to it: "is removed", "no longer allows user".
	Change string
	// Filter selects the candidate relationships; it is never empty.
	Filter tuple.Filter
	// Match reports whether a candidate is really orphaned; nil means every
	// relationship Filter selects is.
	Match func(tuple.Relationship) bool
}

// String is "relation dataset#reader no longer allows user".
func (o Orphan) String() string { return o.What + " " + o.Change }

// Matches reports whether r, already selected by o.Filter, is orphaned.
func (o Orphan) Matches(r tuple.Relationship) bool { return o.Match == nil || o.Match(r) }

// Orphans lists what next removes or changes from old that stored
// relationships may use, in old's declaration order. It is deterministic and
// reads no clock: expiration plays no part, so an expired relationship that is
// still stored counts as in use.
//
// The rule is exact and single: a relationship is orphaned when
// next.ValidateRelationship rejects it. To keep the check cheap, Orphans only
// produces candidates (by type, relation and subject form) where the rule can
// fail: a removed type or relation selects everything it holds; for a kept
// relation, a subject form (type, wildcard, subject relation) is examined only
// if one of its old alternatives is gone from next or names a caveat whose
// parameters changed or that next removes. Relationships stored under old
// are assumed valid under old (every change is checked), so other forms
// cannot be orphaned.
func Orphans(old, next *Schema) []Orphan {
	if old == nil || next == nil {
		return nil
	}
	var out []Orphan
	for _, name := range old.Order {
		od := old.Definitions[name]
		nd, kept := next.Definitions[name]
		if !kept {
			out = append(out,
				Orphan{What: "type " + name, Change: "is removed", Filter: tuple.Filter{ResourceType: name}},
				Orphan{What: "type " + name + " (as a subject)", Change: "is removed", Filter: tuple.Filter{Subject: &tuple.SubjectFilter{Type: name}}})
			continue
		}
		for _, rn := range od.Order {
			or, ok := od.Relations[rn]
			if !ok {
				continue
			}
			what := "relation " + name + "#" + rn
			nr, ok := nd.Relations[rn]
			if !ok {
				out = append(out, Orphan{What: what, Change: "is removed", Filter: tuple.Filter{ResourceType: name, Relation: rn}})
				continue
			}
			out = append(out, formOrphans(old, next, what, name, rn, or, nr)...)
		}
	}
	return out
}

// formOrphans returns one Orphan per subject form of or that next may reject.
func formOrphans(old, next *Schema, what, typ, rel string, or, nr *Relation) []Orphan {
	type form struct {
		typ, rel string
		wild     bool
	}
	var forms []form
	changes := map[form][]string{}
	for _, a := range or.Allowed {
		f := form{a.Type, a.Relation, a.Wildcard}
		var why string
		switch {
		case !slices.Contains(nr.Allowed, a):
			why = "no longer allows " + a.String()
		case a.Caveat != "" && next.Caveats[a.Caveat] == nil:
			why = "no longer allows " + a.String() + " (caveat " + a.Caveat + " is removed)"
		case a.Caveat != "" && !sameParams(old.Caveats[a.Caveat], next.Caveats[a.Caveat]):
			why = "changes the parameters of caveat " + a.Caveat + " used by " + a.String()
		default:
			continue
		}
		if _, seen := changes[f]; !seen {
			forms = append(forms, f)
		}
		changes[f] = append(changes[f], why)
	}
	out := make([]Orphan, 0, len(forms))
	for _, f := range forms {
		subrel := f.rel
		sf := &tuple.SubjectFilter{Type: f.typ, Relation: &subrel}
		if f.wild {
			sf.ID = tuple.Wildcard
		}
		out = append(out, Orphan{
			What:   what,
			Change: strings.Join(changes[f], ", "),
			Filter: tuple.Filter{ResourceType: typ, Relation: rel, Subject: sf},
			Match: func(r tuple.Relationship) bool {
				// A plain-subject filter also selects wildcards: keep the form exact.
				if r.Subject.IsWildcard() != f.wild {
					return false
				}
				return next.ValidateRelationship(r) != nil
			},
		})
	}
	return out
}

func sameParams(a, b *Caveat) bool {
	if a == nil || b == nil {
		return a == b
	}
	return maps.EqualFunc(a.Params, b.Params, func(x, y ParamType) bool { return x.String() == y.String() })
}
