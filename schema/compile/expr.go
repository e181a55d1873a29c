package compile

import (
	"fmt"
	"strings"

	"github.com/trellis-authz/trellis/schema"
	"github.com/trellis-authz/trellis/schema/syntax"
)

// compilePermissions turns every permission expression into a schema.Expr,
// resolving each name.
func (c *compiler) compilePermissions() {
	for _, name := range c.s.Order {
		info := c.defs[name]
		for _, m := range info.ast.Members {
			p, ok := m.(*syntax.Permission)
			if !ok || info.perms[p.Name] != p {
				continue
			}
			if p.Expr == nil {
				c.errorf(p.NamePos, "permission %s#%s has no expression; write e.g. permission %s = some_relation, or nil", name, p.Name, p.Name)
				info.def.Permissions[p.Name].Expr = &schema.Nil{}
				continue
			}
			info.def.Permissions[p.Name].Expr = c.compileExpr(info, p, p.Expr)
		}
	}
}

func (c *compiler) compileExpr(info *defInfo, p *syntax.Permission, e syntax.Expr) schema.Expr {
	switch e := e.(type) {
	case *syntax.Nil:
		return &schema.Nil{}
	case *syntax.Ident:
		if _, _, ok := info.def.Lookup(e.Name); !ok {
			c.errorf(e.Pos, "unknown relation or permission %q in permission %s#%s; definition %q has no member %q%s",
				e.Name, info.def.Name, p.Name, info.def.Name, e.Name, listNames(" (it has: ", info.def.Order, ")"))
		}
		return &schema.RelationRef{Name: e.Name}
	case *syntax.Arrow:
		c.checkArrow(info, p, e)
		mode := schema.ArrowAny
		if e.Func == syntax.ArrowAll {
			mode = schema.ArrowAll
		}
		return &schema.Arrow{Tupleset: e.Left, Computed: e.Right, Mode: mode}
	case *syntax.Binary:
		x := c.compileExpr(info, p, e.X)
		y := c.compileExpr(info, p, e.Y)
		switch e.Op {
		case syntax.OpUnion:
			return &schema.Union{Children: append(flatten[*schema.Union](x), flatten[*schema.Union](y)...)}
		case syntax.OpIntersection:
			return &schema.Intersection{Children: append(flatten[*schema.Intersection](x), flatten[*schema.Intersection](y)...)}
		case syntax.OpExclusion:
			return &schema.Exclusion{Base: x, Subtract: y}
		}
		c.errorf(e.Pos, "unknown operator %d in permission %s#%s", e.Op, info.def.Name, p.Name)
		return &schema.Nil{}
	}
	c.errorf(p.NamePos, "permission %s#%s: unsupported expression %T", info.def.Name, p.Name, e)
	return &schema.Nil{}
}

// flatten returns the children of e when it is a T (a union in a union, an
// intersection in an intersection), else e itself.
func flatten[T interface {
	*schema.Union | *schema.Intersection
	schema.Expr
}](e schema.Expr) []schema.Expr {
	switch n := e.(type) {
	case T:
		switch n := any(n).(type) {
		case *schema.Union:
			return n.Children
		case *schema.Intersection:
			return n.Children
		}
	}
	return []schema.Expr{e}
}

