package syntax

import (
	"fmt"
	"strings"
)

// scanner is a synchronous, pull-based lexer: each call to scan returns the next
// token. It never runs ahead, so the parser can switch it to raw mode (scanRaw)
// for a caveat's CEL body.
type scanner struct {
	src    []byte
	off    int // offset of the next unread byte
	line   int
	lineOf int // offset of the first byte of the current line
	errh   func(pos Pos, msg string)

	rawClose Pos // position of the '}' that ended the last scanRaw
}

func (s *scanner) init(src []byte, errh func(Pos, string)) {
	s.src = src
	s.off = 0
	s.line = 1
	s.lineOf = 0
	s.errh = errh
	if len(src) >= 3 && src[0] == 0xEF && src[1] == 0xBB && src[2] == 0xBF {
		s.off = 3 // a UTF-8 byte order mark is not part of the text
	}
}

func (s *scanner) pos() Pos {
	return Pos{Offset: s.off, Line: s.line, Col: s.off - s.lineOf + 1}
}

func (s *scanner) error(p Pos, format string, args ...any) {
	if s.errh != nil {
		s.errh(p, fmt.Sprintf(format, args...))
	}
}

// advance moves past one byte, tracking lines.
func (s *scanner) advance() {
	if s.src[s.off] == '\n' {
		s.line++
		s.lineOf = s.off + 1
	}
	s.off++
}

func (s *scanner) peek(k int) byte {
	if s.off+k < len(s.src) {
		return s.src[s.off+k]
	}
	return 0
}

func isLetter(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}

func isIdentByte(c byte) bool { return isLetter(c) || c >= '0' && c <= '9' }

// scan returns the next token, its position and its literal text (the name for
// IDENT, the whole comment for COMMENT, the operator text otherwise).
func (s *scanner) scan() (tok Token, pos Pos, lit string) {
	for s.off < len(s.src) {
		c := s.src[s.off]
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			break
		}
		s.advance()
	}
	pos = s.pos()
	if s.off >= len(s.src) {
		return EOF, pos, ""
	}
	start := s.off
	c := s.src[s.off]
	switch {
	case isIdentByte(c):
		for {
			for s.off < len(s.src) && isIdentByte(s.src[s.off]) {
				s.off++
			}
			// A '/' directly followed by a name continues a prefixed type name
			// (acme/dataset); "//" and "/*" start comments instead.
			if s.peek(0) == '/' && isIdentByte(s.peek(1)) {
				s.off++
				continue
			}
			break
		}
		lit = string(s.src[start:s.off])
		if kw, ok := keywords[lit]; ok {
			return kw, pos, lit
		}
		return IDENT, pos, lit
	case c == '/' && s.peek(1) == '/':
		for s.off < len(s.src) && s.src[s.off] != '\n' {
			s.off++
		}
		return COMMENT, pos, strings.TrimRight(string(s.src[start:s.off]), " \t\r")
	case c == '/' && s.peek(1) == '*':
		s.off += 2
		for {
			if s.off >= len(s.src) {
				s.error(pos, "comment not terminated: expected '*/' to close the '/*' opened here")
				return COMMENT, pos, string(s.src[start:s.off])
			}
			if s.src[s.off] == '*' && s.peek(1) == '/' {
				s.off += 2
				return COMMENT, pos, normalizeEOL(string(s.src[start:s.off]))
			}
			s.advance()
		}
	case c == '-' && s.peek(1) == '>':
		s.off += 2
		return ARROW, pos, "->"
	}
	s.off++
	switch c {
	case '{':
		tok = LBRACE
	case '}':
		tok = RBRACE
	case '(':
		tok = LPAREN
	case ')':
		tok = RPAREN
	case ':':
		tok = COLON
	case '|':
		tok = PIPE
	case '#':
		tok = HASH
	case '*':
		tok = STAR
	case '=':
		tok = ASSIGN
	case '+':
		tok = PLUS
	case '&':
		tok = AMP
	case '-':
		tok = MINUS
	case ',':
		tok = COMMA
	case '<':
		tok = LT
	case '>':
		tok = GT
	case '.':
		tok = DOT
	case ';':
		tok = SEMICOLON
	default:
		// Take a whole UTF-8 sequence so the message quotes a real character.
		for s.off < len(s.src) && s.src[s.off]&0xC0 == 0x80 {
			s.off++
		}
		return ILLEGAL, pos, string(s.src[start:s.off])
	}
	return tok, pos, punct[c]
}

