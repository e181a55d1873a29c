package syntax

import "strconv"

// Token is a lexical token kind.
type Token uint8

// The tokens.
const (
	ILLEGAL Token = iota
	EOF
	COMMENT // "// ...", "/* ... */" or a doc comment "/** ... */"
	IDENT   // user, acme/dataset, any

	LBRACE    // {
	RBRACE    // }
	LPAREN    // (
	RPAREN    // )
	COLON     // :
	PIPE      // |
	HASH      // #
	STAR      // *
	ASSIGN    // =
	PLUS      // +
	AMP       // &
	MINUS     // -
	COMMA     // ,
	LT        // <
	GT        // >
	DOT       // .
	ARROW     // ->
	SEMICOLON // ;

	keywordBeg
	DEFINITION
	RELATION
	PERMISSION
	CAVEAT
	USE
	WITH
	AND
	NIL
	EXPIRATION
	keywordEnd
)

var tokenNames = [...]string{
	ILLEGAL:    "illegal character",
	EOF:        "end of file",
	COMMENT:    "comment",
	IDENT:      "name",
	LBRACE:     "'{'",
	RBRACE:     "'}'",
	LPAREN:     "'('",
	RPAREN:     "')'",
	COLON:      "':'",
	PIPE:       "'|'",
	HASH:       "'#'",
	STAR:       "'*'",
	ASSIGN:     "'='",
	PLUS:       "'+'",
	AMP:        "'&'",
	MINUS:      "'-'",
	COMMA:      "','",
	LT:         "'<'",
	GT:         "'>'",
	DOT:        "'.'",
	ARROW:      "'->'",
	SEMICOLON:  "';'",
	DEFINITION: "definition",
	RELATION:   "relation",
	PERMISSION: "permission",
	CAVEAT:     "caveat",
	USE:        "use",
	WITH:       "with",
	AND:        "and",
	NIL:        "nil",
	EXPIRATION: "expiration",
}

// String describes the token kind for error messages.
func (t Token) String() string {
	if int(t) < len(tokenNames) && tokenNames[t] != "" {
		return tokenNames[t]
	}
	return "token(" + strconv.Itoa(int(t)) + ")"
}

// IsKeyword reports whether t is a reserved word.
func (t Token) IsKeyword() bool { return t > keywordBeg && t < keywordEnd }

var keywords = map[string]Token{
	"definition": DEFINITION,
	"relation":   RELATION,
	"permission": PERMISSION,
	"caveat":     CAVEAT,
	"use":        USE,
	"with":       WITH,
	"and":        AND,
	"nil":        NIL,
	"expiration": EXPIRATION,
}
