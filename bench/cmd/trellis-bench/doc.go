// Command trellis-bench generates a benchmark workload and drives load against
// a Trellis node; see bench/README.md. All logic is in bench/benchcli.
package main
