// Package enginebench holds in-process benchmarks of the engine and the store
// on a generated workload (bench/workload): the relationships are imported
// into a real Badger store on disk, and every check of the query file is
// asked of the engine directly, with and without the nested-group index
// (ADR 0010), and compared with the generator's expected answer. No HTTP and
// no raft: the figures are the engine's and the store's own.
//
//	bin/trellis-bench gen --out /tmp/wl-deep --preset deep --format text
//	TRELLIS_BENCH_DIR=/tmp/wl-deep go test ./bench/enginebench -run X -bench . -benchtime 1x -v
//
// Without TRELLIS_BENCH_DIR the benchmarks skip.
package enginebench
