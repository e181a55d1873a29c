// Package driver replays a workload's query file against a running Trellis
// node and reports what it measured: throughput, latency quantiles, errors
// by kind, the allowed share per query class, and how many answers differ
// from the answers the workload generator expected, so that a broken engine
// cannot look fast. It can add a write mix at a fixed rate, measured
// separately, and has a no-op mode that measures the server's HTTP ceiling.
//
// Two transports: the REST API over HTTP (run.go: net/http and
// encoding/json only, request bodies encoded once before the run, each
// client reusing one keep-alive connection), and SpiceDB's gRPC API with the
// authzed-go client (grpc.go: request messages built once, the clients
// sharing one or a few HTTP/2 connections). Each client keeps its own
// counters and histogram, merged when the run ends; the report is the same
// for both.
package driver
