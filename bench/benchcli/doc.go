// Package benchcli is the command line of the benchmark tools: "gen" writes a
// workload (package workload), "setup" loads it into a node, "load" runs the
// load driver (package driver) and prints its JSON report, and "compare" lines
// up two reports. It is mounted
// both as the trellis-bench command and as "trellis bench".
package benchcli
