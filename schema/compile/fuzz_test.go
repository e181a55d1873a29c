package compile_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/trellis-authz/trellis/schema/compile"
	"github.com/trellis-authz/trellis/schema/syntax"
)

// FuzzCompileText feeds arbitrary text to the compiler: it must never panic,
// every problem must have a position, and a schema comes back exactly when
// there is no error. Run with: go test ./schema/compile -fuzz FuzzCompileText
func FuzzCompileText(f *testing.F) {
	files, _ := filepath.Glob("testdata/errors/*.zed")
	files = append(files, filepath.Join("..", "..", "examples", "ai-governance", "schema.zed"))
	for _, file := range files {
		if src, err := os.ReadFile(file); err == nil {
			f.Add(string(src))
		}
	}
	f.Add(docSchema)
	f.Add(caveatSchema)
	f.Fuzz(func(t *testing.T, src string) {
		// Compile must survive the partial trees the parser returns with
		// syntax errors, too.
		if file, _ := syntax.Parse("fuzz.zed", []byte(src)); file != nil {
			compile.Compile(file)
		}
		s, errs := compile.CompileText("fuzz.zed", src)
		for _, e := range errs {
			if e.Pos.Line < 1 || e.Pos.Col < 1 {
				t.Fatalf("got an error without a position: %v", e)
			}
		}
		if (s == nil) != (errs.Err() != nil) {
			t.Fatalf("got schema nil = %v with errors %v", s == nil, errs)
		}
		if s == nil {
			return
		}
		if d := compile.Diff(s, s); len(d) != 0 {
			t.Fatalf("got %v diffing a schema with itself", d)
		}
		for _, cv := range s.Caveats {
			// Evaluating with no context must not panic; it is conditional
			// or decided.
			_, _ = cv.Program.Eval(context.Background(), map[string]any{})
		}
	})
}
