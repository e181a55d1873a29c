package syntax

import (
	"fmt"
)

// Parse parses a schema file. It reports every syntax error of the file, not
// just the first: after an error it skips to the next member (relation,
// permission or '}') or the next item (definition, caveat, use) and goes on.
// The errors are sorted by position and carry the offending source line. The
// returned File holds everything that parsed, even when there are errors.
func Parse(filename string, src []byte) (*File, ErrorList) {
	p := &parser{file: filename}
	p.s.init(src, p.errorAt)
	p.next()
	f := p.parseFile()
	p.errs.Sort()
	p.errs.WithSource(string(src))
	if len(p.errs) == 0 {
		return f, nil
	}
	return f, p.errs
}

// MaxNesting is the deepest nesting of parentheses in an expression, or of '<'
// in a parameter type, that Parse accepts; it bounds the parser's recursion.
const MaxNesting = 100

// MaxErrors is the most errors Parse reports for one file; one more error says
// that it stopped reporting.
const MaxErrors = 100

type comment struct {
	text     string
	pos      Pos
	endLine  int  // line of the comment's last byte
	sameLine bool // on the same line as the token before it
}

type parser struct {
	file  string
	s     scanner
	errs  ErrorList
	errAt map[int]bool // offsets that already have an error

	tok Token
	pos Pos
	lit string

	prevEnd  int // offset just past the previous token
	prevLine int // line of the previous token
	prevTok  Token
	prevLit  string

	depth int // nesting of parentheses and type parameters

	pending []comment // comments seen and not yet attached to a node
	endLine int       // last line of the previous node, its trailing comment included
}

func (p *parser) errorAt(pos Pos, msg string) {
	if p.errAt[pos.Offset] || len(p.errs) > MaxErrors {
		return // one error per position is enough
	}
	if len(p.errs) == MaxErrors {
		msg = fmt.Sprintf("too many errors (more than %d); stopped reporting", MaxErrors)
	}
	if p.errAt == nil {
		p.errAt = make(map[int]bool)
	}
	p.errAt[pos.Offset] = true
	p.errs = append(p.errs, &Error{File: p.file, Pos: pos, Msg: msg})
}

func (p *parser) errorf(pos Pos, format string, args ...any) {
	p.errorAt(pos, fmt.Sprintf(format, args...))
}

// next moves to the next non-comment token, collecting comments on the way.
func (p *parser) next() {
	p.prevEnd = p.pos.Offset + len(p.lit)
	p.prevLine = p.pos.Line
	p.prevTok, p.prevLit = p.tok, p.lit
	for {
		tok, pos, lit := p.s.scan()
		if tok == COMMENT {
			p.pending = append(p.pending, comment{text: lit, pos: pos, endLine: p.s.line, sameLine: pos.Line == p.prevLine})
			continue
		}
		p.tok, p.pos, p.lit = tok, pos, lit
		return
	}
}

// describe names the current token for "found ..." in messages.
func describe(tok Token, lit string) string {
	switch {
	case tok == IDENT:
		return fmt.Sprintf("name %q", lit)
	case tok.IsKeyword():
		return fmt.Sprintf("keyword %q", lit)
	case tok == ILLEGAL:
		return fmt.Sprintf("illegal character %q", lit)
	}
	return tok.String()
}

func (p *parser) found() string { return describe(p.tok, p.lit) }

func (p *parser) prevDesc() string {
	if p.prevTok == IDENT || p.prevTok.IsKeyword() {
		return fmt.Sprintf("%q", p.prevLit)
	}
	return p.prevTok.String()
}

// expect consumes tok or reports "expected TOK CONTEXT, found X".
func (p *parser) expect(tok Token, format string, args ...any) bool {
	if p.tok != tok {
		p.errorf(p.pos, "expected %s %s, found %s", tok, fmt.Sprintf(format, args...), p.found())
		return false
	}
	p.next()
	return true
}

