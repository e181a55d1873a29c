package schema

import (
	"context"
	"github.com/trellis-authz/trellis/verdict"
	"time"
)

// Schema is a compiled schema.
type Schema struct {
	Definitions map[string]*Definition
	Caveats     map[string]*Caveat
	// Order lists definition names in declaration order.
	Order []string
	// CaveatOrder lists caveat names in declaration order.
	CaveatOrder []string
	// UseExpiration is true when the schema says "use expiration".
	UseExpiration bool
	// Text is the source the schema was compiled from; Hash its SHA-256, hex.
	Text string
	Hash string
}

// Definition is one object type.
type Definition struct {
	Name        string
	Doc         string
	Relations   map[string]*Relation
	Permissions map[string]*Permission
	// Order lists relation and permission names in declaration order.
	Order []string
}

// Relation is a stored relation and the subjects it allows.
type Relation struct {
	Name    string
	Doc     string
	Allowed []AllowedSubject
}

// AllowedSubject is one alternative of a relation's type list: "user",
// "user:*", "team#member", each optionally "with caveat" and/or "with expiration".
type AllowedSubject struct {
	Type       string
	Wildcard   bool   // user:*
	Relation   string // team#member; empty for plain objects
	Caveat     string // with caveat; empty when none
	Expiration bool   // with expiration
}

// Permission is a computed permission.
type Permission struct {
	Name string
	Doc  string
	Expr Expr
}

// Lookup returns the relation or permission called name, whichever exists.
func (d *Definition) Lookup(name string) (rel *Relation, perm *Permission, ok bool) {
	if r, found := d.Relations[name]; found {
		return r, nil, true
	}
	if p, found := d.Permissions[name]; found {
		return nil, p, true
	}
	return nil, nil, false
}

// Expr is a permission expression node: one of *Union, *Intersection,
// *Exclusion, *RelationRef, *Arrow, *Nil.
type Expr interface{ expr() }

// Union is a + b + ...: any child grants.
type Union struct{ Children []Expr }

// Intersection is a & b & ...: every child must grant.
type Intersection struct{ Children []Expr }

// Exclusion is Base - Subtract.
type Exclusion struct{ Base, Subtract Expr }

// RelationRef names a relation or permission of the same definition.
type RelationRef struct{ Name string }

// ArrowMode says how an arrow combines the results of its subjects.
type ArrowMode uint8

// The arrow modes.
const (
	ArrowAny ArrowMode = iota // rel->perm and rel.any(perm)
	ArrowAll                  // rel.all(perm)
)

// Arrow walks Tupleset (a relation of this definition) and evaluates Computed on
// each of its subjects.
type Arrow struct {
	Tupleset string
	Computed string
	Mode     ArrowMode
}

// Nil never grants.
type Nil struct{}

func (*Union) expr()        {}
func (*Intersection) expr() {}
func (*Exclusion) expr()    {}
func (*RelationRef) expr()  {}
func (*Arrow) expr()        {}
func (*Nil) expr()          {}

// ParamType is a caveat parameter type: a base name ("string", "int",
// "timestamp", "ipaddress", "list", "map", ...) and, for list and map, the
// element type.
type ParamType struct {
	Name string
	Elem *ParamType
}

// String formats the type as written in a schema: "list<string>".
func (t ParamType) String() string {
	if t.Elem == nil {
		return t.Name
	}
	return t.Name + "<" + t.Elem.String() + ">"
}

// Caveat is a named CEL condition with typed parameters.
type Caveat struct {
	Name       string
	Doc        string
	Params     map[string]ParamType
	ParamOrder []string
	Expression string // the CEL source
	Program    CaveatProgram
}

// CaveatResult is the outcome of evaluating a caveat.
type CaveatResult struct {
	// Value is the caveat's result when Missing is empty.
	Value bool
	// Missing names the parameters the caveat needed but did not get; when it is
	// not empty the result is conditional and Value means nothing.
	Missing []string
}

// ErrInvalidContext is what a CaveatProgram's error wraps when a context value
// does not fit the declared type of its parameter (the caller's mistake, not
// the caveat's).
var ErrInvalidContext = verdict.New("invalid caveat context")

// CaveatProgram evaluates a compiled caveat against context (parameter name →
// value decoded from JSON; the engine merges relationship context over request
// context before calling it). Implementations convert JSON values to the
// declared parameter types and fail with a clear error when they do not fit.
type CaveatProgram interface {
	Eval(ctx context.Context, params map[string]any) (CaveatResult, error)
}

// Clock tells the current time; the engine and storage take one so tests can
// control expiration.
type Clock func() time.Time
