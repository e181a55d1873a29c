// Package validation reads and runs policy files (policy-as-code): a YAML file
// holding a schema, relationships, assertions on check results and the
// expected set of subjects per permission (docs/SCHEMA.md § Policy
// files; docs/policy-as-code.md is the user's guide).
//
// Parse and ParseFile turn the YAML into a File whose every element remembers
// its line, so failures are reported where they were written. Run compiles
// the schema, loads the relationships into a temporary in-memory store
// (NewMemory) or uses another Evaluator such as a live server, checks every
// assertion with an explain trace, and compares each validation entry with
// what Compute derives from LookupSubjects and Expand. Report.WriteText prints
// the failures for a person; a Report marshals to JSON for machines. Update
// rewrites a file's validation block from a Report by editing the YAML node
// tree, so the rest of the file is kept as written.
package validation
