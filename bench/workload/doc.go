// Package workload generates a realistic, seeded AI-governance workload for
// benchmarking Trellis: a schema in the SpiceDB schema language, a relationship
// file to import, a query file of checks and lookups whose expected answers the
// generator computes itself, a pool of write relationships for a write mix, and
// a summary.
//
// The data is organised in independent organizations. Each organization is built
// in memory from its own random stream (seed and organization index), written
// out, evaluated and dropped, so output of any size is streamed to disk and two
// runs with the same Config produce byte-identical files.
//
// Expected answers come from a small evaluator in this package (eval.go) that
// walks the generated graph with three-valued logic (allowed, conditional,
// denied). It shares no code with the engine, so a benchmark run that compares
// the server's answers with the expected ones catches a wrong engine.
//
// Expirations are generated relative to Config.ReferenceTime: some before it
// (already expired), the rest at least FutureMargin after it. The expected
// answers hold for checks made in [ReferenceTime, ReferenceTime+FutureMargin);
// the summary records that window.
package workload