// name reads a name; what is "definition", "relation", ...
func (p *parser) name(what, context string) (string, Pos, bool) {
	switch {
	case p.tok == IDENT:
		n, pos := p.lit, p.pos
		p.next()
		return n, pos, true
	case p.tok.IsKeyword():
		p.errorf(p.pos, "keyword %q cannot be used as a %s name; choose another name", p.lit, what)
		p.next()
	default:
		p.errorf(p.pos, "expected %s name %s, found %s", what, context, p.found())
	}
	return "", Pos{}, false
}

// --- items -------------------------------------------------------------------

func (p *parser) parseFile() *File {
	f := &File{Name: p.file}
	for p.tok != EOF {
		var it Item
		switch p.tok {
		case USE:
			it = p.parseUse()
		case DEFINITION:
			it = p.parseDefinition()
		case CAVEAT:
			it = p.parseCaveat()
		case SEMICOLON:
			p.errorf(p.pos, "stray ';': expected definition, caveat or use")
			p.next()
			continue
		default:
			p.errorf(p.pos, "expected definition, caveat or use, found %s", p.found())
			p.next()
			p.syncItem()
			continue
		}
		if it != nil {
			f.Items = append(f.Items, it)
		}
	}
	f.EndComments = p.pendingTexts(p.pos.Line)
	return f
}

// syncItem skips to the start of the next item.
func (p *parser) syncItem() {
	for p.tok != EOF && p.tok != DEFINITION && p.tok != CAVEAT && p.tok != USE {
		p.next()
	}
}

func (p *parser) parseUse() Item {
	leading, _ := p.takeLeading()
	u := &Use{Pos: p.pos}
	p.next()
	switch p.tok {
	case EXPIRATION:
		u.Feature = "expiration"
		p.next()
	case IDENT:
		p.errorf(p.pos, "unknown feature %q after 'use'; the only feature is expiration", p.lit)
		p.next()
		p.syncItem()
		return nil
	default:
		p.errorf(p.pos, "expected a feature name after 'use' (use expiration), found %s", p.found())
		p.syncItem()
		return nil
	}
	if p.tok == SEMICOLON {
		p.next()
	}
	_, u.Comments = p.finish(leading, false)
	return u
}

func (p *parser) parseDefinition() Item {
	leading, _ := p.takeLeading()
	d := &Definition{Pos: p.pos}
	p.next()
	var ok bool
	if d.Name, d.NamePos, ok = p.name("definition", "after 'definition'"); !ok {
		p.syncItem()
		return nil
	}
	open := p.pos
	if !p.expect(LBRACE, "after definition name %q", d.Name) {
		p.syncItem()
		return nil
	}
	p.endLine = 0 // no blank line before the first member
	for {
		var m Member
		switch p.tok {
		case RELATION:
			m = p.parseRelation()
		case PERMISSION:
			m = p.parsePermission()
		case RBRACE:
			d.EndComments = p.pendingTexts(p.pos.Line)
			p.next()
			d.Doc, d.Comments = p.finish(leading, true)
			return d
		case SEMICOLON:
			p.errorf(p.pos, "stray ';' in definition %q: expected relation, permission or '}'", d.Name)
			p.next()
			continue
		case EOF, DEFINITION, CAVEAT, USE:
			p.errorf(p.pos, "expected '}' to close definition %q opened at %d:%d, found %s", d.Name, open.Line, open.Col, p.found())
			d.EndComments = p.pendingTexts(p.pos.Line)
			d.Doc, d.Comments = p.finish(leading, true)
			return d
		default:
			p.errorf(p.pos, "expected relation, permission or '}' in definition %q, found %s", d.Name, p.found())
			p.next()
		}
		if m == nil {
			p.syncMember()
			continue
		}
		d.Members = append(d.Members, m)
	}
}

// startsMember reports whether tok begins a member or an item.
func startsMember(tok Token) bool {
	switch tok {
	case RELATION, PERMISSION, DEFINITION, CAVEAT, USE:
		return true
	}
	return false
}

