package compile

import (
	"strings"

	"github.com/trellis-authz/trellis/schema"
	"github.com/trellis-authz/trellis/schema/syntax"
)

// lint reports warnings about permissions that compile but are almost
// certainly wrong.
func (c *compiler) lint() {
	for _, name := range c.s.Order {
		info := c.defs[name]
		c.lintCycles(info)
		c.lintEmpty(info)
	}
}

// lintCycles warns about permissions that reference themselves, directly or
// through other permissions of the same definition (arrows are not followed).
func (c *compiler) lintCycles(info *defInfo) {
	d := info.def
	deps := map[string][]string{}
	for pname, p := range d.Permissions {
		var refs []string
		walkRefs(p.Expr, func(n string) {
			if _, ok := d.Permissions[n]; ok {
				refs = append(refs, n)
			}
		})
		deps[pname] = refs
	}
	for _, pname := range d.Order {
		ast, ok := info.perms[pname]
		if !ok {
			continue
		}
		path := findCycle(pname, deps)
		if path == nil {
			continue
		}
		if len(path) == 2 {
			c.warnf(ast.NamePos, "permission %s#%s references itself; it can only grant through its other branches, so remove the self-reference", d.Name, pname)
			continue
		}
		c.warnf(ast.NamePos, "permission %s#%s references itself through a cycle of permissions: %s; break the cycle", d.Name, pname, strings.Join(path, " -> "))
	}
}

// findCycle returns a path start -> ... -> start through deps, or nil.
func findCycle(start string, deps map[string][]string) []string {
	visited := map[string]bool{}
	var path []string
	var dfs func(n string) bool
	dfs = func(n string) bool {
		path = append(path, n)
		for _, m := range deps[n] {
			if m == start {
				path = append(path, m)
				return true
			}
			if !visited[m] {
				visited[m] = true
				if dfs(m) {
					return true
				}
			}
		}
		path = path[:len(path)-1]
		return false
	}
	if dfs(start) {
		return path
	}
	return nil
}

func walkRefs(e schema.Expr, fn func(string)) {
	switch e := e.(type) {
	case *schema.RelationRef:
		fn(e.Name)
	case *schema.Union:
		for _, ch := range e.Children {
			walkRefs(ch, fn)
		}
	case *schema.Intersection:
		for _, ch := range e.Children {
			walkRefs(ch, fn)
		}
	case *schema.Exclusion:
		walkRefs(e.Base, fn)
		walkRefs(e.Subtract, fn)
	}
}

// lintEmpty warns about permissions that can never grant.
func (c *compiler) lintEmpty(info *defInfo) {
	d := info.def
	memo := map[string]int{} // 0 unknown, 1 in progress, 2 empty, 3 not empty
	var permEmpty func(name string) bool
	var empty func(e schema.Expr) bool
	permEmpty = func(name string) bool {
		p, ok := d.Permissions[name]
		if !ok {
			return false // a relation can hold data
		}
		switch memo[name] {
		case 1:
			return false // a cycle: reported by lintCycles
		case 2:
			return true
		case 3:
			return false
		}
		memo[name] = 1
		r := empty(p.Expr)
		memo[name] = 3
		if r {
			memo[name] = 2
		}
		return r
	}
	empty = func(e schema.Expr) bool {
		switch e := e.(type) {
		case *schema.Nil:
			return true
		case *schema.RelationRef:
			return permEmpty(e.Name)
		case *schema.Union:
			for _, ch := range e.Children {
				if !empty(ch) {
					return false
				}
			}
			return true
		case *schema.Intersection:
			for _, ch := range e.Children {
				if empty(ch) {
					return true
				}
			}
			return false
		case *schema.Exclusion:
			return empty(e.Base) || ExprString(e.Base) == ExprString(e.Subtract)
		}
		return false
	}
	for _, name := range d.Order {
		ast, ok := info.perms[name]
		if !ok || ast.Expr == nil {
			continue
		}
		if permEmpty(name) {
			c.warnf(exprPos(ast), "permission %s#%s can never grant (%s is always empty); fix the expression or remove the permission",
				d.Name, name, ExprString(d.Permissions[name].Expr))
		}
	}
}

func exprPos(p *syntax.Permission) syntax.Pos {
	if pos := leftmost(p.Expr); pos.Line > 0 {
		return pos
	}
	return p.NamePos
}

// leftmost returns the position of the first token of e.
func leftmost(e syntax.Expr) syntax.Pos {
	switch e := e.(type) {
	case nil:
		return syntax.Pos{}
	case *syntax.Binary:
		if e.X == nil {
			return e.Pos
		}
		return leftmost(e.X)
	}
	return syntax.ExprPos(e)
}
