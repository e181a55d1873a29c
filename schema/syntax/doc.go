// Package syntax reads and writes the Trellis schema language (the SpiceDB schema
// language, docs/SCHEMA.md): a synchronous lexer, a recursive-descent
// parser that produces an AST with positions, and a formatter with one canonical
// layout. Errors carry file, line and column and are collected in an ErrorList.
//
// # Language decisions
//
//   - Newlines are white space. A relation or permission ends where the next
//     member ('relation', 'permission') or the closing '}' begins, so an
//     expression or a type list may continue over several lines. A member may
//     end with an optional ';', and "use expiration" too; any other ';' is an
//     error ("stray ';'").
//   - The keywords definition, relation, permission, caveat, use, with, and, nil
//     and expiration are reserved: they cannot name a definition, relation,
//     permission, caveat, parameter or type. "any" and "all" are not keywords.
//   - A type name may carry prefixes: "acme/dataset". The parser accepts any
//     name made of letters, digits and '_'; the compiler checks the name rules.
//   - Precedence, tightest first: arrows, '+', '&', '-'; each left-associative.
//     Chained arrows (a->b->c) are an error.
//   - A caveat needs at least one parameter and a non-empty body. The body is
//     kept as raw CEL text (braces matched, string literals and // comments
//     skipped); parameter types are any name with an optional <T>.
//   - "use" knows one feature, expiration.
//
// # Comments
//
// A /** */ doc comment before a definition, caveat, relation or permission
// becomes its Doc (markers and the leading '*' of continuation lines removed).
// Every other comment is kept verbatim: comments before a node (and any comment
// written inside it, e.g. between operands) in Comments.Leading, comments on the
// same line after its last token in Comments.Trailing, comments before a
// definition's '}' in Definition.EndComments and at the end of the file in
// File.EndComments. Comments inside a caveat body are part of its CEL text.
//
// # Canonical layout (Format)
//
// Tab indentation (as SpiceDB's formatter), one blank line between items, one
// member per line, "relation name: a | b", "permission name = expr" with single
// spaces around operators and parentheses only where precedence needs them, no
// ';'. A caveat is written as "caveat name(p type, ...) {", its CEL text on the
// next line after one tab (continuation lines of the CEL are kept as written),
// then "}". Leading comments are written on their own lines before the node,
// doc comment last; a multi-line doc comment becomes a " * "-prefixed block.
// Blank lines between members are not kept.
//
// It depends on the standard library only.
package syntax
