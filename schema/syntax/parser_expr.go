package syntax

// Expressions of permissions: parsing of the right-hand side of
// "permission name = ...".
//
// Precedence, tightest first: arrows, '+', '&', '-'; all left-associative.

func (p *parser) parseExpr() (Expr, bool) { return p.parseBinary(OpExclusion) }

var opTokens = map[BinaryOp]Token{OpExclusion: MINUS, OpIntersection: AMP, OpUnion: PLUS}

func (p *parser) parseBinary(op BinaryOp) (Expr, bool) {
	operand := func() (Expr, bool) {
		if op == OpUnion {
			return p.parsePrimary()
		}
		return p.parseBinary(op + 1)
	}
	x, ok := operand()
	if !ok {
		return nil, false
	}
	for p.tok == opTokens[op] {
		pos := p.pos
		p.next()
		y, ok := operand()
		if !ok {
			return nil, false
		}
		x = &Binary{Pos: pos, Op: op, X: x, Y: y}
	}
	return x, true
}

func (p *parser) parsePrimary() (Expr, bool) {
	switch p.tok {
	case LPAREN:
		open := p.pos
		if p.depth >= MaxNesting {
			p.errorf(p.pos, "expression nested too deeply: more than %d levels of parentheses", MaxNesting)
			return nil, false
		}
		p.next()
		p.depth++
		x, ok := p.parseExpr()
		p.depth--
		if !ok {
			return nil, false
		}
		if p.tok != RPAREN {
			p.errorf(p.pos, "expected ')' to close the '(' at %d:%d, found %s", open.Line, open.Col, p.found())
			return nil, false
		}
		p.next()
		if p.tok == ARROW || p.tok == DOT {
			p.errorf(p.pos, "an arrow must start at a relation name, not at a parenthesized expression; write rel->perm")
			return nil, false
		}
		return x, true
	case NIL:
		n := &Nil{Pos: p.pos}
		p.next()
		return n, true
	case IDENT:
		return p.parseIdentOrArrow()
	}
	if p.tok == WITH || p.tok == AND || p.tok == EXPIRATION {
		p.errorf(p.pos, "keyword %q cannot be used as a relation or permission name in an expression", p.lit)
		return nil, false
	}
	p.errorf(p.pos, "expected a relation or permission name, 'nil' or '(' after %s, found %s", p.prevDesc(), p.found())
	return nil, false
}

func (p *parser) parseIdentOrArrow() (Expr, bool) {
	name, pos := p.lit, p.pos
	p.next()
	a := &Arrow{Pos: pos, Left: name}
	switch p.tok {
	case ARROW:
		p.next()
		if p.tok != IDENT {
			p.errorf(p.pos, "expected a permission or relation name after '%s->', found %s", name, p.found())
			return nil, false
		}
		a.Right, a.RightPos, a.Func = p.lit, p.pos, ArrowPlain
		p.next()
	case DOT:
		p.next()
		if p.tok != IDENT || (p.lit != "any" && p.lit != "all") {
			p.errorf(p.pos, "expected 'any' or 'all' after '%s.' (an arrow function such as %s.any(perm)), found %s", name, name, p.found())
			return nil, false
		}
		if p.lit == "all" {
			a.Func = ArrowAll
		} else {
			a.Func = ArrowAny
		}
		fn := p.lit
		p.next()
		if !p.expect(LPAREN, "after '%s.%s'", name, fn) {
			return nil, false
		}
		if p.tok != IDENT {
			p.errorf(p.pos, "expected a permission or relation name in '%s.%s(...)', found %s", name, fn, p.found())
			return nil, false
		}
		a.Right, a.RightPos = p.lit, p.pos
		p.next()
		if !p.expect(RPAREN, "to close '%s.%s(%s'", name, fn, a.Right) {
			return nil, false
		}
	default:
		return &Ident{Pos: pos, Name: name}, true
	}
	if p.tok == ARROW || p.tok == DOT {
		p.errorf(p.pos, "chained arrows are not supported: %s is followed by another arrow; define a permission for the first step and arrow to it instead", arrowString(a))
		return nil, false
	}
	return a, true
}

func arrowString(a *Arrow) string {
	switch a.Func {
	case ArrowAny:
		return a.Left + ".any(" + a.Right + ")"
	case ArrowAll:
		return a.Left + ".all(" + a.Right + ")"
	}
	return a.Left + "->" + a.Right
}
