// Package server is the composition root of a Trellis node: Open(ctx,
// Config) starts one, Close stops it.
//
// Open runs one function per phase, in this order: the API listener (so a
// taken port fails before any data is touched), the Badger store, the audit
// log and its signing key, the engine (fed the store's changes), the raft
// node, the decision log and its anchorer, the services and the REST
// transport, the HTTP server, then joining a cluster and loading the
// --schema and --relationships files. Each phase that succeeds registers
// its undo; Close runs them in reverse, which is the shutdown order: stop
// HTTP, anchor the last decision-chain head while raft still runs, close
// raft, close the store.
//
// cmd/trellis turns the flags of `trellis serve` and `trellis dev` into a
// Config; tests start nodes with the same call.
package server