// punct holds the literal of every one-byte token, so scanning them does not
// allocate.
var punct = func() (t [256]string) {
	for _, c := range "{}():|#*=+&-,<>.;" {
		t[c] = string(c)
	}
	return t
}()

// scanRaw reads a caveat body: everything up to the '}' that matches an already
// consumed '{', skipping nested braces, string literals ('...', "...", and their
// triple-quoted forms) and // comments. It returns the body trimmed of
// surrounding white space, the position of its first byte, and whether the
// closing brace was found; the scanner is left after the '}'.
func (s *scanner) scanRaw() (body string, pos Pos, ok bool) {
	start := s.off
	startPos := s.pos()
	depth := 0
	for s.off < len(s.src) {
		c := s.src[s.off]
		switch {
		case c == '{':
			depth++
		case c == '}':
			if depth == 0 {
				raw := string(s.src[start:s.off])
				s.rawClose = s.pos()
				s.advance()
				return s.trimRaw(raw, startPos)
			}
			depth--
		case c == '"' || c == '\'':
			s.skipString(c)
			continue
		case c == '/' && s.peek(1) == '/':
			for s.off < len(s.src) && s.src[s.off] != '\n' {
				s.off++
			}
			continue
		}
		s.advance()
	}
	return "", startPos, false
}

// trimRaw trims white space around raw (which starts at p) and computes the
// position of its first remaining byte.
func (s *scanner) trimRaw(raw string, p Pos) (string, Pos, bool) {
	trimmed := strings.TrimLeft(raw, " \t\r\n")
	skipped := raw[:len(raw)-len(trimmed)]
	for i := 0; i < len(skipped); i++ {
		p.Offset++
		if skipped[i] == '\n' {
			p.Line++
			p.Col = 1
		} else {
			p.Col++
		}
	}
	// CRLF line ends become LF, as the formatter writes them.
	return normalizeEOL(strings.TrimRight(trimmed, " \t\r\n")), p, true
}

// skipString skips a quoted string starting at s.off with quote q, honouring
// backslash escapes and CEL's triple-quoted strings. An unterminated string runs
// to the end of the file; the caller then reports the unclosed body.
func (s *scanner) skipString(q byte) {
	if s.peek(1) == q && s.peek(2) == q {
		s.off += 3
		for s.off < len(s.src) {
			if s.src[s.off] == '\\' && s.off+1 < len(s.src) {
				s.advance()
				s.advance()
				continue
			}
			if s.src[s.off] == q && s.peek(1) == q && s.peek(2) == q {
				s.off += 3
				return
			}
			s.advance()
		}
		return
	}
	s.off++
	for s.off < len(s.src) {
		c := s.src[s.off]
		switch {
		case c == '\\' && s.off+1 < len(s.src):
			s.advance()
			s.advance()
			continue
		case c == q:
			s.off++
			return
		case c == '\n':
			// CEL strings do not span lines; stop so a stray quote cannot
			// swallow the rest of the file.
			return
		}
		s.advance()
	}
}

// normalizeEOL removes the carriage returns at the end of every line but the
// last, so CRLF (or CR CR LF) line ends read as LF.
func normalizeEOL(text string) string {
	if !strings.Contains(text, "\r\n") {
		return text
	}
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines)-1; i++ {
		lines[i] = strings.TrimRight(lines[i], "\r")
	}
	return strings.Join(lines, "\n")
}
