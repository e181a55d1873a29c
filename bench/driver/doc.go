// Package driver replays a workload's query file against a running Trellis
// node over HTTP and reports what it measured: throughput, latency quantiles,
// errors by kind, the allowed share per query class, and how many answers
// differ from the answers the workload generator expected, so that a broken
// engine cannot look fast. It can add a write mix at a fixed rate, measured
// separately, and has a no-op mode that measures the server's HTTP ceiling.
//
// The hot loop uses net/http and encoding/json only: request bodies are encoded
// once before the run, each client reuses one keep-alive connection, and each
// client keeps its own counters and histogram, merged when the run ends.
package driver
