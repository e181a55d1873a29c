package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSpiceDBCorpusValidates runs the SpiceDB-syntax corpus of package
// validation through `trellis validate`, all files in one invocation: each
// prints its ok line and the command exits 0.
func TestSpiceDBCorpusValidates(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join("..", "..", "validation", "testdata", "spicedb", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) < 40 {
		t.Fatalf("got %d corpus files, want at least 40", len(paths))
	}
	code, out, errOut := run(t, append([]string{"validate"}, paths...)...)
	if code != 0 {
		t.Fatalf("got exit %d, want 0; output:\n%s%s", code, out, errOut)
	}
	for _, p := range paths {
		if !strings.Contains(out, p+": ok (") {
			t.Errorf("output has no ok line for %s:\n%s", p, out)
		}
	}
	if n := strings.Count(out, ": ok ("); n != len(paths) {
		t.Errorf("got %d ok lines, want %d", n, len(paths))
	}
}

// TestSpiceDBCorpusCatchesAWrongAnswer: the same command fails, naming the
// file and the assertion, when a corpus file's data no longer supports one
// of its answers.
func TestSpiceDBCorpusCatchesAWrongAnswer(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "validation", "testdata", "spicedb", "01_union.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	wrong := strings.Replace(text, "  document:plan#writer@user:wes\n", "", 1)
	if wrong == text {
		t.Fatal("01_union.yaml no longer has the relationship this test removes")
	}
	path := writeFile(t, t.TempDir(), "wrong.yaml", wrong)
	code, out, errOut := run(t, "validate", path)
	if code == 0 || !strings.Contains(out+errOut, path+":") || !strings.Contains(out+errOut, "document:plan#edit@user:wes") {
		t.Errorf("got exit %d, output:\n%s%s\nwant a failure naming %s and the assertion", code, out, errOut, path)
	}
}
