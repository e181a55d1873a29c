// Command trellis is the Trellis binary: `trellis serve` runs a node (one
// node by default, or a member of a cluster with --peers or --join; `trellis
// dev` runs a local 3-node cluster in one process), and the other commands
// are its tools: clients of a node's REST API (check, expand, lookups, read,
// write, delete, import, export, watch, schema, plan, audit, alerts,
// suspend, cluster), offline tools (schema check/fmt/diff, validate for
// policy-as-code, token files, recover after a quorum loss) and the
// benchmark workload (bench). Each command is a cobra command wired in
// root.go; the node itself is package server.
package main
