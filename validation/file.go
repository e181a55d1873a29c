package validation

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/trellis-authz/trellis/tuple"
)

// File is a parsed policy file.
type File struct {
	// Name is the file name given to Parse (used in errors).
	Name string
	// Schema is the schema text: the "schema" key, or the contents of
	// SchemaFile once ParseFile has read it. SchemaLine is the line of the file
	// where an inline schema's first line is (0 for a schemaFile), so schema
	// error positions can be mapped back into the policy file.
	Schema     string
	SchemaLine int
	// SchemaFile is the "schemaFile" key as written; Parse leaves it unread,
	// ParseFile resolves it relative to the policy file and fills Schema.
	SchemaFile string
	// Relationships in file order.
	Relationships []Relationship
	// Assertions in file order: all assertTrue, then assertFalse, then
	// assertCaveated.
	Assertions []Assertion
	// Expected is the "validation" block, in file order.
	Expected []ExpectedRelation
}

// Relationship is one line of the "relationships" block.
type Relationship struct {
	Rel  tuple.Relationship
	Line int
}

// AssertionKind says what an assertion expects of a check.
type AssertionKind uint8

// The assertion kinds, named as in the file.
const (
	AssertTrue     AssertionKind = iota + 1 // the check is allowed
	AssertFalse                             // the check is denied
	AssertCaveated                          // the check is conditional
)

func (k AssertionKind) String() string {
	switch k {
	case AssertTrue:
		return "assertTrue"
	case AssertFalse:
		return "assertFalse"
	case AssertCaveated:
		return "assertCaveated"
	}
	return fmt.Sprintf("assertion(%d)", uint8(k))
}

// Assertion is one check the file expects an answer to:
// "resource#permission@subject" optionally followed by "with {json context}".
type Assertion struct {
	Kind       AssertionKind
	Resource   tuple.ObjectRef
	Permission string
	Subject    tuple.SubjectRef
	Context    map[string]any // nil without "with"
	Text       string         // as written
	Line       int
}

// ExpectedRelation is one key of the "validation" block: every subject that
// has Permission on Resource.
type ExpectedRelation struct {
	Resource   tuple.ObjectRef
	Permission string
	Subjects   []ExpectedSubject
	Line       int
}

// ExpectedSubject is one line of an ExpectedRelation, e.g.
//
//	[user:tom] is <document:plan#writer>
//	[user:sam[...]] is <document:plan#reader>        (conditional)
//	[user:* - {user:bob, user:eve}] is <document:plan#reader>
//	[team:ml#member]
type ExpectedSubject struct {
	Subject tuple.SubjectRef // may be a wildcard or a subject set
	// Conditional is true for "[subject[...]]": the subject has the permission
	// only when a caveat holds.
	Conditional bool
	// Excluded lists, for a wildcard, the subjects it does not cover.
	Excluded []ExcludedSubject
	// Sources are the relations listed after "is": where the grant comes from.
	Sources []Source
	Text    string // as written
	Line    int
}

// ExcludedSubject is one subject of a wildcard's "- {...}" list.
type ExcludedSubject struct {
	Subject     tuple.SubjectRef
	Conditional bool // "user:bob[...]": excluded only when a caveat holds
}

// Source is a "<type:id#relation>" reference after "is".
type Source struct {
	Object   tuple.ObjectRef
	Relation string
}

func (s Source) String() string { return "<" + s.Object.String() + "#" + s.Relation + ">" }

// String formats the subject as it is written in a file.
func (s ExpectedSubject) String() string {
	var b strings.Builder
	b.WriteString("[")
	b.WriteString(s.Subject.String())
	if s.Conditional {
		b.WriteString("[...]")
	}
	if len(s.Excluded) > 0 {
		b.WriteString(" - {")
		for i, x := range s.Excluded {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(x.Subject.String())
			if x.Conditional {
				b.WriteString("[...]")
			}
		}
		b.WriteString("}")
	}
	b.WriteString("]")
	for i, src := range s.Sources {
		if i == 0 {
			b.WriteString(" is ")
		} else {
			b.WriteString("/")
		}
		b.WriteString(src.String())
	}
	return b.String()
}

// Error is a problem at one line of a policy file.
type Error struct {
	File string
	Line int // 0 when the problem is not at one line
	Msg  string
}

