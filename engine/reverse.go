package engine

import (
	"sync"

	"github.com/trellis-authz/trellis/schema"
)

// typeRel names a relation or permission of a type.
type typeRel struct{ typ, rel string }

// edgeKind says how a fact "object o of type T has R" implies others.
type edgeKind uint8

const (
	// edgeComputed: a permission of the same type names R (o has P too).
	edgeComputed edgeKind = iota
	// edgeSet: relation R2 of resType allows T#R; every resType object whose
	// R2 holds o#R has R2.
	edgeSet
	// edgeArrow: permission P2 of resType has an arrow over tupleset whose
	// computed relation is R; every object linked to o (or o#subjRel) through
	// tupleset has P2.
	edgeArrow
)

type revEdge struct {
	kind     edgeKind
	resType  string // the type of the implied fact
	relation string // edgeSet: the relation to read; edgeArrow: the tupleset
	subjRel  string // edgeArrow: the subject relation on the link ("" plain)
	result   string // the relation or permission of the implied fact
	// mono: the relation (edgeComputed) or arrow (edgeArrow) is reached from
	// the permission's root through unions only, so the permission holds
	// wherever it does; an any-arrow's own fact (arrowFact) then holds too.
	mono bool
	// all: an edgeArrow of tupleset.all(computed), which one link cannot
	// decide.
	all bool
}

// arrowFact names the fact "tupleset->computed holds on the object" that
// the reverse walk records for an any-arrow it went through: a relation
// name cannot contain it.
func arrowFact(tupleset, computed string) string { return "\x00" + tupleset + "->" + computed }

// reverseGraph is, for one schema, every way a fact can imply another. It is
// an over-approximation (intersections and exclusions are treated like
// unions): LookupResources confirms the candidates it yields with Check.
type reverseGraph struct {
	from map[typeRel][]revEdge
	// scans groups the reading edges of from[k] by the subject they read
	// (reversescan.go); seeds lists the relations a plain subject of a
	// type (or its wildcard) may be named in.
	scans map[typeRel][]scanGroup
	seeds map[string]seedTargets

	mu    sync.Mutex
	reach map[typeRel]map[typeRel]bool // by lookup target (reaching)
}

// maxGraphs bounds the reverse graphs an engine keeps: one per schema in
// use, and a server uses one or two at a time.
const maxGraphs = 8

// graphCache keeps the reverse graphs of the schemas an engine has served.
type graphCache struct {
	mu sync.Mutex
	m  map[*schema.Schema]*reverseGraph
}

// reverseOf returns the reverse graph of s, building it on first use.
func (e *Engine) reverseOf(s *schema.Schema) *reverseGraph {
	c := &e.graphs
	c.mu.Lock()
	defer c.mu.Unlock()
	if g, ok := c.m[s]; ok {
		return g
	}
	if c.m == nil || len(c.m) >= maxGraphs {
		c.m = map[*schema.Schema]*reverseGraph{}
	}
	g := buildReverse(s)
	c.m[s] = g
	return g
}

func buildReverse(s *schema.Schema) *reverseGraph {
	g := &reverseGraph{from: map[typeRel][]revEdge{}, scans: map[typeRel][]scanGroup{}, seeds: map[string]seedTargets{}}
	add := func(k typeRel, e revEdge) {
		for _, x := range g.from[k] {
			if x == e {
				return
			}
		}
		g.from[k] = append(g.from[k], e)
	}
	for _, d := range s.Definitions {
		for _, r := range d.Relations {
			for _, a := range r.Allowed {
				if a.Relation != "" {
					add(typeRel{a.Type, a.Relation}, revEdge{kind: edgeSet, resType: d.Name, relation: r.Name, result: r.Name})
				}
			}
		}
		for _, p := range d.Permissions {
			var walk func(x schema.Expr, mono bool)
			walk = func(x schema.Expr, mono bool) {
				switch x := x.(type) {
				case *schema.Union:
					for _, c := range x.Children {
						walk(c, mono)
					}
				case *schema.Intersection:
					for _, c := range x.Children {
						walk(c, false)
					}
				case *schema.Exclusion:
					walk(x.Base, false)
				case *schema.RelationRef:
					add(typeRel{d.Name, x.Name}, revEdge{kind: edgeComputed, resType: d.Name, result: p.Name, mono: mono})
				case *schema.Arrow:
					ts := d.Relations[x.Tupleset]
					if ts == nil {
						return
					}
					all := x.Mode == schema.ArrowAll
					for _, a := range ts.Allowed {
						if a.Wildcard {
							continue
						}
						add(typeRel{a.Type, x.Computed}, revEdge{kind: edgeArrow, resType: d.Name, relation: x.Tupleset, subjRel: a.Relation, result: p.Name, mono: mono && !all, all: all})
					}
				}
			}
			walk(p.Expr, true)
		}
	}
	for k, edges := range g.from {
		g.scans[k] = groupScans(edges, k.rel)
	}
	for _, d := range s.Definitions {
		for _, r := range d.Relations {
			for _, a := range r.Allowed {
				if a.Relation != "" {
					continue
				}
				st, ok := g.seeds[a.Type]
				if !ok {
					st = seedTargets{plain: map[typeRel][]revEdge{}, wild: map[typeRel][]revEdge{}}
					g.seeds[a.Type] = st
				}
				m := st.plain
				if a.Wildcard {
					m = st.wild
				}
				k := typeRel{d.Name, r.Name}
				if len(m[k]) == 0 {
					m[k] = []revEdge{{kind: edgeSet, resType: d.Name, relation: r.Name, result: r.Name}}
				}
			}
		}
	}
	return g
}

type (
	schemaExpr  = schema.Expr
	relationRef = schema.RelationRef
	arrowExpr   = schema.Arrow
)

// exprChildren returns the operands of a union, intersection or exclusion.
func exprChildren(x schema.Expr) []schema.Expr {
	switch x := x.(type) {
	case *schema.Union:
		return x.Children
	case *schema.Intersection:
		return x.Children
	case *schema.Exclusion:
		return []schema.Expr{x.Base, x.Subtract}
	}
	return nil
}
