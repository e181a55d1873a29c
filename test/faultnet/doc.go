// Package faultnet is a fault-injecting TCP proxy for tests that run several
// nodes on loopback.
//
// A Net knows each node's name and real address (Add). Dialer(from) returns a
// dial function for node from: dialing a known node's address connects, over
// real TCP, to a proxy listener for the directed link from→to, which dials
// the real address and copies bytes both ways. Bytes that travel from node a
// to node b (a's requests on links a dialed, a's answers on links b dialed)
// obey the rule of the directed pair a→b:
//
//   - Block holds them: the proxy stops forwarding in that direction (the
//     bytes wait in the proxy and the kernel's buffers, the way a partition
//     holds packets) until the pair is unblocked. Blocking a→b alone is a
//     one-way partition; Isolate and Partition block both directions.
//   - Slow delays every chunk by a fixed time and, with a probability, drops
//     the connection instead of forwarding the chunk (a reset: the sender
//     sees the connection fail and dials again).
//
// Heal clears every rule. Existing connections are kept across rule changes,
// as a real network keeps TCP connections across a short partition.
package faultnet
