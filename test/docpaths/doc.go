// Package docpaths holds a test that fails when a doc names a repository path
// that does not exist.
//
// The rule: in every *.md file and every Go comment of the repository, a
// token is a path when its first segment is a top-level directory of the
// repository (api/, docs/, engine/, …), it is made of path characters
// ([A-Za-z0-9_.-/]) and it names a file with an extension (engine/check.go,
// bench/RESULTS.md) or a directory written with a trailing slash
// (cmd/trellis/); it is resolved from the repository root. Tokens without
// either (schema/compile, a type name like test/user) are not checked. In Markdown,
// the target of a link `[text](target)` that is not a URL or an anchor is
// resolved from the file's own directory. URLs, import paths of other modules
// (their first segment is a host name), absolute paths (/tmp/x) and tokens
// with placeholders (<id>, *, {id}) never count.
package docpaths
