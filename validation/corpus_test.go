package validation

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// corpusGlob is the SpiceDB-syntax corpus: validation files written for
// Trellis in SpiceDB's own syntax, one construct or combination each (see
// docs/spicedb-compatibility.md). cmd/trellis runs the same files through
// `trellis validate`.
const corpusGlob = "testdata/spicedb/*.yaml"

// TestSpiceDBCorpus runs every corpus file in memory: each must pass, and
// each assertion must be able to fail (its opposite, run alone, fails), so
// no file passes by asserting nothing that matters.
func TestSpiceDBCorpus(t *testing.T) {
	paths, err := filepath.Glob(corpusGlob)
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) < 40 {
		t.Fatalf("got %d corpus files, want at least 40", len(paths))
	}
	ctx := context.Background()
	var assertions, expected int
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			f, err := ParseFile(path)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := Run(ctx, f, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if !rep.Passed {
				var b strings.Builder
				rep.WriteText(&b)
				t.Fatalf("got failures:\n%s", b.String())
			}
			assertions += len(f.Assertions)
			expected += len(f.Expected)
			for i, a := range f.Assertions {
				flipped := *f
				flipped.Expected = nil
				flipped.Assertions = []Assertion{a}
				flipped.Assertions[0].Kind = opposite(a.Kind)
				rep, err := Run(ctx, &flipped, Options{})
				if err != nil {
					t.Fatal(err)
				}
				if rep.Passed {
					t.Errorf("assertion %d (line %d, %s %s) passes as %s too; it tests nothing", i, a.Line, a.Kind, a.Text, opposite(a.Kind))
				}
			}
		})
	}
	if assertions < 200 || expected < 30 {
		t.Errorf("got %d assertions and %d expected relations in the corpus, want at least 200 and 30", assertions, expected)
	}
}

func opposite(k AssertionKind) AssertionKind {
	if k == AssertTrue {
		return AssertFalse
	}
	return AssertTrue
}
