package syntax

import (
	"fmt"
	"strings"
)

// Dump renders the tree one node per line, indented by depth, with every
// position as line:col. The output is stable and meant for golden tests and
// debugging.
func Dump(f *File) string { return dump(f, true) }

type dumper struct {
	b      strings.Builder
	depth  int
	hasPos bool
}

func dump(f *File, withPos bool) string {
	d := &dumper{hasPos: withPos}
	d.line(Pos{}, "File %q", f.Name)
	d.depth++
	for _, it := range f.Items {
		d.item(it)
	}
	d.strings("EndComment", f.EndComments)
	return d.b.String()
}

func (d *dumper) line(p Pos, format string, args ...any) {
	d.b.WriteString(strings.Repeat("  ", d.depth))
	if d.hasPos && p != (Pos{}) {
		fmt.Fprintf(&d.b, "%d:%d ", p.Line, p.Col)
	}
	fmt.Fprintf(&d.b, format, args...)
	d.b.WriteByte('\n')
}

func (d *dumper) at(p Pos) string {
	if !d.hasPos {
		return ""
	}
	return fmt.Sprintf(" @%d:%d", p.Line, p.Col)
}

func (d *dumper) strings(label string, ss []string) {
	for _, s := range ss {
		d.line(Pos{}, "%s %q", label, s)
	}
}

func (d *dumper) comments(doc string, c Comments) {
	if doc != "" {
		d.line(Pos{}, "Doc %q", doc)
	}
	if c.BlankBefore {
		d.line(Pos{}, "BlankBefore")
	}
	d.strings("Comment", c.Leading)
	if c.Trailing != "" {
		d.line(Pos{}, "Trailing %q", c.Trailing)
	}
}

func (d *dumper) item(it Item) {
	switch it := it.(type) {
	case *Use:
		d.line(it.Pos, "Use %s", it.Feature)
		d.depth++
		d.comments("", it.Comments)
		d.depth--
	case *Definition:
		d.line(it.Pos, "Definition %q%s", it.Name, d.at(it.NamePos))
		d.depth++
		d.comments(it.Doc, it.Comments)
		for _, m := range it.Members {
			d.member(m)
		}
		d.strings("EndComment", it.EndComments)
		d.depth--
	case *Caveat:
		d.line(it.Pos, "Caveat %q%s", it.Name, d.at(it.NamePos))
		d.depth++
		d.comments(it.Doc, it.Comments)
		for _, p := range it.Params {
			d.line(p.Pos, "Param %q %s", p.Name, d.typeExpr(p.Type))
		}
		d.line(it.ExprPos, "Expr %q", it.Expr)
		d.depth--
	default:
		d.line(Pos{}, "unknown item %T", it)
	}
}

func (d *dumper) typeExpr(t *TypeExpr) string {
	if t == nil {
		return "<nil>"
	}
	s := t.Name + d.at(t.Pos)
	if t.Elem != nil {
		s += "<" + d.typeExpr(t.Elem) + ">"
	}
	return s
}

func (d *dumper) member(m Member) {
	switch m := m.(type) {
	case *Relation:
		d.line(m.Pos, "Relation %q%s", m.Name, d.at(m.NamePos))
		d.depth++
		d.comments(m.Doc, m.Comments)
		for _, t := range m.Types {
			s := "TypeRef " + t.Type
			if t.Wildcard {
				s += " wildcard"
			}
			if t.Relation != "" {
				s += " relation=" + t.Relation
			}
			if t.Caveat != "" {
				s += " caveat=" + t.Caveat + d.at(t.CaveatPos)
			}
			if t.Expiration {
				s += " expiration"
			}
			d.line(t.Pos, "%s", s)
		}
		d.depth--
	case *Permission:
		d.line(m.Pos, "Permission %q%s", m.Name, d.at(m.NamePos))
		d.depth++
		d.comments(m.Doc, m.Comments)
		d.expr(m.Expr)
		d.depth--
	default:
		d.line(Pos{}, "unknown member %T", m)
	}
}

var opNames = map[BinaryOp]string{OpUnion: "Union +", OpIntersection: "Intersection &", OpExclusion: "Exclusion -"}

func (d *dumper) expr(e Expr) {
	switch e := e.(type) {
	case *Binary:
		d.line(e.Pos, "%s", opNames[e.Op])
		d.depth++
		d.expr(e.X)
		d.expr(e.Y)
		d.depth--
	case *Ident:
		d.line(e.Pos, "Ident %s", e.Name)
	case *Arrow:
		kind := map[ArrowFunc]string{ArrowPlain: "->", ArrowAny: ".any", ArrowAll: ".all"}[e.Func]
		d.line(e.Pos, "Arrow %s %s %s%s", e.Left, kind, e.Right, d.at(e.RightPos))
	case *Nil:
		d.line(e.Pos, "Nil")
	default:
		d.line(Pos{}, "unknown expr %T", e)
	}
}
