package compile

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/trellis-authz/trellis/schema"
	"github.com/trellis-authz/trellis/schema/syntax"
	"github.com/trellis-authz/trellis/tuple"
)

// DefaultCaveatCostLimit is the CEL cost budget of one caveat evaluation unless
// WithCaveatCostLimit says otherwise.
const DefaultCaveatCostLimit uint64 = 100_000

// Option adjusts compilation. Most callers pass none.
type Option func(*options)

type options struct {
	costLimit uint64
}

// WithCaveatCostLimit sets the CEL cost budget of one caveat evaluation; an
// evaluation that exceeds it fails with ErrCaveatCostExceeded. Zero means
// DefaultCaveatCostLimit.
func WithCaveatCostLimit(limit uint64) Option {
	return func(o *options) { o.costLimit = limit }
}

func buildOptions(opts []Option) options {
	o := options{costLimit: DefaultCaveatCostLimit}
	for _, opt := range opts {
		opt(&o)
	}
	if o.costLimit == 0 {
		o.costLimit = DefaultCaveatCostLimit
	}
	return o
}

// CompileText parses and compiles schema text. The returned list holds every
// syntax error, semantic error and lint warning of the file, sorted by
// position, each with the quoted source line. The schema is nil when the list
// holds an error (list.Err() != nil); with warnings only, both are returned.
// The schema's Text is src and its Hash the hex SHA-256 of src.
func CompileText(filename, src string, opts ...Option) (*schema.Schema, syntax.ErrorList) {
	f, errs := syntax.Parse(filename, []byte(src))
	if errs.Err() != nil {
		errs.Sort()
		errs.WithSource(src)
		return nil, errs
	}
	s, cerrs := Compile(f, opts...)
	all := append(errs, cerrs...)
	all.Sort()
	all.WithSource(src)
	if s != nil {
		sum := sha256.Sum256([]byte(src))
		s.Text = src
		s.Hash = hex.EncodeToString(sum[:])
	}
	if len(all) == 0 {
		all = nil
	}
	return s, all
}

// Compile compiles a parsed file. Errors carry positions but no source lines
// (CompileText fills those in); Text and Hash of the schema are left empty.
// The schema is nil when the list holds an error.
func Compile(f *syntax.File, opts ...Option) (*schema.Schema, syntax.ErrorList) {
	c := &compiler{
		file: f.Name,
		opts: buildOptions(opts),
		s: &schema.Schema{
			Definitions: map[string]*schema.Definition{},
			Caveats:     map[string]*schema.Caveat{},
		},
		defs:    map[string]*defInfo{},
		caveats: map[string]*syntax.Caveat{},
	}
	c.collect(f)
	c.compileCaveats()
	c.resolveRelations()
	c.compilePermissions()
	c.lint()
	c.errs.Sort()
	if c.errs.Err() != nil {
		return nil, c.errs
	}
	if len(c.errs) == 0 {
		return c.s, nil
	}
	return c.s, c.errs
}

// defInfo keeps a definition's AST next to its compiled form while compiling.
type defInfo struct {
	ast   *syntax.Definition
	def   *schema.Definition
	rels  map[string]*syntax.Relation
	perms map[string]*syntax.Permission
}

type compiler struct {
	file    string
	opts    options
	errs    syntax.ErrorList
	s       *schema.Schema
	defs    map[string]*defInfo
	caveats map[string]*syntax.Caveat
	useExp  *syntax.Use
}

func (c *compiler) report(sev syntax.Severity, pos syntax.Pos, format string, args ...any) {
	c.errs = append(c.errs, &syntax.Error{File: c.file, Pos: pos, Msg: fmt.Sprintf(format, args...), Severity: sev})
}

func (c *compiler) errorf(pos syntax.Pos, format string, args ...any) {
	c.report(syntax.SeverityError, pos, format, args...)
}

func (c *compiler) warnf(pos syntax.Pos, format string, args ...any) {
	c.report(syntax.SeverityWarning, pos, format, args...)
}

// nameErr is the text of a name validation error.
func nameErr(err error) string { return err.Error() }

