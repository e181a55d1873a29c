// Package compile turns a parsed schema (schema/syntax) into the immutable model
// of package schema: it resolves every name, type-checks relations, permissions
// and caveats, compiles caveats to CEL programs, reports lint warnings, and
// compares two schemas (Diff).
//
// All problems of a file are reported at once, sorted by position, each with
// file:line:col and the source line. Warnings have syntax.SeverityWarning and do
// not make ErrorList.Err non-nil.
//
// Rules that follow SpiceDB's schema language, where this package had to choose:
//
//   - The left side of an arrow (rel->perm, rel.any(perm), rel.all(perm)) must be
//     a relation, never a permission: an arrow walks stored relationships.
//   - A relation used on the left of an arrow must not allow wildcards
//     (user:*): a wildcard is not an object an arrow could walk to.
//   - A subject set (team#member) on such a relation is walked as its object
//     (team:x); its relation is ignored. This is legal and draws a warning.
//   - The right side of an arrow must exist, as a relation or permission, on at
//     least one subject type of the left relation (an error otherwise); when it
//     is missing on some of them a warning says which. Those types contribute
//     nothing to the arrow.
//   - "with expiration" needs "use expiration" at the top of the file.
//   - A subject set (team#member) may name a relation or a permission of team.
//
// Lint warnings: a permission that references itself directly or through a
// cycle of permissions (arrows are not followed: recursion through data, as in
// folder->parent, is normal); an arrow whose right side is missing on some
// subject types; a permission that can never grant (nil, x - x, x & nil, ...).
package compile
