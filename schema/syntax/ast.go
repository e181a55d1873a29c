package syntax

// Pos is a position in a source file. Line and Col start at 1; Col counts bytes.
type Pos struct {
	Offset int
	Line   int
	Col    int
}

// File is a parsed schema file.
type File struct {
	Name  string // file name used in errors
	Items []Item // top-level items in source order
	// EndComments are the comments after the last item, verbatim with their
	// markers ("// x", "/* x */").
	EndComments []string
}

// Comments holds the ordinary (non-doc) comments attached to an item or member.
// Each comment is kept verbatim, markers included. Leading holds the comments on
// the lines before the node (and any comment written inside the node, which the
// formatter moves before it); an empty string in Leading (and in the
// EndComments lists) stands for a blank line between comments. Trailing holds
// the comments on the same line after the node's last token, joined by a space.
// BlankBefore is set on a member (never on the first of a definition, never on
// an item) that a blank line separated from the member before it.
type Comments struct {
	Leading     []string
	Trailing    string
	BlankBefore bool
}

// Item is a top-level item: *Use, *Definition or *Caveat.
type Item interface{ item() }

// Use is "use FEATURE" (today only "use expiration").
type Use struct {
	Pos     Pos
	Feature string
	Comments
}

// Definition is "definition NAME { members }".
type Definition struct {
	Pos     Pos
	Doc     string // text of the /** */ comment before it, without the markers; "" if none
	Name    string // may carry prefixes: "acme/dataset"
	NamePos Pos
	Members []Member
	Comments
	// EndComments are the comments after the last member, before the '}'.
	EndComments []string
}

// Member is *Relation or *Permission.
type Member interface{ member() }

// Relation is "relation NAME: T | T ...".
type Relation struct {
	Pos     Pos
	Doc     string
	Name    string
	NamePos Pos
	Types   []*TypeRef
	Comments
}

// TypeRef is one allowed subject type of a relation: "user", "user:*",
// "team#member", optionally "with CAVEAT", "with expiration" or
// "with CAVEAT and expiration".
type TypeRef struct {
	Pos        Pos
	Type       string
	Wildcard   bool
	Relation   string
	Caveat     string
	CaveatPos  Pos
	Expiration bool
}

// Permission is "permission NAME = EXPR".
type Permission struct {
	Pos     Pos
	Doc     string
	Name    string
	NamePos Pos
	Expr    Expr
	Comments
}

// Expr is a permission expression: *Binary, *Ident, *Arrow or *Nil. Parentheses
// are not kept: the tree's shape says the grouping, and the formatter writes
// parentheses where the precedence needs them.
type Expr interface {
	exprPos() Pos
}

// BinaryOp is a permission operator.
type BinaryOp uint8

// The operators, in precedence order from loosest to tightest.
const (
	OpExclusion    BinaryOp = iota + 1 // -
	OpIntersection                     // &
	OpUnion                            // +
)

// Binary is X op Y.
type Binary struct {
	Pos Pos // the operator's position
	Op  BinaryOp
	X   Expr
	Y   Expr
}

// Ident names a relation or permission of the enclosing definition.
type Ident struct {
	Pos  Pos
	Name string
}

// ArrowFunc says which form an arrow was written in.
type ArrowFunc uint8

// Arrow forms.
const (
	ArrowPlain ArrowFunc = iota // rel->perm
	ArrowAny                    // rel.any(perm)
	ArrowAll                    // rel.all(perm)
)

// Arrow is "Left->Right", "Left.any(Right)" or "Left.all(Right)".
type Arrow struct {
	Pos      Pos // position of Left
	Left     string
	Right    string
	RightPos Pos
	Func     ArrowFunc
}

// Nil is "nil".
type Nil struct{ Pos Pos }

// Caveat is "caveat NAME(params) { CEL }".
type Caveat struct {
	Pos     Pos
	Doc     string
	Name    string
	NamePos Pos
	Params  []*Param
	Expr    string // CEL source between the braces, trimmed
	ExprPos Pos    // position of the first byte of Expr
	Comments
}

// Param is one caveat parameter.
type Param struct {
	Pos  Pos
	Name string
	Type *TypeExpr
}

// TypeExpr is a parameter type: "string", "list<string>", "map<list<int>>".
type TypeExpr struct {
	Pos  Pos
	Name string
	Elem *TypeExpr // for list and map
}

func (*Use) item()        {}
func (*Definition) item() {}
func (*Caveat) item()     {}

func (*Relation) member()   {}
func (*Permission) member() {}

func (b *Binary) exprPos() Pos { return b.Pos }
func (i *Ident) exprPos() Pos  { return i.Pos }
func (a *Arrow) exprPos() Pos  { return a.Pos }
func (n *Nil) exprPos() Pos    { return n.Pos }

// ExprPos returns the position of an expression node.
func ExprPos(e Expr) Pos { return e.exprPos() }