// syncMember skips to the start of the next member or the end of the definition.
func (p *parser) syncMember() {
	for {
		switch p.tok {
		case EOF, RELATION, PERMISSION, RBRACE, DEFINITION, CAVEAT, USE:
			return
		}
		p.next()
	}
}

// endMember consumes an optional ';' and checks that the member really ended.
func (p *parser) endMember(kind, name, more string) bool {
	if p.tok == SEMICOLON {
		p.next()
	}
	switch p.tok {
	case RELATION, PERMISSION, RBRACE, EOF, DEFINITION, CAVEAT, USE, SEMICOLON:
		return true
	}
	p.errorf(p.pos, "expected %s or the end of %s %q, found %s", more, kind, name, p.found())
	return false
}

func (p *parser) parseRelation() Member {
	leading, blank := p.takeLeading()
	r := &Relation{Pos: p.pos}
	p.next()
	var ok bool
	if r.Name, r.NamePos, ok = p.name("relation", "after 'relation'"); !ok {
		return nil
	}
	if p.tok == ASSIGN {
		p.errorf(p.pos, "expected ':' after relation name %q, found '='; relations list subject types after ':' (use 'permission' for an expression)", r.Name)
		return nil
	}
	if !p.expect(COLON, "after relation name %q", r.Name) {
		return nil
	}
	for {
		t := p.parseTypeRef(r.Name)
		if t == nil {
			return nil
		}
		r.Types = append(r.Types, t)
		if p.tok != PIPE {
			break
		}
		p.next()
	}
	if !p.endMember("relation", r.Name, "'|'") {
		return nil
	}
	r.Doc, r.Comments = p.finish(leading, true)
	r.BlankBefore = blank
	return r
}

func (p *parser) parseTypeRef(rel string) *TypeRef {
	t := &TypeRef{Pos: p.pos}
	switch {
	case p.tok == IDENT:
		t.Type = p.lit
		p.next()
	case p.tok.IsKeyword() && !startsMember(p.tok):
		p.errorf(p.pos, "keyword %q cannot be used as a type name in relation %q", p.lit, rel)
		return nil
	default:
		p.errorf(p.pos, "expected a subject type after %s in relation %q, found %s", p.prevDesc(), rel, p.found())
		return nil
	}
	switch p.tok {
	case COLON:
		p.next()
		if p.tok != STAR {
			p.errorf(p.pos, "expected '*' after %q (the wildcard %s:*), found %s", t.Type+":", t.Type, p.found())
			return nil
		}
		t.Wildcard = true
		p.next()
	case HASH:
		p.next()
		if p.tok != IDENT {
			p.errorf(p.pos, "expected a relation name after %q (a subject set such as team#member), found %s", t.Type+"#", p.found())
			return nil
		}
		t.Relation = p.lit
		p.next()
	}
	if p.tok == WITH {
		p.next()
		switch p.tok {
		case EXPIRATION:
			t.Expiration = true
			p.next()
		case IDENT:
			t.Caveat, t.CaveatPos = p.lit, p.pos
			p.next()
			if p.tok == AND {
				p.next()
				if p.tok != EXPIRATION {
					p.errorf(p.pos, "expected 'expiration' after 'and' (with CAVEAT and expiration), found %s", p.found())
					return nil
				}
				t.Expiration = true
				p.next()
			}
		default:
			p.errorf(p.pos, "expected a caveat name or 'expiration' after 'with', found %s", p.found())
			return nil
		}
	}
	return t
}

func (p *parser) parsePermission() Member {
	leading, blank := p.takeLeading()
	pm := &Permission{Pos: p.pos}
	p.next()
	var ok bool
	if pm.Name, pm.NamePos, ok = p.name("permission", "after 'permission'"); !ok {
		return nil
	}
	if p.tok == COLON {
		p.errorf(p.pos, "expected '=' after permission name %q, found ':'; permissions are defined by an expression after '=' (use 'relation' for subject types)", pm.Name)
		return nil
	}
	if !p.expect(ASSIGN, "after permission name %q", pm.Name) {
		return nil
	}
	if pm.Expr, ok = p.parseExpr(); !ok {
		return nil
	}
	if !p.endMember("permission", pm.Name, "an operator (+ & -)") {
		return nil
	}
	pm.Doc, pm.Comments = p.finish(leading, true)
	pm.BlankBefore = blank
	return pm
}

