// Package alertbench measures what alert rules (issue 18, docs/alerts.md)
// cost a real node: check throughput and write throughput with no rules and
// with 50 realistic rules installed, in alternating runs.
//
// BenchmarkAlertOverhead opens one node in the test process (test/testnode:
// Badger on disk, raft, the REST API on loopback), loads a generated
// AI-governance workload (bench/workload, default preset) with driver.Setup,
// and starts a loopback webhook receiver that answers 200 at once. Then, for
// each of ALERTBENCH_PAIRS pairs, it runs with no rules and then with Rules
// (PUT /v1/alerts): checks (bench/driver, the four check classes, no
// lookups) and then relationship writes (closed loop, one touch or delete per
// request over the workload's write pool). It reports the median and spread
// of each figure, the overhead of the rules, and the deliveries the receiver
// got per rule kind.
//
//	go test ./bench/alertbench -run '^$' -bench AlertOverhead -benchtime 1x -timeout 60m -v
//
// It fails if an answer is wrong or if the relationship deliveries of a run
// are not the ones its accepted writes call for (an alert lost).
//
// Knobs (environment): ALERTBENCH_PAIRS (default 3), ALERTBENCH_DURATION per
// run (default 10s), ALERTBENCH_CLIENTS (check clients, default 32),
// ALERTBENCH_WRITERS (default 16), ALERTBENCH_ONLY ("none" or "rules": every
// run with that setting, for a CPU profile of one side), ALERTBENCH_PHASES
// ("checks", "writes"; default both), ALERTBENCH_RULES (a comma-separated
// list of Options: "wide", "no-trace", "quiet"), ALERTBENCH_LOG (the node's warnings
// to stderr), TRELLIS_BENCH_DIR (a workload directory written by
// trellis-bench gen; default: the default preset generated into a
// temporary directory).
package alertbench
