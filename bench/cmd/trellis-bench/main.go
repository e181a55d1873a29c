package main

import (
	"os"

	"github.com/trellis-authz/trellis/bench/benchcli"
)

func main() { os.Exit(benchcli.Main("trellis-bench", os.Args[1:])) }
