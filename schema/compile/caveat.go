package compile

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common"

	"github.com/trellis-authz/trellis/schema"
	"github.com/trellis-authz/trellis/schema/syntax"
)

// Errors of caveat evaluation. The engine wraps them into its own errors.
var (
	// ErrInvalidContext is returned when a context value does not fit the
	// declared type of its parameter. It is schema.ErrInvalidContext, so the
	// engine can recognise it without importing the compiler.
	ErrInvalidContext = schema.ErrInvalidContext
	// ErrCaveatCostExceeded is returned when an evaluation exceeds the CEL cost
	// limit (WithCaveatCostLimit).
	ErrCaveatCostExceeded = errors.New("caveat evaluation cost limit exceeded")
	// ErrCaveatEval is returned when a caveat fails at run time (a bad CIDR,
	// division by zero, a missing map key, a non-boolean result).
	ErrCaveatEval = errors.New("caveat evaluation failed")
)

// baseEnv is the CEL environment every caveat extends: the ipaddress type and
// its in_cidr function.
var baseEnv = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(ipAddressLib()...)
})

// paramTypes are the caveat parameter types and whether they take an element
// type.
var paramTypes = map[string]bool{
	"any": false, "bool": false, "string": false, "int": false, "uint": false,
	"double": false, "bytes": false, "duration": false, "timestamp": false,
	"ipaddress": false, "list": true, "map": true,
}

// celReserved are CEL's keywords and reserved words: no identifier may be one.
var celReserved = map[string]bool{
	"true": true, "false": true, "null": true, "in": true, "as": true, "if": true,
	"break": true, "const": true,
	"continue": true, "else": true, "for": true, "function": true, "import": true,
	"let": true, "loop": true, "package": true, "namespace": true, "return": true,
	"var": true, "void": true, "while": true,
}

// validateParamName checks a caveat parameter name by CEL's identifier rule,
// as SpiceDB does: a letter or '_', then letters, digits and '_', of any
// length ("n", "me", "expiration", "userID"). It is not a schema name: it
// has no minimum length and no prefix.
func validateParamName(s string) error {
	if s == "" {
		return fmt.Errorf("the parameter name is empty")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
		if !letter && (i == 0 || c < '0' || c > '9') {
			return fmt.Errorf("%q has %q at byte %d; a parameter name is a CEL identifier: a letter or '_', then letters, digits and '_'", s, c, i)
		}
	}
	return nil
}

const paramTypeNames = "any, bool, string, int, uint, double, bytes, duration, timestamp, ipaddress, list<T>, map<T>"

// compileCaveats checks parameter types and compiles each caveat's CEL.
func (c *compiler) compileCaveats() {
	for _, name := range c.s.CaveatOrder {
		cv := c.caveats[name]
		out := &schema.Caveat{Name: cv.Name, Doc: cv.Doc, Params: map[string]schema.ParamType{}, Expression: cv.Expr}
		ok := true
		var vars []cel.EnvOption
		for _, p := range cv.Params {
			if p == nil {
				ok = false // a parse error, reported by the parser
				continue
			}
			if err := validateParamName(p.Name); err != nil {
				c.errorf(p.Pos, "invalid parameter name in caveat %q: %s", cv.Name, nameErr(err))
				ok = false
			} else if celReserved[p.Name] {
				c.errorf(p.Pos, "parameter name %q of caveat %q is a reserved word in CEL and cannot be used in the expression; rename it", p.Name, cv.Name)
				ok = false
			}
			if _, dup := out.Params[p.Name]; dup {
				c.errorf(p.Pos, "duplicate parameter %q in caveat %q; rename or remove one", p.Name, cv.Name)
				ok = false
				continue
			}
			pt, typOK := c.paramType(cv, p, p.Type)
			if !typOK {
				ok = false
				continue
			}
			out.Params[p.Name] = pt
			out.ParamOrder = append(out.ParamOrder, p.Name)
			vars = append(vars, cel.Variable(p.Name, celType(pt)))
		}
		if strings.TrimSpace(cv.Expr) == "" {
			c.errorf(cv.NamePos, "caveat %q has an empty expression; write a CEL expression that returns bool between the braces", cv.Name)
			ok = false
		}
		c.s.Caveats[name] = out
		if !ok {
			continue
		}
		prog, err := c.compileCEL(cv, out, vars)
		if err != nil {
			continue // reported
		}
		out.Program = prog
	}
}

