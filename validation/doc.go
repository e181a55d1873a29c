// Package validation reads and runs policy files (policy-as-code): a YAML file
// holding a schema, relationships, assertions on check results and the
// expected set of subjects per permission (shared/design/SCHEMA.md § Policy
// files).
//
// This file's part of the package is the file format: Parse and ParseFile turn
// the YAML into a File whose every element remembers its line, so a runner
// can report failures where they were written.
package validation