func (e *Error) Error() string {
	if e.Line == 0 {
		return e.File + ": " + e.Msg
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// ErrorList is every problem of a file, in line order.
type ErrorList []*Error

func (l ErrorList) Error() string {
	var b strings.Builder
	for i, e := range l {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// ParseFile reads and parses the policy file at path and, when it names a
// schemaFile, reads that file (relative to the policy file's directory) into
// File.Schema.
func ParseFile(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read policy file: %w", err)
	}
	f, err := Parse(path, data)
	if err != nil {
		return nil, err
	}
	if f.SchemaFile != "" {
		p := f.SchemaFile
		if !filepath.IsAbs(p) {
			p = filepath.Join(filepath.Dir(path), p)
		}
		text, err := os.ReadFile(p)
		if err != nil {
			return nil, &Error{File: path, Msg: fmt.Sprintf("schemaFile %q: %v", f.SchemaFile, err)}
		}
		f.Schema = string(text)
	}
	return f, nil
}

// Parse parses a policy file's contents; name is used in errors. It checks
// the syntax of every relationship, assertion and expected subject, but not
// them against the schema (that is the runner's job, after compiling it).
// The error, if any, is an ErrorList.
func Parse(name string, data []byte) (*File, error) {
	p := &parser{f: &File{Name: name}, src: strings.Split(string(data), "\n")}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		return nil, ErrorList{{File: name, Line: yamlErrLine(err), Msg: "not valid YAML: " + err.Error()}}
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, ErrorList{{File: name, Line: 1, Msg: "a policy file is a YAML mapping with keys schema (or schemaFile), relationships, assertions and validation"}}
	}
	p.top(doc.Content[0])
	if len(p.errs) > 0 {
		slices.SortStableFunc(p.errs, func(a, b *Error) int { return a.Line - b.Line })
		return nil, p.errs
	}
	return p.f, nil
}

func yamlErrLine(err error) int {
	var n int
	if _, e := fmt.Sscanf(err.Error(), "yaml: line %d:", &n); e == nil {
		return n
	}
	return 0
}

type parser struct {
	f    *File
	src  []string // the file's lines, to find where a block's lines are
	errs ErrorList
}

// isNull reports whether n is YAML null or empty (key:, key: null, key: ~
// or an empty quoted string): zed reads each of them as an absent block.
func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && (n.Tag == "!!null" || n.Value == "")
}

func (p *parser) errorf(line int, format string, args ...any) {
	p.errs = append(p.errs, &Error{File: p.f.Name, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// firstLine is the line of a scalar's first content line: block scalars
// (| and >) start on the line after their indicator.
func firstLine(n *yaml.Node) int {
	if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		return n.Line + 1
	}
	return n.Line
}

func (p *parser) scalar(n *yaml.Node, key string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		p.errorf(n.Line, "%s must be a string", key)
		return "", false
	}
	return n.Value, true
}

func (p *parser) top(m *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		switch k.Value {
		case "schema":
			if s, ok := p.scalar(v, "schema"); ok {
				p.f.Schema, p.f.SchemaLine = s, firstLine(v)
			}
		case "schemaFile":
			if s, ok := p.scalar(v, "schemaFile"); ok {
				p.f.SchemaFile = s
			}
		case "relationships":
			if isNull(v) {
				continue
			}
			if s, ok := p.scalar(v, "relationships"); ok {
				p.relationships(s, v)
			}
		case "assertions":
			if isNull(v) {
				continue
			}
			p.assertions(v)
		case "validation":
			p.validation(v)
		default:
			p.errorf(k.Line, "unknown key %q; expected schema, schemaFile, relationships, assertions or validation", k.Value)
		}
	}
	switch {
	case p.f.Schema != "" && p.f.SchemaFile != "":
		p.errorf(m.Line, "give schema or schemaFile, not both")
	case p.f.Schema == "" && p.f.SchemaFile == "":
		p.errorf(m.Line, "no schema: add a schema key (the schema text) or schemaFile (a path to it)")
	}
}

// relationships parses the relationships block as zed does: the string's
// lines, trimmed, one relationship each; blank lines and lines starting with
// // are skipped. The string may be written in any YAML style: a literal
// block (|, |-), a folded block (>-, relationships separated by blank lines,
// which folding turns into single newlines, as the SpiceDB playground writes
// it) or a quoted string with \n. Each relationship gets the file line it is
// written on.
func (p *parser) relationships(text string, n *yaml.Node) {
	// A block scalar has one relationship per file line; a quoted string
	// may have several on one line.
	block := n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0
	from := firstLine(n)
	for i, l := range strings.Split(text, "\n") {
		l, ok := relationshipLine(l)
		if !ok {
			continue
		}
		line := p.lineOf(l, from, block, firstLine(n)+i)
		if from = line; block {
			from++
		}
		r, err := tuple.Parse(l)
		if err != nil {
			p.errorf(line, "%v", err)
			continue
		}
		p.f.Relationships = append(p.f.Relationships, Relationship{Rel: r, Line: line})
	}
}

// lineOf returns the first file line from line from on that is text (whole,
// trimmed) or, unless whole, contains it; guess when there is none (a quoted
// string with escapes).
func (p *parser) lineOf(text string, from int, whole bool, guess int) int {
	for l := max(from, 1); l <= len(p.src); l++ {
		src := strings.TrimSpace(p.src[l-1])
		if src == text || !whole && strings.Contains(src, text) {
			return l
		}
	}
	return guess
}

func (p *parser) assertions(m *yaml.Node) {
	if m.Kind != yaml.MappingNode {
		p.errorf(m.Line, "assertions must be a mapping with assertTrue, assertFalse and assertCaveated lists")
		return
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		var kind AssertionKind
		switch k.Value {
		case "assertTrue":
			kind = AssertTrue
		case "assertFalse":
			kind = AssertFalse
		case "assertCaveated":
			kind = AssertCaveated
		default:
			p.errorf(k.Line, "unknown assertion list %q; expected assertTrue, assertFalse or assertCaveated", k.Value)
			continue
		}
		if isNull(v) {
			continue // an empty list
		}
		if v.Kind != yaml.SequenceNode {
			p.errorf(v.Line, "%s must be a list of \"resource#permission@subject\" strings", k.Value)
			continue
		}
		for _, item := range v.Content {
			s, ok := p.scalar(item, k.Value+" item")
			if !ok {
				continue
			}
			a, err := ParseAssertion(s)
			if err != nil {
				p.errorf(item.Line, "%s %q: %v", k.Value, s, err)
				continue
			}
			a.Kind, a.Line = kind, item.Line
			p.f.Assertions = append(p.f.Assertions, a)
		}
	}
	slices.SortStableFunc(p.f.Assertions, func(a, b Assertion) int { return int(a.Kind) - int(b.Kind) })
}

// ParseAssertion parses "resource#permission@subject [with {json}]". Kind and
// Line are left for the caller.
func ParseAssertion(s string) (Assertion, error) {
	a := Assertion{Text: s}
	head, ctxText, hasCtx := strings.Cut(strings.TrimSpace(s), " with ")
	head = strings.TrimSpace(head)
	r, err := tuple.Parse(head)
	if err != nil {
		return Assertion{}, err
	}
	if r.Caveat != nil || r.Expiration != nil {
		return Assertion{}, fmt.Errorf("an assertion takes no caveat or expiration; give caveat context with 'with {json}'")
	}
	a.Resource, a.Permission, a.Subject = r.Resource, r.Relation, r.Subject
	if hasCtx {
		ctx, err := tuple.ParseContext([]byte(strings.TrimSpace(ctxText)))
		if err != nil {
			return Assertion{}, fmt.Errorf("context after 'with': %v", err)
		}
		a.Context = ctx
	}
	return a, nil
}

func (p *parser) validation(m *yaml.Node) {
	if isNull(m) {
		return
	}
	if m.Kind != yaml.MappingNode {
		p.errorf(m.Line, "validation must be a mapping from \"type:id#permission\" to a list of expected subjects")
		return
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		obj, perm, err := parseObjectRelation(k.Value)
		if err != nil {
			p.errorf(k.Line, "validation key %q: %v", k.Value, err)
			continue
		}
		er := ExpectedRelation{Resource: obj, Permission: perm, Line: k.Line}
		switch {
		case isNull(v):
			// no subject has it
		case v.Kind != yaml.SequenceNode:
			p.errorf(v.Line, "validation %q must be a list of \"[subject] is <type:id#relation>\" strings", k.Value)
			continue
		}
		for _, item := range v.Content {
			s, ok := p.scalar(item, "validation item")
			if !ok {
				continue
			}
			es, err := ParseExpectedSubject(s)
			if err != nil {
				p.errorf(item.Line, "validation item %q: %v", s, err)
				continue
			}
			es.Line = item.Line
			er.Subjects = append(er.Subjects, es)
		}
		p.f.Expected = append(p.f.Expected, er)
	}
}

// parseObjectRelation parses "type:id#relation".
func parseObjectRelation(s string) (tuple.ObjectRef, string, error) {
	o, rel, ok := strings.Cut(strings.TrimSpace(s), "#")
	if !ok {
		return tuple.ObjectRef{}, "", fmt.Errorf("expected type:id#relation, e.g. document:plan#view")
	}
	obj, err := tuple.ParseObject(o)
	if err != nil {
		return tuple.ObjectRef{}, "", err
	}
	if err := tuple.ValidateName(rel); err != nil {
		return tuple.ObjectRef{}, "", err
	}
	return obj, rel, nil
}

// ParseExpectedSubject parses one validation line (see ExpectedSubject). Line
// is left for the caller.
func ParseExpectedSubject(s string) (ExpectedSubject, error) {
	es := ExpectedSubject{Text: s}
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "[") {
		return es, fmt.Errorf("expected '[' to open the subject, e.g. [user:tom] is <document:plan#reader>")
	}
	end := matchBracket(s)
	if end < 0 {
		return es, fmt.Errorf("missing ']' to close the subject")
	}
	inner, rest := strings.TrimSpace(s[1:end]), strings.TrimSpace(s[end+1:])
	subj, excl, hasExcl := strings.Cut(inner, " - ")
	sub, cond, err := parseMarkedSubject(strings.TrimSpace(subj))
	if err != nil {
		return es, err
	}
	es.Subject, es.Conditional = sub, cond
	if hasExcl {
		if !sub.IsWildcard() {
			return es, fmt.Errorf("only a wildcard subject (type:*) can have exclusions, not %s", sub)
		}
		excl = strings.TrimSpace(excl)
		if !strings.HasPrefix(excl, "{") || !strings.HasSuffix(excl, "}") {
			return es, fmt.Errorf("exclusions must be written as {type:id, ...}")
		}
		for _, x := range strings.Split(excl[1:len(excl)-1], ",") {
			x = strings.TrimSpace(x)
			if x == "" {
				continue
			}
			xs, xc, err := parseMarkedSubject(x)
			if err != nil {
				return es, fmt.Errorf("exclusion %q: %v", x, err)
			}
			es.Excluded = append(es.Excluded, ExcludedSubject{Subject: xs, Conditional: xc})
		}
	}
	if rest == "" {
		return es, nil
	}
	srcs, ok := strings.CutPrefix(rest, "is ")
	if !ok {
		return es, fmt.Errorf("unexpected %q after the subject; expected \"is <type:id#relation>\"", rest)
	}
	for _, src := range splitSources(srcs) {
		src = strings.TrimSpace(src)
		if !strings.HasPrefix(src, "<") || !strings.HasSuffix(src, ">") {
			return es, fmt.Errorf("source %q must be written <type:id#relation>", src)
		}
		obj, rel, err := parseObjectRelation(src[1 : len(src)-1])
		if err != nil {
			return es, fmt.Errorf("source %q: %v", src, err)
		}
		es.Sources = append(es.Sources, Source{Object: obj, Relation: rel})
	}
	return es, nil
}

// splitSources splits "<a:1#x>/<b:2#y>" at the slashes between sources; a
// slash inside <...> belongs to a prefixed type name (<foo/bar/doc:1#x>).
func splitSources(s string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '<':
			depth++
		case '>':
			depth--
		case '/':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// matchBracket returns the index of the ']' closing the '[' at s[0], or -1.
func matchBracket(s string) int {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[':
			depth++
		case ']':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// parseMarkedSubject parses "type:id[#rel]" optionally followed by "[...]".
func parseMarkedSubject(s string) (tuple.SubjectRef, bool, error) {
	s, cond := strings.CutSuffix(s, "[...]")
	sub, err := tuple.ParseSubject(s)
	return sub, cond, err
}