func (c *compiler) paramType(cv *syntax.Caveat, p *syntax.Param, t *syntax.TypeExpr) (schema.ParamType, bool) {
	if t == nil {
		c.errorf(p.Pos, "parameter %q of caveat %q has no type; write one of %s", p.Name, cv.Name, paramTypeNames)
		return schema.ParamType{}, false
	}
	generic, known := paramTypes[t.Name]
	if !known {
		c.errorf(t.Pos, "unknown type %q for parameter %q of caveat %q; use one of %s", t.Name, p.Name, cv.Name, paramTypeNames)
		return schema.ParamType{}, false
	}
	if generic && t.Elem == nil {
		c.errorf(t.Pos, "type %s of parameter %q needs an element type, e.g. %s<string>", t.Name, p.Name, t.Name)
		return schema.ParamType{}, false
	}
	if !generic && t.Elem != nil {
		c.errorf(t.Pos, "type %s of parameter %q takes no element type; write %s alone (only list<T> and map<T> are generic)", t.Name, p.Name, t.Name)
		return schema.ParamType{}, false
	}
	pt := schema.ParamType{Name: t.Name}
	if generic {
		elem, ok := c.paramType(cv, p, t.Elem)
		if !ok {
			return schema.ParamType{}, false
		}
		pt.Elem = &elem
	}
	return pt, true
}

// celType maps a parameter type to its CEL type.
func celType(t schema.ParamType) *cel.Type {
	switch t.Name {
	case "bool":
		return cel.BoolType
	case "string":
		return cel.StringType
	case "int":
		return cel.IntType
	case "uint":
		return cel.UintType
	case "double":
		return cel.DoubleType
	case "bytes":
		return cel.BytesType
	case "duration":
		return cel.DurationType
	case "timestamp":
		return cel.TimestampType
	case "ipaddress":
		return ipAddressCELType
	case "list":
		return cel.ListType(celType(*t.Elem))
	case "map":
		return cel.MapType(cel.StringType, celType(*t.Elem))
	}
	return cel.DynType
}

func (c *compiler) compileCEL(cv *syntax.Caveat, out *schema.Caveat, vars []cel.EnvOption) (*program, error) {
	base, err := baseEnv()
	if err != nil {
		c.errorf(cv.NamePos, "internal error building the CEL environment: %v", err)
		return nil, err
	}
	env, err := base.Extend(vars...)
	if err != nil {
		c.errorf(cv.NamePos, "caveat %q: %v", cv.Name, err)
		return nil, err
	}
	ast, iss := env.Compile(cv.Expr)
	if iss != nil && iss.Err() != nil {
		for _, e := range iss.Errors() {
			c.errorf(c.celPos(cv, e.Location), "caveat %q: %s", cv.Name, e.Message)
		}
		return nil, iss.Err()
	}
	if !ast.OutputType().IsExactType(cel.BoolType) {
		c.errorf(cv.ExprPos, "caveat %q must return bool, but its expression returns %s; compare or test something, e.g. x == y", cv.Name, ast.OutputType())
		return nil, errors.New("not bool")
	}
	prg, err := env.Program(ast,
		cel.EvalOptions(cel.OptPartialEval, cel.OptTrackState),
		cel.CostLimit(c.opts.costLimit),
		cel.InterruptCheckFrequency(100),
	)
	if err != nil {
		c.errorf(cv.ExprPos, "caveat %q: %v", cv.Name, err)
		return nil, err
	}
	return &program{caveat: out, prg: prg, refs: referencedParams(ast, out)}, nil
}

// celPos maps a location inside the CEL text to a position in the schema file.
func (c *compiler) celPos(cv *syntax.Caveat, loc common.Location) syntax.Pos {
	base := cv.ExprPos
	if loc == nil || loc.Line() < 1 {
		return base
	}
	line, col := loc.Line(), loc.Column() // 1-based line, 0-based column
	// Offset of the start of the line within the CEL text.
	lineStart := 0
	for l := 1; l < line; l++ {
		i := strings.IndexByte(cv.Expr[lineStart:], '\n')
		if i < 0 {
			break
		}
		lineStart += i + 1
	}
	// CEL columns count code points; convert to bytes.
	rest := cv.Expr[lineStart:]
	byteCol := 0
	for n := 0; n < col && byteCol < len(rest); n++ {
		_, size := utf8.DecodeRuneInString(rest[byteCol:])
		byteCol += size
	}
	pos := syntax.Pos{Offset: base.Offset + lineStart + byteCol, Line: base.Line + line - 1}
	if line == 1 {
		pos.Col = base.Col + byteCol
	} else {
		pos.Col = byteCol + 1
	}
	return pos
}

// referencedParams lists the caveat parameters the checked expression names.
func referencedParams(ast *cel.Ast, cv *schema.Caveat) map[string]bool {
	refs := map[string]bool{}
	for _, r := range ast.NativeRep().ReferenceMap() {
		if r != nil && r.Value == nil {
			if _, ok := cv.Params[r.Name]; ok {
				refs[r.Name] = true
			}
		}
	}
	return refs
}
