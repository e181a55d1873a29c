// Package faultnet is a fault-injecting TCP proxy for tests that run several
// nodes on loopback.
//
// A Net knows each node's name and the real addresses it listens on (Add,
// once per address: a Trellis node has a raft address and an API address).
// Dialer(from) (for raft, consensus.Config.Dial) and DialContext(from) (for
// HTTP clients, server.Config.PeerDial) return dial functions for node from:
// dialing a known node's address connects, over real TCP, to node from's
// proxy listener for that address, which dials the real address and copies
// bytes both ways. A node in another process cannot take a dial function:
// it is told to dial ProxyAddr(from, addr) instead of addr (trellis serve
// --peer-connect-to addr=proxy,...); since each proxy serves one caller, it
// knows which pair its bytes belong to. Bytes that travel from node a
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
