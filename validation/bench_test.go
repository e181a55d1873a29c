package validation

import (
	"context"
	"path/filepath"
	"testing"
)

// BenchmarkRunExample runs the AI-governance example policy end to end:
// compile, load into a temporary store, 60 checks with traces and 6
// validation entries.
func BenchmarkRunExample(b *testing.B) {
	f, err := ParseFile(filepath.Join("..", "examples", "ai-governance", "policy.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for b.Loop() {
		rep, err := Run(ctx, f, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if !rep.Passed {
			b.Fatal("the example policy failed")
		}
	}
}
