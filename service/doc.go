// Package service is the transport-independent service layer of a Trellis
// node: it decides what a request means, once, for every transport.
//
// Each area has a service that takes only what it uses:
//
//   - Permissions: Check, CheckBulk, Plan (tiered permissions over many
//     resources), Expand, LookupResources, LookupSubjects (the engine, the
//     read resolver, the decision log);
//   - Relationships: Read, Export, Write, Delete, Import (the read resolver
//     and the Writer, which proposes through consensus);
//   - Schemas: Get, Put, Diff;
//   - Watch: the change feed as events;
//   - Audit: entries, signed checkpoints, proofs, the export;
//   - Cluster: members, status, membership changes.
//
// Reads resolves a request's consistency (minimize_latency, quantized;
// at_least_as_fresh; at_exact_snapshot; fully_consistent) to a revision,
// opens the store there and the compiled schema in force at it. Requests and
// answers are package wire's types; a transport (package api for REST)
// decodes into them, calls one method and encodes the answer.
//
// Errors are kinds (the Err values in errors.go) wrapped by *Error with a
// message that says what to fix and details naming the field. The kinds that
// are the caller's problem are verdicts (package verdict); a transport maps
// each kind to its status in one table.
//
// The layering: transports (api) → service → engine, consensus → storage.
// A check passes api → service → engine → storage; a write api → service →
// consensus → storage (docs/adr/0009-service-layer.md).
package service
