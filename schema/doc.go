// Package schema is the compiled, immutable model of a Trellis schema: object
// definitions with their relations and permissions, each permission an
// expression tree, and caveats with their compiled programs.
//
// A Schema is produced by schema/compile from the text parsed by schema/syntax
// and is never changed afterwards, so the engine can share one across goroutines.
package schema
