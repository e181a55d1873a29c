// Package peptest starts what the tests of package pep and its middleware
// packages run against: a real Trellis node on loopback (Badger on disk,
// raft, HTTP), REST helpers, and proxies that cut, stall or watch its
// traffic.
package peptest
