package syntax

import (
	"bytes"
	"strings"
)

// Format writes f in the canonical layout described in the package comment.
// Formatting is idempotent, keeps every comment, and the output parses to the
// same tree as f (positions aside).
func Format(f *File) []byte {
	var b bytes.Buffer
	for i, it := range f.Items {
		if i > 0 {
			b.WriteByte('\n')
		}
		switch it := it.(type) {
		case *Use:
			writeLeading(&b, "", "", it.Leading)
			b.WriteString("use ")
			b.WriteString(it.Feature)
			writeTrailing(&b, it.Trailing)
		case *Definition:
			writeLeading(&b, "", it.Doc, it.Leading)
			formatDefinition(&b, it)
			writeTrailing(&b, it.Trailing)
		case *Caveat:
			writeLeading(&b, "", it.Doc, it.Leading)
			formatCaveat(&b, it)
			writeTrailing(&b, it.Trailing)
		}
	}
	if len(f.EndComments) > 0 {
		if len(f.Items) > 0 {
			b.WriteByte('\n')
		}
		writeLeading(&b, "", "", f.EndComments)
	}
	return b.Bytes()
}

// writeLeading writes comments, then the doc comment, each on its own line.
func writeLeading(b *bytes.Buffer, indent, doc string, comments []string) {
	for _, c := range comments {
		if c != "" { // "" stands for a blank line
			b.WriteString(indent)
			b.WriteString(c)
		}
		b.WriteByte('\n')
	}
	if doc == "" {
		return
	}
	b.WriteString(indent)
	if !strings.Contains(doc, "\n") {
		b.WriteString("/** ")
		b.WriteString(doc)
		b.WriteString(" */\n")
		return
	}
	b.WriteString("/**\n")
	for _, l := range strings.Split(doc, "\n") {
		b.WriteString(indent)
		if l == "" {
			b.WriteString(" *\n")
			continue
		}
		b.WriteString(" * ")
		b.WriteString(l)
		b.WriteByte('\n')
	}
	b.WriteString(indent)
	b.WriteString(" */\n")
}

func writeTrailing(b *bytes.Buffer, c string) {
	if c != "" {
		b.WriteByte(' ')
		b.WriteString(c)
	}
	b.WriteByte('\n')
}

func formatDefinition(b *bytes.Buffer, d *Definition) {
	b.WriteString("definition ")
	b.WriteString(d.Name)
	if len(d.Members) == 0 && len(d.EndComments) == 0 {
		b.WriteString(" {}")
		return
	}
	b.WriteString(" {\n")
	for i, m := range d.Members {
		if i > 0 && blankBefore(m) {
			b.WriteByte('\n')
		}
		switch m := m.(type) {
		case *Relation:
			writeLeading(b, "\t", m.Doc, m.Leading)
			b.WriteString("\trelation ")
			b.WriteString(m.Name)
			b.WriteString(": ")
			for i, t := range m.Types {
				if i > 0 {
					b.WriteString(" | ")
				}
				formatTypeRef(b, t)
			}
			writeTrailing(b, m.Trailing)
		case *Permission:
			writeLeading(b, "\t", m.Doc, m.Leading)
			b.WriteString("\tpermission ")
			b.WriteString(m.Name)
			b.WriteString(" = ")
			formatExpr(b, m.Expr)
			writeTrailing(b, m.Trailing)
		}
	}
	writeLeading(b, "\t", "", d.EndComments)
	b.WriteString("}")
}

func blankBefore(m Member) bool {
	switch m := m.(type) {
	case *Relation:
		return m.BlankBefore
	case *Permission:
		return m.BlankBefore
	}
	return false
}

func formatTypeRef(b *bytes.Buffer, t *TypeRef) {
	b.WriteString(t.Type)
	switch {
	case t.Wildcard:
		b.WriteString(":*")
	case t.Relation != "":
		b.WriteByte('#')
		b.WriteString(t.Relation)
	}
	switch {
	case t.Caveat != "" && t.Expiration:
		b.WriteString(" with ")
		b.WriteString(t.Caveat)
		b.WriteString(" and expiration")
	case t.Caveat != "":
		b.WriteString(" with ")
		b.WriteString(t.Caveat)
	case t.Expiration:
		b.WriteString(" with expiration")
	}
}

// FormatExpr writes a permission expression. Operators of one kind chain
// without parentheses (a + b + c); wherever two different operators meet, the
// inner one is parenthesized even when the precedence (arrows, then +, then &,
// then -) would not need it, so that a reader never has to recall that table:
// (a + b) - (c & d), not a + b - c & d.
func FormatExpr(e Expr) string {
	var b bytes.Buffer
	formatExpr(&b, e)
	return b.String()
}

func formatExpr(b *bytes.Buffer, e Expr) {
	switch e := e.(type) {
	case *Binary:
		x, isBin := e.X.(*Binary)
		paren := isBin && x.Op != e.Op
		writeOperand(b, e.X, paren)
		switch e.Op {
		case OpUnion:
			b.WriteString(" + ")
		case OpIntersection:
			b.WriteString(" & ")
		default:
			b.WriteString(" - ")
		}
		_, isBin = e.Y.(*Binary)
		paren = isBin // a right-nested chain needs them; a mixed one reads better
		writeOperand(b, e.Y, paren)
	case *Ident:
		b.WriteString(e.Name)
	case *Arrow:
		b.WriteString(arrowString(e))
	case *Nil:
		b.WriteString("nil")
	}
}

func writeOperand(b *bytes.Buffer, e Expr, paren bool) {
	if paren {
		b.WriteByte('(')
	}
	formatExpr(b, e)
	if paren {
		b.WriteByte(')')
	}
}

func formatCaveat(b *bytes.Buffer, c *Caveat) {
	b.WriteString("caveat ")
	b.WriteString(c.Name)
	b.WriteByte('(')
	for i, p := range c.Params {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(p.Name)
		b.WriteByte(' ')
		formatTypeExpr(b, p.Type)
	}
	b.WriteString(") {\n\t")
	b.WriteString(c.Expr)
	b.WriteString("\n}")
}

func formatTypeExpr(b *bytes.Buffer, t *TypeExpr) {
	b.WriteString(t.Name)
	if t.Elem != nil {
		b.WriteByte('<')
		formatTypeExpr(b, t.Elem)
		b.WriteByte('>')
	}
}