// collect records every top-level item, reporting duplicates and bad names.
func (c *compiler) collect(f *syntax.File) {
	for _, it := range f.Items {
		switch it := it.(type) {
		case *syntax.Use:
			if it.Feature != "expiration" {
				c.errorf(it.Pos, "unknown feature %q in use; the only feature is \"expiration\" (write: use expiration)", it.Feature)
				continue
			}
			if c.useExp != nil {
				c.warnf(it.Pos, "\"use expiration\" is repeated; line %d already enables it, remove this one", c.useExp.Pos.Line)
				continue
			}
			c.useExp = it
			c.s.UseExpiration = true
		case *syntax.Definition:
			c.collectDefinition(it)
		case *syntax.Caveat:
			if err := tuple.ValidateCaveatName(it.Name); err != nil {
				c.errorf(it.NamePos, "invalid caveat name: %s", nameErr(err))
			}
			if prev, ok := c.caveats[it.Name]; ok {
				c.errorf(it.NamePos, "duplicate caveat %q; it is already defined at line %d, rename or remove one", it.Name, prev.NamePos.Line)
				continue
			}
			c.caveats[it.Name] = it
			c.s.CaveatOrder = append(c.s.CaveatOrder, it.Name)
		}
	}
}

func (c *compiler) collectDefinition(d *syntax.Definition) {
	if err := tuple.ValidateTypeName(d.Name); err != nil {
		c.errorf(d.NamePos, "invalid definition name: %s", nameErr(err))
	}
	if prev, ok := c.defs[d.Name]; ok {
		c.errorf(d.NamePos, "duplicate definition %q; it is already defined at line %d, merge the two or rename one", d.Name, prev.ast.NamePos.Line)
		return
	}
	info := &defInfo{
		ast:   d,
		def:   &schema.Definition{Name: d.Name, Doc: d.Doc, Relations: map[string]*schema.Relation{}, Permissions: map[string]*schema.Permission{}},
		rels:  map[string]*syntax.Relation{},
		perms: map[string]*syntax.Permission{},
	}
	c.defs[d.Name] = info
	c.s.Definitions[d.Name] = info.def
	c.s.Order = append(c.s.Order, d.Name)
	for _, m := range d.Members {
		switch m := m.(type) {
		case *syntax.Relation:
			if !c.checkMemberName(info, "relation", m.Name, m.NamePos) {
				continue
			}
			info.rels[m.Name] = m
			info.def.Relations[m.Name] = &schema.Relation{Name: m.Name, Doc: m.Doc}
			info.def.Order = append(info.def.Order, m.Name)
		case *syntax.Permission:
			if !c.checkMemberName(info, "permission", m.Name, m.NamePos) {
				continue
			}
			info.perms[m.Name] = m
			info.def.Permissions[m.Name] = &schema.Permission{Name: m.Name, Doc: m.Doc}
			info.def.Order = append(info.def.Order, m.Name)
		}
	}
}

// checkMemberName validates a relation or permission name and reports
// duplicates; it returns false when the member must be skipped.
func (c *compiler) checkMemberName(info *defInfo, kind, name string, pos syntax.Pos) bool {
	if err := tuple.ValidateName(name); err != nil {
		c.errorf(pos, "invalid %s name: %s", kind, nameErr(err))
	}
	if prev, ok := info.rels[name]; ok {
		if kind == "relation" {
			c.errorf(pos, "duplicate relation %q in definition %q; it is already declared at line %d, list all its types in one relation", name, info.def.Name, prev.NamePos.Line)
		} else {
			c.errorf(pos, "permission %q has the same name as relation %q of definition %q (line %d); relations and permissions share one namespace, rename one", name, name, info.def.Name, prev.NamePos.Line)
		}
		return false
	}
	if prev, ok := info.perms[name]; ok {
		if kind == "permission" {
			c.errorf(pos, "duplicate permission %q in definition %q; it is already declared at line %d, rename or remove one", name, info.def.Name, prev.NamePos.Line)
		} else {
			c.errorf(pos, "relation %q has the same name as permission %q of definition %q (line %d); relations and permissions share one namespace, rename one", name, name, info.def.Name, prev.NamePos.Line)
		}
		return false
	}
	return true
}

