// Package spicedb is SpiceDB's API as a Trellis transport: the
// authzed.api.v1 PermissionsService, SchemaService and WatchService over
// gRPC (the generated stubs of github.com/authzed/authzed-go), and SpiceDB's
// HTTP/JSON gateway (the gateway handlers that module ships) mounted on the
// REST API's HTTP port. So zed and the official SpiceDB client libraries
// work against a Trellis node.
//
// Like package api it is thin: each RPC converts its message to a package
// wire request, calls one method of package service (the same validation,
// consistency, audit entries, decision log and limits as REST) and converts
// the answer. Authentication, roles and admission are the REST API's (the
// Gate it implements): a Trellis bearer token works as the SpiceDB preshared
// key, with its role. Errors get the REST API's code (api.ErrorBody) and
// from it a gRPC status code (errors.go) with google.rpc details. ZedTokens
// are Trellis consistency tokens. A write that reaches a follower is sent to
// the leader through the node's HTTP handler as a gateway request.
//
// docs/spicedb-compatibility.md lists what is served and every difference.
package spicedb