// checkArrow checks Left->Right in a permission of info.
func (c *compiler) checkArrow(info *defInfo, p *syntax.Permission, a *syntax.Arrow) {
	form := arrowText(a)
	rel, perm, ok := info.def.Lookup(a.Left)
	if !ok {
		c.errorf(a.Pos, "unknown relation %q on the left of %s in permission %s#%s; definition %q has no relation %q%s",
			a.Left, form, info.def.Name, p.Name, info.def.Name, a.Left, listNames(" (relations: ", relationNames(info), ")"))
		return
	}
	if perm != nil {
		c.errorf(a.Pos, "the left side of %s must be a relation, but %s#%s is a permission; an arrow walks stored relationships, so use the relation that links to the other object (e.g. parent->%s)",
			form, info.def.Name, a.Left, a.Right)
		return
	}
	// Subject types the arrow walks, in order, without duplicates.
	var types []string
	seen := map[string]bool{}
	for _, t := range rel.Allowed {
		if t.Wildcard {
			c.errorf(a.Pos, "%s walks relation %s#%s, which allows the wildcard %s:*; a wildcard is not an object an arrow can walk to, so remove %s:* from the relation or use another relation",
				form, info.def.Name, a.Left, t.Type, t.Type)
			return
		}
		if t.Relation != "" {
			c.warnf(a.Pos, "%s walks relation %s#%s, which allows the subject set %s#%s; the arrow follows such subjects as %s objects and ignores #%s",
				form, info.def.Name, a.Left, t.Type, t.Relation, t.Type, t.Relation)
		}
		if !seen[t.Type] {
			seen[t.Type] = true
			types = append(types, t.Type)
		}
	}
	if len(types) == 0 {
		return // the relation's own type list is broken and already reported
	}
	var has, lacks []string
	for _, t := range types {
		target, ok := c.defs[t]
		if !ok {
			continue
		}
		if _, _, found := target.def.Lookup(a.Right); found {
			has = append(has, t)
		} else {
			lacks = append(lacks, t)
		}
	}
	switch {
	case len(has) == 0 && len(lacks) > 0:
		c.errorf(a.RightPos, "%q in %s exists on none of the subject types of %s#%s (%s); add relation or permission %q to %s, or fix the name",
			a.Right, form, info.def.Name, a.Left, strings.Join(lacks, ", "), a.Right, strings.Join(lacks, " or "))
	case len(lacks) > 0:
		c.warnf(a.RightPos, "%q in %s is missing on %s (a subject type of %s#%s); subjects of that type never grant through this arrow",
			a.Right, form, strings.Join(lacks, ", "), info.def.Name, a.Left)
	}
}

func relationNames(info *defInfo) []string {
	var out []string
	for _, n := range info.def.Order {
		if _, ok := info.def.Relations[n]; ok {
			out = append(out, n)
		}
	}
	return out
}

func arrowText(a *syntax.Arrow) string {
	switch a.Func {
	case syntax.ArrowAny:
		return fmt.Sprintf("%s.any(%s)", a.Left, a.Right)
	case syntax.ArrowAll:
		return fmt.Sprintf("%s.all(%s)", a.Left, a.Right)
	}
	return a.Left + "->" + a.Right
}

// ExprString formats a compiled permission expression canonically: operators
// with spaces, parentheses around every nested operation, arrows as
// rel->perm (any) or rel.all(perm).
func ExprString(e schema.Expr) string {
	var b strings.Builder
	writeExpr(&b, e)
	return b.String()
}

func isBinary(e schema.Expr) bool {
	switch e.(type) {
	case *schema.Union, *schema.Intersection, *schema.Exclusion:
		return true
	}
	return false
}

// writeExpr writes e. Operands that are themselves operations get parentheses
// (a reader never has to remember the precedence), except the left operand of
// an exclusion that is an exclusion: a - b - c.
func writeExpr(b *strings.Builder, e schema.Expr) {
	writeChild := func(child schema.Expr, bare bool) {
		if isBinary(child) && !bare {
			b.WriteByte('(')
			writeExpr(b, child)
			b.WriteByte(')')
			return
		}
		writeExpr(b, child)
	}
	switch e := e.(type) {
	case *schema.Nil:
		b.WriteString("nil")
	case *schema.RelationRef:
		b.WriteString(e.Name)
	case *schema.Arrow:
		if e.Mode == schema.ArrowAll {
			fmt.Fprintf(b, "%s.all(%s)", e.Tupleset, e.Computed)
		} else {
			fmt.Fprintf(b, "%s->%s", e.Tupleset, e.Computed)
		}
	case *schema.Union:
		for i, ch := range e.Children {
			if i > 0 {
				b.WriteString(" + ")
			}
			writeChild(ch, false)
		}
	case *schema.Intersection:
		for i, ch := range e.Children {
			if i > 0 {
				b.WriteString(" & ")
			}
			writeChild(ch, false)
		}
	case *schema.Exclusion:
		_, chained := e.Base.(*schema.Exclusion)
		writeChild(e.Base, chained)
		b.WriteString(" - ")
		writeChild(e.Subtract, false)
	case nil:
		b.WriteString("<nil>")
	default:
		fmt.Fprintf(b, "<%T>", e)
	}
}