// resolveRelations checks every relation's allowed subject types.
func (c *compiler) resolveRelations() {
	for _, name := range c.s.Order {
		info := c.defs[name]
		for _, m := range info.ast.Members {
			r, ok := m.(*syntax.Relation)
			if !ok || info.rels[r.Name] != r {
				continue
			}
			rel := info.def.Relations[r.Name]
			if len(r.Types) == 0 {
				c.errorf(r.NamePos, "relation %s#%s allows no subject types; list at least one, e.g. relation %s: user", name, r.Name, r.Name)
				continue
			}
			seen := map[schema.AllowedSubject]syntax.Pos{}
			for _, t := range r.Types {
				if t == nil {
					continue // a parse error, reported by the parser
				}
				a, ok := c.resolveTypeRef(info, r, t)
				if !ok {
					continue
				}
				if prev, dup := seen[a]; dup {
					c.warnf(t.Pos, "subject type %s is listed twice on %s#%s (first at line %d:%d); remove one", a, name, r.Name, prev.Line, prev.Col)
					continue
				}
				seen[a] = t.Pos
				rel.Allowed = append(rel.Allowed, a)
			}
		}
	}
}

func (c *compiler) resolveTypeRef(info *defInfo, r *syntax.Relation, t *syntax.TypeRef) (schema.AllowedSubject, bool) {
	a := schema.AllowedSubject{Type: t.Type, Wildcard: t.Wildcard, Relation: t.Relation, Caveat: t.Caveat, Expiration: t.Expiration}
	ok := true
	target, found := c.defs[t.Type]
	if !found {
		c.errorf(t.Pos, "unknown type %q in relation %s#%s; define it (definition %s {}) or fix the name%s", t.Type, info.def.Name, r.Name, t.Type, c.suggestType(t.Type))
		ok = false
	}
	if t.Wildcard && t.Relation != "" {
		c.errorf(t.Pos, "wildcard %s:*#%s is not a subject type; write %s:* for every %s, or %s#%s for a subject set", t.Type, t.Relation, t.Type, t.Type, t.Type, t.Relation)
		ok = false
	} else if found && t.Relation != "" {
		if _, _, exists := target.def.Lookup(t.Relation); !exists {
			c.errorf(t.Pos, "unknown relation %q in subject set %s#%s: definition %q has no relation or permission %q%s", t.Relation, t.Type, t.Relation, t.Type, t.Relation, listNames(" (it has: ", target.def.Order, ")"))
			ok = false
		}
	}
	if t.Caveat != "" {
		if _, exists := c.caveats[t.Caveat]; !exists {
			pos := t.CaveatPos
			if pos.Line == 0 {
				pos = t.Pos
			}
			c.errorf(pos, "unknown caveat %q in \"with %s\"; declare it (caveat %s(...) { ... }) or fix the name%s", t.Caveat, t.Caveat, t.Caveat, listNames(" (caveats: ", c.s.CaveatOrder, ")"))
			ok = false
		}
	}
	if t.Expiration && c.useExp == nil {
		c.errorf(t.Pos, "\"with expiration\" on %s#%s needs \"use expiration\" at the top of the file", info.def.Name, r.Name)
		ok = false
	}
	return a, ok
}

func (c *compiler) suggestType(name string) string {
	for _, n := range c.s.Order {
		if strings.HasSuffix(n, "/"+name) || strings.EqualFold(n, name) || editDistance1(n, name) {
			return fmt.Sprintf("; did you mean %q?", n)
		}
	}
	return ""
}

// editDistance1 reports whether a and b differ by one insertion, deletion or
// substitution.
func editDistance1(a, b string) bool {
	if a == b {
		return false
	}
	if len(a) > len(b) {
		a, b = b, a
	}
	if len(b)-len(a) > 1 {
		return false
	}
	i := 0
	for i < len(a) && a[i] == b[i] {
		i++
	}
	if len(a) == len(b) {
		return a[i+1:] == b[i+1:]
	}
	return a[i:] == b[i+1:]
}

func listNames(prefix string, names []string, suffix string) string {
	if len(names) == 0 {
		return ""
	}
	const max = 8
	shown := names
	more := ""
	if len(shown) > max {
		shown = shown[:max]
		more = ", ..."
	}
	return prefix + strings.Join(shown, ", ") + more + suffix
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
