// Package trellisnode starts the Trellis node that the tests of the
// runnable examples (examples/inference-gateway, examples/training-job,
// examples/rag) drive: one real node in the test's process, on loopback,
// with Badger in a temporary directory, raft and the REST API, loaded with a
// schema and relationships the way `trellis serve --schema --relationships`
// loads them (on top of package test/testnode). It runs without tokens
// (every caller is admin), which is for examples and tests only. Client and
// Write are the PEP client and the relationship writes the tests share.
package trellisnode
