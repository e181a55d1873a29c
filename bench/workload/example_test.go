package workload_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/trellis-authz/trellis/bench/workload"
)

// Generate a tiny workload in memory and look at its first relationship and
// the allowed share it aimed for.
func ExampleGenerate() {
	cfg, _ := workload.Preset("tiny")
	cfg.Format = workload.FormatText
	var rels, queries bytes.Buffer
	s, err := workload.Generate(context.Background(), cfg, workload.Outputs{Relationships: &rels, Queries: &queries})
	if err != nil {
		fmt.Println(err)
		return
	}
	first, _, _ := strings.Cut(rels.String(), "\n")
	fmt.Println(first)
	fmt.Println(s.Queries[workload.ClassDatasetRead].Count, s.Queries[workload.ClassDatasetRead].AllowedShare)
	// Output:
	// organization:o0#admin@user:o0-u53
	// 60 0.5
}
