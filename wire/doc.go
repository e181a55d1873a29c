// Package wire holds the request and response types of the Trellis API as
// they travel on the wire (JSON over HTTP). It depends only on the standard
// library and package tuple, so a client links nothing of the server: no
// store, no raft, no CEL, no HTTP framework.
//
// The server converts its internal results (engine traces, expand trees,
// audit entries, raft members) into these shapes at its edge; see package
// service. The JSON of every type here is the public API: a change to a
// field name or shape is a breaking change of the REST API and of
// /openapi.json.
package wire