// --- caveats -------------------------------------------------------------------

func (p *parser) parseCaveat() Item {
	leading, _ := p.takeLeading()
	c := &Caveat{Pos: p.pos}
	p.next()
	var ok bool
	if c.Name, c.NamePos, ok = p.name("caveat", "after 'caveat'"); !ok {
		p.syncItem()
		return nil
	}
	if !p.expect(LPAREN, "after caveat name %q (caveat NAME(param type, ...) { expression })", c.Name) {
		p.syncItem()
		return nil
	}
	if p.tok == RPAREN {
		p.errorf(p.pos, "caveat %q needs at least one parameter, found ')'", c.Name)
		p.syncItem()
		return nil
	}
	for {
		prm := p.parseParam(c.Name)
		if prm == nil {
			p.syncItem()
			return nil
		}
		c.Params = append(c.Params, prm)
		if p.tok != COMMA {
			break
		}
		p.next()
	}
	if !p.expect(RPAREN, "or ',' after the parameters of caveat %q", c.Name) {
		p.syncItem()
		return nil
	}
	if p.tok != LBRACE {
		p.errorf(p.pos, "expected '{' to start the body of caveat %q, found %s", c.Name, p.found())
		p.syncItem()
		return nil
	}
	open := p.pos
	body, bodyPos, closed := p.s.scanRaw()
	if !closed {
		p.errorf(open, "caveat %q body is not closed: no '}' matches this '{'", c.Name)
		p.tok, p.pos, p.lit = EOF, p.s.pos(), ""
		return nil
	}
	c.Expr, c.ExprPos = body, bodyPos
	if body == "" {
		p.errorf(open, "caveat %q has an empty body; expected a CEL expression between the braces", c.Name)
	}
	// The '}' is the current token; step past it as usual.
	p.tok, p.pos, p.lit = RBRACE, p.s.rawClose, "}"
	p.next()
	c.Doc, c.Comments = p.finish(leading, true)
	return c
}

func (p *parser) parseParam(caveat string) *Param {
	prm := &Param{Pos: p.pos}
	if p.tok.IsKeyword() {
		// A parameter name is a CEL identifier, not a schema name: the
		// schema's keywords (expiration, with, use, ...) are fine there.
		prm.Name = p.lit
		p.next()
	} else {
		var ok bool
		if prm.Name, _, ok = p.name("parameter", fmt.Sprintf("in caveat %q", caveat)); !ok {
			return nil
		}
	}
	if prm.Type = p.parseTypeExpr(prm.Name); prm.Type == nil {
		return nil
	}
	return prm
}

func (p *parser) parseTypeExpr(param string) *TypeExpr {
	if p.tok != IDENT {
		if p.tok.IsKeyword() {
			p.errorf(p.pos, "keyword %q is not a parameter type (of parameter %q)", p.lit, param)
		} else {
			p.errorf(p.pos, "expected a type after %s (parameter %q), found %s", p.prevDesc(), param, p.found())
		}
		return nil
	}
	t := &TypeExpr{Pos: p.pos, Name: p.lit}
	p.next()
	if p.tok == LT {
		open := p.pos
		if p.depth >= MaxNesting {
			p.errorf(p.pos, "type nested too deeply: more than %d levels of '<'", MaxNesting)
			return nil
		}
		p.next()
		p.depth++
		t.Elem = p.parseTypeExpr(param)
		p.depth--
		if t.Elem == nil {
			return nil
		}
		if p.tok != GT {
			p.errorf(p.pos, "expected '>' to close '%s<' at %d:%d, found %s", t.Name, open.Line, open.Col, p.found())
			return nil
		}
		p.next()
	}
	return t
}
