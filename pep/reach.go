package pep

import (
	"github.com/trellis-authz/trellis/schema/syntax"
)

// node names one relation or permission of one type: "dataset" and "read".
type node struct{ typ, rel string }

// reach is what the cache knows of a schema: which cached questions a
// relationship change can affect. It is built once per schema text and never
// changed, so the watch loop and Decide share it without a lock.
type reach struct {
	hash string // the schema's hash as GET /v1/schema answers it
	at   uint64 // the revision it was read at
	// all is set when the schema text could not be read here: every change
	// then affects every cached question, and every question may be cached.
	all bool
	// known holds every relation and permission the schema defines: only a
	// question about one of them is cached.
	known map[node]bool
	// affected maps a relation to the relations and permissions whose answer
	// may change when a relationship of that relation is written or deleted
	// (itself included).
	affected map[node][]node
}

// buildReach reads a schema's text and computes, for every relation R of a
// type T, the set of relations and permissions that can reach T#R. It is
// conservative: an edge is added wherever an evaluation might follow one,
// whatever the operator (a change under an exclusion or intersection can
// flip an answer either way).
//
// The edges of the graph: a permission to every relation or permission its
// expression names; an arrow rel->p to rel and to p on every type rel allows
// (whatever subject relation the type is written with); a relation to each
// subject set T#m it allows.
func buildReach(text, hash string) *reach {
	f, errs := syntax.Parse("schema", []byte(text))
	if len(errs) > 0 || f == nil {
		return &reach{hash: hash, all: true}
	}
	defs := map[string]*syntax.Definition{}
	for _, it := range f.Items {
		if d, ok := it.(*syntax.Definition); ok {
			defs[d.Name] = d
		}
	}
	// allowed lists the subject types of each relation, for arrows.
	allowed := map[node][]*syntax.TypeRef{}
	members := map[node]bool{}
	for _, d := range defs {
		for _, m := range d.Members {
			switch m := m.(type) {
			case *syntax.Relation:
				allowed[node{d.Name, m.Name}] = m.Types
				members[node{d.Name, m.Name}] = true
			case *syntax.Permission:
				members[node{d.Name, m.Name}] = true
			}
		}
	}
	edges := map[node][]node{}
	add := func(from, to node) {
		if members[to] {
			edges[from] = append(edges[from], to)
		}
	}
	for _, d := range defs {
		for _, m := range d.Members {
			switch m := m.(type) {
			case *syntax.Relation:
				from := node{d.Name, m.Name}
				for _, t := range m.Types {
					if t.Relation != "" && !t.Wildcard {
						add(from, node{t.Type, t.Relation})
					}
				}
			case *syntax.Permission:
				from := node{d.Name, m.Name}
				walkExpr(m.Expr, func(name string) { add(from, node{d.Name, name}) },
					func(left, right string) {
						add(from, node{d.Name, left})
						for _, t := range allowed[node{d.Name, left}] {
							add(from, node{t.Type, right})
						}
					})
			}
		}
	}
	r := &reach{hash: hash, known: members, affected: map[node][]node{}}
	for from := range members {
		// Every node from reaches, itself included, is affected by a change
		// there when it is a relation: record from under each.
		seen := map[node]bool{from: true}
		stack := []node{from}
		for len(stack) > 0 {
			n := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if _, isRel := allowed[n]; isRel {
				r.affected[n] = append(r.affected[n], from)
			}
			for _, next := range edges[n] {
				if !seen[next] {
					seen[next] = true
					stack = append(stack, next)
				}
			}
		}
	}
	return r
}

// walkExpr calls ident for every relation or permission an expression names
// and arrow for every arrow in it.
func walkExpr(e syntax.Expr, ident func(string), arrow func(left, right string)) {
	switch e := e.(type) {
	case *syntax.Binary:
		walkExpr(e.X, ident, arrow)
		walkExpr(e.Y, ident, arrow)
	case *syntax.Ident:
		ident(e.Name)
	case *syntax.Arrow:
		arrow(e.Left, e.Right)
	case *syntax.Nil, nil:
	default:
		// An expression kind this package does not know: the caller's
		// reach would be incomplete, so poison it.
		panic(unknownExpr{e})
	}
}

// unknownExpr is the panic walkExpr raises for an expression kind it does
// not know; safeBuildReach turns it into "every change affects everything".
type unknownExpr struct{ e syntax.Expr }

// safeBuildReach is buildReach, falling back to the conservative "all" when
// the schema uses an expression kind this package does not know.
func safeBuildReach(text, hash string) (r *reach) {
	defer func() {
		if p := recover(); p != nil {
			if _, ok := p.(unknownExpr); !ok {
				panic(p)
			}
			r = &reach{hash: hash, all: true}
		}
	}()
	return buildReach(text, hash)
}

// cacheable says whether answers about this type and permission may be
// cached under this schema.
func (r *reach) cacheable(typ, perm string) bool {
	return r.all || r.known[node{typ, perm}]
}
