// Package testnode opens a real Trellis node in a test's process: one node
// on loopback (free ports from package testnet), Badger in the test's
// temporary directory, raft and the REST API, its logs discarded. The test
// helpers of package pep (pep/internal/peptest), of the runnable examples
// (examples/internal/trellisnode) and of package spicedb's tests start their
// nodes with it.
package testnode
