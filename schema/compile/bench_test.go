package compile_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/trellis-authz/trellis/schema/compile"
)

// generateSchema writes a schema of about lines lines: users, teams, caveats,
// and chains of resource types whose permissions use every operator and
// arrows to the previous type.
func generateSchema(lines int) string {
	var b strings.Builder
	b.WriteString("use expiration\n\ndefinition user {}\n\ndefinition team {\n\trelation member: user | team#member\n}\n\n")
	n := 3
	for i := range 10 {
		fmt.Fprintf(&b, "/** Caveat %d. */\ncaveat cav_%03d(purpose string, allowed list<string>, addr ipaddress, limit int) {\n\t(purpose in allowed && addr.in_cidr(\"10.0.0.0/8\")) || limit > %d\n}\n\n", i, i, i)
	}
	prev := "team"
	prevPerm := "member"
	for i := 0; ; i++ {
		name := fmt.Sprintf("res_%04d", i)
		fmt.Fprintf(&b, "/** Resource type %d. */\ndefinition %s {\n", i, name)
		fmt.Fprintf(&b, "\trelation parent: %s\n", prev)
		fmt.Fprintf(&b, "\trelation owner: user | team#member\n")
		fmt.Fprintf(&b, "\trelation editor: user | team#member | user with expiration\n")
		fmt.Fprintf(&b, "\trelation viewer: user | user:* | team#member | user with cav_%03d\n", i%10)
		fmt.Fprintf(&b, "\trelation banned: user\n")
		fmt.Fprintf(&b, "\tpermission edit = owner + editor\n")
		fmt.Fprintf(&b, "\tpermission view = (viewer + edit + parent->%s) - banned\n", prevPerm)
		fmt.Fprintf(&b, "\tpermission audit = owner & parent.all(%s)\n", prevPerm)
		b.WriteString("}\n\n")
		prev, prevPerm = name, "view"
		if n += 12; n >= lines {
			break
		}
	}
	return b.String()
}

func BenchmarkCompile5000Lines(b *testing.B) {
	src := generateSchema(5000)
	if got := strings.Count(src, "\n"); got < 5000 {
		b.Fatalf("generated %d lines, want 5000", got)
	}
	s, errs := compile.CompileText("gen.zed", src)
	if errs.Err() != nil || s == nil {
		b.Fatalf("generated schema does not compile: %v", errs)
	}
	b.SetBytes(int64(len(src)))
	// The build machine is shared, so wall time per op depends on the load;
	// CPU time consumed by the process per op is reported next to it.
	cpuStart := processCPU()
	b.ResetTimer()
	for b.Loop() {
		if _, errs := compile.CompileText("gen.zed", src); errs.Err() != nil {
			b.Fatal(errs)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64((processCPU()-cpuStart).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

func TestGeneratedSchemaCompiles(t *testing.T) {
	src := generateSchema(5000)
	s, errs := compile.CompileText("gen.zed", src)
	if errs.Err() != nil {
		t.Fatal(errs)
	}
	if len(errs) != 0 {
		t.Errorf("got warnings: %v", errs[0])
	}
	if len(s.Definitions) < 400 {
		t.Errorf("got %d definitions, want at least 400", len(s.Definitions))
	}
}

func BenchmarkCaveatEval(b *testing.B) {
	s, errs := compile.CompileText("bench.zed", caveatSchema)
	if errs.Err() != nil {
		b.Fatal(errs)
	}
	prog := s.Caveats["purpose_is"].Program
	params := map[string]any{"purpose": "eval", "allowed": []any{"train", "eval", "serve"}}
	partial := map[string]any{"purpose": "eval"}
	b.Run("decided", func(b *testing.B) {
		for b.Loop() {
			if res, err := prog.Eval(b.Context(), params); err != nil || !res.Value {
				b.Fatal(res, err)
			}
		}
	})
	b.Run("missing", func(b *testing.B) {
		for b.Loop() {
			if res, err := prog.Eval(b.Context(), partial); err != nil || len(res.Missing) != 1 {
				b.Fatal(res, err)
			}
		}
	})
}
